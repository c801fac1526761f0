"""Run each part's instructor notebook with oneDNN's kernels on and off, once per module.

A lesson's claim must hold on any machine: TensorFlow's CPU build runs its float32
kernels through oneDNN by default (``TF_ENABLE_ONEDNN_OPTS`` unset or ``1``), and the
course's quiet environment turns them off (``0``). Their float32 rounding differs, so a
chaotic run can end differently. Each ``test_<part>_claims.py`` module reads what its
part's notebook printed in both runs, through :func:`printed` and :func:`markdown`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from grader.course.generate import ROOT, source_notebook_path
from grader.quiet import quiet_environment

#: Seconds one cell may run before the notebook counts as hung.
CELL_TIMEOUT = 300

#: The two settings of TensorFlow's oneDNN kernels every claim is checked under.
ONEDNN = {"oneDNN on": "1", "oneDNN off": "0"}

#: A number as the notebooks print it: 1,234.5, 3.6e-02, -7.
NUMBER = r"([-+]?[0-9][0-9,]*\.?[0-9]*(?:e[-+]?[0-9]+)?)"

#: A part's source notebook executed with oneDNN on or off (a key of :data:`ONEDNN`).
Lesson = Callable[[str, str], nbformat.NotebookNode]


def number(text: str) -> float:
    """A printed number as a float (thousands separators dropped)."""
    return float(text.replace(",", ""))


def find(pattern: str, text: str, where: str) -> float:
    """The number in the first group of the first match of ``pattern``; fails if none."""
    match = re.search(pattern, text)
    assert match, f"{where}: no match for {pattern!r} in:\n{text[-3000:]}"
    return number(match.group(1))


def printed(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook's code cells printed on stdout, in order."""
    return "\n".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stdout"
    )


def markdown(nb: nbformat.NotebookNode) -> str:
    """The notebook's prose: every markdown cell, in order."""
    return "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")


def run_source_notebook(part: str, onednn: str, workdir: Path) -> nbformat.NotebookNode:
    """Execute a part's instructor notebook in a fresh kernel; an error fails the test."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {
        **os.environ,
        **quiet_environment(),
        "PYTHONPATH": path,
        "TF_ENABLE_ONEDNN_OPTS": ONEDNN[onednn],
    }
    nb = nbformat.read(source_notebook_path(part), as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute(env=env)
    return nb


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Lesson:
    """A part's instructor notebook, executed once per oneDNN setting for the module."""
    executed: dict[tuple[str, str], nbformat.NotebookNode] = {}

    def run(part: str, onednn: str) -> nbformat.NotebookNode:
        if (part, onednn) not in executed:
            workdir = tmp_path_factory.mktemp(f"{part}-{ONEDNN[onednn]}")
            executed[part, onednn] = run_source_notebook(part, onednn, workdir)
        return executed[part, onednn]

    return run
