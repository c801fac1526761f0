"""Similar code between the students of a class, per part and per function: the instructor's.

A batch (:func:`grader.scale.batch.grade_class`) compares every pair of students, part by
part, and writes ``similarity/<part>-<a>-<b>-<digest>.html`` (the two students' code side by
side, the matching regions highlighted) for each pair above the threshold; ``class.html``
lists those pairs, ranked (:func:`grader.reports.class_report.render_class_html`). Similarity is
evidence for a person to review, never a verdict: nothing here reaches a student's report,
feedback, Gradescope's results or the kit.

How two students are compared:

- Each part's code is what the grader reads (:func:`grader.submission.load_submission`: a
  notebook's code cells but the course's own, a module as it is), only ever as *text*: it is
  parsed with :mod:`ast`, never imported or run; IPython's magics are read as the worker
  runs them (:func:`grader.worker.loading.strip_notebook_only`). A student whose files
  cannot be read at all is listed as not compared; the others are compared all the same.
- It is cut into units: each function of the contract (:data:`grader.assignment.FUNCTIONS`)
  by its name, wherever it stands (in a class, an ``if``, a ``try``) and through a simple
  alias (``sigmoid = my_sigmoid``), and the rest of the code (helpers, imports, other cells)
  as one more unit; a student's Part 1 ``sigmoid`` is compared with every other student's
  ``sigmoid`` only.
- Each unit is written out again by :func:`ast.unparse` without comments and docstrings, so
  that layout does not count (line breaks, semicolons, parentheses, spacing), with every
  name made ``V`` (a dotted name one ``V``: ``np.asarray`` as ``asarray``), every function
  defined ``F`` and every string ``S`` (copydetect's normalisation of tokens), so that
  renaming does not count either, and without the statements that do nothing (``pass``, a
  bare constant, a ``print``, an assignment to a name the code never reads); then
  fingerprinted by copydetect as MOSS does (k-grams of :data:`K` characters, winnowed).
  The released files' fingerprints (the modules, and the notebooks' every code cell: given,
  demo and test cells) are boilerplate and removed from every student's (copydetect's
  boilerplate). What is compared is bounded (:data:`MAX_PART_CHARS` of normalised code, so
  comments and docstrings cost nothing; :data:`MAX_FINGERPRINTS` a unit); a part cut short
  is noted.
- A pair's score in a part is the larger of two shares of fingerprints in common: unit by
  unit (twice the fingerprints shared, unit by unit, over the two students' fingerprints),
  and over the whole part (every unit's fingerprints together, whatever unit they are in).
- A *short* unit (fewer than :data:`SHORT_UNIT` fingerprints: a line or two, such as a
  formula the contract fixes) that many students write the same way is *expected* to match:
  where more than the pair share it (:data:`EXPECTED_SIMILARITY` with both students), its
  matches count ``1 / (students sharing it - 1)`` in the unit-by-unit share. Longer units
  and the whole part are never expected: a group of students handing in one copy is flagged.
- A pair is flagged (listed with its page) when its score reaches the threshold with at
  least :data:`MIN_SHARED` fingerprints in common, or when one substantial function of the
  contract matches at :data:`UNIT_FLAG` or more (unless more than the two write it so and it
  is shorter than :data:`LONG_UNIT`). Other pairs at the threshold are listed as expected.

Student names are folder names the students may have chosen, and the code is theirs: every
text is escaped (:func:`grader.escaping.for_html`) and the pages' file names are made of
letters, digits, ``_.-`` and a digest.
"""

from __future__ import annotations

import ast
import builtins
import functools
import hashlib
import io
import json
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from grader.assignment import FUNCTIONS, PARTS
from grader.escaping import for_html
from grader.reports.figures import pyplot
from grader.reports.html import PAGE_STYLE
from grader.reports.store import write_atomically
from grader.submission import RELEASE_DIR, load_submission
from grader.worker.loading import strip_notebook_only

#: The default threshold of a pair's score (``--similarity-threshold``). Measured on the
#: class of tests/grader/reports/similarity_class.py: the two copied Part 1s (every name
#: changed, the code reflowed, one handed in as a notebook) score 1.00 and 0.96, the eight
#: independent ones 0.08 at most (two students whose code starts from the same lines).
DEFAULT_THRESHOLD = 0.5
#: copydetect's k-gram length (its noise threshold, in characters of the normalised tokens:
#: about a dozen tokens) and winnowing window (1: every k-gram, as its default of equal noise
#: and guarantee thresholds gives). A match shorter than this is noise.
K = 25
WINDOW = 1
#: The similarity of a unit at which another student counts as sharing it (expected units).
EXPECTED_SIMILARITY = 0.8
#: A unit with fewer fingerprints than this (the stubs' removed) in either student's code is
#: *short*: a line or two, which many students may write alike. Only short units are
#: expected; a longer one is *substantial*.
SHORT_UNIT = 60
#: A pair is flagged when one substantial function of the contract matches this much, even
#: if the rest of their code differs (one long function copied), unless more than the two
#: students write it so (a form the contract or the Keras idiom fixes: a model of four
#: lines is about 70 fingerprints); a *long* one (about eight lines) whoever else shares it.
UNIT_FLAG = 0.9
LONG_UNIT = 120
#: A pair above the threshold is flagged only when they share at least this many
#: fingerprints (about three lines of code): two students who wrote a line or two each,
#: the rest left as the stubs, are alike by necessity.
MIN_SHARED = SHORT_UNIT
#: Pairs listed per part: flagged (each with its page), and expected ones.
MAX_FLAGGED = 50
MAX_EXPECTED = 20
#: The unit of a part's code that is no function of the contract.
OTHER = "(other code)"
#: The whole part: every unit's fingerprints together, compared whatever unit they are in
#: (code moved from one function to another, or out of the contract's names).
WHOLE = "(whole part)"
#: What is compared of a part: at most this much normalised code (comments, docstrings and
#: strings cost nothing), at most this many fingerprints a unit (the lowest hashes: the same
#: sample of the same code in every student), of at most this many characters of cells
#: (read as text) and cells; code that does not parse is tokenised up to
#: :data:`MAX_UNPARSED_CHARS`. A part cut short is noted (a part is about 100 lines).
MAX_PART_CHARS = 200_000
MAX_FINGERPRINTS = 5_000
MAX_SOURCE_CHARS = 500_000
MAX_CELLS = 1_000
MAX_UNPARSED_CHARS = 50_000
#: The fingerprints compared at once, in counting what pairs share (memory: students x this).
_COLUMNS = 8_192
#: The folder of the pair pages, in the batch's output folder.
FOLDER = "similarity"


def _drop_docstring(node: ast.AST) -> None:
    """Remove a function's, class's or module's docstring (its first statement, a string)."""
    body = getattr(node, "body", None)
    if (
        isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        node.body = body[1:] or [ast.Pass()]


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        _drop_docstring(node)
    return tree


#: The builtins' names, kept as they are (copydetect's tokens keep them too).
_BUILTINS = frozenset(dir(builtins))


def _no_effect(statement: ast.stmt, read: frozenset[str]) -> bool:
    """Whether a statement does nothing the code's result depends on: ``pass``, a bare
    constant or name, a ``print`` call, an assignment to names the code never reads."""
    if isinstance(statement, ast.Pass):
        return True
    if isinstance(statement, ast.Expr):
        value = statement.value
        if isinstance(value, (ast.Constant, ast.Name, ast.Attribute)):
            return True
        return (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Name)
            and value.func.id == "print"
        )
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
        targets = [statement.target]
    else:
        return False
    return all(isinstance(t, ast.Name) and t.id not in read for t in targets)


class _Normalised(ast.NodeTransformer):
    """Every name made ``V`` (the builtins' kept), a dotted name one ``V`` (``np.asarray``
    as ``asarray``), every function defined ``F``, every class ``O`` and every string ``S``:
    the normalisation of copydetect's tokens, on the tree; the docstrings and the statements
    with no effect (:func:`_no_effect`) left out.

    Args:
        read: the names the part's code reads anywhere (an assignment to another is dead).
    """

    def __init__(self, read: frozenset[str] = frozenset()) -> None:
        self.read = read

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for name in ("body", "orelse", "finalbody"):
            statements = getattr(node, name, None)
            if isinstance(statements, list) and statements:
                kept = [s for s in statements if not _no_effect(s, self.read)]
                # a body cannot be empty; an orelse or finalbody can
                setattr(node, name, kept or ([ast.Pass()] if name == "body" else []))
        return super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = node.id if node.id in _BUILTINS else "V"
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = "V"
        return self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Name("V", ast.Load()), node)
        node.attr = "V"
        return self.generic_visit(node)

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        node.arg = node.arg and "V"
        return self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node.name = "F"
        _drop_docstring(node)
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        node.name = "O"
        _drop_docstring(node)
        return self.generic_visit(node)

    def visit_alias(self, node: ast.alias) -> ast.AST:
        node.name, node.asname = "V", node.asname and "V"
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        node.module = node.module and "V"
        return self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> ast.AST:
        node.names = ["V" for _ in node.names]
        return node

    visit_Nonlocal = visit_Global  # type: ignore[assignment]

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, (str, bytes)):
            node.value = "S"
        return node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.Constant("S")


class _Without(ast.NodeTransformer):
    """A tree without some of its nodes (the functions taken out as units)."""

    def __init__(self, taken: set[int]) -> None:
        self.taken = taken

    def visit(self, node: ast.AST) -> ast.AST | None:
        if id(node) in self.taken:
            return None
        return super().visit(node)


@dataclass
class Units:
    """A part's code cut into units (:func:`read_units`)."""

    units: dict[str, str]
    cut: bool = False  # the part was longer than what is compared


def _bounded(cells: Iterable[str]) -> tuple[list[str], bool]:
    """The cells compared: at most :data:`MAX_CELLS` (the rest as one more) and
    :data:`MAX_SOURCE_CHARS` characters; and whether anything was cut."""
    cells = [c for c in cells if isinstance(c, str)]
    cut = False
    if len(cells) > MAX_CELLS:
        cells = cells[: MAX_CELLS - 1] + ["\n".join(cells[MAX_CELLS - 1 :])]
    kept, budget = [], MAX_SOURCE_CHARS
    for cell in cells:
        if len(cell) > budget:
            cell, cut = cell[:budget], True
        kept.append(cell)
        budget -= len(cell)
        if budget <= 0:
            cut = True
            break
    return kept, cut


def _contract_functions(
    trees: list[ast.Module], names: set[str]
) -> tuple[dict[str, ast.AST], frozenset[str]]:
    """The definition of each function of the contract, wherever it stands (in a class, an
    ``if``, a ``try``), followed through a simple alias (``sigmoid = my_sigmoid``); the last,
    as Python keeps it. And the names the code reads (one walk of the trees for both)."""
    defined: dict[str, ast.AST] = {}
    chosen: dict[str, ast.AST] = {}
    read: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                if not isinstance(node.ctx, ast.Store):
                    read.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                defined[node.name] = node
                if node.name in names:
                    chosen[node.name] = node
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in names
            ):
                value = node.value
                target = value.id if isinstance(value, ast.Name) else getattr(value, "attr", None)
                if target in defined and target != node.targets[0].id:
                    chosen[node.targets[0].id] = defined[target]
    return chosen, frozenset(read)


def _plain(node: ast.AST, normalised: bool) -> str:
    """The code of a node as :func:`ast.unparse` writes it; without white space when
    normalised (as copydetect's tokens are)."""
    try:
        text = ast.unparse(node)
    except (RecursionError, MemoryError, ValueError, AttributeError, TypeError):
        return ""
    return re.sub(r"\s+", "", text) if normalised else text


def read_units(cells: Iterable[str], part: str, normalise: bool = False) -> Units:
    """A part's code cut into units, each written out again without layout or comments.

    Args:
        cells: the part's code cells (a module is one).
        part: the part.
        normalise: write the units as they are compared (names, strings, layout made
            uniform, statements with no effect left out: :class:`_Normalised`), rather than
            as they are shown (docstrings left out).

    Returns:
        the units: ``{function name: code}`` for each function of the contract the code
        defines (:func:`_contract_functions`), and :data:`OTHER`, the rest of the code; a
        cell that does not parse goes into :data:`OTHER` as it is (normalised by
        copydetect's tokens).
    """
    names = {f.name for f in FUNCTIONS if f.part == part}
    cells, cut = _bounded(cells)
    parsed: list[tuple[str, ast.Module]] = []
    unparsed: list[str] = []
    for cell in cells:
        cell = strip_notebook_only(cell)  # magics as the worker runs them: ``pass``
        try:
            parsed.append((cell, ast.parse(cell)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            unparsed.append(cell)
    try:
        chosen, read = _contract_functions([tree for _, tree in parsed], names)
    except (RecursionError, MemoryError):
        chosen, read = {}, frozenset()
    trees = []
    for cell, tree in parsed:
        try:
            trees.append(_Normalised(read).visit(tree) if normalise else _without_docstrings(tree))
        except (RecursionError, MemoryError, ValueError, AttributeError, TypeError):
            unparsed.append(cell)
    bad = "\n".join(unparsed)
    if normalise and bad:
        cut = cut or len(bad) > MAX_UNPARSED_CHARS
        bad = _copydetect().utils.filter_code(bad[:MAX_UNPARSED_CHARS], "cell.py", "python")[0]
    units = {name: _plain(node, normalise) for name, node in chosen.items()}
    taken = {id(node) for node in chosen.values()}
    other = []
    for tree in trees:
        try:
            rest = _Without(taken).visit(tree)
        except (RecursionError, MemoryError):
            continue
        other.extend(_plain(node, normalise) for node in rest.body)
    other.append(bad)
    text = ("" if normalise else "\n").join(o for o in other if o.strip())
    if text:
        units[OTHER] = text
    if normalise and sum(map(len, units.values())) > MAX_PART_CHARS:
        cut, budget, kept = True, MAX_PART_CHARS, {}
        for name, text in units.items():  # the contract's functions first, then the rest
            kept[name], budget = text[: max(budget, 0)], budget - len(text)
        units = {n: u for n, u in kept.items() if u}
    return Units(units, cut)


def split_units(cells: Iterable[str], part: str, normalise: bool = False) -> dict[str, str]:
    """A part's code cut into units (:func:`read_units`): ``{function name: code}`` and
    :data:`OTHER`."""
    return read_units(cells, part, normalise).units


@functools.cache
def _copydetect() -> Any:
    """The copydetect package, imported once matplotlib is on the Agg backend (copydetect
    imports pyplot, which would otherwise look for a display)."""
    pyplot()
    # lazy: copydetect imports matplotlib; only a batch that compares the class loads it
    import copydetect
    import copydetect.utils  # lazy: with copydetect

    return copydetect


def _fingerprint(name: str, code: str, boilerplate: np.ndarray, normalised: bool) -> Any:
    """copydetect's fingerprint of a unit's code, the boilerplate's removed: of code
    normalised already (:func:`split_units`), or of code as shown (copydetect tokenises it)."""
    return _copydetect().CodeFingerprint(
        f"{name}.py",
        K,
        WINDOW,
        boilerplate=boilerplate,
        filter=not normalised,
        fp=io.StringIO(code),
        language="python",
    )


def _hashes(name: str, code: str, boilerplate: np.ndarray) -> frozenset[int]:
    """A normalised unit's fingerprints, the boilerplate's removed, at most
    :data:`MAX_FINGERPRINTS` (the lowest: the same sample of the same code in everyone's)."""
    found = np.unique(np.fromiter(_fingerprint(name, code, boilerplate, True).hashes, np.int64))
    return frozenset(found[:MAX_FINGERPRINTS].tolist())


# copydetect (MIT, https://github.com/blingenf/copydetect) is the field's trusted open tool
# for this: the winnowing of Schleimer, Wilkerson and Aiken (2003) that MOSS uses, on
# pygments' tokens with names and strings normalised, with boilerplate subtraction and the
# matching regions mapped back to the code. Its CodeFingerprint takes code from memory (no
# file is read or written) and compare_files gives the regions; its CopyDetector, which
# walks folders and writes its own HTML report, is not used: the pairs are scored here per
# function, and the pages are drawn with this package's escaping.
#
# The class is fingerprinted from code normalised on its syntax tree (_Normalised: the
# same normalisation as copydetect's tokens), not by copydetect's own tokenising: pygments
# takes about 5 ms a function, half a minute for a class of 300, where the tree (parsed
# anyway, to cut the code into functions) takes a fraction of that. copydetect tokenises
# the code of the pairs that get a page, to map the matches back to the code shown.


@dataclass
class Pair:
    """Two students' similarity in one part."""

    part: str
    a: str
    b: str
    score: float  # the larger of the functions' (expected ones count less) and the whole's
    raw: float  # every unit counted fully
    functions: list[dict[str, Any]] = field(default_factory=list)
    page: str | None = None
    whole: float = 0.0  # the whole part: every unit's fingerprints together
    shared: int = 0  # fingerprints in common
    copied_unit: str | None = None  # a substantial function matching at UNIT_FLAG or more

    def to_dict(self) -> dict[str, Any]:
        """The pair as plain data."""
        return {
            "part": self.part,
            "a": self.a,
            "b": self.b,
            "score": round(self.score, 3),
            "raw": round(self.raw, 3),
            "whole": round(self.whole, 3),
            "shared": self.shared,
            "copied_unit": self.copied_unit,
            "functions": self.functions,
            "page": self.page,
        }


def _released_cells(part: str) -> list[list[str]]:
    """Every code cell of a part's released files as the students receive them (the module,
    and every code cell of the notebook: given, demo, self-check and test cells alike)."""
    found = []
    module = RELEASE_DIR / f"{part}.py"
    if module.is_file():
        found.append([module.read_text(encoding="utf-8")])
    notebook = RELEASE_DIR / f"{part}.ipynb"
    if notebook.is_file():
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
        found.append(
            [
                "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in cells
                if c.get("cell_type") == "code"
            ]
        )
    return found


@functools.cache
def _boilerplate(part: str, normalised: bool = True) -> np.ndarray:
    """The fingerprints of the released files of a part (its module, and its notebook's
    every code cell: given, demo and test cells too), of their code normalised
    (:func:`read_units`), or as shown."""
    found: list[int] = []
    for cells in _released_cells(part):
        for name, text in read_units(cells, part, normalised).units.items():
            found.extend(_fingerprint(name, text, np.array([]), normalised).hashes)
    return np.unique(np.array(found, dtype=np.int64))


def _intersections(hashes: list[frozenset[int]]) -> np.ndarray:
    """``[a, b]``: the fingerprints students a and b share (a matrix of counts), counted
    :data:`_COLUMNS` shared fingerprints at a time."""
    if not hashes:
        return np.zeros((0, 0), dtype=np.int64)
    groups: dict[frozenset[int], int] = {}
    member = np.array([groups.setdefault(h, len(groups)) for h in hashes], dtype=np.int64)
    unique = list(groups)
    counts: dict[int, int] = {}
    for h in unique:
        for value in h:
            counts[value] = counts.get(value, 0) + 1
    # a fingerprint of one group adds to that group's own count only
    columns = {value: i for i, value in enumerate(v for v, c in counts.items() if c > 1)}
    rows, cols = [], []
    for g, h in enumerate(unique):
        for value in h:
            column = columns.get(value)
            if column is not None:
                rows.append(g)
                cols.append(column)
    rows_a, cols_a = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
    between = np.zeros((len(unique), len(unique)), dtype=np.float64)
    for start in range(0, len(columns), _COLUMNS):
        inside = (cols_a >= start) & (cols_a < start + _COLUMNS)
        block = np.zeros((len(unique), _COLUMNS), dtype=np.float32)
        block[rows_a[inside], cols_a[inside] - start] = 1.0
        between += block @ block.T
    np.fill_diagonal(between, [len(h) for h in unique])
    return np.rint(between).astype(np.int64)[np.ix_(member, member)]


def compare_class(codes: dict[str, dict[str, list[str]]], floor: float = 0.0) -> dict[str, Any]:
    """Every pair of students, part by part.

    Args:
        codes: ``{student: {part: [code cells]}}``.
        floor: the pairs kept: those whose score counting expected matches fully is at
            least this (and above 0), and those with a copied function (:data:`UNIT_FLAG`).

    Returns:
        ``{part: {"students": [...], "pairs": [Pair, ...], "cells": {student: cells},
        "cut": [students whose part was longer than what is compared]}}``, the pairs kept,
        highest first.
    """
    result: dict[str, Any] = {}
    for part in PARTS:
        students = [s for s in codes if codes[s].get(part)]
        boilerplate = _boilerplate(part)
        names = [f.name for f in FUNCTIONS if f.part == part] + [OTHER]
        prints, cut = {}, []
        for s in students:
            units = read_units(codes[s][part], part, normalise=True)
            if units.cut:
                cut.append(s)
            prints[s] = {n: _hashes(n, code, boilerplate) for n, code in units.units.items()}
            prints[s][WHOLE] = frozenset().union(*prints[s].values())
        size = len(students)
        numerator = np.zeros((size, size))
        weighted = np.zeros((size, size))
        denominator = np.zeros((size, size))
        flagging = np.full((size, size), -1, dtype=np.int64)  # the copied unit's index
        best = np.zeros((size, size))  # its fingerprints in common
        per_unit: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for index, name in enumerate(names):
            hashes = [prints[s].get(name, frozenset()) for s in students]
            counts = np.array([len(h) for h in hashes], dtype=np.float64)
            if not counts.any():
                continue
            common = _intersections(hashes).astype(np.float64)
            total = counts[:, None] + counts[None, :]
            dice = np.divide(2 * common, total, out=np.zeros_like(total), where=total > 0)
            short = np.minimum(counts[:, None], counts[None, :]) < SHORT_UNIT
            close = (dice >= EXPECTED_SIMILARITY).astype(np.float32)
            sharing = np.rint(close @ close.T)  # students close to both (them included)
            # only a short unit is expected: a line or two that many students write alike
            weight = np.where(short & (sharing > 2), 1.0 / np.maximum(sharing - 1, 1), 1.0)
            numerator += 2 * common
            weighted += 2 * common * weight
            denominator += total
            if name != OTHER:  # a substantial function copied, which few others write so
                alone = (sharing <= 2) | (common >= LONG_UNIT)
                copied = (~short) & (dice >= UNIT_FLAG) & alone
                better = copied & ((flagging < 0) | (common > best))
                flagging[better], best[better] = index, common[better]
            per_unit[name] = (dice, sharing, short, common)
        raw = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)
        score = np.divide(weighted, denominator, out=np.zeros_like(weighted), where=denominator > 0)
        wholes = [prints[s][WHOLE] for s in students]
        counts = np.array([len(h) for h in wholes], dtype=np.float64)
        common_whole = _intersections(wholes).astype(np.float64)
        total = counts[:, None] + counts[None, :]
        whole = np.divide(2 * common_whole, total, out=np.zeros_like(total), where=total > 0)
        # a whole part that matches is never expected: the larger of the two counts
        score, raw = np.maximum(score, whole), np.maximum(raw, whole)
        shared = np.maximum(numerator / 2, common_whole)  # code moved between units too
        pairs = []
        keep = (np.triu(raw, k=1) > 0) & ((raw >= floor) | (flagging >= 0))
        rows, columns = np.nonzero(keep)
        for i, j in zip(rows.tolist(), columns.tolist()):
            functions = [
                {
                    "name": name,
                    "score": round(float(dice[i, j]), 3),
                    "shared": int(sharing[i, j])
                    if dice[i, j] >= EXPECTED_SIMILARITY and short[i, j]
                    else 0,
                    "fingerprints": int(common[i, j]),
                }
                for name, (dice, sharing, short, common) in per_unit.items()
                if dice[i, j] > 0
            ]
            pairs.append(
                Pair(
                    part,
                    students[i],
                    students[j],
                    float(score[i, j]),
                    float(raw[i, j]),
                    functions,
                    whole=float(whole[i, j]),
                    shared=int(shared[i, j]),
                    copied_unit=names[flagging[i, j]] if flagging[i, j] >= 0 else None,
                )
            )
        pairs.sort(key=lambda p: (-p.score, -p.raw, p.a, p.b))
        result[part] = {
            "students": students,
            "pairs": pairs,
            "cells": {s: codes[s][part] for s in students},
            "cut": cut,
        }
    return result


def is_flagged(pair: Pair, threshold: float) -> bool:
    """Whether a pair is for a person to review: above the threshold with enough code in
    common (:data:`MIN_SHARED`), or a substantial function copied (:data:`UNIT_FLAG`)."""
    return (pair.score >= threshold and pair.shared >= MIN_SHARED) or bool(pair.copied_unit)


def read_class(
    folders: dict[str, Path], unread: list[str] | None = None
) -> dict[str, dict[str, list[str]]]:
    """The code of every student's parts, as the grader reads it (text only, never run).

    Args:
        folders: ``{student: folder}``.
        unread: where to add the students whose folder could not be read at all (any
            error: one student's files never stop the comparison of the class).

    Returns:
        ``{student: {part: [code cells]}}``; a folder that cannot be read gives no parts.
    """
    codes: dict[str, dict[str, list[str]]] = {}
    for name, folder in folders.items():
        try:
            submission = load_submission(folder)
            codes[name] = {
                part: [source for _, source in code.cells]
                for part, code in submission.parts.items()
                if code.cells
            }
        except Exception:  # noqa: BLE001 - one student's files never stop the class's section
            codes[name] = {}
            if unread is not None:
                unread.append(name)
    return codes


# -- the pages ------------------------------------------------------------------------


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40].strip(".") or "_"


def page_name(part: str, a: str, b: str) -> str:
    """The file name of a pair's page: safe letters of both names and a digest of both."""
    digest = hashlib.sha256(f"{part}\0{a}\0{b}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{part}-{_safe(a)}-{_safe(b)}-{digest[:10]}.html"


def _highlighted(code: str, slices: Any) -> str:
    """The code escaped, its copied regions in ``<mark>``."""
    pieces, at = [], 0
    if len(slices) == 2 and len(slices[0]):
        for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist())):
            start, end = max(start, at), min(end, len(code))
            if end <= start:
                continue
            pieces.append(for_html(code[at:start]))
            pieces.append(f"<mark>{for_html(code[start:end])}</mark>")
            at = end
    pieces.append(for_html(code[at:]))
    return "".join(pieces)


PAIR_STYLE = """
body { max-width: 96rem; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: .75rem; }
.side pre { margin: 0; overflow-x: auto; white-space: pre; }
mark { background: #f5c77e; }
.expected { color: #555; }
"""


def render_pair(
    pair: Pair,
    part_data: dict[str, Any],
    threshold: float,
    tokenised: dict[str, Any] | None = None,
) -> str:
    """A pair's page: each unit of both students side by side, the matches highlighted.

    ``tokenised`` keeps each student's units as copydetect tokenised them, from one page of
    the part to the next (a student may be in many pairs)."""
    compare_files = _copydetect().compare_files
    boilerplate = _boilerplate(pair.part, normalised=False)
    tokenised = {} if tokenised is None else tokenised
    for s in (pair.a, pair.b):
        if s not in tokenised:  # shown up to what is compared
            units = split_units(part_data["cells"][s], pair.part).items()
            tokenised[s] = {n: code[:MAX_PART_CHARS] for n, code in units}
    texts = {s: tokenised[s] for s in (pair.a, pair.b)}
    matched = {u["name"] for u in pair.functions if u["score"] > 0}

    def fingerprint(student: str, name: str) -> Any:
        """copydetect's tokens of a unit both wrote alike, to map the matches back."""
        key = (student, name)
        if key not in tokenised:
            tokenised[key] = _fingerprint(name, texts[student][name], boilerplate, False)
        return tokenised[key]

    a, b = for_html(pair.a), for_html(pair.b)
    rows, sections = [], []
    for unit in pair.functions:
        name = unit["name"]
        note = (
            f' <span class="expected">(expected: {unit["shared"]} students write it so)</span>'
            if unit["shared"] > 2
            else ""
        )
        if name == pair.copied_unit:
            note += ' <span class="copied">(copied whole: enough to flag the pair)</span>'
        rows.append(
            f'<tr><td><code>{for_html(name)}</code>{note}</td><td class="num">'
            f'{shown(unit["score"])}</td><td class="num">{unit.get("fingerprints", 0)}</td></tr>'
        )
    rows.append(
        f'<tr><td>{for_html(WHOLE)}</td><td class="num">{shown(pair.whole)}</td>'
        f'<td class="num">{pair.shared}</td></tr>'
    )
    for name in [f.name for f in FUNCTIONS if f.part == pair.part] + [OTHER]:
        left, right = texts[pair.a].get(name), texts[pair.b].get(name)
        if left is None and right is None:
            continue
        slices_a = slices_b = np.array([[], []])
        if left is not None and right is not None and name in matched:
            _, _, (slices_a, slices_b) = compare_files(
                fingerprint(pair.a, name), fingerprint(pair.b, name)
            )
        code_a = _highlighted(left, slices_a) if left is not None else "(not written)"
        code_b = _highlighted(right, slices_b) if right is not None else "(not written)"
        sections.append(
            f'<h3 data-unit="{for_html(name)}"><code>{for_html(name)}</code></h3>\n'
            f'<div class="side"><pre data-student="a">{code_a}</pre>'
            f'<pre data-student="b">{code_b}</pre></div>'
        )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Similarity: {for_html(pair.part)}, {a} and {b}</title>
<style>{PAGE_STYLE}{PAIR_STYLE}</style>
</head>
<body>
<p class="instructor">Instructor's page: not for students.</p>
<h1>Similarity in {for_html(pair.part)}: {a} and {b}</h1>
<p id="score">Score {shown(pair.score)} (threshold {shown_threshold(threshold)}; {shown(pair.raw)}
counting expected matches fully; {pair.shared} fingerprints in common, at least {MIN_SHARED}
to flag a pair). Similarity is evidence for a person to review, not a verdict:
read the code before drawing any conclusion.</p>
<p>The code is shown as it was compared: comments and docstrings left out and the layout
made uniform; names are as the students wrote them (the comparison ignores them). The
released stubs' code does not count. Highlighted: the regions both students share.</p>
<table><tr><th>unit</th><th>similarity</th><th>fingerprints in common</th></tr>
{chr(10).join(rows)}
</table>
<p>Left: {a}. Right: {b}.</p>
{chr(10).join(sections)}
</body>
</html>
"""


def remove_pages(out: Path) -> None:
    """Remove the pair pages of an earlier run from ``out/similarity/``."""
    folder = Path(out) / FOLDER
    if folder.is_dir():
        for old in folder.glob("*.html"):
            old.unlink(missing_ok=True)


def write_similarity(
    out: Path, folders: dict[str, Path], threshold: float = DEFAULT_THRESHOLD
) -> dict[str, Any]:
    """Compare a class and write a page for each pair above the threshold.

    Args:
        out: the batch's output folder (the pages go into ``out/similarity/``).
        folders: ``{student: folder}``.
        threshold: the score at which a pair is listed.

    Returns:
        the section's data for ``class.html``: ``threshold``, ``seconds`` and, per part,
        ``flagged`` (pairs as plain data, each with its page), ``expected`` (listed
        without pages) and their counts.
    """
    started = time.monotonic()
    folder = Path(out) / FOLDER
    remove_pages(out)  # before comparing: a comparison that fails leaves no old pages
    unread: list[str] = []
    compared = compare_class(read_class(folders, unread), floor=threshold)
    parts: dict[str, Any] = {}
    for part, data in compared.items():
        listed = [p for p in data["pairs"] if p.raw >= threshold or p.copied_unit]
        flagged = [p for p in listed if is_flagged(p, threshold)]
        expected = [p for p in listed if not is_flagged(p, threshold)]
        tokenised: dict[str, Any] = {}
        for pair in flagged[:MAX_FLAGGED]:
            pair.page = page_name(part, pair.a, pair.b)
            write_atomically(folder / pair.page, render_pair(pair, data, threshold, tokenised))
        parts[part] = {
            "students": len(data["students"]),
            "flagged": [p.to_dict() for p in flagged[:MAX_FLAGGED]],
            "flagged_count": len(flagged),
            "groups": groups(flagged),
            "expected": [p.to_dict() for p in expected[:MAX_EXPECTED]],
            "expected_count": len(expected),
            "cut": data["cut"],
        }
    return {
        "threshold": threshold,
        "parts": parts,
        "not_compared": unread,
        "seconds": round(time.monotonic() - started, 2),
    }


def groups(pairs: list[Pair]) -> list[list[str]]:
    """The groups of three or more students joined by flagged pairs (one copy shared by
    several), largest first."""
    linked: dict[str, set[str]] = {}
    for pair in pairs:
        linked.setdefault(pair.a, set()).add(pair.b)
        linked.setdefault(pair.b, set()).add(pair.a)
    found, seen = [], set()
    for start in sorted(linked):
        if start in seen:
            continue
        group, todo = set(), [start]
        while todo:
            student = todo.pop()
            if student not in group:
                group.add(student)
                todo.extend(linked[student] - group)
        seen |= group
        if len(group) > 2:
            found.append(sorted(group))
    return sorted(found, key=lambda g: (-len(g), g))


def shown(score: float) -> str:
    """A score as the tables show it: cut (not rounded) to two decimals, so that a pair
    shown at the threshold is one that reaches it."""
    return f"{math.floor(score * 100 + 1e-9) / 100:.2f}"


def shown_threshold(threshold: float) -> str:
    """The threshold as the pages state it: two decimals, or all it has."""
    return f"{threshold:.2f}" if round(threshold, 2) == threshold else f"{threshold:g}"


def page_link(page: str) -> str:
    """The link to a pair's page, from ``class.html``."""
    return f"{FOLDER}/{quote(page, safe='')}"
