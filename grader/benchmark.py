"""Speed figures, printed: run ``python -m grader.benchmark``.

Measures, in one run and on this machine:

- a bare ``python -c "import tensorflow"`` (the unit everything is compared with);
- grading one full submission (the bundled correct example) from the command line, with
  the workers jailed in namespaces (where available) and as plain processes, and the
  ratio between the two (the cost of the isolation);

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
EXAMPLE = ROOT / "exercises" / "example_submissions" / "correct"


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


def main(argv: list[str] | None = None) -> int:
    """Print the figures."""
    parser = argparse.ArgumentParser(prog="python -m grader.benchmark", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
