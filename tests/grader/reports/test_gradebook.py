"""Does the course work end to end with the real nbgrader, with the same scores as the CLI?

With a copy of the repository's course directory: ``nbgrader generate_assignment``, three
students' notebooks in ``submitted/`` (correct, partly wrong, broken), ``nbgrader autograde``,
``generate_feedback`` and ``export``; the gradebook's per-function scores must equal
``python -m grader grade`` on the same notebooks, partial credit included, and ``python -m
grader batch --gradebook`` must write the same scores into a gradebook, those of students
graded in an earlier batch included.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.assignment import ASSIGNMENT, FUNCTIONS, PARTS, function
from grader.course.sources import reference_source
from tests.paths import ROOT

pytestmark = pytest.mark.slow
EXAMPLES = ROOT / "examples"
SEED = "the nbgrader round trip of the test suite"


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRADER_SEED": SEED}
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def broken_copy(target: Path) -> None:
    """The correct notebooks with a syntax error in one solution cell and a crash in another."""
    shutil.copytree(EXAMPLES / "correct", target)
    for part, grade_id, source in [
        ("chain_rule", "chain_rule-chain_gradients", "def chain_gradients(x, y, w, b:\n    return"),
        ("clipping", "clipping-global_norm", "def global_norm(grads):\n    return 1 / 0"),
    ]:
        path = target / f"{part}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
                cell.source = source
        nbformat.write(notebook, path)


def gradebook_scores(
    database: Path, students: tuple[str, ...] = ("alice", "bob", "carol")
) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    scores: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{database}") as gradebook:
        for student in students:
            for test in FUNCTIONS:
                grade = gradebook.find_grade(
                    f"{test.part}-{test.name}-tests", test.part, ASSIGNMENT, student
                )
                scores.setdefault(student, {})[test.test_name] = grade.score
    return scores


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """A course folder after ``generate_assignment``, with the three students' notebooks in
    ``submitted/`` and a copy of the gradebook before any grading."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT], course)
    shutil.copy(course / "gradebook.db", course / "empty-gradebook.db")
    submitted = course / "submitted"
    shutil.copytree(EXAMPLES / "correct", submitted / "alice" / ASSIGNMENT)
    shutil.copytree(EXAMPLES / "typical_mistakes", submitted / "bob" / ASSIGNMENT)
    broken_copy(submitted / "carol" / ASSIGNMENT)
    return course


@pytest.fixture(scope="module")
def course(released) -> Path:
    """The same folder after ``autograde``, ``generate_feedback`` and ``export``."""
    run([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--create"], released)
    run([sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT], released)
    run([sys.executable, "-m", "nbgrader", "export"], released)
    return released


def test_the_released_notebooks_match_the_repository(released):
    """Does generate_assignment in a fresh course directory give the committed student notebooks?"""
    for part in PARTS:
        fresh = nbformat.read(released / "exercises" / ASSIGNMENT / f"{part}.ipynb", as_version=4)
        committed = nbformat.read(ROOT / "exercises" / ASSIGNMENT / f"{part}.ipynb", as_version=4)
        assert [c.source for c in fresh.cells] == [c.source for c in committed.cells]


@pytest.fixture
def grader_scores(shared_sandbox, monkeypatch):
    """The per-function scores of ``python -m grader check`` (``public``) or ``grade``.

    Those commands are ``grade_submission(folder, public=...)`` and its JSON report
    (grader/cli.py, whose output tests/grader/test_cli.py checks); it is called here, with
    the session's warm sandbox and this module's secret, rather than through a new Python
    that imports TensorFlow twice for each of the six gradings.
    """
    from grader.grade import grade_submission

    monkeypatch.setenv("GRADER_SEED", SEED)

    def scores(course: Path, student: str, public: bool) -> dict[str, float]:
        folder = course / "submitted" / student / ASSIGNMENT
        report = grade_submission(folder, sandbox=shared_sandbox, public=public).to_dict()
        return {t["name"]: t["score"] for t in report["tests"]}

    return scores


def test_gradebook_scores_equal_the_command_line_per_function(course, grader_scores):
    """Are the in-kernel cells' per-function scores those of `python -m grader check` (the
    public cases: a student's kernel never sees the hidden cases' secret), partial credit
    included?"""
    book = gradebook_scores(course / "gradebook.db")
    for student in ("alice", "bob", "carol"):
        cli = grader_scores(course, student, public=True)
        assert book[student] == pytest.approx(cli, abs=1e-3), student
    assert sum(book["alice"].values()) == pytest.approx(100)
    assert 0 < sum(book["bob"].values()) < 100
    assert book["bob"]["chain_rule.chain_gradients"] not in (  # partial credit
        0,
        function("chain_rule.chain_gradients").points,
    )
    assert book["carol"]["chain_rule.chain_gradients"] == 0
    assert book["carol"]["clipping.global_norm"] == 0
    assert book["carol"]["chain_rule.sigmoid"] == function("chain_rule.sigmoid").points


def test_feedback_and_export_are_written(course):
    """Do generate_feedback and export produce the per-student feedback and the grades CSV?"""
    assert (course / "feedback" / "bob" / ASSIGNMENT / "chain_rule.html").is_file()
    with open(course / "grades.csv", newline="") as handle:
        rows = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert rows["alice"] == pytest.approx(100)


@pytest.mark.xdist_group("tests/grader/reports/test_gradebook.py::batch")
def test_batch_writes_the_same_scores_into_a_gradebook(released, tmp_path, grader_scores):
    """Does `python -m grader batch --gradebook` record the jailed grader's scores (those of
    `python -m grader grade`, on the hidden cases) in nbgrader's gradebook?

    It needs no autograde: under xdist it runs beside the autograded tests, on a course
    folder of its own (its own group).
    """
    database = tmp_path / "gradebook.db"
    shutil.copy(released / "empty-gradebook.db", database)
    result = run(
        [
            sys.executable,
            "-m",
            "grader",
            "batch",
            str(released / "submitted"),
            "--out",
            str(tmp_path / "out"),
            "--gradebook",
            str(database),
        ],
        ROOT,
    )
    assert "Warning" not in result.stderr  # nbgrader's SAWarnings are kept off stderr
    written = gradebook_scores(database)
    for student in ("alice", "bob", "carol"):
        graded = grader_scores(released, student, public=False)
        assert written[student] == pytest.approx(graded, abs=1e-3), student
    assert sum(written["alice"].values()) == pytest.approx(100)


def batch_of(submitted: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return run(
        [sys.executable, "-m", "grader", "batch", str(submitted), "--out", str(out), *options],
        ROOT,
    )


def csv_scores(out: Path) -> dict[str, dict[str, float]]:
    with open(out / "grades.csv", newline="") as handle:
        return {
            row.pop("student"): {
                test: float(score) for test, score in row.items() if test != "total"
            }
            for row in csv.DictReader(handle)
        }


def test_a_batch_run_again_with_a_gradebook_records_every_up_to_date_report(released, tmp_path):
    """Does ``batch --gradebook`` after an earlier batch into the same output folder record
    every student, those graded before as well as those graded now, and say so?

    Before, only the students graded in that run were recorded: a second run, with every
    report up to date, left the gradebook empty without a word. Part 1 only, to keep it
    cheap: a correct student, one with a mistake, and a third who hands in after the first
    batch.
    """
    wrong = (
        "\n\ndef sgd_update(param, grad, learning_rate):\n    return param + learning_rate * grad\n"
    )
    sources = {
        "dana": reference_source("chain_rule"),
        "erin": reference_source("chain_rule") + wrong,
    }
    submitted, out = tmp_path / "submitted", tmp_path / "out"
    for name, source in sources.items():
        (submitted / name / ASSIGNMENT).mkdir(parents=True)
        (submitted / name / ASSIGNMENT / "chain_rule.py").write_text(source)
    first = batch_of(submitted, out)
    assert "gradebook:" not in first.stdout

    (submitted / "fred" / ASSIGNMENT).mkdir(parents=True)
    (submitted / "fred" / ASSIGNMENT / "chain_rule.py").write_text(reference_source("chain_rule"))
    database = tmp_path / "gradebook.db"
    shutil.copy(released / "empty-gradebook.db", database)
    second = batch_of(submitted, out, "--gradebook", str(database))
    assert "(1 graded in this run)" in second.stdout
    assert (
        f"gradebook: 3 students (1 graded now, 2 from up-to-date reports) in {database}"
        in second.stdout
    ), second.stdout
    students = ("dana", "erin", "fred")
    recorded = gradebook_scores(database, students)
    table = csv_scores(out)
    assert set(recorded) == set(table) == set(students)
    for student in students:
        assert recorded[student] == pytest.approx(table[student], abs=1e-3), student
    assert recorded["erin"]["chain_rule.sgd_update"] < recorded["dana"]["chain_rule.sgd_update"]

    # Nothing to grade at all: a fresh gradebook is still filled, from the reports alone.
    fresh = tmp_path / "fresh-gradebook.db"
    shutil.copy(released / "empty-gradebook.db", fresh)
    third = batch_of(submitted, out, "--gradebook", str(fresh))
    assert "gradebook: 3 students (0 graded now, 3 from up-to-date reports)" in third.stdout
    assert gradebook_scores(fresh, students) == recorded


def test_a_gradebook_without_the_assignment_is_refused_before_any_grading(tmp_path):
    """Is a gradebook that does not know the assignment refused in one line, status 2,
    before a student is graded?"""
    from nbgrader.api import Gradebook

    database = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{database}"):
        pass
    (tmp_path / "submitted" / "dana").mkdir(parents=True)
    (tmp_path / "submitted" / "dana" / "chain_rule.py").write_text(reference_source("chain_rule"))
    result = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(tmp_path / "submitted")]
        + ["--out", str(tmp_path / "out"), "--gradebook", str(database)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert f"has no assignment {ASSIGNMENT!r}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "reports").exists()
