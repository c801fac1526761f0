"""Loading a submission: which parts it holds and the code of each.

A submission is a directory holding ``<part>.ipynb`` or ``<part>.py`` files (any subset
of the parts), or one such file. A folder that holds both files of a part (the kit's
folder, where the student wrote the ``.py`` stub and left the notebook as released, or the
other way round) is graded by what the student wrote: :func:`choose_part_file` says which
file counts and why. Only plain files are read, through ``O_NOFOLLOW``: a part
file that is a symbolic link, a hard link, a FIFO, a socket or a device is refused with a
sentence saying so, and never opened. A notebook's code cells are the student's code, except
the assignment's own cells: the autograded test cells, the demonstrations and the
self-checks, which the grader replaces with its own tests.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.assignment import ASSIGNMENT, FUNCTIONS, PARTS
from grader.paths import PACKAGE, ROOT
from grader.results import TestResult

#: The released student notebooks, against which test cells are compared: the course
#: folder's, or the installed package's copy (the Gradescope wheel: grader/course/gradescope.py).
RELEASE_DIR = next(
    (d for d in (ROOT / "exercises" / ASSIGNMENT, PACKAGE / "release") if d.is_dir()),
    ROOT / "exercises" / ASSIGNMENT,
)
#: The released stubs' fingerprints, in the student kit (which has no ``exercises/``):
#: ``grader/course/kit.py`` writes :func:`released_fingerprints` there.
RELEASED_STUBS = PACKAGE / "released_stubs.json"
#: What each suffix of a part file holds.
KINDS = {".ipynb": "notebook", ".py": "module"}
#: Modification times closer than this (seconds) count as the same: a zip keeps times to
#: two seconds, and a copy without ``-p`` gives every file the moment it was copied.
SAME_TIME = 2.0
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


def _mapping(value: object) -> dict:
    """A notebook's object, or an empty one where the JSON holds something else."""
    return value if isinstance(value, dict) else {}


def _is_course_cell(cell: dict) -> bool:
    metadata = _mapping(cell.get("metadata"))
    nbgrader = _mapping(metadata.get("nbgrader"))
    if nbgrader.get("grade") and not nbgrader.get("solution"):
        return True  # an autograded test cell
    tags = metadata.get("tags")
    if not isinstance(tags, list):  # malformed tags are no tags: the cell is the student's
        return False
    return any(isinstance(tag, str) and tag in COURSE_CELL_TAGS for tag in tags)


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
            nbgrader = _mapping(_mapping(cell.get("metadata")).get("nbgrader"))
            if nbgrader.get("grade") and nbgrader.get("grade_id"):
                found[str(nbgrader["grade_id"])] = _cell_source(cell).strip()
    return found


def _edited_tests(part: str, cells: list) -> list[str]:
    """grade_ids of the released test cells that this notebook edited or deleted.

    Only a notebook made from the release (one with nbgrader metadata) is compared.
    """
    if not any(isinstance(c, dict) and _mapping(c.get("metadata")).get("nbgrader") for c in cells):
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
        sheets = [_mapping(sheet).get("cells") for sheet in notebook["worksheets"]]
        if not all(isinstance(sheet, list) for sheet in sheets):
            code.problems.append(f"{path.name} has a worksheet that is not a list of cells.")
            return code
        cells = [c for sheet in sheets for c in sheet if isinstance(c, dict)]
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


def read_part(path: Path, part: str) -> PartCode:
    """Read a part file, a notebook or a module by its suffix."""
    reader = read_notebook if path.suffix.lower() == ".ipynb" else read_module
    return reader(path, part)


def fingerprint(code: PartCode) -> str:
    """A digest of a part file's code, the same whatever the notebook's metadata and outputs.

    The student's cells (a notebook's code cells but the course's own, or a module's text),
    each with its line endings made ``\\n``, trailing spaces cut and blank lines at its ends
    dropped, empty cells left out.

    Args:
        code: the part file as read.

    Returns:
        a SHA-256 hex digest.
    """
    cells = []
    for _, source in code.cells:
        lines = [line.rstrip() for line in source.replace("\r\n", "\n").split("\n")]
        text = "\n".join(lines).strip("\n")
        if text:
            cells.append(text)
    return hashlib.sha256("\n\n".join(cells).encode("utf-8")).hexdigest()


@functools.cache
def released_fingerprints() -> dict[str, dict[str, str]]:
    """The released stubs' fingerprints (:func:`fingerprint`), by part and kind.

    Read from the kit's :data:`RELEASED_STUBS` where it exists, else computed from the
    release folder (:data:`RELEASE_DIR`).

    Returns:
        ``{part: {"notebook": digest, "module": digest}}``; empty where neither is at hand
        (then :func:`choose_part_file` goes by the files' times alone).
    """
    try:
        recorded = json.loads(RELEASED_STUBS.read_text(encoding="utf-8"))
        if isinstance(recorded, dict):
            return recorded
    except (OSError, ValueError):
        pass
    found: dict[str, dict[str, str]] = {}
    for part in PARTS:
        for suffix, kind in KINDS.items():
            path = RELEASE_DIR / f"{part}{suffix}"
            if path.is_file():
                found.setdefault(part, {})[kind] = fingerprint(read_part(path, part))
    return found


def _released(folder: Path) -> dict[str, dict[str, str]]:
    """The released fingerprints, unless ``folder`` is the release itself (a self-learner
    writing in ``exercises/``: its files are no stubs to compare with)."""
    try:
        if folder.resolve() == RELEASE_DIR.resolve():
            return {}
    except OSError:
        pass
    return released_fingerprints()


def _mtime(path: Path) -> float:
    try:
        return os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _state(code: PartCode, released: dict[str, str]) -> str:
    """``stub`` (the released stub's code), ``empty`` (no code), ``written`` or ``unknown``
    (no released stub to compare with)."""
    if not code.cells and all(p == f"{code.path.name} is empty." for p in code.problems):
        return "empty"
    stub = released.get(code.kind)
    if stub is None:
        return "unknown"
    return "stub" if fingerprint(code) == stub else "written"


def _choose(codes: list[PartCode], folder: Path) -> tuple[PartCode, str | None]:
    """The file of a part that counts among those found in a folder, and why.

    The files whose code differs from the released stub's (or that cannot be compared) are
    the student's; of those, the newest counts; times within :data:`SAME_TIME` are the same,
    and then the notebook counts, then the first by name. When none is the student's, the
    notebook (else the first by name) counts, and the reason says nothing was written.
    """
    if len(codes) == 1:
        return codes[0], None
    part = codes[0].part
    released = _released(folder).get(part, {})
    states = {id(code): _state(code, released) for code in codes}
    ordered = sorted(codes, key=lambda c: (c.kind != "notebook", c.path.name))
    mine = [c for c in ordered if states[id(c)] in ("written", "unknown")]
    if not mine:
        chosen = ordered[0]
        others = " and ".join(c.path.name for c in ordered[1:])
        return chosen, (
            f"{chosen.path.name} is graded: neither it nor {others} differs from the released "
            "stub (nothing written yet)."
        )
    newest = max(_mtime(c.path) for c in mine)
    latest = [c for c in mine if newest - _mtime(c.path) < SAME_TIME]
    chosen = latest[0]
    clauses = [_why_not(c, states[id(c)]) for c in ordered if states[id(c)] in ("stub", "empty")]
    rivals = [c for c in mine if c is not chosen]
    if rivals:
        names = " and ".join(c.path.name for c in [chosen, *rivals])
        if any(states[id(c)] == "unknown" for c in mine):
            compared = f"there is no released stub to compare {names} with"
        else:
            compared = (
                f"{'both' if len(mine) == 2 else 'all'} {names} differ from the released stub"
            )
        if len(latest) == 1:
            newer = "newer" if len(mine) == 2 else "newest"
            clauses.insert(0, f"{compared}, and {chosen.path.name} is the {newer}")
        else:
            rule = "the notebook" if chosen.kind != latest[1].kind else "the first by name"
            clauses.insert(0, f"{compared} and were saved at the same time, so {rule} counts")
    return chosen, f"{chosen.path.name} is graded: {'; '.join(clauses)}."


def _why_not(code: PartCode, state: str) -> str:
    """Why a file that holds nothing of the student's does not count."""
    if state == "empty":
        return f"{code.path.name} holds no code"
    return f"{code.path.name} is the released stub, unchanged"


def _part_files(folder: Path) -> dict[str, list[Path]]:
    """A folder's part files by part, sorted by name. Every entry but folders, links
    included: a part file that is not a plain file is refused by name (never followed),
    not silently skipped."""
    found: dict[str, list[Path]] = {}
    for candidate in sorted(p for p in folder.iterdir() if not _is_folder(p)):
        part = _part_of(candidate)
        if part is not None:
            found.setdefault(part, []).append(candidate)
    return found


def choose_part_file(folder: Path | str, part: str) -> tuple[Path | None, str | None]:
    """Which of a folder's files of one part is graded, and why.

    The file that differs from the released stub counts (``chain_rule.py`` written,
    ``chain_rule.ipynb`` as released: the ``.py``). When several differ, the newest counts;
    times within :data:`SAME_TIME` seconds are the same (a zip or a copy flattens them),
    and then the notebook counts. When none differs, the notebook counts. The code is
    compared, not the bytes (:func:`fingerprint`): a notebook that was only run or saved
    again is still the stub. The released stubs are those of ``exercises/``, or those the
    student kit records (:func:`released_fingerprints`); without either, the newest counts.

    Args:
        folder: the submission folder.
        part: the part's name.

    Returns:
        ``(path, reason)``: the file to grade (None when the folder holds no file of the
        part) and one line saying why it and not the others (None when it is the only one).
    """
    folder = Path(folder)
    paths = _part_files(folder).get(part, [])
    if not paths:
        return None, None
    chosen, reason = _choose([read_part(path, part) for path in paths], folder)
    return chosen.path, reason


def load_submission(path: Path | str) -> Submission:
    """Find the parts of a submission.

    Args:
        path: a directory of part files, or one part file.

    Returns:
        Submission with one PartCode per part found; where a folder holds several files of
        a part, the one :func:`choose_part_file` chooses, with its reason in the notes.

    Raises:
        SubmissionError: when the path does not exist or names no part.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise SubmissionError(f"No such file or directory: {path}")
    single = not path.is_dir() or path.is_symlink() and not path.resolve().is_dir()
    submission = Submission(path, {})
    if single:
        part = _part_of(path)
        if part is None:
            raise SubmissionError(
                f"{path.name} is not a part of the assignment. Expected one of "
                f"{', '.join(p + '.ipynb' for p in PARTS)} or the same names ending in .py."
            )
        submission.parts[part] = read_part(path, part)
        return submission
    for part, paths in _part_files(path).items():
        chosen, reason = _choose([read_part(p, part) for p in paths], path)
        submission.parts[part] = chosen
        if reason:
            submission.notes.append(reason)
    return submission


# -- what a part's code says before any case runs (the grader's and the kit's check alike) --


def missing_part(part: str) -> str:
    """The verdict of every function of a part the submission holds no file of."""
    return f"Part {part} was not found in the submission: expected {part}.ipynb or {part}.py."


def unusable_part(part: str, code: PartCode | None) -> list[TestResult] | None:
    """Every test of a part that cannot run at all, with why: no file, or a file with no
    code; None when its code can be loaded.

    Args:
        part: the part.
        code: its code, or None when the submission lacks it.
    """
    functions = [f for f in FUNCTIONS if f.part == part]
    if code is None:
        return [
            TestResult(f.test_name, f.points, verdict=missing_part(part), handed_in=False)
            for f in functions
        ]
    if not code.cells:
        reason = " ".join(code.problems) or f"{code.path.name} holds no code."
        return [TestResult(f.test_name, f.points, verdict=reason) for f in functions]
    return None


#: A report names at most this many cells that raised while loading, each message cut to
#: this length: a notebook of a thousand failing cells makes a report of a normal size.
MAX_CELL_ERROR_NOTES = 10
CELL_ERROR_CHARS = 500
#: The errors that stop a file from being read at all: none of its code runs.
UNPARSED = ("SyntaxError", "IndentationError", "TabError")


def load_notes(part: str, errors: list[dict[str, str]], module: bool = False) -> list[str]:
    """What loading the part's code said, one note per cell that raised.

    Args:
        part: the part.
        errors: the cells' errors (``label``, ``type``, ``message``), as loading gives them.
        module: whether the part is one ``.py`` file (one cell): then an error there stops
            the rest of the file, which the note says, rather than "the rest still counts".
    """
    notes = []
    for error in errors[:MAX_CELL_ERROR_NOTES]:
        unparsed = error["type"] in UNPARSED
        verb = "does not parse" if unparsed else "raised"
        text = f"{error['label']} {verb}: {error['type']}"
        if error.get("message"):
            text += f": {error['message'][:CELL_ERROR_CHARS]}"
        if module and unparsed:
            text += " (so none of the file's code ran: every function of this part is missing until it parses)."
        elif module:
            text += " (the code above that line ran and counts; nothing after it ran)."
        elif unparsed:
            text += " (none of that cell's code ran; the other cells still count)."
        else:
            text += " (the rest of the code still counts)."
        notes.append(text)
    if len(errors) > MAX_CELL_ERROR_NOTES:
        notes.append(
            f"{len(errors) - MAX_CELL_ERROR_NOTES} more cells of {part} raised errors "
            "(the first are listed above)."
        )
    return notes
