"""Writing batch scores into an nbgrader gradebook, so formgrader and exports keep working.

The gradebook must know the assignment (``nbgrader generate_assignment`` with its database
records the notebooks and their autograded cells). Each test ``<part>.<function>`` is the
grade cell ``<part>-<function>-tests`` of notebook ``<part>``; its ``auto_score`` becomes the
batch's score, exactly as ``nbgrader autograde`` would set it. A gradebook is made, with the
assignment, by ``nbgrader generate_assignment exploding_gradients --force`` in the course
directory.
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
    # lazy: nbgrader and SQLAlchemy load only when a batch fills a gradebook
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    with Gradebook(f"sqlite:///{Path(database).resolve()}") as gradebook:
        try:
            gradebook.find_assignment(ASSIGNMENT)
        except MissingEntry:
            raise ValueError(
                f"The gradebook {database} has no assignment {ASSIGNMENT!r}: run `nbgrader "
                f"generate_assignment {ASSIGNMENT}` with this gradebook first."
            ) from None
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
        gradebook.db.commit()
    return written
