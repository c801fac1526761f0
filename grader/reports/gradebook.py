"""Writing batch scores into an nbgrader gradebook, so formgrader and exports keep working.

The gradebook must know the assignment (``nbgrader generate_assignment`` with its database
records the notebooks and their autograded cells). Each test ``<part>.<function>`` is the
grade cell ``<part>-<function>-tests`` of notebook ``<part>``; its ``auto_score`` becomes the
batch's score, exactly as ``nbgrader autograde`` would set it. A gradebook is made, with the
assignment, by ``nbgrader generate_assignment exploding_gradients --force`` in the course
directory. A batch with a gradebook records every student whose report is up to date,
graded in that run or before (:func:`grader.scale.batch.grade_class`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from grader.assignment import ASSIGNMENT


def grade_cell_id(test_name: str) -> tuple[str, str]:
    """The notebook and grade cell of a test: ``chain_rule.sigmoid`` -> (chain_rule, chain_rule-sigmoid-tests)."""
    part, function = test_name.split(".")
    return part, f"{part}-{function}-tests"


def write_report(database: Path, student: str, report: dict[str, Any]) -> int:
    """Record one student's scores in an nbgrader gradebook.

    Args:
        database: the gradebook's SQLite file.
        student: the student's id.
        report: a report as :meth:`grader.results.Report.to_dict` returns it.

    Returns:
        the number of grades written.

    Raises:
        ValueError: when the gradebook does not know the assignment.
    """
    return write_reports(database, {student: report})[student]


def write_reports(database: Path, reports: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Record several students' scores in an nbgrader gradebook, in one session.

    Args:
        database: the gradebook's SQLite file.
        reports: ``{student id: report}`` (reports as :meth:`grader.results.Report.to_dict`
            returns them).

    Returns:
        ``{student id: the number of grades written}``.

    Raises:
        ValueError: when the gradebook does not know the assignment.
    """
    # lazy: nbgrader and SQLAlchemy load only when a batch fills a gradebook
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{Path(database).resolve()}") as gradebook:
        try:
            gradebook.find_assignment(ASSIGNMENT)
        except MissingEntry:
            raise ValueError(
                f"The gradebook {database} has no assignment {ASSIGNMENT!r}: run `nbgrader "
                f"generate_assignment {ASSIGNMENT}` with this gradebook first."
            ) from None
        written = {name: _record(gradebook, name, report) for name, report in reports.items()}
        gradebook.db.commit()
    return written


def check_gradebook(database: Path) -> None:
    """Check that a gradebook knows the assignment, before any student is graded.

    Raises:
        ValueError: when it does not (the message says how to make one that does), or
            when the file is no database nbgrader can open.
    """
    try:
        write_reports(database, {})
    except ValueError:
        raise
    except Exception as error:  # noqa: BLE001 - SQLAlchemy's errors, whatever the file held
        raise ValueError(
            f"The gradebook {database} cannot be opened ({type(error).__name__}): make one "
            f"with `nbgrader generate_assignment {ASSIGNMENT} --force` in the course directory."
        ) from None


def _record(gradebook: Any, student: str, report: dict[str, Any]) -> int:
    """Set one student's ``auto_score`` per grade cell in an open gradebook; the count."""
    # lazy: nbgrader and SQLAlchemy load only when a batch fills a gradebook
    from nbgrader.api import MissingEntry
    from sqlalchemy.exc import SAWarning

    gradebook.update_or_create_student(student)
    try:
        gradebook.find_submission(ASSIGNMENT, student)
    except MissingEntry:
        # nbgrader's add_submission builds its rows before adding them to the session;
        # SQLAlchemy 2 warns (SAWarning, three times) though the rows are saved. The
        # warning is nbgrader's, not a problem of this gradebook: keep it off stderr.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=SAWarning)
            gradebook.add_submission(ASSIGNMENT, student)
    written = 0
    for test in report["tests"]:
        notebook, cell = grade_cell_id(test["name"])
        try:
            grade = gradebook.find_grade(cell, notebook, ASSIGNMENT, student)
        except MissingEntry:
            continue
        grade.auto_score = float(test["score"])
        written += 1
    return written
