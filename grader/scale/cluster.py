"""Grading a class on an existing ``dask.distributed`` cluster.

``python -m grader batch SUBMISSIONS --out DIR --scheduler tls://HOST:8786 --certificates CERTS``

- The batch talks to the cluster only over mutual TLS with the cluster's certificates
  (:mod:`grader.scale.certificates`, :mod:`grader.scale.cluster_access`): an unencrypted
  scheduler is refused unless it is on this machine's loopback and the batch was given
  ``--insecure-local-cluster``.

- The client (this machine) reads each student's part files and sends their *contents* to
  the cluster: the workers need no shared file system, only the package.
- :class:`GradingPlugin` is registered on every Dask worker. It starts one warm, jailed
  grading sandbox per worker (TensorFlow imported once) on a thread of its own, which then
  grades the students sent to that worker one at a time. A worker that cannot start its
  sandbox, or runs another version of the grader, is reported by name and given no students.
- The hidden seed travels inside the plugin to the workers' grading processes; it is passed
  to :func:`grader.grade.grade_submission` as an argument and never enters an environment,
  so a student's process (which gets :func:`grader.isolation.sandbox.worker_environment`) never sees it.
  The plugin is unregistered at the end of the run, which also drops it from the scheduler.
- :func:`grade_files` returns the report and the student's HTML page as one JSON *string*
  built by the grader's code on the worker (the page's plots are drawn there too: drawn on
  the client, they would make it the bottleneck of a large cluster). The client asks for
  results serialised with msgpack and refuses any other (:mod:`grader.scale.data_only`),
  and while it is connected, whatever Dask unpickles in this process is plain data (a
  class or function a pickle names becomes an inert stand-in). The JSON text is read with
  :func:`json.loads` and its shape checked (:func:`parse_answer`). An answer refused, not
  a report, or a task that failed is that student's report of a cluster fault; the others
  are graded as usual. A task that failed is never asked for its exception.
- The client writes each report atomically as it arrives (the same records and progress line
  as the local batch, see :func:`grader.reports.store.store_report`), so a run that is stopped and
  started again resumes exactly like the local one.
- ``class.html`` and its section of similar code (:mod:`grader.reports.similarity`) are
  written by the client after the grading, as for the local batch: the students' code is
  compared on the client, as text, and none of it goes to the workers for that.
- A worker killed in the middle of a student: the scheduler sends the student to another
  worker; the client gets one result per student, so no report is lost or written twice.
  Start the scheduler with ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1`` to give up on
  a student after a second worker died on it (the report then says grading stopped).

Why grading on one machine does not use a ``LocalCluster``: the local batch
(:func:`grader.scale.batch.grade_class`) is a process pool with no network port, no scheduler to
start and no extra dependency at run time, and its workers die with the batch (the parent's
death signal), which a local Dask cluster's nanny processes do not promise. One code path
would not be simpler: the cluster path needs the plugin registration, the per-worker health
check and the data-only results, which a single machine does not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from distributed import get_worker, wait

# Imported here, not at the top of grader.scale.batch: only a run with --scheduler needs Dask.
from distributed.diagnostics.plugin import WorkerPlugin

from grader.escaping import for_terminal
from grader.grade import failure_report, grade_class_member
from grader.isolation.sandbox import PartSandboxes
from grader.paths import ROOT
from grader.quiet import import_tensorflow
from grader.reports.store import student_page
from grader.results import ungraded_report
from grader.scale.certificates import write_certificates
from grader.scale.cluster_access import AccessRefused, SchedulerAccess, check_access
from grader.scale.data_only import DESERIALIZERS, DataOnlyClient, unpickling_data_only
from grader.scale.freshness import grader_version
from grader.scale.students import PART_SUFFIXES  # the rest of a folder is never sent
from grader.submission import NotPlainFile, read_bytes

#: Writes to the Dask worker's log (Dask configures the ``distributed`` loggers): which
#: worker graded whom, and when.
LOG = logging.getLogger("distributed.worker.grading")

#: The largest report a worker may return, in characters.
MAX_REPORT_CHARS = 64 * 2**20
#: Seconds to reach the scheduler, and for a first worker to join it.
CONNECT_SECONDS = 30.0
#: Seconds between checks that a worker with a sandbox is still alive.
POLL_SECONDS = 5.0


class ClusterError(RuntimeError):
    """The cluster cannot grade: no scheduler, or no worker with a grading sandbox."""


class GradingPlugin(WorkerPlugin):
    """A Dask worker plugin: one warm grading sandbox per worker, and the hidden seed.

    Dask calls :meth:`setup` when the plugin is registered and on every worker that joins
    later; it returns at once and warms the sandbox on the plugin's own thread, which stays
    alive as long as the worker (the sandbox's processes die with the thread that started
    them) and grades one student at a time.

    Args:
        seed: the hidden cases' seed.
        version: the client's :func:`grader.scale.freshness.grader_version`; a worker with another
            version takes no students (its grades would differ).
    """

    def __init__(self, seed: int, version: str) -> None:
        self.seed = int(seed)
        self.version = version
        self.name = f"exploding-gradients-grading-{secrets.token_hex(6)}"
        self._executor: ThreadPoolExecutor | None = None
        self.ready: Future | None = None
        self.sandbox: Any = None
        self.root: Path | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"seed": self.seed, "version": self.version, "name": self.name}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["seed"], state["version"])
        self.name = state["name"]

    # -- on the worker ------------------------------------------------------------------

    def setup(self, worker: Any = None) -> None:
        """Start warming the sandbox on the plugin's thread; never raises."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grading")
        self.ready = self._executor.submit(self._start)

    def _start(self) -> dict[str, Any]:
        try:
            if grader_version() != self.version:
                return {
                    "ok": False,
                    "error": "it runs another version of the grader than the client "
                    "(install the same version of the package on every machine)",
                }

            self.root = Path(tempfile.mkdtemp(prefix="grading-submissions-"))
            sandbox = PartSandboxes(hide=[self.root])  # part 1's worker and the others'
            sandbox.start()  # the sandbox imports TensorFlow while this process does too
            import_tensorflow()
            sandbox.begin()  # a process for a submission can be started in the jail
            sandbox.end()
            self.sandbox = sandbox
            return {"ok": True, "error": ""}
        except Exception as error:  # noqa: BLE001 - reported by name, the worker takes no students
            return {"ok": False, "error": f"{type(error).__name__}: {error}"}

    def teardown(self, worker: Any = None) -> None:
        """Stop the sandbox and remove the submissions' scratch folder."""
        if self._executor is None:
            return
        if self.sandbox is not None:
            self._executor.submit(self.sandbox.close).result()
        self._executor.shutdown(wait=True)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def grade(self, label: str, files: dict[str, bytes]) -> str:
        """Grade one student sent as file contents, on the plugin's thread.

        Args:
            label: the submission's name in the report (the client's folder).
            files: ``{file name: content}`` of the student's part files.

        Returns:
            JSON text: ``{"report": the report, "html": the student's page}``.
        """
        if self._executor is None or self.ready is None or not self.ready.result()["ok"]:
            raise ClusterError("this worker has no grading sandbox")
        return self._executor.submit(self._grade, label, files).result()

    def _grade(self, label: str, files: dict[str, bytes]) -> str:
        folder = Path(tempfile.mkdtemp(dir=self.root))
        LOG.info("grading started: %s", for_terminal(label))
        try:
            for name, content in files.items():
                if Path(name).name != name or not name.lower().endswith(PART_SUFFIXES):
                    continue  # only part files, only inside the folder
                (folder / name).write_bytes(bytes(content))
        except Exception as error:  # noqa: BLE001 - one student must never stop the batch
            report = failure_report(label, error)
        else:
            report = grade_class_member(folder, label, seed=self.seed, sandbox=self.sandbox)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        page = student_page(report)
        LOG.info("grading ended: %s", for_terminal(label))
        return json.dumps({"report": report, "html": page})

    def status(self, worker_name: str) -> dict[str, Any]:
        """Whether the sandbox started, as plain data (waits for the warm-up)."""
        if self.ready is None:
            return {"ok": False, "error": "the plugin was not set up", "name": worker_name}
        result = self.ready.result()
        return {"ok": bool(result["ok"]), "error": str(result["error"]), "name": worker_name}


def _find_plugin(dask_worker: Any, name: str) -> GradingPlugin:
    plugin = dask_worker.plugins.get(name)
    if plugin is None:
        raise ClusterError(f"the grading plugin {name} is not registered on this worker")
    return plugin


async def _status(name: str, dask_worker: Any = None) -> dict[str, Any]:
    """On a worker: its sandbox's status, once warmed (awaited off the event loop)."""
    try:
        plugin = _find_plugin(dask_worker, name)
    except ClusterError as error:
        return {"ok": False, "error": str(error), "name": str(dask_worker.name)}
    if plugin.ready is not None:
        await asyncio.wrap_future(plugin.ready)
    return plugin.status(str(dask_worker.name))


def grade_files(plugin_name: str, label: str, files: dict[str, bytes]) -> str:
    """The Dask task: grade one student's files on this worker's sandbox.

    Args:
        plugin_name: the run's :class:`GradingPlugin` name.
        label: the submission's name in the report.
        files: ``{file name: content}``.

    Returns:
        JSON text: ``{"report": the report, "html": the student's page}``.

    Raises:
        ClusterError: when this worker has no grading sandbox for the run.
    """
    return _find_plugin(get_worker(), plugin_name).grade(label, files)


def read_files(folder: Path) -> dict[str, bytes]:
    """The part files of a student's folder, by name (what is sent to a worker)."""
    files = {}
    for p in sorted(Path(folder).iterdir()):
        if p.suffix.lower() in PART_SUFFIXES:
            try:  # never follows a link, opens a FIFO or a device (grader.submission)
                files[p.name] = read_bytes(p)
            except (NotPlainFile, OSError):
                continue  # not sent: the worker reports the part as missing
    return files


def parse_answer(text: Any, label: str) -> tuple[dict[str, Any], str]:
    """A worker's answer read as data: a JSON report of the expected shape, and a page.

    Args:
        text: what the task returned.
        label: the submission's name.

    Returns:
        the report and the student's HTML page.

    Raises:
        ValueError: when the answer is not a report.
    """
    if not isinstance(text, str) or len(text) > MAX_REPORT_CHARS:
        raise ValueError("the worker's answer is not a report")
    answer = json.loads(text)
    if not isinstance(answer, dict) or not isinstance(answer.get("html"), str):
        raise ValueError("the worker's answer is not a report")
    report = answer.get("report")
    if (
        not isinstance(report, dict)
        or report.get("submission") != label
        or not isinstance(report.get("tests"), list)
        or not all(isinstance(t, dict) for t in report["tests"])
        or not isinstance(report.get("score"), (int, float))
        or not math.isfinite(report["score"])
    ):
        raise ValueError("the worker's answer is not a report")
    return report, answer["html"]


def _answer(future: Any) -> Any:
    """A finished task's result, or ValueError when Dask refused to read it as data."""
    try:
        return future.result()
    except Exception as error:  # noqa: BLE001 - e.g. not msgpack: refused before it is read
        raise ValueError(
            "the cluster's answer was refused unread: it was not plain data "
            f"({type(error).__name__}); a fault of the cluster, not of the submission"
        ) from None


def _healthy_workers(client: Any, plugin_name: str, stream: TextIO) -> list[str]:
    """The addresses of the workers whose sandbox started; the others reported by name."""
    statuses = client.run(_status, plugin_name, on_error="return")
    healthy = []
    for address, status in sorted(statuses.items()):
        if isinstance(status, dict) and status.get("ok") is True:
            healthy.append(address)
            continue
        if isinstance(status, dict):
            name, error = str(status.get("name")), str(status.get("error"))
        else:
            name, error = address, "it did not answer"
        stream.write(  # what a worker says is shown, never obeyed, by the terminal
            f"worker {for_terminal(name)} ({for_terminal(address)}) could not start its "
            f"grading sandbox and takes no students: {for_terminal(error)}\n"
        )
    stream.flush()
    return healthy


def grade_on_cluster(
    scheduler: SchedulerAccess | str,
    students: list[Any],
    seed: int,
    version: str,
    store: Callable[[Any, dict[str, Any], str | None], None],
    stream: TextIO = sys.stderr,
) -> int:
    """Grade students on a Dask cluster, calling ``store`` with each report as it arrives.

    Args:
        scheduler: the scheduler, checked by :func:`grader.scale.cluster_access.check_access`
            (a bare address is checked here: only a ``tls://`` one with certificates passes).
        students: the :class:`grader.scale.students.Student` objects to grade.
        seed: the hidden seed.
        version: the client's grader version.
        store: writes one student's report and page (None: to be drawn), called in this
            thread, once per student.
        stream: where workers without a sandbox are reported.

    Returns:
        the number of students stored.

    Raises:
        ClusterError: when the scheduler is refused or cannot be reached, or no worker can
            grade; the students stored so far are kept, and a run again grades the rest.
    """
    if not isinstance(scheduler, SchedulerAccess):
        try:
            scheduler = check_access(scheduler)
        except AccessRefused as error:
            raise ClusterError(str(error)) from None
    with unpickling_data_only():
        return _grade_on_cluster(scheduler, students, seed, version, store, stream)


def _grade_on_cluster(
    access: SchedulerAccess,
    students: list[Any],
    seed: int,
    version: str,
    store: Callable[[Any, dict[str, Any], str | None], None],
    stream: TextIO,
) -> int:
    scheduler = access.address
    try:
        client = DataOnlyClient(  # distributed.wait uses the default client
            scheduler,
            security=access.security(),
            timeout=CONNECT_SECONDS,
            deserializers=DESERIALIZERS,
        )
    except (OSError, ValueError, TimeoutError) as error:
        raise ClusterError(
            f"cannot reach the scheduler at {for_terminal(scheduler)}: {for_terminal(error)}"
        ) from None
    plugin = GradingPlugin(seed, version)
    stored = 0
    pending: dict[Any, Any] = {}
    try:
        if not client.scheduler_info().get("workers"):
            try:
                client.wait_for_workers(1, timeout=CONNECT_SECONDS)
            except (TimeoutError, asyncio.TimeoutError):
                raise ClusterError(
                    f"no worker joined the scheduler at {for_terminal(scheduler)} in {CONNECT_SECONDS:g} s"
                ) from None
        try:
            client.register_plugin(plugin, name=plugin.name)
            healthy = _healthy_workers(client, plugin.name, stream)
        except Exception as error:  # noqa: BLE001 - a worker's error is not read (data only)
            raise ClusterError(
                f"the cluster at {for_terminal(scheduler)} did not take the grading plugin "
                f"({type(error).__name__}); see the workers' logs"
            ) from None
        if not healthy:
            raise ClusterError("no worker of the cluster could start a grading sandbox")
        queue = iter(students)

        def submit() -> None:
            student = next(queue, None)
            if student is None:
                return
            future = client.submit(
                grade_files,
                plugin.name,
                student.name,  # the report names the student, not a path of this machine
                read_files(student.folder),
                workers=healthy,
                allow_other_workers=False,
                pure=False,
                # No name in the key: Dask logs and shows it as it is.
                key=f"grade-{secrets.token_hex(8)}",
            )
            pending[future] = student

        for _ in range(2 * len(healthy)):
            submit()
        while pending:
            try:
                done, _ = wait(list(pending), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except (TimeoutError, asyncio.TimeoutError):
                alive = set(client.scheduler_info().get("workers", {}))
                if not alive & set(healthy):
                    raise ClusterError(
                        f"no worker with a grading sandbox is left; {len(pending)} students "
                        "were not graded (run the batch again to grade them)"
                    ) from None
                continue
            for future in done:
                student = pending.pop(future)
                label = student.name
                page = None
                if future.status == "finished":
                    try:
                        report, page = parse_answer(_answer(future), label)
                    except ValueError as error:
                        report = ungraded_report(label, f"grading stopped: {error}")
                else:  # e.g. the workers grading it died; its exception is not read
                    report = ungraded_report(
                        label,
                        "grading stopped: the cluster gave up on this submission "
                        f"(task {future.status}: the workers grading it died or failed; "
                        "their error is not read)",
                    )
                future.release()
                store(student, report, page)
                stored += 1
                submit()
    finally:
        for future in pending:
            future.cancel()
        try:
            client.unregister_worker_plugin(plugin.name)
        except Exception:  # noqa: BLE001 - e.g. the scheduler is gone; nothing to undo
            pass
        client.close()
    return stored


# -- a cluster on this machine, for tests and measurements ---------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def local_cluster(
    workers: int | dict[str, dict[str, str]],
    folder: Path,
    timeout: float = 240.0,
    worker_arguments: tuple[str, ...] = (),
) -> Iterator[tuple[SchedulerAccess, dict[str, subprocess.Popen]]]:
    """A scheduler and workers started with the ``dask`` command line on the loopback only.

    They speak mutual TLS with new certificates written in ``folder / "certificates"``, as
    the documented commands do. Each worker is one process with one thread
    (``--no-nanny --nthreads 1``); the scheduler gives up on a student after a second
    worker died on it. Everything is killed on exit.

    Args:
        workers: how many workers (named ``worker1``, ...), or ``{name: extra environment}``.
        folder: where the processes' logs and scratch go.
        timeout: seconds every worker has to join the scheduler.
        worker_arguments: more arguments of ``dask worker`` (e.g. ``--preload``).

    Yields:
        the scheduler (its ``tls://`` address and the certificates) and the processes by
        name (``scheduler`` and the workers').

    Raises:
        ClusterError: when a process ends or a worker does not join in time.
    """
    if isinstance(workers, int):
        workers = {f"worker{i + 1}": {} for i in range(workers)}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    certificates = write_certificates(folder / "certificates")
    port = _free_port()
    address = f"tls://127.0.0.1:{port}"

    def tls(role: str) -> list[str]:
        c = certificates
        return ["--tls-ca-file", str(c.ca), "--tls-cert", str(c.cert(role))] + [
            "--tls-key",
            str(c.key(role)),
        ]

    processes: dict[str, subprocess.Popen] = {}
    logs = []
    base = {k: v for k, v in os.environ.items() if k != "GRADER_SEED"}  # workers get it by plugin
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [base.get("PYTHONPATH")])])
    dask = [sys.executable, "-m", "dask"]  # the `dask` command of this environment

    def start(name: str, argv: list[str], extra: dict[str, str]) -> None:
        log = open(folder / f"{name}.log", "w")
        logs.append(log)
        processes[name] = subprocess.Popen(
            [*dask, *argv],
            stdout=log,
            stderr=log,
            env={**base, **extra},
            cwd=folder,
            start_new_session=True,
        )

    try:
        start(
            "scheduler",
            ["scheduler", "--host", "tls://127.0.0.1", "--port", str(port), "--no-dashboard"]
            + tls("scheduler"),
            {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"},
        )
        for name, extra in workers.items():
            start(
                name,
                ["worker", address, "--host", "127.0.0.1", "--name", name, "--nthreads", "1"]
                + ["--no-nanny", "--no-dashboard", "--local-directory", str(folder / name)]
                + tls("worker")
                + list(worker_arguments),
                extra,
            )
        deadline = time.monotonic() + timeout
        while not all("Registered to" in (folder / f"{n}.log").read_text() for n in workers):
            ended = [n for n, p in processes.items() if p.poll() is not None]
            if ended or time.monotonic() > deadline:
                raise ClusterError(
                    f"the local cluster did not start ({', '.join(ended) or 'timeout'}); "
                    f"see the logs in {folder}"
                )
            time.sleep(0.5)
        yield SchedulerAccess(address, certificates), processes
    finally:
        for process in processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=60)
        for log in logs:
            log.close()
