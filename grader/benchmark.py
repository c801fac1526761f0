"""Speed figures, printed: run ``python -m grader.benchmark``.

Measures, in one run and on this machine, printing a line per phase as it goes (with an
estimate of how long the phase takes) and a table of every figure against its aim at the end:

  - a bare ``python -c "import tensorflow"``: the unit the grading times are compared with;
  - grading one full submission (the bundled correct example) from the command line, with
    the worker jailed in namespaces (where available) and as a plain process, and the
    isolation overhead per submission (jailed against plain);
  - where the time goes: the correct example graded twice in this process with one warm
    worker (the first grading, then the second as every further student of a batch meets
    it), seconds per check split into the student's process and the grader's;

with ``--copies N`` (N >= 3):

  - a class of N students (copies of the two bundled examples) graded by ``python -m
    grader batch``: seconds per student, the marginal cost of one more student against the
    import, and the peak resident memory of any one process of the batch;
  - ``nbgrader autograde`` on the same notebooks, and the batch's speed-up over it;
  - students per minute on a local Dask cluster of 1 and 2 workers (when the grader has
    its cluster module, ``grader.scale.cluster``), with a projection for larger classes;

with ``--similarity N``: the similarity section of a batch on a generated class of N
students (every part, each function drawn from the reference and the corpus's versions of
it): seconds and peak traced memory of comparing the class and writing its pages;

with ``--suite``: the whole test suite as CI runs it (``.ci/run``'s pytest command).

Wall-clock figures are the median of ``--repeat`` runs where they are repeated. Each
phase's estimate is a multiple of the TensorFlow import measured first, so it scales with
the machine; the nbgrader phase is the longest. Measure on an otherwise idle machine: the
figures are wall-clock times.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grader.grade as grade
from grader.assignment import ASSIGNMENT, FUNCTIONS, PARTS
from grader.course.sources import reference_source
from grader.isolation import jail
from grader.isolation.sandbox import PartSandboxes, Sandbox, descendants
from grader.paths import ROOT
from grader.quiet import import_tensorflow
from grader.reports.similarity import write_similarity
from grader.scale.batch import grade_class
from grader.scale.students import find_students

EXAMPLE = ROOT / "examples" / "correct"

#: The issue's aims: (figure, how to compare, the aim).
AIMS = {
    "cli": ("one full submission from the CLI / import tensorflow", "<=", 2.0),
    "marginal": ("batch: marginal cost of one more student / import", "<=", 1.0),
    "nbgrader": ("batch speed-up over nbgrader autograde", ">=", 10.0),
    "memory": ("peak resident memory of any grading process (MB)", "<=", 768.0),
    "isolation": ("isolation overhead per submission (jailed / plain)", "<=", 1.2),
    "suite": ("the test suite as CI runs it (s)", "<=", 300.0),
    "similarity": ("similarity section: seconds per hundred students", "<=", 5.0),
}


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment with the interpreter's ``bin`` folder first on PATH.

    A virtual environment that is not activated (``/venv/bin/python -m grader.benchmark``)
    has its commands (nbgrader's ``alembic``, ``dask``) off PATH; its Python finds them.
    """
    env = {**os.environ, **(extra or {})}
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), *filter(None, [env.get("PATH")])]
    )
    return env


def _timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
        env=_environment(env),
    )
    return time.perf_counter() - started


def median_time(argv: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    """The median wall time of ``repeat`` runs of a command.

    Args:
        argv: the command.
        repeat: how many runs.
        env: variables added to this environment.

    Returns:
        seconds.
    """
    return statistics.median(_timed(argv, env) for _ in range(repeat))


class Phases:
    """Prints a line when a phase starts (with its estimate) and when it ends.

    Args:
        out: where to print.
    """

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.out = out
        self.started = time.perf_counter()

    def run(self, name: str, estimate: float, work: Callable[[], Any]) -> Any:
        """Run one phase.

        Args:
            name: what the phase measures.
            estimate: its expected seconds.
            work: the phase.

        Returns:
            what ``work`` returns.
        """
        self.out(f"-- {name}: about {_duration(estimate)} ...")
        sys.stdout.flush()
        started = time.perf_counter()
        result = work()
        self.out(
            f"   done in {_duration(time.perf_counter() - started)}"
            f" ({_duration(time.perf_counter() - self.started)} so far)"
        )
        sys.stdout.flush()
        return result


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def workers_phrase(count: int) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{count} worker" if count == 1 else f"{count} workers"


# -- one submission -----------------------------------------------------------------------


def submission_figures(repeat: int, tf_import: float, phases: Phases) -> dict[str, float]:
    """Grade the correct example from the CLI in each isolation mode available here.

    Args:
        repeat: runs per mode (median).
        tf_import: seconds of the TensorFlow import.
        phases: prints the progress.

    Returns:
        seconds by mode (``process``, ``namespace``).
    """
    grade = [sys.executable, "-m", "grader", "grade", str(EXAMPLE)]
    modes = ["process"] + (["namespace"] if jail.mode() == "namespace" else [])
    times = {}
    for mode in modes:
        times[mode] = phases.run(
            f"grading one submission from the CLI, {mode} worker, {repeat} times",
            repeat * 3 * tf_import,
            lambda mode=mode: median_time(
                # The bundled example is the course's own code: the plain process, which
                # the grader refuses for student code as root, is measured here on purpose.
                grade + (["--allow-unsafe-isolation"] if mode == "process" else []),
                repeat,
                {jail.MODE_VARIABLE: mode},
            ),
        )
        print(
            f"grade one submission ({mode:9} worker): {times[mode]:7.2f} s"
            f" = {times[mode] / tf_import:5.2f} x import tensorflow"
        )
    print(isolation_line(times))
    return times


def isolation_line(times: dict[str, float]) -> str:
    """The isolation overhead per submission: jailed against plain process, same run."""
    if "namespace" not in times:
        return (
            "isolation overhead per submission: not measured, the namespace jail is not "
            "available here (it needs root or user namespaces on Linux)"
        )
    extra = times["namespace"] - times["process"]
    return (
        f"isolation overhead per submission:        {extra:+7.2f} s"
        f" = {times['namespace'] / times['process']:5.3f} x (jailed / plain)"
    )


# -- where the time goes ------------------------------------------------------------------


def check_breakdown(path: Path = EXAMPLE, gradings: int = 2) -> list[dict[str, dict[str, float]]]:
    """Grade ``path`` ``gradings`` times in this process with one warm worker, timing each check.

    The student's process's share of a check is the time the grader's main thread spent
    waiting for the worker's answers (its calls, the transfer of the results); the rest is
    the grader's own work (hidden inputs, references, rebuilding and measuring models,
    comparing). Work the grader does in its background thread meanwhile (a reference run
    started before the call, the last model measured while the next is built:
    :func:`grader.checks.registry.in_background`) falls in the student's share; the grader's CPU
    counts every thread of the grader's process.

    Args:
        path: the submission.
        gradings: how many times to grade it (the first pays for the references and the
            compiled measuring functions; the others are what a batch pays per student).

    Returns:
        per grading, ``{check: {"total", "student", "grader", "grader_cpu"}}`` in seconds.
    """
    import_tensorflow()
    current = ["setup"]
    waited: dict[str, float] = defaultdict(float)
    original_request = Sandbox.request
    original_run = grade.run_check

    def request(self: Sandbox, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original_request(self, *args, **kwargs)
        finally:
            waited[current[0]] += time.perf_counter() - started

    results: list[dict[str, dict[str, float]]] = []

    def run_check(name: str, *args: Any, **kwargs: Any) -> Any:
        current[0] = name
        waited[name] = 0.0
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return original_run(name, *args, **kwargs)
        finally:
            total = time.perf_counter() - started
            results[-1][name] = {
                "total": total,
                "student": waited[name],
                "grader": total - waited[name],
                "grader_cpu": time.process_time() - cpu,
            }
            current[0] = "between checks"

    sandbox = PartSandboxes(hide=[path.resolve().parent])
    Sandbox.request = request  # type: ignore[method-assign]
    grade.run_check = run_check  # type: ignore[assignment]
    try:
        for _ in range(gradings):
            results.append({})
            started = time.perf_counter()
            grade.grade_submission(path, sandbox=sandbox)
            results[-1]["(whole submission)"] = {
                "total": time.perf_counter() - started,
                "student": sum(waited.values()),
                "grader": 0.0,
                "grader_cpu": 0.0,
            }
            whole = results[-1]["(whole submission)"]
            whole["grader"] = whole["total"] - whole["student"]
            waited.clear()
    finally:
        Sandbox.request = original_request  # type: ignore[method-assign]
        grade.run_check = original_run  # type: ignore[assignment]
        sandbox.close()
    return results


def print_breakdown(results: list[dict[str, dict[str, float]]]) -> None:
    """Print the per-check table: the first grading, then the last (a batch's later student)."""
    first, last = results[0], results[-1]
    print(
        "seconds per check, per student: first grading in a process | a later student "
        "(waiting for the student's process + grader's = total; the grader's CPU, all threads)"
    )
    for name in first:
        a, b = first[name], last.get(name, first[name])
        print(
            f"  {name:34} {a['total']:6.2f} | {b['student']:6.2f} + {b['grader']:6.2f}"
            f" = {b['total']:6.2f}; cpu {b['grader_cpu']:5.2f}"
        )


# -- a class ------------------------------------------------------------------------------


def _class_folder(root: Path, copies: int) -> Path:
    """``copies`` students in nbgrader's layout, alternating the two examples."""
    submitted = root / "submitted"
    for index in range(copies):
        example = ["correct", "typical_mistakes"][index % 2]
        shutil.copytree(EXAMPLE.parent / example, submitted / f"student{index:03d}" / ASSIGNMENT)
    return submitted


def _peak_memory(process: subprocess.Popen, interval: float = 0.2) -> int:
    """Wait for a process; return the largest peak resident size (bytes) of it or any descendant.

    Each process's own high-water mark (``VmHWM``) is read, so a peak between two samples
    is not missed (only a process that lives less than one interval can be).
    """
    peak = 0
    while process.poll() is None:
        for pid in [process.pid, *descendants(process.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith(("VmHWM:", "VmRSS:")):
                        peak = max(peak, int(line.split()[1]) * 1024)
            except (OSError, ValueError, IndexError):
                continue
        time.sleep(interval)
    return peak


def _batch_seconds(submitted: Path, out: Path, workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(submitted), "--out", str(out)]
        + ["--workers", str(workers)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_environment(),
    )
    peak = _peak_memory(process)
    if process.returncode != 0:
        raise RuntimeError("the batch failed")
    return time.perf_counter() - started, peak


def _nbgrader_seconds(course: Path) -> float:
    """``nbgrader autograde`` of the class in ``course/submitted``, from a course of its own.

    nbgrader runs ``alembic`` by name: :func:`_environment` puts this interpreter's ``bin``
    folder first on PATH, so an environment that is not activated works too.
    """
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    nbgrader = [sys.executable, "-m", "nbgrader"]
    _timed([*nbgrader, "generate_assignment", ASSIGNMENT], cwd=course)
    return _timed([*nbgrader, "autograde", ASSIGNMENT, "--create"], cwd=course)


def class_figures(
    copies: int, workers: int, tf_import: float, phases: Phases, dask: bool = True
) -> dict[str, float]:
    """Grade a class of ``copies`` students by the batch, nbgrader and (if present) Dask.

    Args:
        copies: students in the class (>= 3).
        workers: the batch's grading processes.
        tf_import: seconds of the TensorFlow import.
        phases: prints the progress.
        dask: also measure a local Dask cluster when ``grader.scale.cluster`` exists.

    Returns:
        the figures: ``batch``, ``marginal``, ``memory`` (MB), ``nbgrader``, ``speedup``.
    """
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        small = _class_folder(root / "small", 2)
        large = _class_folder(root / "large", copies)
        small_seconds, _ = phases.run(
            f"batch of 2 ({workers_phrase(workers)}), for the fixed cost",
            4 * tf_import,
            lambda: _batch_seconds(small, root / "small-out", workers),
        )
        seconds, peak = phases.run(
            f"batch of {copies} ({workers_phrase(workers)})",
            (2 + copies / workers) * 1.5 * tf_import,
            lambda: _batch_seconds(large, root / "large-out", workers),
        )
        marginal = (seconds - small_seconds) / (copies - 2)
        figures.update(batch=seconds, marginal=marginal, memory=peak / 2**20)
        print(
            f"batch of {copies} ({workers_phrase(workers)}):{'':14} {seconds:7.2f} s"
            f" = {seconds / copies:5.2f} s per student"
        )
        print(
            f"marginal cost of one more student:        {marginal:7.2f} s"
            f" = {marginal / tf_import:5.2f} x import tensorflow"
        )
        print(f"peak resident memory of one process:      {peak / 2**20:7.0f} MB")
        nbgrader = phases.run(
            f"nbgrader autograde of the same {copies}",
            copies * 6 * tf_import,
            lambda: _nbgrader_seconds(large.parent),
        )
        figures.update(nbgrader=nbgrader, speedup=nbgrader / seconds)
        print(
            f"nbgrader autograde of the same {copies}:{'':9} {nbgrader:7.2f} s"
            f" = {nbgrader / copies:5.2f} s per student"
        )
        print(f"batch speed-up over nbgrader autograde:    {nbgrader / seconds:6.2f} x")
        print(f"batch, students per minute:                {60 * copies / seconds:7.2f}")
        if dask:
            figures.update(dask_figures(large, root / "dask", copies, tf_import, phases))
    return figures


def dask_figures(
    submitted: Path, scratch: Path, copies: int, tf_import: float, phases: Phases
) -> dict[str, float]:
    """Students per minute on a local Dask cluster of 1 and 2 workers, beside the batch.

    Skipped, with a note, when the grader's cluster module (``grader.scale.cluster``) cannot
    be imported.

    Returns:
        ``dask1`` and ``dask2`` (students per minute), or nothing when skipped.
    """
    try:
        cluster = importlib.import_module("grader.scale.cluster")
    except ImportError:
        cluster = None
    if cluster is None:
        print("dask: skipped, this grader has no cluster module (grader.scale.cluster)")
        return {}

    def measure(submissions: Path, workers: int, folder: Path) -> float:
        """Grade the class on a local Dask cluster of ``workers`` workers; students per minute.

        The clock runs from the batch's start (the workers' sandboxes warming included) to
        its end, as for the local batch; starting the cluster is not counted.
        """
        shutil.rmtree(folder, ignore_errors=True)
        with cluster.local_cluster(workers, Path(folder) / "cluster") as (address, _):
            started = time.monotonic()
            grade_class(submissions, Path(folder) / "out", progress=False, scheduler=address)
            elapsed = time.monotonic() - started
        return 60 * len(find_students(submissions)) / elapsed

    figures = {}
    for count in (1, 2):
        try:
            per_minute = phases.run(
                f"the same {copies} on a local Dask cluster of {workers_phrase(count)}",
                (3 + copies / count) * 1.5 * tf_import,
                lambda count=count: measure(submitted, count, scratch / f"w{count}"),
            )
        except Exception as error:  # noqa: BLE001 - a figure missing must not end the run
            print(f"dask ({workers_phrase(count)}): failed, {type(error).__name__}: {error}")
            continue
        figures[f"dask{count}"] = per_minute
        print(f"local Dask cluster, {workers_phrase(count)}: {per_minute:7.2f} students per minute")
    if "dask1" in figures:
        each = 60 / figures["dask1"]
        print(f"projection from {each:.1f} s per student per worker (no scheduling overhead):")
        for students in (1_000, 10_000):
            cells = ", ".join(
                f"{n} workers {_duration(students * each / n)}" for n in (10, 50, 200)
            )
            print(f"  {students:>6} students: {cells}")
    return figures


# -- the test suite -------------------------------------------------------------------------


def ci_test_command() -> list[str]:
    """The pytest command CI runs (the last ``python -m pytest`` of ``.ci/run``)."""
    for line in reversed((ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()):
        if "python -m pytest" in line:
            words = shlex.split(line.split("&&")[-1])
            return [sys.executable, *words[1:]]
    return [sys.executable, "-m", "pytest"]


def suite_run(command: list[str]) -> tuple[float, int, str, list[str]]:
    """Run the test suite; its time, exit status, summary line and slowest tests.

    A failing suite still gives its time (the table says it failed), so a long benchmark
    run is never lost to one failing test.

    Returns:
        seconds, pytest's exit status, its last summary line (``N passed in ...``), and
        the lines of its ``--durations`` table.
    """
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        started = time.perf_counter()
        status = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=_environment()
        ).returncode
        seconds = time.perf_counter() - started
        log.seek(0)
        lines = log.read().splitlines()
    summaries = [line.strip("= ") for line in lines if " in " in line and line.startswith("=")]
    slowest = [line for line in lines if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line)]
    return seconds, status, summaries[-1] if summaries else "no summary line", slowest[:10]


# -- the similarity section ---------------------------------------------------------------

#: The corpus of wrong and right versions of the contract's functions.
CORPUS = ROOT / "tests" / "corpus"


def _versions(part: str) -> tuple[dict[str, list[str]], list[str]]:
    """Every version of each function of a part, from the reference and the corpus
    (``{function: [code]}``), and the corpus files' own helpers (``[code]``)."""
    names = [f.name for f in FUNCTIONS if f.part == part]  # the contract's order: repeatable
    versions: dict[str, list[str]] = {name: [] for name in names}
    helpers: list[str] = []
    sources = [reference_source(part)] + [
        p.read_text(encoding="utf-8") for p in sorted(CORPUS.glob(f"*/{part}__*.py"))
    ]
    for source in sources:
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                versions[node.name].append(ast.unparse(node))
            elif isinstance(node, ast.FunctionDef):
                helpers.append(ast.unparse(node))
    return versions, helpers


def similarity_class(root: Path, students: int, seed: int = 0) -> dict[str, Path]:
    """A generated class: every student hands in every part as a module, each function a
    version drawn at random from the reference's and the corpus's (so that any two students
    share some functions, as a class that follows the same lessons does), with a helper or
    two. ``{student: folder}``."""
    chooser = random.Random(seed)
    pools = {part: _versions(part) for part in PARTS}
    folders = {}
    for index in range(students):
        folder = root / f"student{index:03d}"
        folder.mkdir(parents=True)
        for part, (versions, helpers) in pools.items():
            chosen = [chooser.choice(v) for v in versions.values() if v]
            chosen += chooser.sample(helpers, min(2, len(helpers)))
            chooser.shuffle(chosen)
            text = "import numpy as np\n\n\n" + "\n\n\n".join(chosen) + "\n"
            (folder / f"{part}.py").write_text(text, encoding="utf-8")
        folders[folder.name] = folder
    return folders


def similarity_figures(students: int) -> dict[str, float]:
    """Compare a generated class of ``students`` (:func:`similarity_class`) as a batch does
    and write its pages: the seconds (the best of two runs, the first of which imports
    copydetect and matplotlib), the CPU seconds of this process (the same, less sensitive to
    a busy machine) and, in a third run, the peak memory traced.

    Returns:
        ``seconds``, ``cpu_seconds``, ``per_hundred`` (seconds per hundred students),
        ``memory`` (MB),
        ``pairs`` (pairs compared, over the parts) and ``flagged`` (pairs above the
        threshold, over the parts).
    """
    with tempfile.TemporaryDirectory() as folder:
        folders = similarity_class(Path(folder) / "class", students)
        runs, cpu = [], []
        for _ in range(2):
            started, used = time.perf_counter(), time.process_time()
            data = write_similarity(Path(folder) / "out", folders)
            runs.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
        tracemalloc.start()
        try:
            write_similarity(Path(folder) / "out", folders)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    seconds = min(runs)
    parts = data["parts"].values()
    return {
        "seconds": seconds,
        "cpu_seconds": min(cpu),
        "per_hundred": 100 * seconds / students,
        "memory": peak / 2**20,
        "pairs": sum(p["students"] * (p["students"] - 1) // 2 for p in parts),
        "flagged": sum(p["flagged_count"] for p in parts),
        "expected": sum(p["expected_count"] for p in parts),
    }


# -- the table ----------------------------------------------------------------------------


def summary(figures: dict[str, float]) -> list[str]:
    """One line per figure of the issue's table: measured, aim, met or not."""
    lines = [f"{'figure':56} {'measured':>9} {'aim':>9}"]
    for key, (label, sense, aim) in AIMS.items():
        if key not in figures:
            lines.append(f"{label:56} {'-':>9} {sense + ' ' + format(aim, 'g'):>9}  not measured")
            continue
        value = figures[key]
        met = value <= aim if sense == "<=" else value >= aim
        lines.append(
            f"{label:56} {value:9.2f} {sense + ' ' + format(aim, 'g'):>9}  "
            + ("met" if met else "NOT met")
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Print the figures.

    Args:
        argv: the command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        the exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m grader.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per repeated figure (median)")
    parser.add_argument(
        "--copies", type=int, default=0, help="also grade a class of this size (>= 3)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="the batch's grading processes (default: half the cores)",
    )
    parser.add_argument(
        "--no-dask", action="store_true", help="skip the local Dask cluster figures"
    )
    parser.add_argument(
        "--similarity",
        type=int,
        default=0,
        metavar="N",
        help="also time the similarity section on a generated class of N students (>= 2)",
    )
    parser.add_argument(
        "--suite", action="store_true", help="also time the whole test suite as CI runs it"
    )
    args = parser.parse_args(argv)
    if args.copies and args.copies < 3:
        parser.error("--copies must be at least 3")
    if args.similarity and args.similarity < 2:
        parser.error("--similarity must be at least 2")

    phases = Phases()
    figures: dict[str, float] = {}
    tf_import = phases.run(
        f"python -c 'import tensorflow', {args.repeat} times",
        5.0 * args.repeat,
        lambda: median_time([sys.executable, "-c", "import tensorflow"], args.repeat),
    )
    print(f"python -c 'import tensorflow':            {tf_import:7.2f} s")
    times = submission_figures(args.repeat, tf_import, phases)
    cli = times.get(jail.mode(), times["process"])
    figures["cli"] = cli / tf_import
    if "namespace" in times:
        figures["isolation"] = times["namespace"] / times["process"]
    results = phases.run(
        "where the time goes: the correct example graded twice with one warm worker",
        5 * tf_import,
        check_breakdown,
    )
    print_breakdown(results)
    if args.copies:
        measured = class_figures(
            args.copies, args.workers, tf_import, phases, dask=not args.no_dask
        )
        figures["marginal"] = measured["marginal"] / tf_import
        figures["memory"] = measured["memory"]
        figures["nbgrader"] = measured["speedup"]
    if args.similarity:
        found = phases.run(
            f"the similarity section on a generated class of {args.similarity}",
            0.1 * args.similarity,
            lambda: similarity_figures(args.similarity),
        )
        figures["similarity"] = found["per_hundred"]
        print(
            f"similarity of {args.similarity} students:  {found['seconds']:7.2f} s "
            f"({found['per_hundred']:.2f} s per hundred; {found['cpu_seconds']:.2f} s of CPU), "
            "peak traced memory "
            f"{found['memory']:.0f} MB; {found['pairs']} pairs compared, {found['flagged']} "
            f"flagged and {found['expected']} expected above the threshold"
        )
    if args.suite:
        command = ci_test_command()
        seconds, status, line, slowest = phases.run(
            f"the test suite: {' '.join(command[1:])}", 150 * tf_import, lambda: suite_run(command)
        )
        figures["suite"] = seconds
        print(f"the test suite as CI runs it:              {seconds:7.2f} s ({line})")
        if status != 0:
            print(f"the test suite FAILED (exit status {status}): its time is not a pass")
        print("its slowest tests:\n  " + "\n  ".join(slowest))
    print()
    print("\n".join(summary(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
