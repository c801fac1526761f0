"""A class's students, found in a submissions folder (nbgrader's layout accepted)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.assignment import ASSIGNMENT

#: The files of a student's folder that are graded (the part files).
PART_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class Student:
    """A student's name and the folder holding their part files."""

    name: str
    folder: Path


def find_students(root: Path) -> list[Student]:
    """The students of a submissions folder, by name.

    Args:
        root: a folder with one subfolder per student; a student's files may sit in a
            further ``<assignment>`` folder (nbgrader's layout).

    Returns:
        the students, sorted by name.
    """
    students = []
    for entry in sorted(Path(root).iterdir()):
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        folder = entry / ASSIGNMENT if (entry / ASSIGNMENT).is_dir() else entry
        students.append(Student(entry.name, folder))
    return students
