"""Does the command line produce each format, and refuse bad usage in one line with status 2?"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.assignment import FUNCTIONS
from grader.sources import reference_source

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


@pytest.fixture(scope="module")
def part_one(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("submission")
    source = reference_source("chain_rule").replace("/ x.size", "")  # sum instead of mean
    (folder / "chain_rule.py").write_text(source)
    return folder


def test_text_report_has_a_table_totals_and_feedback(part_one):
    """Does the text report list every test with its score, the total, and the failed tests' hints?"""
    result = run("grade", str(part_one))
    assert result.returncode == 0 and result.stderr == ""
    assert "chain_rule.chain_gradients" in result.stdout
    assert "total" in result.stdout
    assert "[sum_instead_of_mean]" in result.stdout


def test_json_report_is_a_superset_of_gradescope_results(part_one):
    """Does --format json print one object with score, max_score, execution_time and tests?"""
    result = run("grade", str(part_one), "--format", "json")
    report = json.loads(
        result.stdout, parse_constant=lambda token: pytest.fail(f"not JSON: {token}")
    )
    assert {"score", "max_score", "execution_time", "tests"} <= set(report)
    assert report["max_score"] == 100
    for test in report["tests"]:
        assert {"name", "score", "max_score", "status", "output"} <= set(test)
        assert (test["status"] == "passed") == (test["score"] == test["max_score"])
    gradients = next(t for t in report["tests"] if t["name"] == "chain_rule.chain_gradients")
    assert 0 < gradients["score"] < gradients["max_score"]
    assert report["score"] == pytest.approx(sum(t["score"] for t in report["tests"]))


def test_gradescope_report_is_written_to_the_output_file(part_one, tmp_path):
    """Does --format gradescope --output write Gradescope's schema to the file and nothing to stdout?"""
    target = tmp_path / "out" / "results.json"
    result = run("grade", str(part_one), "--format", "gradescope", "--output", str(target))
    assert result.returncode == 0 and result.stdout == ""
    report = json.loads(target.read_text())
    assert {"score", "execution_time", "tests"} <= set(report)
    visible = {t["name"] for t in report["tests"] if t["visibility"] == "visible"}
    assert visible == {f.test_name for f in FUNCTIONS}
    later = [t for t in report["tests"] if t["visibility"] != "visible"]
    assert later and all(t["visibility"] == "after_due_date" and t["max_score"] == 0 for t in later)


def test_check_runs_the_public_cases(part_one):
    """Does `check` grade on the public cases, and say so?"""
    result = run("check", str(part_one))
    assert result.returncode == 0
    assert "on the public cases" in result.stdout.splitlines()[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["grade", "does/not/exist"], "no such file or directory"),
        (["grade", "README.md"], "is not a part of the assignment"),
        (["grade", ".", "--format", "pdf"], "invalid choice"),
        (["grade", ".", "--bogus"], "unrecognized arguments"),
        (["frobnicate"], "invalid choice"),
    ],
    ids=["missing-path", "not-a-part", "bad-format", "unknown-option", "unknown-verb"],
)
def test_usage_errors_are_one_line_with_status_2(args, expected):
    """Is every usage error one line on stderr, status 2, and no traceback?"""
    result = run(*args)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
