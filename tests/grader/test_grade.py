"""Does grading give full marks to the reference, zero to the stubs, and the same score every time?"""

from __future__ import annotations

import shutil

import pytest

from grader.assignment import FUNCTIONS, PARTS, function
from grader.course.sources import reference_source, stub_source
from grader.grade import grade_submission
from tests.paths import ROOT

pytestmark = pytest.mark.slow


def _scores(report):
    return {t.name: t.score for t in report.tests}


def test_reference_modules_score_full_marks_every_time(grade_sources):
    """Do the reference solutions, handed in as .py modules, score 100/100, twice the same?"""
    files = {f"{part}.py": reference_source(part) for part in PARTS}
    first = grade_sources(files)
    assert first.max_score == 100
    failed = {t.name: t.output for t in first.tests if t.status != "passed"}
    assert failed == {}
    assert first.score == 100
    second = grade_sources(files)
    assert [t.to_dict() for t in second.tests] == [t.to_dict() for t in first.tests]


def test_reference_notebooks_score_full_marks(shared_sandbox):
    """Do the reference solution notebooks score 100/100?"""
    folder = ROOT / "solutions" / "exploding_gradients"
    report = grade_submission(folder, sandbox=shared_sandbox)
    failed = {t.name: t.output for t in report.tests if t.status != "passed"}
    assert failed == {}
    assert report.score == 100


@pytest.mark.parametrize("kind", ["py", "ipynb"])
def test_student_stubs_score_zero_saying_not_implemented(kind, tmp_path, shared_sandbox):
    """Do the untouched student stubs, as modules and as notebooks, score 0 with a message per function?"""
    if kind == "py":
        for part in PARTS:
            (tmp_path / f"{part}.py").write_text(stub_source(part))
    else:
        for part in PARTS:
            shutil.copy(ROOT / "exercises" / "exploding_gradients" / f"{part}.ipynb", tmp_path)
    report = grade_submission(tmp_path, sandbox=shared_sandbox)
    assert report.score == 0
    for test in report.tests:
        assert (
            test.output
            == f"{test.name.split('.')[1]} is not implemented yet (it raises NotImplementedError)."
        ), test.name


def test_missing_parts_and_functions_score_zero_with_a_reason(grade_sources):
    """Does a missing part, and a function missing from a part, cost exactly its own points?"""
    source = reference_source("chain_rule").replace("def local_gains(", "def local_gains_renamed(")
    report = grade_sources({"chain_rule.py": source})
    assert (
        report.test("chain_rule.local_gains").output
        == "local_gains is not defined in the submission."
    )
    assert report.test("chain_rule.chain_gradients").status == "passed"
    assert report.test("remedies.he_normal_stddev").output == (
        "Part remedies was not found in the submission: expected remedies.ipynb or remedies.py."
    )
    part_one = sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    assert report.score == part_one - function("chain_rule.local_gains").points


def test_a_broken_cell_costs_only_what_depends_on_it(grade_sources):
    """Does a syntax error in one cell of a notebook leave the other cells' functions graded?"""
    import nbformat

    nb = nbformat.v4.new_notebook()
    functions = reference_source("chain_rule").split("\ndef ")
    nb.cells = [nbformat.v4.new_code_cell(functions[0])]
    nb.cells += [nbformat.v4.new_code_cell("def " + f) for f in functions[1:]]
    nb.cells.insert(2, nbformat.v4.new_code_cell("def oops(:\n    pass"))
    report = grade_sources({"chain_rule.ipynb": nbformat.writes(nb)})
    assert report.score == sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
    output = report.test("chain_rule.sigmoid").output
    assert "chain_rule cell 3 does not parse: SyntaxError" in output
    assert "the other cells still count" in output


def test_the_instructor_seed_changes_the_hidden_cases(grade_sources, monkeypatch):
    """Do different instructor seeds draw different hidden cases, without showing the seed?"""
    wrong = reference_source("chain_rule") + (
        "\n\ndef sgd_update(param, grad, learning_rate):\n    return param + learning_rate * grad\n"
    )
    monkeypatch.delenv("GRADER_SEED", raising=False)
    first = grade_sources({"chain_rule.py": wrong}).test("chain_rule.sgd_update")
    monkeypatch.setenv("GRADER_SEED", "a secret of the instructor")
    second = grade_sources({"chain_rule.py": wrong}).test("chain_rule.sgd_update")
    assert first.score == second.score < first.max_score
    assert first.full_output != second.full_output  # other hidden values, the same mistake
    assert "[update_sign]" in first.output and "[update_sign]" in second.output
    exploding = grade_sources(
        {
            "deep_sigmoid.py": reference_source("deep_sigmoid").replace(
                '"tanh", initializer', '"sigmoid", initializer'
            )
        }
    ).test("deep_sigmoid.build_exploding_mlp")
    assert "seed=s)" in exploding.output and "a secret" not in exploding.output
