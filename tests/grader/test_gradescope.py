"""Is the Gradescope output valid results.json, and do setup.sh and run_autograder work as laid out?"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import jsonschema
import pytest

from grader.assignment import FUNCTIONS
from grader.course.sources import reference_source
from grader.results import Report, TestResult
from tests.paths import ROOT

SCRIPTS = ROOT / "grader" / "gradescope"
VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
FORMATS = ["text", "html", "simple_format", "md", "ansi"]
#: Gradescope's specification of results.json, as a JSON Schema: every field it reads,
#: of the type and values it accepts, and nothing else.
RESULTS_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": FORMATS},
        "test_output_format": {"enum": FORMATS},
        "test_name_format": {"enum": FORMATS},
        "visibility": {"enum": VISIBILITY},
        "stdout_visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "score": {"type": "number", "minimum": 0},
                    "max_score": {"type": "number", "minimum": 0},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": {"enum": FORMATS},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": {"enum": FORMATS},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": VISIBILITY},
                    "extra_data": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
        "leaderboard": {"type": "array"},
    },
    "required": ["tests"],
    "additionalProperties": False,
}


def superset_schema(schema: dict) -> dict:
    """The same schema, allowing further fields (what "a superset of results.json" means)."""
    if not isinstance(schema, dict):
        return schema
    loose = {k: superset_schema(v) for k, v in schema.items() if k != "additionalProperties"}
    return loose


def validate_results(results: dict, superset: bool = False) -> None:
    """Check a results.json against Gradescope's specification of the format.

    Args:
        results: the parsed JSON.
        superset: allow fields of our own besides Gradescope's.
    """
    jsonschema.validate(results, superset_schema(RESULTS_SCHEMA) if superset else RESULTS_SCHEMA)
    assert "score" in results or all("score" in t for t in results["tests"])
    for test in results["tests"]:
        assert 0 <= test["score"] <= test["max_score"] or test["max_score"] == 0 == test["score"]


def test_the_validator_rejects_what_gradescope_would_not_read():
    """Does the schema check fail on an unknown field, a bad visibility or a missing output type?"""
    good = {"score": 1, "tests": [{"name": "a", "score": 1, "max_score": 1, "status": "passed"}]}
    validate_results(good)
    for bad in (
        {**good, "max_score": 1},
        {**good, "visibility": "later"},
        {**good, "tests": [{**good["tests"][0], "output": 3}]},
        {**good, "tests": [{**good["tests"][0], "mistakes": []}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_results(bad)
    validate_results({**good, "max_score": 1}, superset=True)
    with pytest.raises(jsonschema.ValidationError):
        validate_results({**good, "visibility": "later"}, superset=True)


def sample_report(cases: str = "hidden") -> Report:
    from grader.results import CaseResult

    failed = TestResult(
        "chain_rule.sigmoid",
        4,
        cases=[
            CaseResult("sigmoid at -1e4", False, "Expected: 0.0\nReceived: nan\nHint: use e^-|z|"),
            CaseResult("sigmoid on 9 values", True),
        ],
    )
    passed = TestResult("chain_rule.sgd_update", 2, cases=[CaseResult("sgd_update", True)])
    missing = TestResult("remedies.he_normal_stddev", 2, verdict="Part remedies was not found.")
    return Report("sub", [failed, passed, missing], execution_time=1.5, cases=cases)


def test_results_json_is_valid_and_hides_only_the_hidden_values_until_the_due_date():
    """Are the score, the failed cases and the hint visible at once, and only the values later?"""
    results = sample_report().to_gradescope()
    validate_results(results)
    assert results["score"] == 2 + 2
    visible = {t["name"]: t for t in results["tests"] if t["visibility"] == "visible"}
    later = {t["name"]: t for t in results["tests"] if t["visibility"] == "after_due_date"}
    now = visible["chain_rule.sigmoid"]
    assert now["score"] == 2.0
    assert "Checked: sigmoid at -1e4" in now["output"]
    assert "Hint: use e^-|z|" in now["output"]
    assert "Expected" not in now["output"] and "nan" not in now["output"]
    assert "values of the hidden cases are shown after the due date" in now["output"]
    assert "Expected: 0.0" in later["chain_rule.sigmoid (details)"]["output"]
    assert later["chain_rule.sigmoid (details)"]["max_score"] == 0
    assert visible["remedies.he_normal_stddev"]["output"] == "Part remedies was not found."
    assert sum(t["max_score"] for t in results["tests"]) == 8


def test_json_report_is_a_superset_of_results_json():
    """Does --format json hold every field Gradescope reads, valid against the same schema?"""
    data = sample_report().to_dict()
    validate_results(data, superset=True)
    with pytest.raises(jsonschema.ValidationError):
        validate_results(data)  # it has fields of its own: a superset, not the same
    assert {"score", "execution_time", "output", "visibility", "stdout_visibility"} <= set(data)
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)


def test_scores_are_rounded_for_people_and_exact_for_machines():
    """Is 3.3333 shown as 3.33 in every text a person reads, and kept to 1e-4 in the data?"""
    from grader.reports.html import render_html
    from grader.results import CaseResult

    third = TestResult(
        "chain_rule.chain_gradients",
        10,
        cases=[CaseResult("a", True), CaseResult("b", False, "Hint: h"), CaseResult("c", False)],
    )
    report = Report("sub", [third], cases="public")
    assert third.score == 3.3333
    assert report.to_dict()["score"] == 3.3333
    assert report.to_gradescope()["tests"][0]["score"] == 3.3333
    assert report.to_gradescope()["output"] == "3.33 of 10 points."
    text = report.to_text()
    assert "3.33 / 10" in text and "3.3333" not in text
    page = render_html(report.to_dict())
    assert "3.33 / 10" in page and "3.3333" not in page


def test_public_case_reports_show_everything_at_once():
    """On the public cases (self-check), is every detail visible?"""
    results = sample_report("public").to_gradescope()
    validate_results(results)
    assert all(t["visibility"] == "visible" for t in results["tests"])


def test_setup_installs_the_package_from_the_source_folder(tmp_path):
    """Does setup.sh install the repository from /autograder/source with pip?"""
    (tmp_path / "source").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.txt"
    fake = bin_dir / "python3"
    fake.write_text(f'#!/bin/sh\necho "$PWD $*" >> {log}\n')
    fake.chmod(0o755)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(tmp_path),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    subprocess.run(["bash", str(SCRIPTS / "setup.sh")], env=env, check=True, timeout=60)
    calls = log.read_text().strip().splitlines()
    assert calls[:2] == [
        f"{tmp_path / 'source'} -m pip install --no-cache-dir -e .",
        f"{tmp_path / 'source'} -m grader.secret",
    ]
    assert calls[2].startswith(f"{tmp_path / 'source'} -c from grader.isolation import jail")


@pytest.mark.slow
def test_run_autograder_grades_the_submission_folder_into_results_json(tmp_path):
    """Does run_autograder grade /autograder/submission into a valid /autograder/results/results.json?"""
    os.symlink(ROOT, tmp_path / "source")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "chain_rule.py").write_text(reference_source("chain_rule"))
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path)}
    result = subprocess.run(
        [str(SCRIPTS / "run_autograder")], env=env, timeout=900, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_results(results)
    assert results["score"] == sum(f.points for f in FUNCTIONS if f.part == "chain_rule")


def test_run_autograder_reports_even_when_the_grader_cannot_run(tmp_path):
    """When the grader itself fails, does the student still get a results.json saying so?"""
    (tmp_path / "source").mkdir()
    (tmp_path / "submission").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text("#!/bin/sh\nexit 3\n")
    (bin_dir / "python3").chmod(0o755)
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(tmp_path),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    subprocess.run([str(SCRIPTS / "run_autograder")], env=env, check=True, timeout=60)
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_results(results)
    assert "could not grade" in results["output"] and shutil.which("bash")


def test_run_autograder_says_which_folder_holds_the_notebooks(tmp_path):
    """When the upload's notebooks sit one folder down, does the student read where they are?"""
    os.symlink(ROOT, tmp_path / "source")
    inner = tmp_path / "submission" / "exploding_gradients"
    inner.mkdir(parents=True)
    (inner / "chain_rule.py").write_text("x = 1\n")
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path)}
    subprocess.run([str(SCRIPTS / "run_autograder")], env=env, check=True, timeout=300)
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    validate_results(results)
    assert "could not grade" in results["output"]
    assert f"but the folder below it does: python -m grader grade {inner}" in results["output"]
