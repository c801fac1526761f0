"""The reference solutions as text: the one source the stubs and notebooks come from.

Every solution module marks the body a student writes with nbgrader's markers
``### BEGIN SOLUTION`` and ``### END SOLUTION``. From that text this module derives the
reference (markers removed) and the student stub (the marked region replaced by a
``NotImplementedError``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from grader.assignment import functions_of
from grader.paths import ROOT

SOLUTIONS_DIR = ROOT / "solutions"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

_REGION = re.compile(
    rf"^(?P<indent>[ \t]*){re.escape(BEGIN)}[ \t]*\n.*?^[ \t]*{re.escape(END)}[ \t]*\n",
    re.DOTALL | re.MULTILINE,
)
_MARKER_LINE = re.compile(rf"^[ \t]*(?:{re.escape(BEGIN)}|{re.escape(END)})[ \t]*\n", re.MULTILINE)


def solution_path(part: str) -> Path:
    """Return the path of a part's reference module."""
    functions_of(part)  # validates the part
    return SOLUTIONS_DIR / f"{part}.py"


def solution_source(part: str) -> str:
    """Return a part's reference module as written, solution markers included."""
    return solution_path(part).read_text(encoding="utf-8")


def strip_markers(source: str) -> str:
    """Return ``source`` with the solution marker lines removed (the reference)."""
    return _MARKER_LINE.sub("", source)


def stub_out(source: str) -> str:
    """Return ``source`` with every solution region replaced by the student stub."""

    def replace(match: re.Match[str]) -> str:
        indent = match.group("indent")
        return "".join(f"{indent}{line}\n" for line in STUB.splitlines())

    return _REGION.sub(replace, source)


def reference_source(part: str) -> str:
    """Return a part's reference module without solution markers."""
    return strip_markers(solution_source(part))


def stub_source(part: str) -> str:
    """Return a part's student stub module."""
    return stub_out(solution_source(part))


def split_module(source: str) -> tuple[str, dict[str, str]]:
    """Split a module into its preamble and its top-level functions.

    Args:
        source: a module's text.

    Returns:
        tuple ``(preamble, functions)``: the text before the first top-level function
        (docstring and imports), and each top-level function's text by name, in order,
        including the indented comment lines that close it.
    """
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if not defs:
        return source, {}
    starts = [min([d.lineno] + [dec.lineno for dec in d.decorator_list]) - 1 for d in defs]
    preamble = "".join(lines[: starts[0]])
    functions = {}
    for d, start in zip(defs, starts):
        end = d.end_lineno
        # Comment lines indented under the function (a closing ### END SOLUTION) belong to it.
        while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
            end += 1
        functions[d.name] = "".join(lines[start:end]).rstrip() + "\n"
    return preamble, functions


def solution_bodies(part: str) -> dict[str, list[str]]:
    """Return each marked function's solution as the student would write it: the stripped,
    non-empty lines between its markers, by function name (what a search for reference
    code in released or shipped material looks for)."""
    _, functions = split_module(solution_source(part))
    return {
        name: [line.strip() for line in region.splitlines() if line.strip()]
        for name, text in functions.items()
        if BEGIN in text
        for region in [text.split(BEGIN, 1)[1].split(END, 1)[0]]
    }
