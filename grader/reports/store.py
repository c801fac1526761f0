"""A class's output folder: each student's stored report and page, written atomically.

``reports/<student>.json`` is the student's report itself (as
:meth:`grader.results.Report.to_dict` gives it: the instructor's file) with one field more,
``fingerprint``: what the report was made from (:func:`grader.scale.freshness.fingerprint`).
``reports/<student>.html`` is the student's page. The page is written first: the JSON marks
the student as done, so a batch that is stopped at any moment and run again grades only the
students without an up-to-date report (:mod:`grader.scale.batch`,
:mod:`grader.scale.cluster`); the class report reads the same files
(:mod:`grader.reports.class_report`). A record of the earlier layout (one JSON object
holding ``student``, ``fingerprint`` and ``report``) is still read.
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
    """A stored record ``{"student", "fingerprint", "report"}``, or None when there is none
    or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if "report" in data and "fingerprint" in data:  # the earlier layout: one wrapped record
        return data
    if "tests" not in data or not isinstance(data.get("fingerprint"), str):
        return None
    fingerprint = data.pop("fingerprint")
    return {"student": path.stem, "fingerprint": fingerprint, "report": data}


def student_page(report: dict[str, Any]) -> str:
    """The student's HTML feedback page; a plot that cannot be drawn never stops a batch."""
    try:
        return render_html(report)
    except Exception as error:  # noqa: BLE001
        return f"<!DOCTYPE html><p>The feedback page could not be drawn: {type(error).__name__}</p>"


def store_report(
    out: Path, name: str, print_: str, report: dict[str, Any], page: str | None = None
) -> None:
    """Write one student's page and report atomically; the report, written last and holding
    its fingerprint, marks them done.

    Args:
        out: the output folder.
        name: the student.
        print_: the fingerprint the report was made from.
        report: the report.
        page: the student's HTML page (drawn from the report when None).
    """
    write_atomically(
        out / "reports" / f"{name}.html", student_page(report) if page is None else page
    )
    record = {**report, "fingerprint": print_}
    write_atomically(out / "reports" / f"{name}.json", json.dumps(record, indent=1))
