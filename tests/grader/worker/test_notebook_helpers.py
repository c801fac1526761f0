"""Does the worker stand in for every name a released notebook imports from grader.notebook?

Inside the worker a notebook's setup cell finds a stand-in ``grader.notebook`` whose helpers
do nothing; a name missing there fails the setup cell, and every function of the part
that depends on it, with an ImportError that is the course's fault, not the student's.
"""

from __future__ import annotations

import ast

import nbformat
import pytest

from grader.assignment import PARTS
from grader.course.generate import release_path
from grader.worker.loading import NOTEBOOK_HELPERS


def imported_from_notebook_module(source: str) -> set[str]:
    """The names ``source`` imports from ``grader.notebook``."""
    return {
        alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module == "grader.notebook"
        for alias in node.names
    }


@pytest.mark.parametrize("part", PARTS)
def test_the_worker_stands_in_for_every_helper_a_notebook_imports(part: str) -> None:
    """Is every name the released notebook imports from grader.notebook a stand-in?"""
    nb = nbformat.read(release_path(part, ".ipynb"), as_version=4)
    names = set().union(
        *(imported_from_notebook_module(c.source) for c in nb.cells if c.cell_type == "code")
    )
    assert names, f"{part}: the setup cell imports nothing from grader.notebook"
    assert names <= set(NOTEBOOK_HELPERS), names - set(NOTEBOOK_HELPERS)


def test_a_helper_the_worker_lacks_is_found() -> None:
    """Would a notebook importing a helper the worker does not stand in for be caught?"""
    source = "from grader.notebook import check, grade, explain_everything\n"
    assert imported_from_notebook_module(source) - set(NOTEBOOK_HELPERS) == {"explain_everything"}
