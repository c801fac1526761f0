"""Speed figures, printed: run ``python -m grader.benchmark``.

Measures, in one run and on this machine:

- a bare ``python -c "import tensorflow"`` (the unit everything is compared with);
- grading one full submission (the bundled correct example) from the command line, with
  the workers jailed in namespaces (where available) and as plain processes, and the
  ratio between the two (the cost of the isolation);

- with ``--copies N``: a class of N students (copies of the two bundled examples) graded
  by ``python -m grader batch`` and by ``nbgrader autograde`` on the same notebooks:
  seconds per student, the marginal cost of one more student as a ratio to the import,
  the peak resident memory of any one grading process, and the ratio between the two.

Figures are wall-clock seconds, the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from grader import jail

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "correct"


def _timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(
        argv,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - started


def median_time(argv: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    """The median wall time of ``repeat`` runs of a command."""
    return statistics.median(_timed(argv, env) for _ in range(repeat))


def _class_folder(root: Path, copies: int) -> Path:
    """``copies`` students in nbgrader's layout, alternating the two examples."""
    import shutil

    from grader.assignment import ASSIGNMENT

    submitted = root / "submitted"
    for index in range(copies):
        example = ["correct", "typical_mistakes"][index % 2]
        shutil.copytree(EXAMPLE.parent / example, submitted / f"student{index:03d}" / ASSIGNMENT)
    return submitted


def _peak_memory(process: subprocess.Popen, interval: float = 0.2) -> int:
    """Wait for a process; return the largest resident size (bytes) of it or any descendant."""
    from grader.sandbox import _descendants

    peak = 0
    while process.poll() is None:
        for pid in [process.pid, *_descendants(process.pid)]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        peak = max(peak, int(line.split()[1]) * 1024)
            except OSError:
                continue
        time.sleep(interval)
    return peak


def _batch_seconds(submitted: Path, out: Path, workers: int) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader",
            "batch",
            str(submitted),
            "--out",
            str(out),
            "--workers",
            str(workers),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = _peak_memory(process)
    if process.returncode != 0:
        raise RuntimeError("the batch failed")
    return time.perf_counter() - started, peak


def _nbgrader_seconds(course: Path) -> float:
    import shutil

    from grader.assignment import ASSIGNMENT

    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    quiet = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "check": True,
        "cwd": course,
    }
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT], **quiet)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--create"], **quiet)
    return time.perf_counter() - started


def class_figures(copies: int, workers: int, tf_import: float) -> None:
    """Print the batch and nbgrader figures for a class of ``copies`` students."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        small = _class_folder(root / "small", 2)
        large = _class_folder(root / "large", copies)
        small_seconds, _ = _batch_seconds(small, root / "small-out", workers)
        seconds, peak = _batch_seconds(large, root / "large-out", workers)
        marginal = (seconds - small_seconds) / (copies - 2)
        print(
            f"batch of {copies} ({workers} workers):               {seconds:7.2f} s"
            f" = {seconds / copies:5.2f} s per student"
        )
        print(
            f"marginal cost of one more student:        {marginal:7.2f} s"
            f" = {marginal / tf_import:5.2f} x import tensorflow"
        )
        print(f"peak resident memory of one process:      {peak / 2**20:7.0f} MB")
        nbgrader = _nbgrader_seconds(large.parent)
        print(
            f"nbgrader autograde of the same {copies}:         {nbgrader:7.2f} s"
            f" = {nbgrader / copies:5.2f} s per student"
        )
        print(f"batch speed-up over nbgrader autograde:    {nbgrader / seconds:6.2f} x")


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m grader.benchmark", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument(
        "--copies", type=int, default=0, help="also grade a class of this size (>= 3)"
    )
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    args = parser.parse_args(argv)

    tf_import = median_time([sys.executable, "-c", "import tensorflow"], args.repeat)
    print(f"python -c 'import tensorflow':           {tf_import:7.2f} s")
    grade = [sys.executable, "-m", "grader", "grade", str(EXAMPLE)]
    modes = ["process"] + (["namespace"] if jail.mode() == "namespace" else [])
    times = {}
    for mode in modes:
        times[mode] = median_time(grade, args.repeat, {jail.MODE_VARIABLE: mode})
        print(
            f"grade one submission ({mode:9} workers): {times[mode]:7.2f} s"
            f"  = {times[mode] / tf_import:5.2f} x import tensorflow"
        )
    if "namespace" in times:
        print(
            f"isolation overhead (namespace / process):   {times['namespace'] / times['process']:5.3f}"
        )
    else:
        print("isolation overhead: the namespace jail is not available here (needs root on Linux)")
    if args.copies >= 3:
        class_figures(args.copies, args.workers, tf_import)
    return 0


if __name__ == "__main__":
    sys.exit(main())
