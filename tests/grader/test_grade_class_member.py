"""Does one student of a class always get a report, whatever goes wrong with their folder?"""

from __future__ import annotations

from grader import grade
from grader.assignment import FUNCTIONS
from grader.results import GRADER_FAILED_SUBMISSION


def test_a_path_that_is_not_a_submission_gets_zeros_and_the_reason(tmp_path):
    """Is a folder that is gone reported as such, under the label given, with every test?"""
    report = grade.grade_class_member(tmp_path / "gone", "alice")
    assert report["submission"] == "alice" and report["score"] == 0
    assert [t["name"] for t in report["tests"]] == [f.test_name for f in FUNCTIONS]
    assert report["notes"] == [f"No such file or directory: {tmp_path / 'gone'}"]


def test_a_failure_of_the_grader_is_reported_not_raised(tmp_path, monkeypatch):
    """When grading raises, does the student get zeros saying it is the grader's failure, and
    the instructor the traceback (each test's grader_fault), never the student?"""

    def broken(path, **options):
        raise RuntimeError("boom")

    monkeypatch.setattr(grade, "grade_submission", broken)
    report = grade.grade_class_member(tmp_path)
    assert report["submission"] == str(tmp_path)
    assert report["notes"] == [GRADER_FAILED_SUBMISSION]
    assert report["grader_faults"] == [f.test_name for f in FUNCTIONS]
    for test in report["tests"]:
        assert "RuntimeError: boom" in test["grader_fault"] and "boom" not in test["output"]


def test_a_graded_report_takes_the_label(tmp_path, monkeypatch):
    """Does a report graded from a temporary folder carry the student's label instead?"""

    class Graded:
        def to_dict(self):
            return {"submission": "/tmp/x", "score": 7}

    monkeypatch.setattr(grade, "grade_submission", lambda path, **options: Graded())
    assert grade.grade_class_member(tmp_path, "bob") == {"submission": "bob", "score": 7}
