"""Do the generated notebooks run top to bottom, and do they grade as they should?

Each notebook runs in a fresh kernel whose working directory is a temporary folder, with
the repository on ``PYTHONPATH`` (as ``pip install -e .`` would give a student). The
source notebooks (with solutions) must run without an error and without a line on
stderr, since nbgrader scores a test cell that writes to stderr as failed, and every
autograded cell must show its full points. The released student notebooks must keep the
kernel alive to the end while every autograded cell fails. Run times are printed and
recorded as test properties (``--junitxml`` keeps them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.assignment import PARTS, functions_of
from grader.course.generate import ROOT, release_path, source_notebook_path
from grader.quiet import quiet_environment

pytestmark = pytest.mark.slow

#: Seconds one cell may run before the notebook counts as hung.
CELL_TIMEOUT = 300
#: Seconds a whole notebook may take: the course promises well under a minute on 2 CPU
#: cores; this bound only catches a run that got far out of hand.
NOTEBOOK_BUDGET = 120

#: A part's source notebook, executed, and how many seconds it took to run.
Executed = Callable[[str], tuple[nbformat.NotebookNode, float]]

_PROBE = "import sys\nprint('tensorflow' in sys.modules)"


def _kernel_environment() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **quiet_environment(), "PYTHONPATH": path}


def _execute(
    nb: nbformat.NotebookNode, workdir: Path, *, allow_errors: bool
) -> tuple[nbformat.NotebookNode, float]:
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    client.execute(env=_kernel_environment())
    return nb, time.perf_counter() - start


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _grade_id(cell: nbformat.NotebookNode) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def _test_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {
        _grade_id(cell): cell
        for cell in _code_cells(nb)
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "")
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stdout"
    )


def _errors(cell: nbformat.NotebookNode) -> list[str]:
    return [f"{out.ename}: {out.evalue}" for out in cell.outputs if out.output_type == "error"]


def _with_probes(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Insert a cell after the setup cell and one at the end that report TensorFlow."""
    nb = nbformat.from_dict(nb)
    setup = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells.insert(setup + 1, nbformat.v4.new_code_cell(_PROBE, id="probe-after-setup"))
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE, id="probe-at-end"))
    return nb


@pytest.fixture(scope="module")
def executed_source(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    """A part's source notebook, executed once for the tests below that read it.

    Module-scoped, so that under xdist the tests that share it run on one worker
    (tests/conftest.py groups them) and each notebook runs once, not once per worker.
    """
    executed: dict[str, tuple[nbformat.NotebookNode, float]] = {}

    def run(part: str) -> tuple[nbformat.NotebookNode, float]:
        if part not in executed:
            nb = nbformat.read(source_notebook_path(part), as_version=4)
            workdir = tmp_path_factory.mktemp(f"{part}-source")
            executed[part] = _execute(nb, workdir, allow_errors=False)
        nb, seconds = executed[part]
        return nbformat.from_dict(nb), seconds

    return run


@pytest.mark.parametrize("part", PARTS)
def test_source_notebook_runs_and_earns_full_points(
    part: str, executed_source: Executed, record_property: pytest.RecordProperty
) -> None:
    """Does the solution notebook run without errors or stderr, at full points?"""
    nb, seconds = executed_source(part)
    record_property("seconds", round(seconds, 1))
    print(f"{part}: source notebook ran in {seconds:.1f} s")

    stderr = [
        (_grade_id(cell) or cell.get("id"), out.get("text", "")[:500])
        for cell in _code_cells(nb)
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stderr"
    ]
    assert not stderr, f"{part}: cells wrote to stderr (nbgrader fails such test cells): {stderr}"

    tests = _test_cells(nb)
    assert sorted(tests) == sorted(f"{part}-{f.name}-tests" for f in functions_of(part))
    for f in functions_of(part):
        cell = tests[f"{part}-{f.name}-tests"]
        results = [out for out in cell.outputs if out.output_type == "execute_result"]
        assert len(results) == 1, f"{f.test_name}: the test cell shows no points: {cell.outputs}"
        earned = float(results[0].data["text/plain"])
        assert earned == f.points, f"{f.test_name}: {earned} of {f.points} points"
    assert seconds < NOTEBOOK_BUDGET, f"{part}: {seconds:.0f} s is over {NOTEBOOK_BUDGET} s"


@pytest.mark.parametrize("part", PARTS)
def test_student_notebook_fails_every_test_cell(
    part: str, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    """Does the released notebook run to the end, with every autograded cell failing?"""
    nb = nbformat.read(release_path(part, ".ipynb"), as_version=4)
    nb, seconds = _execute(nb, tmp_path, allow_errors=True)
    record_property("seconds", round(seconds, 1))
    print(f"{part}: student notebook ran in {seconds:.1f} s")

    cells = _code_cells(nb)
    assert all(cell.execution_count is not None for cell in cells), (
        f"{part}: the kernel stopped before the last cell"
    )
    assert cells[0].metadata["nbgrader"]["grade_id"] == f"{part}-setup"
    assert not _errors(cells[0]), f"{part}: the setup cell failed: {_errors(cells[0])}"
    for grade_id, cell in _test_cells(nb).items():
        assert _errors(cell), f"{grade_id}: an unanswered exercise must fail its test cell"
        assert not [out for out in cell.outputs if out.output_type == "execute_result"]


def test_chain_rule_notebook_never_imports_tensorflow(tmp_path: Path) -> None:
    """Does Part 1 run (setup, demos, checks and grading) without loading TensorFlow?"""
    nb = _with_probes(nbformat.read(source_notebook_path("chain_rule"), as_version=4))
    nb, _ = _execute(nb, tmp_path, allow_errors=False)
    probes = {
        cell.get("id"): _stdout(cell).strip() for cell in nb.cells if "probe" in cell.get("id")
    }
    assert probes == {"probe-after-setup": "False", "probe-at-end": "False"}, probes


# What each lesson says against what its notebook prints, with oneDNN on and off:
# tests/lessons/test_<part>_claims.py.
