"""Is the feedback a student reads short and plain: one hint per function, honest counts,
missing parts named once, and scores rounded the same way everywhere? And on hidden cases,
does it show what was checked, the category and the hint, but nothing the student's code
controls and no reference answer?"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import numpy as np
import pytest

from grader.results import (
    UNSPECIFIED_CATEGORY,
    CaseResult,
    Report,
    TestResult,
    points,
    render_feedback,
)
from tests.paths import ROOT

HINT = "Hint: Likely mistake: the loss summed over the batch instead of averaged."


def failing(description: str, hint: str = HINT) -> CaseResult:
    return CaseResult(
        description,
        False,
        f"Expected: [1.0]\nReceived: [5.0]\nThe value is off by 4, 4× relative.\n{hint}",
        category="returned values that differ from the reference",
        numpy_report="Not equal to tolerance rtol=1e-06, atol=1e-300\nMax relative difference: 4.",
    )


def test_one_hint_per_function_and_the_other_cases_named_in_a_line():
    """Is a hint shared by every failed case printed once, with one case shown in full?"""
    test = TestResult(
        "chain_rule.chain_gradients",
        10,
        cases=[CaseResult("ok", True)] + [failing(f"case {i}") for i in range(1, 6)],
        hidden=False,
    )
    text = render_feedback(test)
    assert text.count("Hint:") == 1
    assert text.count("Expected:") == 1 and "Checked: case 1" in text
    assert [line for line in text.splitlines() if line.startswith("Also failed")] == [
        "Also failed: case 2",
        "Also failed: case 3",
        "Also failed: case 4",
    ]
    assert "(1 more failed case not shown.)" in text
    assert "tolerance" not in text and "Max relative" not in text


def test_each_distinct_hint_is_kept_with_a_case_that_shows_it():
    """When two cases fail for different reasons, are both hints and both cases shown?"""
    other = "Hint: Likely mistake: the tanh derivative is missing."
    test = TestResult(
        "t.f", 2, cases=[failing("a"), failing("b"), failing("c", other)], hidden=False
    )
    text = render_feedback(test)
    assert HINT in text and other in text
    assert "Checked: a" in text and "Checked: c" in text and "Also failed: b" in text


def test_counts_are_honest_in_the_singular():
    """Does the count of cases read right for one case, and for several?"""
    one = TestResult("t.f", 1, cases=[failing("a")])
    assert render_feedback(one).startswith("0 of 1 case passed.")
    assert render_feedback(one, values=True).startswith("0 of 1 case passed.")
    many = TestResult("t.f", 1, cases=[failing("a")] + [failing(str(i)) for i in range(5)])
    assert "(2 more failed cases not shown.)" in render_feedback(many)


def test_values_can_be_held_back_while_the_hint_is_shown():
    """Without values, are the failed cases, their category and the hint still there, but
    not Expected/Received?"""
    test = TestResult("t.f", 1, cases=[failing("a hidden case")], hidden=False)
    text = render_feedback(test, values=False)
    assert "Checked: a hidden case" in text and HINT in text
    assert "Result: f returned values that differ from the reference." in text
    assert "Expected" not in text and "off by" not in text
    assert "Expected: [1.0]" in render_feedback(test)  # public: the values by default


def test_a_hidden_case_shows_its_category_and_the_instructor_reads_the_details():
    """On a hidden case, is the category shown at once, and the exception text kept for
    the full output only?"""
    hint = "Hint: w_new = w_old - learning_rate * dL/dw."
    raised = CaseResult(
        "sgd_update on 5 weights (hidden case)",
        False,
        f"Expected: a result\nReceived: sgd_update raised ValueError (on a hidden case)\n{hint}",
        category="raised ValueError",
        details=f"Expected: a result\nReceived: sgd_update raised ValueError: 0.4242\n{hint}",
    )
    test = TestResult("chain_rule.sgd_update", 1, cases=[CaseResult("ok", True), raised])
    assert test.output == (
        "1 of 2 cases passed.\n"
        "Checked: sgd_update on 5 weights (hidden case)\n"
        "Result: sgd_update raised ValueError.\n\n" + hint
    )
    assert "0.4242" in test.full_output and "Expected: a result" in test.full_output
    data = Report("sub", [test]).to_dict()["tests"][0]
    assert "0.4242" not in data["output"] and "0.4242" in data["details"]


def test_a_case_without_a_category_still_shows_nothing_of_its_values():
    """Does a failed hidden case whose check named no category show a plain sentence, and
    still no values?"""
    test = TestResult("t.f", 1, cases=[CaseResult("c", False, "Expected: 1\nReceived: 2")])
    assert f"Result: f {UNSPECIFIED_CATEGORY}." in test.output
    assert "Received" not in test.output and "Received: 2" in test.full_output


def test_a_report_of_hidden_cases_never_shows_values():
    """Does a report of hidden cases hold back the values even of a test marked public, in
    the text, the JSON output and Gradescope's visible entries?"""
    test = TestResult("chain_rule.chain_gradients", 10, cases=[failing("a")], hidden=False)
    report = Report("sub", [test], cases="hidden")
    shown = [
        report.to_text(),
        report.to_dict()["tests"][0]["output"],
        *(t["output"] for t in report.to_gradescope()["tests"] if t["visibility"] == "visible"),
    ]
    for text in shown:
        assert "Received" not in text and "[5.0]" not in text and "off by" not in text, text
        assert "returned values that differ from the reference" in text and HINT in text
    assert "Received: [5.0]" in report.to_dict()["tests"][0]["details"]
    assert "Received: [5.0]" in report.to_text(full=True)
    assert report.to_text(full=True).splitlines()[1].startswith("Instructor's view")
    public = Report("sub", [test], cases="public")
    assert "Received: [5.0]" in public.to_text() and "Instructor" not in public.to_text()


def test_numpy_report_is_kept_for_the_instructor_only():
    """Is numpy.testing's raw text in the JSON, and not in what the student reads?"""
    test = TestResult("t.f", 1, cases=[failing("a")], hidden=False)
    data = test.to_dict()
    assert data["comparisons"] == [
        {
            "case": "a",
            "numpy": "Not equal to tolerance rtol=1e-06, atol=1e-300\nMax relative difference: 4.",
        }
    ]
    assert "tolerance" not in data["output"]


def test_parts_not_handed_in_are_named_once():
    """Is a missing part one line in the text report, not one feedback entry per function?"""
    missing = [
        TestResult(f"remedies.f{i}", 2, verdict="Part remedies was not found.", handed_in=False)
        for i in range(5)
    ]
    report = Report("sub", [TestResult("chain_rule.sigmoid", 4, cases=[failing("a")])] + missing)
    text = report.to_text()
    assert text.count("Not handed in: remedies") == 1
    assert "was not found" not in text
    assert text.count("not handed in") == 5  # the table's status column


@pytest.mark.parametrize(
    "value, shown",
    [
        (71.0333, "71.03"),
        (3.3333, "3.33"),
        (2.5, "2.5"),
        (100.0, "100"),
        (0.0, "0"),
        (85.51665, "85.52"),
        (0.004, "0"),
        (9.999, "10"),
    ],
)
def test_points_have_two_decimals_at_most_and_no_trailing_zeros(value, shown):
    """Is every score a person reads rounded to two decimals without trailing zeros?"""
    assert points(value) == shown


# -- hostile functions graded on hidden cases by the real checks (in this process) ------

#: A number as the feedback prints one: at least three decimals, maybe an exponent.
_NUMBER = re.compile(r"-?\d+\.\d{3,}(?:e[-+]?\d+)?")


def leaked(text: str, hidden: list) -> list[str]:
    """The numbers printed in ``text`` that are one of the ``hidden`` values, to the digits
    printed."""
    values = np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in hidden])
    found = []
    for token in _NUMBER.findall(text):
        mantissa, _, exponent = token.partition("e")
        step = 10.0 ** (int(exponent or 0) - len(mantissa.split(".")[1]))
        if np.any(np.abs(values - float(token)) <= step):
            found.append(token)
    return found


def graded(name: str, function, public: bool = False) -> Report:
    """A report of one test: ``function`` graded by the real check, on the hidden cases
    unless ``public``."""
    from grader.checks.registry import import_checks, run_check
    from grader.checks.runner import InProcessRunner

    import_checks(name.split(".")[0])
    runner = InProcessRunner({name.split(".")[1]: function})
    result = run_check(name, runner, seed=7, public=public)
    return Report("student", [result], cases="public" if public else "hidden")


def shown_at_once(report: Report) -> dict[str, str]:
    """What a student reads at once: the text report, the HTML page, the JSON output and
    Gradescope's visible entries."""
    from grader.reports.html import render_html

    data = report.to_dict()
    return {
        "text": report.to_text(),
        "html": render_html(data),
        "json output": "\n".join(t["output"] for t in data["tests"]),
        "gradescope": "\n".join(
            t["output"] for t in report.to_gradescope()["tests"] if t["visibility"] == "visible"
        ),
    }


def details_of(report: Report) -> str:
    """The instructor's JSON details."""
    return "\n".join(t["details"] for t in report.to_dict()["tests"])


def forward_returning_its_input(seen: list):
    def chain_forward(x, w, b):
        seen.extend([x, w, b])
        return [np.asarray(x, dtype=np.float64)] * len(w)

    return chain_forward


def update_returning_its_param(seen: list):
    def sgd_update(param, grad, learning_rate):
        seen.extend([param, grad])
        return np.array(param, dtype=np.float64)

    return sgd_update


def update_raising_its_param(seen: list):
    def sgd_update(param, grad, learning_rate):
        seen.extend([param, grad])
        raise ValueError(str(param))

    return sgd_update


HOSTILE = [
    (
        "chain_rule.chain_forward",
        forward_returning_its_input,
        "chain_forward returned values that differ from the reference",
    ),
    (
        "chain_rule.sgd_update",
        update_returning_its_param,
        "sgd_update returned values that differ from the reference",
    ),
    ("chain_rule.sgd_update", update_raising_its_param, "sgd_update raised ValueError."),
]


@pytest.mark.parametrize(
    "name, make, category", HOSTILE, ids=["forward-returns-x", "update-returns-param", "raises-x"]
)
def test_a_hidden_input_returned_or_raised_is_never_shown_at_once(name, make, category):
    """Does a function that hands its hidden input back (returned, or as its exception's
    text) find no number of it in the text, the HTML page, the JSON output or Gradescope,
    while the instructor's details hold them?"""
    seen: list = []
    report = graded(name, make(seen))
    assert seen and report.score < report.max_score
    for surface, text in shown_at_once(report).items():
        assert leaked(text, seen) == [], f"{surface} shows a hidden input:\n{text}"
        assert category in text, f"{surface}:\n{text}"
        assert "Expected" not in text and "Received" not in text, f"{surface}:\n{text}"
    assert leaked(details_of(report), seen), details_of(report)  # so this test can fail


def gradients_returning_their_inputs(seen: list):
    def chain_gradients(x, y, w, b):
        seen.extend([w, b])
        return np.array(w, dtype=np.float64), np.array(b, dtype=np.float64)

    return chain_gradients


def test_a_hidden_reports_plots_are_the_instructors_only():
    """A chain_gradients that returns its hidden weights is plotted (|dL/dw_k| of the
    30-neuron chain): does the student's page carry no figure, Gradescope's results.json
    no figure and no number of the hidden input, while the instructor's page draws it?"""
    from grader.reports.html import render_html

    seen: list = []
    report = graded("chain_rule.chain_gradients", gradients_returning_their_inputs(seen))
    (figure,) = report.tests[0].figures
    assert leaked(" ".join(f"{v:.6f}" for v in figure["student"]), seen)  # it can fail
    data = report.to_dict()
    page = render_html(data)
    assert "<img" not in page and "data:image" not in page and figure["title"] not in page
    assert leaked(page, seen) == []
    gradescope = report.to_gradescope()
    assert "figures" not in json.dumps(gradescope) and figure["title"] not in json.dumps(gradescope)
    at_once = [t for t in gradescope["tests"] if t["visibility"] == "visible"]
    assert leaked(json.dumps(at_once), seen) == []  # the after-due-date entry holds them
    assert data["tests"][0]["figures"] == [figure]  # the instructor's JSON keeps them
    assert "data:image/png;base64," in render_html(data, details=True)


def test_the_public_checks_page_has_its_plots():
    """On the public cases, does the student's page draw the plot of the same function?"""
    from grader.reports.html import render_html
    from grader.results import PLOTS_ON_PUBLIC

    seen: list = []
    report = graded(
        "chain_rule.chain_gradients", gradients_returning_their_inputs(seen), public=True
    )
    page = render_html(report.to_dict())
    assert "data:image/png;base64," in page and "Expected:" in page
    assert PLOTS_ON_PUBLIC not in page


def _note_context(public: bool):
    from grader.checks.registry import Context

    return Context(None, "clipping", "train_with_clipping", np.random.default_rng(0), public=public)


def test_a_note_with_hidden_numbers_is_the_instructors_and_the_student_reads_a_sentence():
    """Does a note built from a hidden case's numbers reach the instructor's details and
    Gradescope's after-due-date entry only, the student reading the sentence without
    numbers once; and does a public case's note reach the student?"""
    hidden = _note_context(public=False)
    for loss in (12.3456, 65.4321):
        hidden.add_note(
            f"Without clipping the loss reaches {loss}.", "Without clipping: see check."
        )
    assert hidden.notes == ["Without clipping: see check."]
    test = TestResult(
        "clipping.train_with_clipping",
        5,
        cases=[CaseResult("a run", False, "Hint: h", category="stopped early")],
        notes=hidden.notes,
        notes_details=hidden.notes_details,
    )
    report = Report("student", [test], cases="hidden")
    details = details_of(report)
    assert "12.3456" in details and "65.4321" in details
    for surface, text in shown_at_once(report).items():
        assert "12.3456" not in text and "65.4321" not in text, f"{surface}:\n{text}"
    assert "12.3456" in report.to_text(full=True)
    later = [t for t in report.to_gradescope()["tests"] if t["visibility"] == "after_due_date"]
    assert later and "12.3456" in later[0]["output"]
    public = _note_context(public=True)
    public.add_note("Without clipping the loss reaches 12.3456.", "Without clipping: see check.")
    assert public.notes == ["Without clipping the loss reaches 12.3456."]
    assert public.notes_details == []


def test_no_check_writes_a_note_from_numbers_but_through_add_note():
    """Is every note a check appends directly a fixed text (no f-string, no format), so a
    note from a case's numbers must go through ``ctx.add_note`` (the instructor's on hidden
    cases)? And does the clipping check's sentence for the student carry no number?"""
    import grader.checks.parts.clipping as clipping

    built = []
    for path in sorted(Path(clipping.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "extend", "insert")
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr == "notes"
                and any(
                    isinstance(part, (ast.JoinedStr, ast.BinOp, ast.Call))
                    for arg in node.args
                    for part in ast.walk(arg)
                )
            ):
                built.append(f"{path.name}:{node.lineno}")
    assert built == [], f"notes built from values, not through ctx.add_note: {built}"
    assert not re.search(r"\d\.\d", clipping.UNCLIPPED_ON_PUBLIC)
    assert "python -m grader check" in clipping.UNCLIPPED_ON_PUBLIC


def test_a_shape_mistake_shows_its_category_not_the_shapes():
    """Does a list of the wrong length read "returned the wrong shape", without the sizes?"""

    def chain_forward(x, w, b):
        return [np.asarray(x, dtype=np.float64)] * (len(w) + 2)

    report = graded("chain_rule.chain_forward", chain_forward)
    for surface, text in shown_at_once(report).items():
        assert "chain_forward returned the wrong shape." in text, f"{surface}:\n{text}"
        assert "shape (" not in text, f"{surface}:\n{text}"
    assert "shape (" in details_of(report)


def test_the_public_check_still_shows_expected_and_received():
    """On the public cases (the self-check), are Expected / Received and the values shown?"""
    seen: list = []
    report = graded("chain_rule.sgd_update", update_returning_its_param(seen), public=True)
    for surface, text in shown_at_once(report).items():
        if surface == "gradescope":
            continue
        assert "Expected:" in text and "Received:" in text, f"{surface}:\n{text}"
        assert leaked(text, seen), f"{surface}:\n{text}"
        assert "Result:" not in text


# -- every failed case has a category ----------------------------------------------------


def test_every_failed_case_built_by_a_check_names_its_category():
    """Does every CaseResult a check builds as failed (anything but a literal passed=True)
    give a category? A new check path without one fails here."""
    missing = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "CaseResult"):
                continue
            passed = node.args[1] if len(node.args) > 1 else None
            passed = next((k.value for k in node.keywords if k.arg == "passed"), passed)
            if isinstance(passed, ast.Constant) and passed.value is True:
                continue
            if not any(k.arg == "category" for k in node.keywords):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert missing == []


def _hostile_family(name: str):
    """Ways a function goes wrong: nothing, its input, text, NaN, an exception, a changed
    input, an empty list."""

    def returns_none(*args, **kwargs):
        return None

    def returns_input(*args, **kwargs):
        return args[0]

    def returns_text(*args, **kwargs):
        return "the answer"

    def returns_nan(*args, **kwargs):
        return np.full(np.shape(np.asarray(args[0], dtype=np.float64)), np.nan)

    def raises(*args, **kwargs):
        raise ValueError(str(args[0]))

    def raises_own(*args, **kwargs):
        raise type("Leak" + str(len(args)), (Exception,), {})()

    def changes_input(*args, **kwargs):
        args[0][...] = 0.0
        return args[0]

    def returns_empty(*args, **kwargs):
        return []

    return [
        returns_none,
        returns_input,
        returns_text,
        returns_nan,
        raises,
        raises_own,
        changes_input,
        returns_empty,
    ]


PART_ONE = [
    "chain_rule.sigmoid",
    "chain_rule.sigmoid_derivative",
    "chain_rule.chain_forward",
    "chain_rule.chain_gradients",
    "chain_rule.local_gains",
    "chain_rule.sgd_update",
]


@pytest.mark.parametrize("name", PART_ONE)
def test_every_failed_case_of_a_hostile_function_has_a_category(name):
    """Graded on the hidden cases, does each failed case of a hostile function carry a
    category, and show no Expected / Received at once?"""
    for function in _hostile_family(name):
        report = graded(name, function)
        result = report.tests[0]
        assert result.verdict is not None or result.score < result.max_score, function.__name__
        for case in result.cases:
            assert case.passed or case.category, (function.__name__, case)
        output = report.to_dict()["tests"][0]["output"]
        assert "Expected" not in output and "Received" not in output, output
        assert "Leak" not in output, output


def _corpus_namespace(path: Path, part: str) -> dict:
    from grader.course.sources import reference_source

    namespace: dict = {"__name__": f"corpus_{part}"}
    exec(compile(reference_source(part) + "\n\n" + path.read_text(), str(path), "exec"), namespace)
    return {k: v for k, v in namespace.items() if callable(v)}


CORPUS_WRONG = sorted((ROOT / "tests" / "corpus" / "wrong").glob("*.py"))
#: Checks that train models: test_corpus.py grades them in the worker already.
_TRAINING = {"clipping.train_with_clipping", "clipping.clipped_train_step"}


def _corpus_function(path: Path) -> str:
    header = path.read_text(encoding="utf-8").split("# function:", 1)[1]
    return header.split("\n", 1)[0].strip()


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(
            p,
            marks=[] if p.name.startswith("chain_rule__") else [pytest.mark.slow],
            id=p.stem,
        )
        for p in CORPUS_WRONG
        if _corpus_function(p) not in _TRAINING
    ],
)
def test_every_failed_case_of_the_wrong_corpus_has_a_category(path):
    """Graded on the hidden cases, does each failed case of this realistic mistake carry a
    category, with the diagnosed mistake and no values in what the student reads at once?"""
    from grader.checks.registry import import_checks, run_check
    from grader.checks.runner import InProcessRunner

    name = _corpus_function(path)
    part = name.split(".")[0]
    import_checks(part)
    functions = _corpus_namespace(path, part)
    result = run_check(name, InProcessRunner(functions), seed=11, public=False)
    for case in result.cases:
        assert case.passed or case.category, case
    output = Report("student", [result]).to_dict()["tests"][0]["output"]
    assert "Expected" not in output and "Received" not in output, output
    for mistake in result.mistakes:
        assert f"[{mistake}]" in output, output


def test_the_json_details_keep_what_the_output_holds_back():
    """Is the JSON report valid JSON with both the student's output and the details?"""
    seen: list = []
    report = graded("chain_rule.sgd_update", update_returning_its_param(seen))
    data = json.loads(json.dumps(report.to_dict()))
    test = data["tests"][0]
    assert test["output"] != test["details"]
    assert "Received:" in test["details"] and "Result: sgd_update" in test["output"]
