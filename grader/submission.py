"""Loading a submission: which parts it holds and the code of each.

A submission is a directory holding ``<part>.ipynb`` or ``<part>.py`` files (any subset
of the parts), or one such file. Only plain files are read, through ``O_NOFOLLOW``: a part
file that is a symbolic link, a hard link, a FIFO, a socket or a device is refused with a
sentence saying so, and never opened. A notebook's code cells are the student's code, except
the assignment's own cells: the autograded test cells, the demonstrations and the
self-checks, which the grader replaces with its own tests.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.assignment import ASSIGNMENT, PARTS
from grader.paths import ROOT

#: The released student notebooks, against which test cells are compared.
RELEASE_DIR = ROOT / "exercises" / ASSIGNMENT
#: Cell tags of the course's own cells, which are not the student's code.
COURSE_CELL_TAGS = {"demo", "self-check"}


class SubmissionError(ValueError):
    """A path that is not a submission at all."""


@dataclass
class PartCode:
    """One part's code: its cells as ``(label, source)`` pairs, and what went wrong reading it."""

    part: str
    path: Path
    kind: str  # "notebook" or "module"
    cells: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: autograded test cells whose source differs from the assignment's (notebooks)
    edited_tests: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """All of the part's code as one text, cells separated by blank lines."""
        return "\n\n".join(source for _, source in self.cells)


@dataclass
class Submission:
    """The parts found at a path, and notes about files that were not used."""

    path: Path
    parts: dict[str, PartCode]
    notes: list[str] = field(default_factory=list)


def _part_of(path: Path) -> str | None:
    stem = re.sub(r"[\s\-]+", "_", path.stem.strip().lower())
    return stem if stem in PARTS and path.suffix.lower() in (".py", ".ipynb") else None


class NotPlainFile(OSError):
    """A submission file that is not a plain file of its own (a link, a device, a FIFO...)."""


def _kind_of(mode: int) -> str | None:
    """What a file is when it is not a plain file, in words; None for a plain file."""
    for test, words in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device file"),
        (stat.S_ISBLK, "a device file"),
    ):
        if test(mode):
            return words
    return None if stat.S_ISREG(mode) else "not a plain file"


def refusal(path: Path, info: os.stat_result) -> str | None:
    """Why a submission file is refused, or None for a plain file with one name.

    A hard link (more than one name for the file) is refused as well: it may be another
    file on the grading machine (the reference solution, say) under the student's file
    name, and uploads and nbgrader's collected copies never have one.
    """
    kind = _kind_of(info.st_mode)
    if kind is None and info.st_nlink > 1:
        kind = "a hard link to another file"
    if kind is None:
        return None
    return (
        f"{path.name} is {kind}, not a plain file; it was not opened and its part was "
        "not graded. Submit the file itself."
    )


def read_bytes(path: Path) -> bytes:
    """Read a plain file without following a link, blocking on a FIFO or opening a device.

    Raises:
        NotPlainFile: the file is refused (see :func:`refusal`).
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        info = os.lstat(path)
        reason = refusal(path, info)
        if reason:
            raise NotPlainFile(reason)
        descriptor = os.open(path, flags)
    except OSError as error:
        if isinstance(error, NotPlainFile):
            raise
        if error.errno == errno.ELOOP:
            raise NotPlainFile(refusal(path, os.lstat(path)) or str(error)) from None
        raise
    with os.fdopen(descriptor, "rb") as stream:
        reason = refusal(path, os.fstat(stream.fileno()))  # the file opened, not the name
        if reason:
            raise NotPlainFile(reason)
        return stream.read()


def _read_text(path: Path) -> tuple[str, list[str]]:
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), [
            f"{path.name} is not valid UTF-8 text; undecodable bytes were replaced."
        ]


def _is_course_cell(cell: dict) -> bool:
    metadata = cell.get("metadata") or {}
    nbgrader = metadata.get("nbgrader") or {}
    if nbgrader.get("grade") and not nbgrader.get("solution"):
        return True  # an autograded test cell
    tags = set(metadata.get("tags") or [])
    return bool(tags & COURSE_CELL_TAGS)


def _cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    return str(source)


def _test_cells(cells: list) -> dict[str, str]:
    """The autograded test cells' sources, by nbgrader grade_id."""
    found = {}
    for cell in cells:
        if isinstance(cell, dict) and _is_course_cell(cell):
            nbgrader = (cell.get("metadata") or {}).get("nbgrader") or {}
            if nbgrader.get("grade") and nbgrader.get("grade_id"):
                found[str(nbgrader["grade_id"])] = _cell_source(cell).strip()
    return found


def _edited_tests(part: str, cells: list) -> list[str]:
    """grade_ids of the released test cells that this notebook edited or deleted.

    Only a notebook made from the release (one with nbgrader metadata) is compared.
    """
    if not any(isinstance(c, dict) and (c.get("metadata") or {}).get("nbgrader") for c in cells):
        return []
    release = RELEASE_DIR / f"{part}.ipynb"
    try:
        original = _test_cells(json.loads(release.read_text(encoding="utf-8"))["cells"])
    except (OSError, ValueError, KeyError):
        return []
    submitted = _test_cells(cells)
    return [grade_id for grade_id, source in original.items() if submitted.get(grade_id) != source]


def read_notebook(path: Path, part: str) -> PartCode:
    """Read a notebook's student code cells.

    Args:
        path: the ``.ipynb`` file.
        part: the part it holds.

    Returns:
        PartCode; a notebook that cannot be read has no cells and a problem saying why.
    """
    code = PartCode(part, path, "notebook")
    try:
        text, code.problems = _read_text(path)
    except NotPlainFile as error:
        code.problems.append(str(error))
        return code
    if not text.strip():
        code.problems.append(f"{path.name} is empty.")
        return code
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        code.problems.append(
            f"{path.name} is not a readable notebook (invalid JSON at line {error.lineno}: "
            f"{error.msg}); it may be truncated or corrupt."
        )
        return code
    except (RecursionError, MemoryError):  # JSON nested too deeply: costs this part only
        code.problems.append(
            f"{path.name} is not a readable notebook (its JSON is nested too deeply)."
        )
        return code
    if not isinstance(notebook, dict):
        code.problems.append(f"{path.name} is not a notebook (its JSON is not an object).")
        return code
    cells = notebook.get("cells")
    if cells is None and isinstance(notebook.get("worksheets"), list):  # nbformat 3
        cells = [c for sheet in notebook["worksheets"] for c in sheet.get("cells", [])]
        for cell in cells:
            if "input" in cell and "source" not in cell:
                cell["source"] = cell["input"]
    if not isinstance(cells, list):
        code.problems.append(f"{path.name} has no list of cells.")
        return code
    code.edited_tests = _edited_tests(part, cells)
    for index, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        if _is_course_cell(cell):
            continue
        source = _cell_source(cell)
        if source.strip():
            code.cells.append((f"{part} cell {index}", source))
    return code


def read_module(path: Path, part: str) -> PartCode:
    """Read a ``.py`` module as one cell."""
    code = PartCode(part, path, "module")
    try:
        text, code.problems = _read_text(path)
    except NotPlainFile as error:
        code.problems.append(str(error))
        return code
    if not text.strip():
        code.problems.append(f"{path.name} is empty.")
        return code
    code.cells.append((f"{part}.py", text))
    return code


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def load_submission(path: Path | str) -> Submission:
    """Find the parts of a submission.

    Args:
        path: a directory of part files, or one part file.

    Returns:
        Submission with one PartCode per part found.

    Raises:
        SubmissionError: when the path does not exist or names no part.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise SubmissionError(f"No such file or directory: {path}")
    single = not path.is_dir() or path.is_symlink() and not path.resolve().is_dir()
    if single:
        candidates = [path]
    else:
        # Every entry but folders, links included: a part file that is not a plain file
        # is refused by name (never followed), not silently skipped.
        candidates = sorted(p for p in path.iterdir() if not _is_folder(p))
    submission = Submission(path, {})
    for candidate in candidates:
        part = _part_of(candidate)
        if part is None:
            continue
        if part in submission.parts:
            kept = submission.parts[part].path.name
            if candidate.suffix.lower() == ".ipynb" and kept.lower().endswith(".py"):
                submission.notes.append(f"{candidate.name} is graded; {kept} is ignored.")
            else:
                submission.notes.append(f"{kept} is graded; {candidate.name} is ignored.")
                continue
        reader = read_notebook if candidate.suffix.lower() == ".ipynb" else read_module
        submission.parts[part] = reader(candidate, part)
    if single and not submission.parts:
        raise SubmissionError(
            f"{path.name} is not a part of the assignment. Expected one of "
            f"{', '.join(p + '.ipynb' for p in PARTS)} or the same names ending in .py."
        )
    return submission
