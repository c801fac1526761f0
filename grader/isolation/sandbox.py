"""The grader's side of the boundary: a worker process that runs student code.

:class:`Sandbox` starts ``python -m grader.worker`` in a scratch directory of its own,
sends it requests and waits for each answer with a deadline. A worker that runs past
its deadline, dies or answers garbage is killed with its whole process group and
started again on the next request, and the failure is reported to the caller as
:class:`WorkerFailure`, so one bad function costs only its own tests.

:class:`PartSandboxes` holds two of them behind the same interface: the NumPy-only parts
run in a worker that never imported an autodiff library (nor, in the jail, can find one),
the other parts in a worker that imported TensorFlow once.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import resource
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.assignment import NUMPY_ONLY_PARTS
from grader.isolation import jail
from grader.isolation.cgroups import WorkerCgroup
from grader.isolation.protocol import (
    MAX_MESSAGE_BYTES,
    ProtocolError,
    SocketStream,
    read_message,
    send_socket,
    write_message,
)
from grader.paths import ROOT
from grader.quiet import quiet_environment

_HEADER_BYTES = 8
#: Dropped mode: the worker's uid may have this many times the per-submission process
#: limit (:attr:`Limits.processes`): its warm zygote's threads count against it too.
DROPPED_PROCESSES_FACTOR = 2


class WorkerFailure(RuntimeError):
    """The worker did not answer: it timed out, died or broke the protocol."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def worker_environment() -> dict[str, str]:
    """The environment of a worker: minimal, quiet, and without the grader's secrets."""
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(quiet_environment())
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
        }
    )
    return env


@dataclass(frozen=True)
class Limits:
    """Resource limits of a worker process.

    Args:
        memory_mb: address space, in MiB. TensorFlow alone maps about 1.8 GiB of address
            space (of which about 0.65 GiB is resident), so this is not the resident size.
        output_mb: largest file the worker may write, its captured prints included.
        processes: processes and threads one submission may have at once (jail mode);
            TensorFlow, with one thread per pool as the worker sets it, runs 6 threads.
        scratch_mb: size of a submission's private ``/tmp`` and ``/dev/shm`` (jail mode).
    """

    memory_mb: int = int(os.environ.get("GRADER_MEMORY_MB", "4096"))
    output_mb: int = int(os.environ.get("GRADER_OUTPUT_MB", "64"))
    processes: int = int(os.environ.get("GRADER_PROCESSES", "64"))
    scratch_mb: int = int(os.environ.get("GRADER_SCRATCH_MB", "128"))

    def environment(self) -> dict[str, str]:
        """The variables the worker reads its limits from."""
        return {
            "GRADER_MEMORY_MB": str(self.memory_mb),
            "GRADER_OUTPUT_MB": str(self.output_mb),
            "GRADER_PROCESSES": str(self.processes),
            "GRADER_SCRATCH_MB": str(self.scratch_mb),
        }


def _not_dumpable() -> None:
    """Make the grading process's memory, descriptors and environment unreachable by
    processes of its user (``PR_SET_DUMPABLE`` 0): in ``process`` mode the student's code
    runs as that user, and could otherwise read ``/proc/<grader>/environ`` or ``mem``, or
    take the grader's own descriptors with ``pidfd_getfd``."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _prepare_worker() -> None:
    """In the child, before it runs the worker: be killed if the grader dies (Linux), so no
    worker outlives it, and be the out-of-memory killer's first choice (``oom_score_adj``
    1000, inherited by every process of every submission), so that when memory runs out
    the kernel kills student code, not the grader."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    try:
        with open("/proc/self/oom_score_adj", "w") as stream:
            stream.write("1000")
    except OSError:  # pragma: no cover - not Linux
        pass


class Sandbox:
    """A warm worker that forks one fresh process per submission.

    The worker process (the *zygote*) imports TensorFlow once and never runs student
    code. :meth:`begin` forks it: the child runs one submission's code and ends with
    :meth:`end`, after which the zygote kills whatever the child left running and removes
    its files. A child that crashes or runs past its time limit costs only itself; the
    zygote is started again only if it dies.

    Args:
        scratch: directory the worker runs in (a temporary one when None).
        tensorflow: import TensorFlow in the worker as soon as it starts. When False, the
            worker is one for the NumPy-only parts (part 1): it never imports TensorFlow,
            refuses every route to an autodiff library in its processes, and in the jail
            its file system does not hold those libraries.
        hide: folders the student's code must not see. The jail's root is an allow-list
            that shows none of them anyway; kept so that callers can say what they hide.
        limits: resource limits of the worker.
    """

    def __init__(
        self,
        scratch: Path | None = None,
        tensorflow: bool = True,
        hide: list[Path] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._own_scratch = scratch is None
        self.scratch = Path(tempfile.mkdtemp(prefix="grading-")) if scratch is None else scratch
        self.tensorflow = tensorflow
        self.hide = list(hide or [])
        self.limits = limits or Limits()
        self.mode = jail.mode()
        #: marks the worker's processes, to find those that left its session and tree
        self.token = secrets.token_hex(8)
        self.process: subprocess.Popen[bytes] | None = None
        #: the zygote's control channel: orders out, its ``forked`` and ``ended`` reports in
        self._control: SocketStream | None = None
        #: the current submission's own channel (its process holds the other end)
        self._channel: SocketStream | None = None
        #: counts the children forked: a runner reloads its code when it changes
        self.generation = 0
        self._warming = False
        self._zygote_pid: int | None = None  # as the worker sees itself
        self._child = False
        #: the worker of the other kind, started beside this one (see PartSandboxes.around)
        self._companion: Sandbox | None = None
        #: the autodiff libraries the worker reported loaded (none in a NumPy-only one)
        self.autodiff_loaded: list[str] = []
        #: the cgroup v2 group that limits the memory of the worker's whole process tree
        self._cgroup: WorkerCgroup | None = None
        #: why there is none (empty when there is, or before the worker first started)
        self.memory_reason = ""
        #: dropped mode: the worker's own folder, owned by its uid (made when it starts)
        self._home: Path | None = None

    @property
    def numpy_only(self) -> bool:
        """Whether this worker runs the NumPy-only parts (it has no autodiff library)."""
        return not self.tensorflow

    def companion(self) -> Sandbox:
        """The worker of the other kind, made once and closed with this one."""
        if self._companion is None:
            self._companion = Sandbox(
                tensorflow=not self.tensorflow, hide=self.hide, limits=self.limits
            )
        return self._companion

    # -- the zygote ---------------------------------------------------------------------

    def _dropped_home(self) -> Path:
        """Dropped mode: a folder only the worker's uid may enter, where every user may
        pass through to it (the grader's own scratch may lie in a closed folder)."""
        if self._home is None:
            home = jail.traversable_temporary_folder("grader-dropped-")
            uid = jail.dropped_uid(self.numpy_only)
            os.chown(home, uid, uid)
            os.chmod(home, 0o700)
            self._home = home
        return self._home

    def start(self) -> None:
        """Start the zygote if it is not running; it imports TensorFlow meanwhile."""
        if self.process is not None and self.process.poll() is None:
            return
        self.scratch.mkdir(parents=True, exist_ok=True)
        _not_dumpable()
        env = worker_environment()
        env.update(self.limits.environment())
        env[_TOKEN_VARIABLE] = self.token
        if self.mode == "namespace":
            env.pop("PYTHONPATH", None)  # the worker's code arrives on stdin
            env["GRADER_JAIL"] = "1"
            env["PATH"] = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
            argv, env = jail.worker_command(environment=env, numpy_only=self.numpy_only)
        elif self.mode == "dropped":
            home = str(self._dropped_home())
            argv, env = jail.dropped_command(environment=env, numpy_only=self.numpy_only, home=home)
        else:
            argv = [sys.executable, "-m", "grader.worker"]
        # The memory of the worker's whole tree (the zygote and the submission's processes,
        # however many) is limited together where a cgroup can be made; the worker joins
        # the group before it runs (in its preexec), so every process it starts is in it.
        self._cgroup, self.memory_reason = WorkerCgroup.create(
            f"{os.getpid()}-{self.token}", self.limits.memory_mb * 1024 * 1024
        )
        group = self._cgroup
        # Dropped mode: a limit on the processes of the worker's own uid (its zygote's
        # threads count too), set while root and kept across the drop.
        processes = (
            DROPPED_PROCESSES_FACTOR * self.limits.processes if self.mode == "dropped" else 0
        )

        def prepare() -> None:
            _prepare_worker()
            if group is not None:
                group.add(os.getpid())
            if processes:
                resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))

        # One Unix socket is the zygote's stdin and stdout, so that it can be handed each
        # submission's own socket (see grader.worker.serve).
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=theirs.fileno(),
                stdout=theirs.fileno(),
                stderr=subprocess.DEVNULL,
                cwd={"namespace": "/", "dropped": self._home}.get(self.mode, self.scratch),
                env=env,
                start_new_session=True,
                preexec_fn=prepare,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = SocketStream(ours)
        try:
            if self.mode in ("namespace", "dropped"):
                body = json.dumps(jail.worker_sources()).encode("utf-8")
                self._control.write(len(body).to_bytes(8, "big") + body)
            write_message(
                self._control,
                {"op": "warm", "tensorflow": self.tensorflow, "numpy_only": self.numpy_only},
            )
        except OSError:
            self._fail("died", "the worker process ended before it was sent its code")
        self._warming = True
        self._child = False

    def _ready(self) -> None:
        self.start()
        if self._warming:
            self._warming = False
            answer = self._from_zygote(_START_TIMEOUT)
            self._zygote_pid = int(answer.get("pid", 0)) or None
            self._check_autodiff(answer)

    def _check_autodiff(self, answer: dict[str, Any]) -> None:
        """A NumPy-only worker that reports an autodiff library loaded is not used."""
        self.autodiff_loaded = [str(name) for name in answer.get("autodiff", [])][:10]
        if self.numpy_only and self.autodiff_loaded:
            self._fail(
                "died",
                "the worker for the NumPy-only parts had loaded " + ", ".join(self.autodiff_loaded),
            )

    # -- one submission ---------------------------------------------------------------

    def begin(self) -> None:
        """Fork a fresh process for the next submission (ending the current one)."""
        self.end()
        self._ready()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._order({"op": "fork"})
            send_socket(self._control, theirs)
        except OSError:
            ours.close()
            self._fail("died", "the worker process ended before the request was sent")
        finally:
            theirs.close()
        self._channel = SocketStream(ours)
        self._child = True
        self.generation += 1
        forked = self._from_zygote(_START_TIMEOUT)
        if forked.get("op") != "forked":
            self._fail("protocol", f"the worker answered a fork with {forked.get('op')!r}")
        try:
            answer = self._from_submission(_START_TIMEOUT, MAX_MESSAGE_BYTES)
        except WorkerFailure:
            self.stop()
            raise WorkerFailure(
                "died", "the worker could not start a process for the submission"
            ) from None
        if not answer.get("ok"):
            error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
            detail = str(error.get("message", ""))[:500]
            self._fail(
                "died",
                "the worker could not start a process for the submission"
                + (f" ({detail})" if detail else ""),
            )
        self._check_autodiff(answer)

    def ensure_child(self) -> None:
        """Fork a process for the submission unless one is running."""
        if not self._child:
            self.begin()

    def end(self) -> dict[str, Any] | None:
        """End the current submission's process; the zygote cleans up after it.

        Returns:
            the zygote's report (``status``, ``leftovers`` killed), or None when no
            submission was running.
        """
        if not self._child or self.process is None:
            self._forget_child()
            return None
        try:
            self._tell({"op": "end"}, _END_WRITE_SECONDS)
        except _Timeout:
            pass  # it reads nothing: closing its channel below ends its wait all the same
        self._forget_child()
        # Only the zygote's report, on the channel the submission never held, ends it.
        try:
            return self._from_zygote(_END_TIMEOUT)
        except _Timeout:
            return self._kill_child()
        except WorkerFailure:
            return None

    def request(
        self,
        message: dict[str, Any],
        timeout: float,
        on_callback: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> dict[str, Any]:
        """Send one request to the submission's process and return the answer.

        Args:
            message: the request.
            timeout: seconds the answer may take, its reading and parsing included.
            on_callback: answers the worker's ``callback`` messages sent while it works
                (the reference value of a helper function, see :mod:`grader.checks.oracle`).
            max_bytes: the largest answer this request may get (what the caller's case can
                need); a longer one is refused from its header, before it is read.

        Returns:
            the answer.

        Raises:
            WorkerFailure: on timeout, death of the process or a malformed or oversized
                answer; the next request starts a fresh process.
        """
        self.ensure_child()
        deadline = time.monotonic() + timeout
        stopped = WorkerFailure("timeout", f"it ran past the time limit of {timeout:g} s")
        try:
            self._tell(message, deadline - time.monotonic())
        except _Timeout:
            self._kill_child()  # it stopped reading: the request is not waited on
            raise stopped from None
        while True:
            try:
                answer = self._from_submission(max(deadline - time.monotonic(), 0.0), max_bytes)
            except _Timeout:
                self._kill_child()
                raise stopped from None
            if answer.get("op") != "callback":
                return answer
            reply = (
                on_callback(answer)
                if on_callback
                else {"ok": False, "own": True, "error": "no callbacks"}
            )
            try:
                self._tell(reply, deadline - time.monotonic())
            except _Timeout:
                self._kill_child()
                raise stopped from None

    def _tell(self, message: dict[str, Any], seconds: float) -> None:
        """Write ``message`` on the submission's channel within ``seconds``.

        A process that stops reading cannot hold the grader: the write gives up at the
        deadline (raising _Timeout). A process that has ended is not an error here: the
        zygote's report, read next, says how it ended.
        """
        channel = self._channel
        if channel is None:
            return
        channel.socket.settimeout(max(seconds, 0.001))
        try:
            write_message(channel, message)
        except TimeoutError:
            raise _Timeout from None
        except OSError:
            pass
        finally:
            if channel.socket.fileno() != -1:
                channel.socket.settimeout(None)

    def _forget_child(self) -> None:
        """Close our end of the submission's channel; the next request forks afresh."""
        if self._child:
            self.generation += 1
        self._child = False
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def _kill_child(self) -> dict[str, Any] | None:
        """Kill the submission's process tree; the zygote reports and cleans up.

        Returns:
            the zygote's ``ended`` report, or None when the whole worker had to be stopped.
        """
        self._forget_child()
        zygote = self._zygote_host_pid()
        if zygote is None:
            self.stop()
            return None
        _kill_all(descendants(zygote))
        try:
            return self._from_zygote(_END_TIMEOUT)
        except (WorkerFailure, _Timeout):
            self.stop()
            return None

    def _zygote_host_pid(self) -> int | None:
        """The zygote's process id as this process sees it (it may be in a PID namespace)."""
        if self.process is None:
            return None
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            if _innermost_pid(pid) == self._zygote_pid:
                return pid
        return None

    # -- the channel ------------------------------------------------------------------

    def _order(self, message: dict[str, Any]) -> None:
        """Send an order to the zygote, on the control channel."""
        try:
            write_message(self._control, message)
        except (OSError, AttributeError):
            self._fail("died", "the worker process ended before the request was sent")

    def _from_zygote(self, remaining: float) -> dict[str, Any]:
        """The zygote's next message on the control channel, which no submission holds.

        Raises:
            _Timeout: when none came in ``remaining`` seconds.
            WorkerFailure: when the zygote died or broke the protocol (it is stopped).
        """
        deadline = time.monotonic() + remaining
        try:
            return self._read_message(self._control, deadline, MAX_MESSAGE_BYTES)
        except _Closed:
            self._zygote_died()
        except _Oversized as error:
            self._fail("protocol", f"the worker sent an answer of {error.size} bytes")
        except ProtocolError as error:
            self._fail("protocol", f"the worker sent a malformed answer ({error})")

    def _from_submission(self, remaining: float, max_bytes: int) -> dict[str, Any]:
        """The submission's next message on its own channel, the zygote's word aside.

        While waiting, the control channel is watched too: an ``ended`` there (the kernel's
        word that the submission's process is gone) ends the wait. The submission's channel
        closing without it (its process closed it, or passed it on and died) is waited on
        for the zygote's report a little, then the process tree is killed.

        Raises:
            _Timeout: when nothing came in ``remaining`` seconds.
            WorkerFailure: when the process died (``died``) or sent an oversized or
                malformed message (``protocol``; its process is killed).
        """
        deadline = time.monotonic() + remaining
        channel, control = self._channel, self._control
        if channel is None or control is None:
            raise WorkerFailure("died", "the submission's process has ended")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Timeout
            ready, _, _ = select.select([channel.fileno(), control.fileno()], [], [], left)
            if control.fileno() in ready:
                self._ended(self._from_zygote(_END_TIMEOUT))
            if channel.fileno() in ready:
                break
        try:
            return self._read_message(channel, deadline, max_bytes)
        except _Closed:
            try:
                report = self._from_zygote(_CLOSED_GRACE)
            except _Timeout:
                report = self._kill_child()
            self._ended(report)
        except _Oversized as error:
            self._kill_child()
            raise WorkerFailure(
                "protocol",
                f"it sent an answer of {error.size:,} bytes, more than the {max_bytes:,} "
                "bytes this call's inputs can need",
            ) from None
        except ProtocolError as error:
            self._kill_child()
            raise WorkerFailure("protocol", f"it sent a malformed answer ({error})") from None

    def _ended(self, report: dict[str, Any] | None) -> Any:
        """Raise the failure that the zygote's ``ended`` report (or its absence) says."""
        if report is not None and report.get("op") != "ended":
            self._fail("protocol", f"the worker reported {report.get('op')!r} unasked")
        self._forget_child()
        status = report.get("status") if report is not None else None
        raise WorkerFailure("died", _describe_exit(status if isinstance(status, int) else None))

    def _zygote_died(self) -> Any:
        code = self.process.wait(timeout=5) if self.process is not None else None
        if self.mode == "namespace" and code is not None and code > 128:
            code = -(code - 128)  # bwrap reports a signal as 128 + n
        if self._cgroup is not None and self._cgroup.oom_kills():
            self._fail(
                "died",
                "it used more than the memory limit of "
                f"{self.limits.memory_mb} MB for all its processes together",
            )
        self._fail("died", _describe_exit(code))

    @staticmethod
    def _read_message(stream: SocketStream, deadline: float, max_bytes: int) -> dict[str, Any]:
        """One message from ``stream`` by ``deadline``, refused from its header when longer
        than ``max_bytes``; parsing counts in the time (a message is parsed after it is read
        whole, and the deadline is checked again after)."""
        header = _read_exactly(stream, _HEADER_BYTES, deadline)
        length = int.from_bytes(header, "big")
        if length > min(max_bytes, MAX_MESSAGE_BYTES):
            raise _Oversized(length)
        body = _read_exactly(stream, length, deadline)
        answer = read_message(io.BytesIO(header + body))
        if answer is None:  # pragma: no cover - the header was read
            raise _Closed
        if time.monotonic() > deadline:
            raise _Timeout
        return answer

    def _fail(self, kind: str, message: str) -> Any:
        self.stop()
        raise WorkerFailure(kind, message)

    def stop(self) -> None:
        """Kill the zygote, its children and every process they started."""
        self._child = False
        self.generation += 1
        if self.process is None:
            return
        below = set(descendants(self.process.pid)) | set(_marked(self.token))
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _kill_all(below)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
            pass
        for stream in (self._channel, self._control):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self._channel = self._control = None
        self.process = None
        group, self._cgroup = self._cgroup, None
        if group is not None:
            group.remove()

    def close(self) -> None:
        """Stop the worker (and its companion) and remove a scratch directory it made."""
        self.end()
        self.stop()
        if self._own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
        home, self._home = self._home, None
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
        companion, self._companion = self._companion, None
        if companion is not None:
            companion.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PartSandboxes:
    """Two warm workers behind the interface of one :class:`Sandbox`.

    The NumPy-only parts (part 1) run in a worker that never imported TensorFlow and, in
    the jail, whose file system holds no autodiff library (``Sandbox(tensorflow=False)``);
    the other parts run in a worker that imported TensorFlow once. Each worker's zygote is
    started only when a submission has a part for it. Requests go to the worker of the
    part they name (``message["part"]``); :meth:`for_part` gives that worker.

    Args:
        scratch: directory the workers run in, one folder each (a temporary one when None).
        hide: folders the student's code must not see (see :class:`Sandbox`).
        limits: resource limits of both workers.
        workers: the two workers, by kind (``"numpy"``, ``"tensorflow"``), when they
            exist already (:meth:`around`); they are then not this object's to remove.
    """

    def __init__(
        self,
        scratch: Path | None = None,
        hide: list[Path] | None = None,
        limits: Limits | None = None,
        workers: dict[str, Sandbox] | None = None,
    ) -> None:
        self._own_scratch = scratch is None and workers is None
        if workers is not None:
            self.scratch = workers["tensorflow"].scratch if scratch is None else scratch
            self.workers = dict(workers)
        else:
            self.scratch = Path(tempfile.mkdtemp(prefix="grading-")) if scratch is None else scratch
            self.workers = {
                "numpy": Sandbox(self.scratch / "numpy-only", False, hide, limits),
                "tensorflow": Sandbox(self.scratch / "tensorflow", True, hide, limits),
            }
        self.hide = list(hide or [])
        self.limits = self.workers["tensorflow"].limits
        self.mode = self.workers["tensorflow"].mode

    @classmethod
    def around(cls, sandbox: Sandbox | PartSandboxes) -> PartSandboxes:
        """The two workers for a caller that has one: itself and its companion.

        Args:
            sandbox: a PartSandboxes (returned as it is) or one Sandbox, which serves the
                parts of its kind; a companion of the other kind is made beside it and
                closed with it (:meth:`Sandbox.companion`).

        Returns:
            the PartSandboxes.
        """
        if isinstance(sandbox, PartSandboxes):
            return sandbox
        companion = sandbox.companion()
        numpy, tensorflow = (companion, sandbox) if sandbox.tensorflow else (sandbox, companion)
        return cls(workers={"numpy": numpy, "tensorflow": tensorflow})

    @staticmethod
    def kind(part: str | None) -> str:
        """``"numpy"`` for a NumPy-only part (the contract's), ``"tensorflow"`` otherwise."""
        return "numpy" if part in NUMPY_ONLY_PARTS else "tensorflow"

    def for_part(self, part: str | None) -> Sandbox:
        """The worker that runs ``part``'s code."""
        return self.workers[self.kind(part)]

    def _kinds(self, parts: Any) -> list[str]:
        """The kinds of worker ``parts`` need; every started one when None."""
        if parts is None:
            return [kind for kind, worker in self.workers.items() if worker.process is not None]
        return sorted({self.kind(part) for part in parts})

    @property
    def memory_reason(self) -> str:
        """Why no cgroup limits the memory of a submission's processes together in the
        workers started so far (empty when each has one)."""
        reasons = [w.memory_reason for w in self.workers.values() if w.memory_reason]
        return reasons[0] if reasons else ""

    @property
    def generation(self) -> int:
        """Changes whenever either worker forks or restarts."""
        return sum(worker.generation for worker in self.workers.values())

    def start(self, parts: Any = None) -> None:
        """Start the workers ``parts`` need (both when None); they warm up meanwhile.

        Args:
            parts: part names (a submission's ``parts``), or None for both workers.
        """
        for kind in self._kinds(parts) if parts is not None else list(self.workers):
            self.workers[kind].start()

    def begin(self, parts: Any = None) -> None:
        """Fresh processes for the next submission: end the current ones, then fork.

        Args:
            parts: the submission's parts, whose workers fork now; None: every worker
                started so far. The other workers fork when a request first needs them.

        Raises:
            WorkerFailure: when a worker cannot start a process.
        """
        kinds = self._kinds(parts)
        self.end()
        for kind in kinds:
            self.workers[kind].begin()

    def ensure_child(self, part: str | None = None) -> None:
        """Fork a process in ``part``'s worker (in every started one when None) if needed."""
        for kind in [self.kind(part)] if part is not None else self._kinds(None):
            self.workers[kind].ensure_child()

    def end(self) -> dict[str, Any] | None:
        """End the submission's processes in both workers.

        Returns:
            the zygotes' reports merged (``status`` of the last, ``leftovers`` summed), or
            None when no submission was running.
        """
        reports = [report for worker in self.workers.values() if (report := worker.end())]
        if not reports:
            return None
        merged = dict(reports[-1])
        merged["leftovers"] = sum(int(r.get("leftovers", 0) or 0) for r in reports)
        return merged

    def request(
        self,
        message: dict[str, Any],
        timeout: float,
        on_callback: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> dict[str, Any]:
        """Send a request to the worker of the part it names (see :meth:`Sandbox.request`)."""
        return self.for_part(message.get("part")).request(
            message, timeout, on_callback, max_bytes=max_bytes
        )

    def stop(self) -> None:
        """Kill both workers and every process they started."""
        for worker in self.workers.values():
            worker.stop()

    def close(self) -> None:
        """Stop both workers and remove the scratch directory this object made."""
        for worker in self.workers.values():
            worker.close()
        if self._own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> PartSandboxes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Timeout(Exception):
    """No answer before the deadline."""


class _Closed(Exception):
    """The other end closed the channel."""


class _Oversized(Exception):
    """A message longer than the reader allows (announced in its header)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _read_exactly(stream: SocketStream, size: int, deadline: float) -> bytes:
    """``size`` bytes from ``stream`` by ``deadline`` (raises _Timeout, or _Closed at its end)."""
    chunks = []
    remaining = size
    fd = stream.fileno()
    while remaining:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise _Closed
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


#: Seconds the worker may take to start (it imports TensorFlow) or to fork.
_START_TIMEOUT = 180.0
#: Seconds the zygote may take to clean up after a submission.
_END_TIMEOUT = 30.0
#: Seconds the ``end`` message may take to be written (a process that reads nothing more
#: is ended by the closing of its channel all the same).
_END_WRITE_SECONDS = 1.0
#: Seconds to wait for the zygote's report after a submission closed its channel, before
#: its processes are killed (one that closed its channel and lives on).
_CLOSED_GRACE = 5.0


def _innermost_pid(pid: int) -> int | None:
    """A process's id in its own PID namespace (the last of /proc/PID/status NSpid)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return pid


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, found through /proc (empty where there is none)."""
    children = _children_by_parent()
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


_TOKEN_VARIABLE = "GRADER_WORKER_TOKEN"


def _marked(token: str) -> list[int]:
    """Processes whose environment carries the worker's token (daemons it started)."""
    needle = f"{_TOKEN_VARIABLE}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if entry.name.isdigit():
            try:
                if needle in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _kill_all(pids: set[int] | list[int]) -> None:
    """SIGKILL processes that escaped the worker's process group (setsid, daemons)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with status {code}"
