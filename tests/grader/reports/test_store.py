"""Are a class's stored reports written whole, read back safely, and paged even when a plot fails?"""

from __future__ import annotations

import json

from grader.assignment import FUNCTIONS
from grader.reports import store
from grader.results import ungraded_report


def test_a_stored_report_is_read_back_and_marks_the_student_done(tmp_path):
    """Does store_report write the page and the record, and read_report return the record?"""
    report = ungraded_report("alice", "no part file was handed in")
    store.store_report(tmp_path, "alice", "abc123", report)
    record = store.read_report(tmp_path / "reports" / "alice.json")
    assert record == {"student": "alice", "fingerprint": "abc123", "report": report}
    # the file an instructor opens is the report itself (and what it was made from), not a
    # wrapper around it
    assert json.loads((tmp_path / "reports" / "alice.json").read_text()) == {
        **report,
        "fingerprint": "abc123",
    }
    assert (tmp_path / "reports" / "alice.html").read_text().startswith("<!DOCTYPE html>")
    assert not list((tmp_path / "reports").glob(".*.tmp"))


def test_a_record_of_the_earlier_layout_is_still_read(tmp_path):
    """Is a record written by an earlier version (the report wrapped with its fingerprint)
    read as it was, so that an output folder is not graded again after an upgrade?"""
    report = ungraded_report("finn", "late")
    old = {"student": "finn", "fingerprint": "f11", "report": report}
    (tmp_path / "finn.json").write_text(json.dumps(old))
    assert store.read_report(tmp_path / "finn.json") == old


def test_a_record_that_cannot_be_read_counts_as_none(tmp_path):
    """Are a missing file, broken JSON and JSON without a report all None (graded again)?"""
    assert store.read_report(tmp_path / "missing.json") is None
    (tmp_path / "broken.json").write_text("{not json")
    assert store.read_report(tmp_path / "broken.json") is None
    (tmp_path / "other.json").write_text(json.dumps({"student": "bob"}))
    assert store.read_report(tmp_path / "other.json") is None


def test_an_atomic_write_replaces_the_whole_file(tmp_path):
    """Does write_atomically leave the new content only, and no temporary file?"""
    path = tmp_path / "out" / "grades.csv"
    store.write_atomically(path, "old\n" * 1000)
    store.write_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in path.parent.iterdir()] == ["grades.csv"]


def test_a_page_that_cannot_be_drawn_still_gives_a_page(monkeypatch):
    """When rendering fails, is the student's page a one-line notice instead of an error?"""

    def broken(report):
        raise ValueError("no plot")

    monkeypatch.setattr(store, "render_html", broken)
    page = store.student_page(ungraded_report("carol", "late"))
    assert page == "<!DOCTYPE html><p>The feedback page could not be drawn: ValueError</p>"


def test_an_ungraded_report_puts_every_test_at_zero_with_the_reason():
    """Does a submission that could not be graded get every contract test at zero, and why?"""
    report = ungraded_report("dave", "the folder holds no part file")
    assert report["score"] == 0 and report["notes"] == ["the folder holds no part file"]
    assert [t["name"] for t in report["tests"]] == [f.test_name for f in FUNCTIONS]
    assert all(t["score"] == 0 for t in report["tests"])
