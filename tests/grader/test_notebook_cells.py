"""Does an autograded `grade(...)` cell print the points and leave the feedback to the
`check(...)` cell above it, instead of repeating it?"""

from __future__ import annotations

import numpy as np
import pytest

from grader.assignment import function
from grader.notebook import check, grade


def sgd_update(param, grad, learning_rate):
    """The sign of the step is wrong: only the cases with a rate of 0 pass."""
    return np.asarray(param) + learning_rate * np.asarray(grad)


def sigmoid_derivative(z):
    """Wrong in every case."""
    return np.zeros_like(np.asarray(z, dtype=float)) + 7.0


def test_a_partly_wrong_function_prints_its_points_and_where_the_feedback_is(capsys):
    """Is the cell's output one line: the rounded points and a pointer to check(...) above?"""
    earned = grade("chain_rule.sgd_update", sgd_update)
    printed = capsys.readouterr().out.strip()
    full = function("chain_rule.sgd_update").points
    assert 0 < earned < full
    assert printed == (
        f"chain_rule.sgd_update: {round(earned, 2):g} of {full:g} "
        f"point{'s' if full != 1 else ''}. "
        "What to fix is in the output of check(sgd_update) above."
    )
    check(sgd_update)
    feedback = capsys.readouterr().out
    assert "NOT YET" in feedback and "Hint:" in feedback  # the feedback lives here


def test_zero_points_fail_the_cell_with_the_same_short_message():
    """At zero points, does the cell fail (for nbgrader) with the points, not the feedback?"""
    with pytest.raises(AssertionError) as raised:
        grade("chain_rule.sigmoid_derivative", sigmoid_derivative)
    message = str(raised.value)
    full = function("chain_rule.sigmoid_derivative").points
    assert message.startswith(
        f"chain_rule.sigmoid_derivative: 0 of {full:g} point{'s' if full != 1 else ''}."
    )
    assert "check(sigmoid_derivative) above" in message
    assert "Expected" not in message and "Hint" not in message


def test_a_test_cell_never_reads_the_hidden_cases_secret(monkeypatch):
    """Does grade(...) in a student's kernel run without the secret (public cases only)?"""
    import grader.secret

    def refuse(*args, **kwargs):
        raise AssertionError("a test cell read the hidden cases' secret")

    for name in ("hidden_seed", "load_secret", "secret_path"):
        monkeypatch.setattr(grader.secret, name, refuse)
    monkeypatch.delenv("GRADER_SEED", raising=False)
    assert grade("chain_rule.sgd_update", sgd_update) > 0
