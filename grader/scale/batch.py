"""Grading a whole class: one folder per student, resumable, in parallel.

``python -m grader batch SUBMISSIONS --out DIR [--workers N] [--gradebook DB] [--scheduler URL]``

- SUBMISSIONS holds one folder per student; nbgrader's ``submitted/<student>/<assignment>/``
  layout is accepted as it is (pass the ``submitted`` folder).
- DIR receives ``reports/<student>.json`` (the full report), ``reports/<student>.html`` (the
  student's feedback page with plots), ``grades.csv`` (one row per student, one column per
  test and the total), ``summary.json`` and ``class.html`` (the class report,
  :mod:`grader.reports.class_report`).
- Every report is written atomically (a temporary file renamed into place) together with a
  fingerprint of the student's files, the grader and the hidden seed. A run that is
  interrupted at any moment and started again grades only the students without an up-to-date
  report, so nothing is lost, nothing is graded twice, and a changed submission is graded again.
- Each worker process keeps one warm sandbox (TensorFlow imported once, and a worker without
  it for part 1) that forks a fresh process per student. A student whose code crashes, hangs or is garbage gets a report that
  says so; the batch goes on.
- With ``--scheduler``, the students are graded on a ``dask.distributed`` cluster instead
  (:mod:`grader.scale.cluster`); the reports, the resuming and the progress line are the same.
- ``class.html`` has a section of similar code (:mod:`grader.reports.similarity`): the pairs
  of students whose code of a part is most alike, above ``--similarity-threshold``, each
  linked to a side-by-side page in ``similarity/``, computed from the students' files as
  text (never run), on a cluster too; ``--no-similarity`` leaves it out.
- With ``--gradebook``, every student whose report is up to date goes into nbgrader's
  gradebook: those graded in this run, and those graded before (a batch run again over the
  same output folder fills a new gradebook too).
- Ctrl-C ends the batch within about two seconds: the reports written so far are kept, the
  workers are ended (SIGTERM, then SIGKILL) and their temporary folders removed. A worker
  whose batch process dies, even by kill -9, gets SIGTERM from the kernel and cleans up too.
"""

from __future__ import annotations

import csv
import ctypes
import io
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from multiprocessing.util import Finalize
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.assignment import FUNCTIONS
from grader.escaping import for_csv_cell, for_terminal
from grader.isolation.jail import remove_temporary_folders
from grader.quiet import import_tensorflow
from grader.reports.class_report import write_class_report
from grader.reports.gradebook import write_report, write_reports
from grader.reports.similarity import DEFAULT_THRESHOLD, remove_pages, write_similarity
from grader.reports.store import read_report, store_report, write_atomically
from grader.results import failed_grader_report, points
from grader.scale.freshness import fingerprint, grader_version
from grader.scale.students import Student, find_students
from grader.secret import hidden_seed

if TYPE_CHECKING:  # Dask is imported only for a run with --scheduler
    from grader.scale.cluster_access import SchedulerAccess

# -- the worker processes -------------------------------------------------------------

_SANDBOX = None
#: The folder of this pool process's sandbox.
_SCRATCH: Path | None = None
#: The resource tracker's warning after kill -9 of the batch (see grade_class).
_QUIET_TRACKER = "ignore:resource_tracker:UserWarning"


def scratch_prefix(batch: str) -> str:
    """The name prefix of a batch's worker folders in the temporary folder."""
    return f"grading-{batch}-"


def _release_sandbox(close: bool) -> None:
    """In a pool process: end the sandbox (``close``, or ``stop`` at once) and remove its
    folder."""
    global _SANDBOX
    sandbox, _SANDBOX = _SANDBOX, None
    if sandbox is not None:
        try:
            sandbox.close() if close else sandbox.stop()
        finally:
            shutil.rmtree(sandbox.scratch, ignore_errors=True)


def _discard_sandbox() -> None:
    """In a pool process: kill the sandbox's processes and remove its folder, at once."""
    _release_sandbox(close=False)


def _close_sandbox() -> None:
    """In a pool process, at its normal end: close the sandbox and remove its folder."""
    _release_sandbox(close=True)


def _on_terminate(signum: int, frame: Any) -> None:
    """In a pool process: SIGTERM (the batch was interrupted or died) ends it cleanly, now."""
    try:
        _discard_sandbox()
    finally:
        # Also when the normal end (_close_sandbox) had begun: the parent's death closes
        # the task pipe (the worker ends normally) a moment before this signal arrives.
        if _SCRATCH is not None:
            shutil.rmtree(_SCRATCH, ignore_errors=True)

        remove_temporary_folders()
        os._exit(128 + signum)


def _start_worker(hide: str, batch: str) -> None:
    """In a pool process: die with the batch, import TensorFlow, warm a sandbox.

    Its temporary files go into its scratch folder (``TMPDIR`` there, for its workers too).

    The batch process handles Ctrl-C for all (SIGINT is ignored here); SIGTERM, sent by
    the batch when it is interrupted or by the kernel when it dies (even by kill -9),
    removes the sandbox's processes and folder before this process ends.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_terminate)
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    # lazy: the batch's own process never runs student code; only its pool processes load the sandbox and NumPy
    from grader.isolation.sandbox import PartSandboxes

    global _SANDBOX, _SCRATCH
    scratch = Path(tempfile.gettempdir()) / f"{scratch_prefix(batch)}{os.getpid()}"
    _SCRATCH = scratch
    scratch.mkdir(mode=0o700)
    # This process's temporary files (TensorFlow's: autograph writes each function it
    # converts to a __autograph_generated_file*.py, removed only at a normal exit) go into
    # its own folder, removed with it however the process ends (see _on_terminate).
    temporary = scratch / "tmp"
    temporary.mkdir(mode=0o700)
    os.environ["TMPDIR"] = tempfile.tempdir = str(temporary)
    # Both workers: part 1's (no autodiff library) and the other parts' (TensorFlow).
    _SANDBOX = PartSandboxes(scratch=scratch, hide=[Path(hide)])
    Finalize(None, _close_sandbox, exitpriority=10)  # run at the process's normal end
    _SANDBOX.start()
    import_tensorflow()


def _stop_workers(pool: ProcessPoolExecutor, batch: str, grace: float = 0.3) -> None:
    """End every pool process now (SIGTERM, then SIGKILL after ``grace`` seconds).

    A worker waiting for its sandbox ends at once on SIGTERM; one busy in C code (importing
    TensorFlow) is killed, and its sandbox dies with it (PR_SET_PDEATHSIG). A process
    killed before it could clean up leaves its folder; it is removed here.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)
    for folder in Path(tempfile.gettempdir()).glob(f"{scratch_prefix(batch)}*"):
        shutil.rmtree(folder, ignore_errors=True)


def _grade_one(folder: str, name: str) -> dict[str, Any]:
    """In a pool process: grade one student's folder; never raise. The report names the
    student, not the folder's path on the instructor's machine (the student's page shows it)."""
    # lazy: the batch's own process never grades; only its pool processes load the checks and NumPy
    from grader.grade import grade_class_member

    return grade_class_member(folder, name, sandbox=_SANDBOX)


# -- the batch ------------------------------------------------------------------------


class Progress:
    """A progress line with the time per student and an estimate of the time left.

    It starts at once ("0/N, starting W workers"), before the first student is done. The
    first students of each worker include its start (TensorFlow imported, the measuring
    functions traced), so the estimate is made from the pace after the first report, once
    there is one, and says "estimating" until then.

    The student's name is a folder name the student may have chosen: it is shown escaped
    (:func:`grader.escaping.for_terminal`), one line, never a command to the terminal.
    """

    def __init__(
        self,
        total: int,
        stream: io.TextIOBase = sys.stderr,
        workers: int = 1,
        announce: bool = True,
    ) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.monotonic()
        self.first: float | None = None
        self.tty = getattr(stream, "isatty", lambda: False)()
        if announce:  # not for a cluster, which may yet turn out unreachable
            self._write(
                f"[{'.' * self.WIDTH}] 0/{total} starting {workers} grading "
                f"process{'es' if workers > 1 else ''} (the first student takes longest)"
            )

    WIDTH = 24

    def _write(self, line: str) -> None:
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def update(self, student: str, score: float) -> None:
        """Count one more student graded."""
        self.done += 1
        now = time.monotonic()
        if self.first is None:
            self.first = now
        elapsed = now - self.started
        per = elapsed / self.done
        if self.done >= 2:
            pace = (now - self.first) / (self.done - 1)
            estimate = f"about {_duration(pace * (self.total - self.done))} left"
        else:
            estimate = "estimating the time left" if self.done < self.total else "done"
        filled = int(self.WIDTH * self.done / max(self.total, 1))
        self._write(
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} "
            f"{per:5.1f} s/student, {estimate} "
            f"({for_terminal(student)}: {points(score)})"
        )

    def close(self) -> None:
        """End the progress line."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def up_to_date(stored: dict[str, Any] | None, fingerprint: str) -> bool:
    """Whether a stored report stands: the same files, grader and seed (its fingerprint), and
    no test the grader's own code failed on (a grader fault is regraded by the next run)."""
    if not stored or stored.get("fingerprint") != fingerprint:
        return False
    return not (stored.get("report") or {}).get("grader_faults")


def grade_class(
    root: Path,
    out: Path,
    workers: int = 1,
    on_report: Callable[[str, dict[str, Any]], None] | None = None,
    progress: bool = True,
    scheduler: SchedulerAccess | None = None,
    gradebook: Path | None = None,
    similarity: bool = True,
    similarity_threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """Grade every student under ``root`` who has no up-to-date report in ``out``.

    Args:
        root: the submissions folder.
        out: the output folder.
        workers: grading processes in parallel (on this machine).
        on_report: called with each new report (e.g. to fill a gradebook).
        progress: show a progress line on stderr.
        scheduler: a ``dask.distributed`` scheduler, checked by
            :func:`grader.scale.cluster_access.check_access`: grade on that cluster.
        gradebook: an nbgrader gradebook to record every up-to-date report in: those
            kept from earlier runs first, then each new one as it is graded.
        similarity: compare the students' code and add the section of similar pairs to
            ``class.html`` (:func:`grader.reports.similarity.write_similarity`).
        similarity_threshold: the score from which a pair is listed.

    Returns:
        the summary (also written to ``out/summary.json``); with a gradebook, its
        ``gradebook`` entry counts the students recorded (:func:`gradebook_line`).

    Raises:
        ValueError: when the gradebook does not know the assignment (before any grading).
        grader.scale.cluster.ClusterError: when the cluster cannot grade (the reports stored
            so far are kept).
    """
    root, out = Path(root), Path(out)
    students = find_students(root)
    version, seed = grader_version(), hidden_seed()
    prints = {s.name: fingerprint(s, version, seed) for s in students}
    todo = [
        s
        for s in students
        if not up_to_date(read_report(out / "reports" / f"{s.name}.json"), prints[s.name])
    ]
    for stale in (out / "reports").glob(".*.tmp") if (out / "reports").is_dir() else []:
        stale.unlink(missing_ok=True)  # a write that was interrupted
    recorded = {"graded_now": 0, "from_reports": 0}
    if gradebook is not None:
        on_report = _recording(gradebook, recorded, on_report)
        kept = [s.name for s in students if s not in todo]
        recorded["from_reports"] = len(
            write_reports(gradebook, {name: _stored(out, name) for name in kept})
        )
    bar = (
        Progress(len(todo), workers=max(1, min(workers, len(todo))), announce=scheduler is None)
        if progress and todo
        else None
    )
    graded = 0
    if todo and scheduler:
        # lazy: Dask is imported only for a run with --scheduler
        from grader.scale.cluster import grade_on_cluster

        def store(student: Student, report: dict[str, Any], page: str | None) -> None:
            store_report(out, student.name, prints[student.name], report, page)
            log_grader_faults(out, student.name, report)
            if on_report:
                on_report(student.name, report)
            if bar:
                bar.update(student.name, report["score"])

        try:
            graded = grade_on_cluster(scheduler, todo, seed, version, store)
        finally:
            if bar:
                bar.close()
                bar = None
    elif todo:
        context = get_context("spawn")  # TensorFlow does not survive a fork
        batch = secrets.token_hex(4)
        # If this process is killed (kill -9), multiprocessing's resource tracker removes
        # the pool's semaphores, as it should, but warns that they "leaked". It takes its
        # warning filters from this process's -W options, started with the pool below.
        if _QUIET_TRACKER not in sys.warnoptions:
            sys.warnoptions.append(_QUIET_TRACKER)
        with ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(todo))),
            mp_context=context,
            initializer=_start_worker,
            initargs=(str(root.resolve()), batch),
        ) as pool:
            pending: dict[Future, Student] = {}
            queue: Iterator[Student] = iter(todo)
            try:
                for student in queue:
                    pending[pool.submit(_grade_one, str(student.folder), student.name)] = student
                    if len(pending) >= 2 * workers:
                        break
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        student = pending.pop(future)
                        try:
                            report = future.result()
                        except Exception as error:  # noqa: BLE001 - e.g. a worker killed
                            # The pool's process is the grader's own (the student's code
                            # runs in its jailed workers): held for a regrade, not blamed.
                            trace = "".join(traceback.format_exception(error))
                            report = failed_grader_report(student.name, trace)
                        store_report(out, student.name, prints[student.name], report)
                        log_grader_faults(out, student.name, report)
                        graded += 1
                        if on_report:
                            on_report(student.name, report)
                        if bar:
                            bar.update(student.name, report["score"])
                        following = next(queue, None)
                        if following is not None:
                            pending[
                                pool.submit(_grade_one, str(following.folder), following.name)
                            ] = following
            except KeyboardInterrupt:
                # Every finished report is on disk already; end the workers now rather
                # than let them finish their students (which takes seconds each).
                for future in pending:
                    future.cancel()
                _stop_workers(pool, batch)
                pool.shutdown(wait=False, cancel_futures=True)
                if bar:
                    bar.close()
                raise
    if bar:
        bar.close()
    summary = write_tables(out, [s.name for s in students], graded)
    if gradebook is not None:
        summary["gradebook"] = {"students": sum(recorded.values()), **recorded}

    similar = None
    if similarity:
        try:
            similar = write_similarity(
                out, {s.name: s.folder for s in students}, similarity_threshold
            )
        except Exception as error:  # noqa: BLE001 - the grades are written; the section is a bonus
            failure = f"{type(error).__name__}: {error}"
            similar = {"error": failure}  # class.html says the section failed
            print(
                for_terminal(f"the similarity section could not be computed: {failure}"),
                file=sys.stderr,
            )
    else:
        remove_pages(out)  # an earlier run's, which class.html no longer lists
    try:
        write_class_report(out, [s.name for s in students], similar)
    except Exception as error:  # noqa: BLE001 - the grades are written; the page is a bonus
        print(
            for_terminal(f"class.html could not be drawn: {type(error).__name__}: {error}"),
            file=sys.stderr,
        )
    return summary


#: The batch's log of grader faults, in the output folder (the instructor's).
FAULTS_LOG = "grader-faults.log"


def log_grader_faults(
    out: Path, student: str, report: dict[str, Any], stream: io.TextIOBase | None = None
) -> int:
    """Log the grader faults of one student's report: their tracebacks appended to
    ``out/grader-faults.log`` and one line on stderr naming the student and the tests.

    A grader fault is an exception of the grader's own code (a test's ``grader_fault``,
    :func:`grader.checks.registry.run_check`, or a whole submission's,
    :func:`grader.grade.failure_report`): the instructor regrades those tests once the
    grader is fixed. Texts are escaped (:func:`grader.escaping.for_terminal`): an
    exception's text may quote what the student's code returned.

    Returns:
        the number of tests the grader failed on.
    """
    faults = [t for t in report.get("tests", []) if t.get("grader_fault")]
    if not faults:
        return 0
    names = ", ".join(str(t.get("name")) for t in faults)
    entry = [f"== {student}: the grader failed on {names}"]
    for test in faults:
        entry += [f"-- {test.get('name')}", str(test["grader_fault"]).rstrip()]
    with open(out / FAULTS_LOG, "a", encoding="utf-8") as log:
        log.write(for_terminal("\n".join(entry), lines=True) + "\n")
    print(
        for_terminal(
            f"grader fault: {student}: {names} held at zero for a regrade; the tracebacks "
            f"are in {out / FAULTS_LOG}"
        ),
        file=stream or sys.stderr,
    )
    return len(faults)


def _stored(out: Path, name: str) -> dict[str, Any]:
    """A student's stored report (one just found up to date)."""
    return (read_report(out / "reports" / f"{name}.json") or {})["report"]


def _recording(
    gradebook: Path,
    recorded: dict[str, int],
    then: Callable[[str, dict[str, Any]], None] | None,
) -> Callable[[str, dict[str, Any]], None]:
    """An ``on_report`` that records each new report in the gradebook, counts it, then
    calls ``then``."""

    def on_report(student: str, report: dict[str, Any]) -> None:
        write_report(gradebook, student, report)
        recorded["graded_now"] += 1
        if then:
            then(student, report)

    return on_report


def gradebook_line(summary: dict[str, Any], gradebook: Path) -> str:
    """What a batch says it recorded in the gradebook: how many students, from where.

    Returns:
        e.g. ``gradebook: 12 students (3 graded now, 9 from up-to-date reports) in
        gradebook.db``; empty when the batch had no gradebook.
    """
    counts = summary.get("gradebook")
    if not counts:
        return ""
    return for_terminal(
        f"gradebook: {counts['students']} student{'' if counts['students'] == 1 else 's'} "
        f"({counts['graded_now']} graded now, {counts['from_reports']} from up-to-date "
        f"reports) in {gradebook}"
    )


def grades_csv(reports: dict[str, dict[str, Any] | None]) -> str:
    """The text of ``grades.csv``: one row per student with a report, one column per test
    and the total.

    Each text cell goes through :func:`grader.escaping.for_csv_cell`: a student's name (a
    folder name the student may have chosen) that a spreadsheet would run as a formula
    (``=HYPERLINK(...)``, ``@SUM(...)``) is quoted, and its control characters escaped, so
    it is one cell of one row. The scores are numbers.

    Args:
        reports: ``{student: report or None}`` (None: no report yet, no row).

    Returns:
        the CSV text.
    """
    tests = [f.test_name for f in FUNCTIONS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *tests, "total"])
    for name, report in reports.items():
        if report is None:
            continue
        scores = {t["name"]: t["score"] for t in report["tests"]}
        writer.writerow(
            [
                for_csv_cell(name),
                *(f"{scores.get(t, 0):g}" for t in tests),
                f"{report['score']:g}",
            ]
        )
    return buffer.getvalue()


def write_tables(out: Path, names: list[str], graded: int) -> dict[str, Any]:
    """Write ``grades.csv`` (:func:`grades_csv`) and ``summary.json`` from the stored reports."""
    reports = {n: (read_report(out / "reports" / f"{n}.json") or {}).get("report") for n in names}
    tests = [f.test_name for f in FUNCTIONS]
    write_atomically(out / "grades.csv", grades_csv(reports))
    totals = [r["score"] for r in reports.values() if r]
    summary = {
        "students": len(names),
        "reported": len(totals),
        "graded_this_run": graded,
        "mean": round(statistics.mean(totals), 3) if totals else None,
        "median": statistics.median(totals) if totals else None,
        "full_marks": sum(1 for t in totals if t == 100),
        # students with tests the grader's own code failed on: to be regraded
        "grader_faults": {
            name: [t["name"] for t in r["tests"] if t.get("grader_fault")]
            for name, r in reports.items()
            if r and any(t.get("grader_fault") for t in r["tests"])
        },
        "per_test_mean": {
            t: round(
                statistics.mean(
                    next(x["score"] for x in r["tests"] if x["name"] == t)
                    for r in reports.values()
                    if r
                ),
                3,
            )
            for t in tests
        }
        if totals
        else {},
    }
    write_atomically(out / "summary.json", json.dumps(summary, indent=1))
    return summary
