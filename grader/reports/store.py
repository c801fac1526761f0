"""A class's output folder: each student's stored report and page, written atomically.

``reports/<student>.json`` holds ``{"student", "fingerprint", "report"}`` (the fingerprint
says what the report was made from, see :func:`grader.scale.freshness.fingerprint`) and
``reports/<student>.html`` the student's page. The page is written first: the JSON record
marks the student as done, so a batch that is stopped at any moment and run again grades
only the students without an up-to-date record (:mod:`grader.scale.batch`,
:mod:`grader.scale.cluster`); the class report reads the same records
(:mod:`grader.reports.class_report`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from grader.reports.html import render_html


def write_atomically(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old content or the new, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_report(path: Path) -> dict[str, Any] | None:
    """A stored record, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "report" in data else None


def student_page(report: dict[str, Any]) -> str:
    """The student's HTML feedback page; a plot that cannot be drawn never stops a batch."""
    try:
        return render_html(report)
    except Exception as error:  # noqa: BLE001
        return f"<!DOCTYPE html><p>The feedback page could not be drawn: {type(error).__name__}</p>"


def store_report(
    out: Path, name: str, print_: str, report: dict[str, Any], page: str | None = None
) -> None:
    """Write one student's page and JSON record atomically; the record marks them done.

    Args:
        out: the output folder.
        name: the student.
        print_: the fingerprint the report was made from.
        report: the report.
        page: the student's HTML page (drawn from the report when None).
    """
    record = {"student": name, "fingerprint": print_, "report": report}
    write_atomically(
        out / "reports" / f"{name}.html", student_page(report) if page is None else page
    )
    write_atomically(out / "reports" / f"{name}.json", json.dumps(record, indent=1))
