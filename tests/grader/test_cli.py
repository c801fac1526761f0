"""Does the command line produce each format, and refuse bad usage in one line with status 2?"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grader.assignment import FUNCTIONS, function
from grader.course.sources import reference_source
from grader.results import points
from tests.paths import ROOT

pytestmark = pytest.mark.slow


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


#: A student's part 1 that hands hidden inputs back: returned, and as an exception's text.
HANDS_BACK = """

def chain_forward(x, w, b):
    return [np.asarray(x, dtype=np.float64)] * len(w)


def sgd_update(param, grad, learning_rate):
    raise ValueError(str(param))
"""


@pytest.fixture(scope="module")
def hands_back(tmp_path_factory) -> dict[str, str]:
    """The hostile submission's reports: text, html, json; and the instructor's text and html."""
    folder = tmp_path_factory.mktemp("hands_back")
    (folder / "chain_rule.py").write_text(reference_source("chain_rule") + HANDS_BACK)
    reports = {}
    for key, args in {
        "text": [],
        "html": ["--format", "html"],
        "json": ["--format", "json"],
        "details text": ["--details"],
        "details html": ["--details", "--format", "html"],
    }.items():
        result = run("grade", str(folder), *args)
        assert result.returncode == 0, result.stderr
        reports[key] = result.stdout
    return reports


def _received_numbers(details: str) -> set[str]:
    """The numbers on the Received lines of the details: what the code returned or raised."""
    found: set[str] = set()
    for line in details.splitlines():
        if line.startswith("Received:"):
            found |= set(re.findall(r"-?\d+\.\d{4,}(?:e[-+]?\d+)?", line))
    return found


def test_what_the_code_hands_back_on_hidden_cases_is_shown_with_details_only(hands_back):
    """Does a function returning its hidden input, or raising it as text, show the category
    only in the text report, the HTML page and the JSON output, while the JSON details and
    `grade --details` show the numbers?"""
    tests = {t["name"]: t for t in json.loads(hands_back["json"])["tests"]}
    forward, update = tests["chain_rule.chain_forward"], tests["chain_rule.sgd_update"]
    hidden = _received_numbers(forward["details"]) | _received_numbers(update["details"])
    assert _received_numbers(forward["details"]) and _received_numbers(update["details"])
    shown = {
        "text": hands_back["text"],
        "html": hands_back["html"],
        "json output": forward["output"] + update["output"],
    }
    for surface, text in shown.items():
        assert [n for n in hidden if n in text] == [], surface
        assert "chain_forward returned values that differ from the reference." in text, surface
        assert "sgd_update raised ValueError." in text, surface
        assert "Received:" not in text and "Expected:" not in text, surface
    for surface in ("details text", "details html"):
        assert [n for n in hidden if n in hands_back[surface]], surface
        assert "Instructor&#x27;s view" in hands_back[surface] or (
            "Instructor's view" in hands_back[surface]
        )
    assert "Instructor" not in hands_back["text"] + hands_back["html"]
    # plots of hidden cases (the student's and the reference's series): instructor's only
    assert "<img" not in hands_back["html"] and "data:image" not in hands_back["html"]
    assert "python -m grader check YOUR_FOLDER --format html" in hands_back["html"]
    assert "data:image/png;base64," in hands_back["details html"]


def test_the_details_switch_says_it_is_not_for_students():
    """Does `grade --help` say that --details shows the hidden cases' values, not for students?"""
    result = run("grade", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "--details" in text and "NOT for students" in text


def test_text_report_has_a_table_totals_and_feedback(part_one):
    """Does the text report list every test with its score, the total, and the failed tests' hints?"""
    result = run("grade", str(part_one))
    assert result.returncode == 0 and _only_isolation(result.stderr), result.stderr
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


def test_one_file_grades_its_part_only_and_names_the_others_once(part_one):
    """Does `check chain_rule.py` list that part's functions only, out of its points, and
    name the parts not handed in once?"""
    result = run("check", str(part_one / "chain_rule.py"))
    assert result.returncode == 0 and _only_isolation(result.stderr), result.stderr
    text = result.stdout
    part_points = sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    rows = [line for line in text.splitlines() if line.startswith(("chain_rule.", "deep_sigmoid."))]
    assert {line.split()[0] for line in rows if "/" in line} == {
        f.test_name for f in FUNCTIONS if f.part == "chain_rule"
    }
    assert f"/ {part_points}" in next(
        line for line in text.splitlines() if line.startswith("total")
    )
    assert text.count("not handed in: deep_sigmoid, clipping, remedies") == 1
    assert "was not found" not in text
    assert len(text.splitlines()) < 40


@pytest.mark.parametrize(
    "layout, message",
    [
        ("examples", "but 2 folders below it do"),
        ("nbgrader-student", "but the folder below it does"),
        ("empty", "holds no part file (chain_rule.ipynb"),
    ],
)
@pytest.mark.parametrize("verb", ["grade", "check"])
def test_a_folder_without_part_files_is_a_usage_error_naming_the_folder_to_use(
    tmp_path, layout, message, verb
):
    """Is a folder one level too high (or empty) refused in one line, status 2, naming the
    folder that holds the part files?"""
    source = reference_source("chain_rule")
    if layout == "examples":
        path = ROOT / "examples"
        below = str(path / "correct")
    elif layout == "nbgrader-student":
        path = tmp_path / "submitted" / "alice"
        (path / "exploding_gradients").mkdir(parents=True)
        (path / "exploding_gradients" / "chain_rule.py").write_text(source)
        below = str(path / "exploding_gradients")
    else:
        path = tmp_path / "empty"
        (path / "notes").mkdir(parents=True)
        (path / "notes" / "readme.txt").write_text("nothing to grade")
        below = None
    result = run(verb, str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
    if below is not None:
        assert below in result.stderr
    if layout == "nbgrader-student":
        assert result.stderr.strip().endswith(f"python -m grader {verb} {below}")


def test_scores_are_rounded_the_same_way_in_every_format(part_one, tmp_path):
    """Is chain_gradients' worth * 2/6 (a repeating decimal) shown to 2 decimals in the text
    and the page, and to 4 in the JSON formats?"""
    worth = function("chain_rule.chain_gradients").points
    exact = worth * 2 / 6
    assert round(exact, 2) != round(exact, 4) != exact  # the rounding is seen
    outputs = {}
    for form in ("text", "html", "json", "gradescope"):
        target = tmp_path / f"report.{form}"
        result = run("grade", str(part_one), "--format", form, "--output", str(target))
        assert result.returncode == 0, result.stderr
        outputs[form] = target.read_text()
    for form in ("json", "gradescope"):
        tests = json.loads(outputs[form])["tests"]
        assert next(t for t in tests if t["name"] == "chain_rule.chain_gradients")[
            "score"
        ] == round(exact, 4)
    for form in ("text", "html"):
        assert f"{exact:.2f} / {worth:g}" in outputs[form], form
        assert f"{exact:.4f}" not in outputs[form], form
    # part 1's points less 4/6 of chain_gradients': sum instead of mean in chain_gradients
    part_one_points = sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    total = points(part_one_points - worth + exact)
    # The summary is the report's notes when it has any (a line may say what this machine's
    # isolation lacks), else the total.
    notes = json.loads(outputs["json"])["notes"]
    summary = json.loads(outputs["gradescope"])["output"]
    assert summary == ("\n".join(notes) or f"{total} of 100 points.")
    assert json.loads(outputs["gradescope"])["score"] == pytest.approx(
        part_one_points - worth + exact, abs=1e-4
    )


def test_the_installed_command_calls_itself_by_its_name():
    """Does `exploding-gradients-grader` name itself, not `python -m grader`, in its usage?"""
    script = Path(sys.executable).parent / "exploding-gradients-grader"
    if not script.exists():
        pytest.skip("the package's script is not installed next to this Python")
    result = subprocess.run(
        [str(script), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout's grader
    )
    assert result.stdout.startswith("usage: exploding-gradients-grader")


def test_check_runs_the_public_cases(part_one):
    """Does `check` grade on the public cases, and say so?"""
    result = run("check", str(part_one))
    assert result.returncode == 0
    assert "on the public cases" in result.stdout.splitlines()[0]
    # the self-check shows the values
    assert "Expected: (dL_dw, dL_db) = " in result.stdout and "Received: " in result.stdout


def test_check_writes_an_html_page_with_the_plots(part_one, tmp_path):
    """Does `check --format html --output FILE` write the public cases' page with its plots
    (what the student's page of a hidden report points to)?"""
    page = tmp_path / "check.html"
    result = run("check", str(part_one), "--format", "html", "--output", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert "graded on the public cases" in text
    assert "data:image/png;base64," in text and "Expected:" in text
    assert "python -m grader check YOUR_FOLDER" not in text


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


def test_the_entry_point_runs_the_exit_handlers_and_flushes_before_its_quick_exit():
    """`run` skips the interpreter's teardown (seconds once TensorFlow is loaded): are the
    exit handlers still run (the jail's scratch folders go that way), the buffered output
    written, and the status main's?"""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('exit handler ran'))\n"
        "sys.argv = ['grader', 'grade', 'does/not/exist']\n"
        "print('buffered output', end=' ')\n"
        "from grader.cli import run\n"
        "run()\n"
        "print('not reached')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 2
    assert result.stdout == "buffered output exit handler ran\n"
    assert "no such file or directory" in result.stderr


def _only_isolation(stderr: str) -> bool:
    """stderr holds nothing but the instructor's isolation line, if the machine lacks a
    protection (e.g. a memory cgroup): no warning, no log line, no traceback."""
    return all(line.startswith("Isolation: ") for line in stderr.splitlines())
