"""Finding the submission a PATH means, and saying which folder to use when it is not one.

A submission is a folder holding part files (``<part>.ipynb`` or ``<part>.py``) or one
such file (:mod:`grader.submission`). A newcomer often points one level too high: at the
folder of examples, or at nbgrader's ``submitted/<student>`` instead of
``submitted/<student>/<assignment>``. Those are usage errors with one line that names the
folder to use, never a report of zeros.
"""

from __future__ import annotations

from pathlib import Path

from grader.assignment import PARTS
from grader.submission import load_submission

#: How deep below PATH to look for part files, and how many folders at most.
SEARCH_DEPTH = 3
SEARCH_LIMIT = 500


class UsageError(ValueError):
    """A PATH that is not what the command needs; the message says what to do instead."""


def holds_parts(folder: Path) -> bool:
    """Whether a folder holds at least one part file directly.

    Args:
        folder: the folder.

    Returns:
        True when :func:`grader.submission.load_submission` finds a part in it.
    """
    try:
        return bool(load_submission(folder).parts)
    except (OSError, ValueError):
        return False


def folders_with_parts(root: Path, depth: int = SEARCH_DEPTH) -> list[Path]:
    """The folders below ``root`` (not ``root`` itself) that hold part files, nearest first.

    Args:
        root: where to look.
        depth: how many levels down.

    Returns:
        the folders, breadth first and sorted by name within a level; hidden folders are
        skipped and the search stops after :data:`SEARCH_LIMIT` folders.
    """
    found: list[Path] = []
    level = [root]
    seen = 0
    for _ in range(depth):
        below: list[Path] = []
        for folder in level:
            try:
                entries = sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
            below.extend(p for p in entries if not p.name.startswith("."))
        for folder in below:
            seen += 1
            if seen > SEARCH_LIMIT:
                return found
            if holds_parts(folder):
                found.append(folder)
        level = [f for f in below if f not in found]
    return found


def _part_files() -> str:
    return ", ".join(f"{p}.ipynb" for p in PARTS) + " or the same names ending in .py"


def resolve_submission(path: Path, command: str) -> Path:
    """The submission PATH names: the path itself when it is a part file or holds one.

    Args:
        path: what the user passed.
        command: how to run the same verb on another folder (e.g. ``python -m grader
            grade``), for the message.

    Returns:
        ``path``.

    Raises:
        UsageError: when ``path`` does not exist, or is a folder without part files (the
            message names the folder below that holds them, if any).
    """
    if not path.exists():
        raise UsageError(f"no such file or directory: {path}")
    if path.is_file() or holds_parts(path):
        return path
    below = folders_with_parts(path)
    if len(below) == 1:
        raise UsageError(
            f"{path} holds no part file, but the folder below it does: {command} {below[0]}"
        )
    if below:
        listed = ", ".join(str(p) for p in below[:3]) + (", ..." if len(below) > 3 else "")
        batch = command.rsplit(" ", 1)[0] + f" batch {path} --out DIR"
        raise UsageError(
            f"{path} holds no part file, but {len(below)} folders below it do ({listed}): "
            f"give one of them, or grade them all with: {batch}"
        )
    raise UsageError(
        f"{path} holds no part file ({_part_files()}), nor does any folder below it: "
        "give the folder that holds the notebooks"
    )


def check_class_folder(root: Path, command: str) -> None:
    """Check that ``root`` is a folder of student folders, as ``batch`` needs.

    Args:
        root: the submissions folder.
        command: how to run ``grade`` (e.g. ``python -m grader grade``), for the message.

    Raises:
        UsageError: when ``root`` is missing, is one submission, or holds no student folder.
    """
    if not root.is_dir():
        raise UsageError(f"no such folder: {root}")
    if holds_parts(root):
        raise UsageError(
            f"{root} is one submission, not a folder of students: grade it with: {command} "
            f"{root}, or give the folder that holds one folder per student"
        )
    if not any(p.is_dir() and not p.name.startswith(".") for p in root.iterdir()):
        raise UsageError(
            f"{root} holds no student folder: expected one folder per student "
            "(nbgrader's submitted/ folder works as it is)"
        )
