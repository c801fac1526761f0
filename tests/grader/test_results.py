"""Is the feedback a student reads short and plain: one hint per function, honest counts,
missing parts named once, and scores rounded the same way everywhere?"""

from __future__ import annotations

import pytest

from grader.results import CaseResult, Report, TestResult, points, render_feedback

HINT = "Hint: Likely mistake: the loss summed over the batch instead of averaged."


def failing(description: str, hint: str = HINT) -> CaseResult:
    return CaseResult(
        description,
        False,
        f"Expected: [1.0]\nReceived: [5.0]\nThe value is off by 4, 4× relative.\n{hint}",
        numpy_report="Not equal to tolerance rtol=1e-06, atol=1e-300\nMax relative difference: 4.",
    )


def test_one_hint_per_function_and_the_other_cases_named_in_a_line():
    """Is a hint shared by every failed case printed once, with one case shown in full?"""
    test = TestResult(
        "chain_rule.chain_gradients",
        10,
        cases=[CaseResult("ok", True)] + [failing(f"case {i}") for i in range(1, 6)],
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
    test = TestResult("t.f", 2, cases=[failing("a"), failing("b"), failing("c", other)])
    text = render_feedback(test)
    assert HINT in text and other in text
    assert "Checked: a" in text and "Checked: c" in text and "Also failed: b" in text


def test_counts_are_honest_in_the_singular():
    """Does the count of cases read right for one case, and for several?"""
    one = TestResult("t.f", 1, cases=[failing("a")])
    assert render_feedback(one).startswith("0 of 1 case passed.")
    many = TestResult("t.f", 1, cases=[failing("a")] + [failing(str(i)) for i in range(5)])
    assert "(2 more failed cases not shown.)" in render_feedback(many)


def test_values_can_be_held_back_while_the_hint_is_shown():
    """Without values, are the failed cases and the hint still there, but not Expected/Received?"""
    test = TestResult("t.f", 1, cases=[failing("a hidden case")])
    text = render_feedback(test, values=False)
    assert "Checked: a hidden case" in text and HINT in text
    assert "Expected" not in text and "off by" not in text


def test_numpy_report_is_kept_for_the_instructor_only():
    """Is numpy.testing's raw text in the JSON, and not in what the student reads?"""
    test = TestResult("t.f", 1, cases=[failing("a")])
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
