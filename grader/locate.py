"""Finding the submission a PATH means, and saying which folder to use when it is not one.

A submission is a folder holding part files (``<part>.ipynb`` or ``<part>.py``) or one
such file (:mod:`grader.submission`). A newcomer often points one level too high: at the
folder of examples, or at nbgrader's ``submitted/<student>`` instead of
``submitted/<student>/<assignment>``. Those are usage errors with one line that names the
folder to use, never a report of zeros.

A student's upload to Gradescope is graded where its part files are: in the upload itself,
or in the one folder below it that holds them (a student who uploads the folder, or a zip
of it). An upload without any gets a sentence for the student, not the instructor's
commands (:func:`locate_upload`).
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.assignment import PARTS
from grader.results import Report
from grader.submission import load_submission

#: How deep below PATH to look for part files, and how many folders at most.
SEARCH_DEPTH = 3
SEARCH_LIMIT = 500
#: How many of an upload's entries a message names at most.
NAMED_AT_MOST = 5


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


def _relative(folder: Path, upload: Path) -> str:
    return folder.relative_to(upload).as_posix() + "/"


def upload_folder(upload: Path | str) -> Path:
    """The folder of a Gradescope upload that holds its part files.

    Args:
        upload: the folder Gradescope unpacked the student's files into.

    Returns:
        ``upload`` when it holds a part file, else the one folder below it that does.

    Raises:
        UsageError: when no folder, or more than one, holds part files; the message is for
            the student (what to upload), and names the upload's entries relative to it.
    """
    upload = Path(upload)
    if holds_parts(upload):
        return upload
    below = folders_with_parts(upload)
    if len(below) == 1:
        return below[0]
    if below:
        listed = ", ".join(_relative(p, upload) for p in below[:NAMED_AT_MOST])
        raise UsageError(
            f"Your upload holds the assignment's files in {len(below)} folders ({listed}), "
            "and only one set can be graded: upload the files themselves, from one folder."
        )
    try:
        entries = sorted(p for p in upload.iterdir() if not p.name.startswith("."))
    except OSError:
        entries = []
    names = [p.name + ("/" if p.is_dir() else "") for p in entries[:NAMED_AT_MOST]]
    held = (
        f" (it holds {', '.join(names)}{', ...' if len(entries) > NAMED_AT_MOST else ''})"
        if names
        else " (it is empty)"
    )
    raise UsageError(
        f"No file of the assignment was found in your upload{held}. Upload the files "
        f"themselves, with the names they were released with: {_part_files()}."
    )


def locate_upload(upload: Path | str, results: Path | str) -> Path | None:
    """What Gradescope's ``run_autograder`` grades: the folder of an upload with its part files.

    Args:
        upload: the folder Gradescope unpacked the student's files into.
        results: Gradescope's ``results.json``, written only when there is nothing to grade.

    Returns:
        the folder to grade (:func:`upload_folder`), or None after writing ``results``: a
        score of 0 and the sentence that says what to upload.
    """
    try:
        return upload_folder(upload)
    except UsageError as error:
        report = Report("upload", [], notes=[str(error)])
        Path(results).write_text(
            json.dumps(report.to_gradescope(), indent=2) + "\n", encoding="utf-8"
        )
        return None
