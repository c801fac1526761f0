"""Is the Gradescope output valid results.json, and do setup.sh and run_autograder work as laid out?"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from grader.assignment import FUNCTIONS
from grader.results import Report, TestResult
from grader.sources import reference_source

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "grader" / "gradescope"
TOP_LEVEL = {
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
}
TEST_KEYS = {
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def validate_results(results: dict) -> None:
    """Check a results.json against Gradescope's specification of the format."""
    assert set(results) <= TOP_LEVEL, set(results) - TOP_LEVEL
    assert "score" in results or all("score" in t for t in results["tests"])
    assert isinstance(results.get("score", 0), (int, float))
    assert results.get("visibility", "visible") in VISIBILITY
    assert results.get("stdout_visibility", "visible") in VISIBILITY
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], (int, float)) and isinstance(
            test["max_score"], (int, float)
        )
        assert 0 <= test["score"] <= test["max_score"] or test["max_score"] == 0 == test["score"]
        assert test["status"] in ("passed", "failed")
        assert test.get("visibility", "visible") in VISIBILITY


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


def test_results_json_is_valid_and_hides_hidden_case_details_until_the_due_date():
    """Is every entry valid, the score visible at once, and the hidden cases' details after the due date?"""
    results = sample_report().to_gradescope()
    validate_results(results)
    assert results["score"] == 2 + 2
    visible = {t["name"]: t for t in results["tests"] if t["visibility"] == "visible"}
    later = {t["name"]: t for t in results["tests"] if t["visibility"] == "after_due_date"}
    assert visible["chain_rule.sigmoid"]["score"] == 2.0
    assert "Expected" not in visible["chain_rule.sigmoid"]["output"]
    assert "after the due date" in visible["chain_rule.sigmoid"]["output"]
    assert "Expected: 0.0" in later["chain_rule.sigmoid (details)"]["output"]
    assert later["chain_rule.sigmoid (details)"]["max_score"] == 0
    assert visible["remedies.he_normal_stddev"]["output"] == "Part remedies was not found."
    assert sum(t["max_score"] for t in results["tests"]) == 8


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
    assert log.read_text().strip().splitlines() == [
        f"{tmp_path / 'source'} -m pip install --no-cache-dir -e .",
        f"{tmp_path / 'source'} -m grader.secret",
    ]


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
