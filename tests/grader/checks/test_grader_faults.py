"""Is a fault of the grader's own code named as the grader's, never blamed on the student?

Two directions. An answer of a form no check expects (decided from the received data) is the
student's: it costs the case with the "could not check" message, and is never a grader fault,
for every check and a catalogue of malformed answers. An exception the grader's own code
raises (injected with ``GRADER_INJECT_FAULT``, or a real one in a helper a check calls) is the
grader's: the student reads that it is not their mistake, the instructor gets the traceback
(JSON ``grader_fault`` and ``details``, ``--details``, the batch's ``grader-faults.log``), the
class report flags the submission, ``summary.json`` counts it, and ``--strict`` exits 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from grader.assignment import FUNCTIONS, functions_of
from grader.checks import registry
from grader.checks.registry import INJECT_FAULT, MalformedAnswer, run_check
from grader.checks.runner import CallOutcome, InProcessRunner, Runner
from grader.course.sources import reference_source
from grader.grade import failure_report
from grader.isolation.protocol import KerasObjectSpec, ModelSpec, OptimizerSpec, Unsupported
from grader.results import GRADER_FAILED_SUBMISSION, GRADER_FAULT, GRADER_FAULT_NOTE, Report
from grader.scale.batch import FAULTS_LOG
from tests.paths import ROOT

#: Answers of forms no check expects, as a worker's answer may decode to (see
#: grader.isolation.protocol.decode): every plain type, arrays of every accepted kind and of
#: odd shapes, lists and dicts of the wrong content, the protocol's own records.
MALFORMED = [
    None,
    True,
    0,
    -1,
    1e308,
    float("nan"),
    float("inf"),
    10**30,
    "text",
    "",
    [],
    [[]],
    [1, "a"],
    [[1, 2], [3]],
    (1, 2),
    {},
    {"loss": "x"},
    {"loss": None, "grad_norm": [1], "clipped_norm": {}},
    {"loss": 1.0, "grad_norm": 2.0, "clipped_norm": 1.0},
    {"a": {"b": [1]}},
    np.array([]),
    np.zeros((0, 3)),
    np.array([1 + 2j, 3]),
    np.array([True, False]),
    np.zeros((2, 2, 2, 2, 2)),
    np.array(5.0),
    np.full(3, np.nan),
    np.arange(10, dtype=np.uint8),
    np.zeros((3, 1)),
    [np.zeros(2), "a"],
    [np.zeros((2, 2)), np.zeros(3)],
    ([], []),
    (np.zeros(3), np.zeros(3)),
    (np.zeros(3), "x"),
    ([np.zeros(3)], np.zeros(2)),
    Unsupported("Foo"),
    KerasObjectSpec({}),
    OptimizerSpec("SGD", {}),
    OptimizerSpec("SGD", {"learning_rate": "x"}),
    ModelSpec("{}", []),
    ModelSpec("not json", []),
    ModelSpec('{"class_name": "Sequential", "config": {"layers": []}}', []),
]
#: What a worker may return as a model argument's state after the call (its weights).
STATES = [None, [], [None], [[np.zeros(2)]], ["x"], [[1, 2]], [[np.zeros((8, 4)), "a"]]]


class _Answers(Runner):
    """A runner whose every call returns the same answer: what a hostile worker may send."""

    def __init__(self, value, state=None, recorded=None) -> None:
        self.value, self.state, self.recorded = value, state, recorded

    def call(self, part, function, args, kwargs=None, *, timeout=30.0, **options):
        return CallOutcome(ok=True, value=self.value, state=self.state, recorded=self.recorded)


TESTS = [f.test_name for f in FUNCTIONS]


@pytest.mark.parametrize("name", TESTS)
def test_malformed_answers_are_the_students_never_a_grader_fault(name):
    """Does every check judge every malformed answer as the student's, without a grader fault?"""
    for index, value in enumerate(MALFORMED):
        for state, recorded in [(None, None), (STATES[index % len(STATES)], [value, None])]:
            result = run_check(name, _Answers(value, state, recorded), seed=3)
            assert not result.grader_fault, f"{name} on {value!r}:\n{result.grader_fault}"
            assert result.score < result.max_score, (name, value)
            assert not any(c.category == GRADER_FAULT for c in result.cases), (name, value)


def _reference_runner(part: str) -> InProcessRunner:
    namespace: dict = {}
    exec(compile(reference_source(part), f"{part}.py", "exec"), namespace)  # noqa: S102
    return InProcessRunner(namespace)


def test_an_injected_fault_is_named_as_the_graders(monkeypatch):
    """Does a fault after the first case keep that case's point, hold the rest at zero, tell
    the student it is not their mistake, and give the instructor the traceback?"""
    monkeypatch.setenv(INJECT_FAULT, "chain_rule.sigmoid")
    result = run_check("chain_rule.sigmoid", _reference_runner("chain_rule"), seed=5)
    assert "InjectedFault" in result.grader_fault and "Traceback" in result.grader_fault
    assert result.cases[0].passed
    assert result.cases[1].category == GRADER_FAULT
    assert all(not c.passed for c in result.cases[1:])
    assert result.score == pytest.approx(result.max_score / len(result.cases), abs=1e-4)
    # the student's view: the sentence, no traceback, no blame
    for shown in (result.output, Report("s", [result]).to_gradescope()["tests"][0]["output"]):
        assert GRADER_FAULT_NOTE in shown
        assert "Traceback" not in shown and "could not check" not in shown
        assert "Return the type and form" not in shown
    gradescope = json.dumps(Report("s", [result]).to_gradescope())
    assert "Traceback" not in gradescope and "InjectedFault" not in gradescope
    # the instructor's view: the traceback in the JSON and in the text report's details
    data = Report("s", [result]).to_dict()
    assert data["grader_faults"] == ["chain_rule.sigmoid"]
    assert "InjectedFault" in data["tests"][0]["grader_fault"]
    assert "InjectedFault" in data["tests"][0]["details"]
    assert "InjectedFault" in Report("s", [result]).to_text(full=True)
    assert "InjectedFault" not in Report("s", [result]).to_text()


def test_a_real_fault_in_a_checks_helper_is_the_graders_and_a_malformed_answer_is_not(
    monkeypatch,
):
    """A bug in code a check calls (here the comparison) is a grader fault; a check that
    decides the answer is malformed (MalformedAnswer) costs the student, with no fault."""
    clean = run_check("chain_rule.sgd_update", _reference_runner("chain_rule"), seed=7)
    assert clean.score == clean.max_score and not clean.grader_fault

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug of the grader's")

    monkeypatch.setattr(registry, "compare_arrays", broken)
    faulty = run_check("chain_rule.sgd_update", _reference_runner("chain_rule"), seed=7)
    assert "ZeroDivisionError" in faulty.grader_fault
    assert faulty.cases[0].category == GRADER_FAULT
    assert GRADER_FAULT_NOTE in faulty.output
    monkeypatch.undo()

    def malformed(ctx):
        yield from ()
        raise MalformedAnswer("an answer of another form")

    monkeypatch.setitem(
        registry.REGISTRY,
        "chain_rule.sgd_update",
        registry.Check("chain_rule.sgd_update", malformed, 10, 3),
    )
    students = run_check("chain_rule.sgd_update", _reference_runner("chain_rule"), seed=7)
    assert not students.grader_fault
    assert "could not check" in students.output and GRADER_FAULT_NOTE not in students.output


def test_a_fault_on_a_whole_submission_keeps_the_traceback_from_the_student():
    """The report of a submission the grader failed on: every test flagged, the student's
    sentence, the traceback in the instructor's fields only."""
    try:
        raise KeyError("the grader's own bug")
    except KeyError as error:
        data = failure_report("student", error)
    assert data["score"] == 0 and len(data["grader_faults"]) == len(FUNCTIONS)
    assert data["notes"] == [GRADER_FAILED_SUBMISSION]
    for test in data["tests"]:
        assert "KeyError" in test["grader_fault"] and "KeyError" in test["details"]
        assert "KeyError" not in test["output"] and GRADER_FAILED_SUBMISSION in test["output"]


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=600,
    )


@pytest.mark.slow
def test_grade_and_batch_report_a_fault_and_strict_exits_3(tmp_path):
    """Through the command line: grade's JSON and stderr, --strict's status; a batch's
    summary.json, grader-faults.log, class.html's flagged row and --strict."""
    source = reference_source("chain_rule")
    alone = tmp_path / "chain_rule.py"
    alone.write_text(source, encoding="utf-8")
    inject = {INJECT_FAULT: "chain_rule.local_gains"}

    graded = _cli("grade", str(alone), "--format", "json", env=inject, cwd=tmp_path)
    assert graded.returncode == 0, graded.stderr
    report = json.loads(graded.stdout)
    assert report["grader_faults"] == ["chain_rule.local_gains"]
    test = next(t for t in report["tests"] if t["name"] == "chain_rule.local_gains")
    assert "InjectedFault" in test["grader_fault"] and GRADER_FAULT_NOTE in test["output"]
    assert "chain_rule.local_gains" in graded.stderr and "Traceback" not in graded.stderr
    strict = _cli("grade", str(alone), "--strict", env=inject, cwd=tmp_path)
    assert strict.returncode == 3, strict.stderr
    assert "InjectedFault" not in strict.stdout  # the student's text report
    clean = _cli("grade", str(alone), "--strict", env={INJECT_FAULT: ""}, cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr

    submissions = tmp_path / "class"
    for name in ("ada", "ben"):
        (submissions / name).mkdir(parents=True)
        (submissions / name / "chain_rule.py").write_text(source, encoding="utf-8")
    out = tmp_path / "out"
    batch = _cli(
        "batch", str(submissions), "--out", str(out), "--workers", "1", "--strict",
        env=inject, cwd=tmp_path,
    )  # fmt: skip
    assert batch.returncode == 3, batch.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["grader_faults"] == {
        "ada": ["chain_rule.local_gains"],
        "ben": ["chain_rule.local_gains"],
    }
    log = (out / FAULTS_LOG).read_text()
    assert log.count("InjectedFault") >= 2 and "== ada" in log and "== ben" in log
    page = (out / "class.html").read_text()
    assert 'data-flagged="ada"' in page and "grader fault: regrade" in page
    # the students' own pages never hold the traceback
    for name in ("ada", "ben"):
        student_page = (out / "reports" / f"{name}.html").read_text()
        assert "InjectedFault" not in student_page and "Traceback" not in student_page
    # The next run regrades the reports with grader faults (the fault is gone: full marks).
    again = _cli(
        "batch", str(submissions), "--out", str(out), "--strict", env={INJECT_FAULT: ""}, cwd=ROOT
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["grader_faults"] == {} and summary["graded_this_run"] == 2
    assert summary["full_marks"] == 0 and summary["mean"] == sum(
        f.points for f in functions_of("chain_rule")
    )
