"""The grader's side of the boundary: a worker process that runs student code.

:class:`Sandbox` starts ``python -m grader.worker`` in a scratch directory of its own,
sends it requests and waits for each answer with a deadline. A worker that runs past
its deadline, dies or answers garbage is killed with its whole process group and
started again on the next request, and the failure is reported to the caller as
:class:`WorkerFailure`, so one bad function costs only its own tests.
"""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.protocol import MAX_MESSAGE_BYTES, ProtocolError, read_message, write_message
from grader.quiet import quiet_environment

_HEADER_BYTES = 8
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


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
            "PYTHONPATH": str(_PACKAGE_ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",
            "TF_NUM_INTRAOP_THREADS": "1",
            "TF_NUM_INTEROP_THREADS": "1",
        }
    )
    return env


class Sandbox:
    """One worker process, restarted on demand.

    Args:
        scratch: directory the worker runs in (a temporary one when None).
        tensorflow: import TensorFlow in the worker as soon as it starts.
    """

    def __init__(self, scratch: Path | None = None, tensorflow: bool = True) -> None:
        self._own_scratch = scratch is None
        self.scratch = Path(tempfile.mkdtemp(prefix="grading-")) if scratch is None else scratch
        self.tensorflow = tensorflow
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        """Start the worker if it is not running, and ask it to warm up."""
        if self.process is not None and self.process.poll() is None:
            return
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.scratch,
            env=worker_environment(),
            start_new_session=True,
        )
        write_message(self.process.stdin, {"op": "warm", "tensorflow": self.tensorflow})
        self._warming = True

    def request(
        self,
        message: dict[str, Any],
        timeout: float,
        on_callback: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return the answer.

        Args:
            message: the request.
            timeout: seconds the answer may take (the worker's start-up is not counted).
            on_callback: answers the worker's ``callback`` messages sent while it works
                (the reference value of a helper function, see :mod:`grader.oracle`).

        Returns:
            the worker's answer.

        Raises:
            WorkerFailure: on timeout, death of the worker or a malformed answer; the
                worker is stopped and will be restarted by the next request.
        """
        self.start()
        if self._warming:
            self._warming = False
            self._receive(120.0, 120.0)
        try:
            write_message(self.process.stdin, message)
        except (BrokenPipeError, OSError):
            return self._fail("died", "the worker process ended before the request was sent")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._receive(max(deadline - time.monotonic(), 0.0), timeout)
            if answer.get("op") != "callback":
                return answer
            reply = (
                on_callback(answer) if on_callback else {"ok": False, "error": "no callbacks here"}
            )
            try:
                write_message(self.process.stdin, reply)
            except (BrokenPipeError, OSError):
                return self._fail("died", "the worker process ended while waiting for a callback")

    def _receive(self, remaining: float, limit: float) -> dict[str, Any]:
        deadline = time.monotonic() + remaining
        stream = self.process.stdout
        header = self._read_exactly(stream, _HEADER_BYTES, deadline, limit)
        length = int.from_bytes(header, "big")
        if length > MAX_MESSAGE_BYTES:
            self._fail("protocol", f"the answer of {length} bytes is over the limit")
        body = self._read_exactly(stream, length, deadline, limit)
        try:
            answer = read_message(io.BytesIO(header + body))
        except ProtocolError as error:
            self._fail("protocol", f"the worker sent a malformed answer ({error})")
        if answer is None:
            self._fail("died", "the worker closed its channel")
        return answer

    def _read_exactly(self, stream: Any, size: int, deadline: float, timeout: float) -> bytes:
        chunks = []
        remaining = size
        fd = stream.fileno()
        while remaining:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail("timeout", f"it ran past the time limit of {timeout:g} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                code = self.process.wait(timeout=5)
                self._fail("died", _describe_exit(code))
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _fail(self, kind: str, message: str) -> Any:
        self.stop()
        self.restarts += 1
        raise WorkerFailure(kind, message)

    def stop(self) -> None:
        """Kill the worker and every process it started."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not wait
            pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.process = None

    def close(self) -> None:
        """Stop the worker and remove a scratch directory this sandbox made."""
        self.stop()
        if self._own_scratch:
            import shutil

            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
