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
import re
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
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


# --- what the prose says against what the cells print ------------------------------------

_NUMBER = r"([-+]?[0-9][0-9,]*\.?[0-9]*(?:e[-+]?[0-9]+)?)"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _markdown(nb: nbformat.NotebookNode) -> str:
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def _printed(nb: nbformat.NotebookNode) -> str:
    return "\n".join(_stdout(cell) for cell in _code_cells(nb))


def _find(pattern: str, text: str, where: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{where}: no match for {pattern!r}"
    return _number(match.group(1))


#: (part, a figure in the prose, the printed figure it names, relative tolerance): the
#: prose rounds, so the tolerance is the rounding's.
FIGURES = [
    ("deep_sigmoid", r"true values, about " + _NUMBER, r"n = 16:.*1\.5\^n = +" + _NUMBER, 0.01),
    (
        "deep_sigmoid",
        r"and \$" + _NUMBER + r" \\times 10\^8\$",
        r"n = 50:.*1\.5\^n = +" + _NUMBER,
        0.01,
    ),
    ("deep_sigmoid", r"\(" + _NUMBER + r" is\s+roughly", r"1\.5\^10 = " + _NUMBER, 0.02),
    (
        "chain_rule",
        r"= " + _NUMBER + r"\$\. That holds",
        r"gain at z = 0: +500 \* sigma'\(0\) = " + _NUMBER,
        0.0,
    ),
    (
        "clipping",
        r"direction by about " + _NUMBER + r" degrees",
        r"turned the direction by " + _NUMBER,
        0.02,
    ),
]


@pytest.mark.parametrize(("part", "prose", "printed", "tolerance"), FIGURES)
def test_prose_figures_match_the_printed_ones(
    part: str, prose: str, printed: str, tolerance: float, executed_source: Executed
) -> None:
    """Does each figure the lesson's text names match what its cell prints, within rounding?"""
    nb, _ = executed_source(part)
    said = _find(prose, _markdown(nb), f"{part} prose")
    shown = _find(printed, _printed(nb), f"{part} output")
    if "times 10" in prose:
        said *= 1e8
    assert abs(said - shown) <= tolerance * abs(shown) + 1e-12, (
        f"{part}: the prose says {said}, the notebook prints {shown}"
    )


def test_chi_section_claims(executed_source: Executed) -> None:
    """Is chi = 1 at Glorot's tanh and He's ReLU, and does sigmoid cross at about 100?"""
    out = _printed(executed_source("deep_sigmoid")[0])
    assert abs(_find(r"tanh: chi at s = 1 is " + _NUMBER, out, "tanh") - 1) < 0.05
    assert abs(_find(r"relu: chi at s = 2 is " + _NUMBER, out, "relu") - 1) < 0.01
    crossing = _find(r"sigmoid: chi = 1 at s = " + _NUMBER, out, "sigmoid")
    assert 50 <= crossing <= 200, crossing  # the prose: "about a hundred times Glorot's"
    assert _find(r"largest relative difference " + _NUMBER, out, "NumPy against TF") < 1e-4


def test_training_failure_demo_claims(executed_source: Executed) -> None:
    """Does the output layer alone train finitely at the rate where the whole network fails?"""
    out = _printed(executed_source("deep_sigmoid")[0])
    assert re.search(r"train output: 100 steps, .*every loss finite", out), out
    assert re.search(r"train hidden: 100 steps, .*every loss finite", out), out
    failed = _find(r"train all +: .*first non-finite loss at step " + _NUMBER, out, "whole")
    assert failed == _find(r"step of failure \(first non-finite loss\): " + _NUMBER, out, "step")
    assert _find(r"train output: .*largest eta\*lambda_max " + _NUMBER, out, "output") < 2
    assert _find(r"step 0: first layer .* ratio " + _NUMBER, out, "ratio") >= 1e3


def test_clipping_demo_claims(executed_source: Executed) -> None:
    """Does clipping keep the exploding run finite where the unclipped run fails?"""
    out = _printed(executed_source("clipping")[0])
    assert re.search(r"no clipping, rate 0\.05 .*first non-finite loss at step", out), out
    assert re.search(r"clip_norm=1, rate 0\.05 .*every loss finite", out), out
    assert re.search(r"no clipping, rate 0\.005 .*every loss finite", out), out
    assert _find(r"the norms agree to 0\.1% for the first " + _NUMBER, out, "step") >= 1


def test_remedies_demo_claims(executed_source: Executed) -> None:
    """Residual within 10x where plain is beyond 1e3; BatchNorm at inference changes nothing;
    the LSTM's Jacobian norms decay more slowly than the vanilla RNN's."""
    out = _printed(executed_source("remedies")[0])
    ratio = {
        kind: _find(rf"{kind} +first/last " + _NUMBER, out, kind)
        for kind in ["plain", "residual", "layernorm", "batchnorm", "prenorm"]
    }
    assert ratio["plain"] < 1e-3 or ratio["plain"] > 1e3, ratio
    assert 0.1 <= ratio["prenorm"] <= 10, ratio
    # BatchNormalization at inference divides by sqrt(1 + epsilon) in each of 20 layers, and
    # the ratios are printed to two digits: "the same" is within 20%, where the other
    # remedies move the ratio by orders of magnitude.
    assert abs(ratio["batchnorm"] / ratio["plain"] - 1) < 0.2, ratio
    assert abs(np.log10(ratio["residual"] / ratio["plain"])) > 3, ratio
    rnn = _find(r"vanilla RNN \|\|dh_T/ds_t\|\|.*decay over the 59 steps: " + _NUMBER, out, "rnn")
    lstm = _find(r"LSTM +\|\|dh_T/ds_t\|\|.*decay over the 59 steps: " + _NUMBER, out, "lstm")
    assert lstm < rnn, (lstm, rnn)
    assert (
        _find(r"against rnn_jacobian_norms: largest relative difference " + _NUMBER, out, "rnn")
        < 1e-4
    )
