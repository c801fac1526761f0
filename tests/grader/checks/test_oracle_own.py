"""Does every helper call the reference declines run the student's own helper?

The reference answers a helper call only when the helper comes earlier in the contract,
its arguments are within the contract's sizes, and it finishes in the time left; every
other call runs the student's own code, as it would in Python. A correct student whose
helper call is too big for the reference still gets the right answer: their own.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import grader.checks.oracle as oracle
from grader.assignment import function, functions_of
from grader.checks.oracle import MAX_ELEMENTS, answer_callback, helpers_of
from grader.checks.runner import InProcessRunner
from grader.course.sources import reference_source
from grader.isolation.protocol import decode, encode


def _message(name: str, *args: Any) -> dict[str, Any]:
    return {"function": name, "args": encode(list(args)), "kwargs": encode({})}


X = np.linspace(-3, 3, 16)

DECLINED = [
    (
        "later-helper",
        lambda: answer_callback(
            "chain_rule",
            helpers_of("chain_rule.sigmoid"),
            _message("chain_forward", X, np.ones(2), np.zeros(2)),
        ),
        "not answered by the reference",
    ),
    (
        "over-the-bounds",
        lambda: answer_callback(
            "chain_rule",
            ["chain_forward"],
            _message("chain_forward", np.zeros(MAX_ELEMENTS + 1), np.ones(2), np.zeros(2)),
        ),
        "larger than the contract's cases",
    ),
    (
        "no-time-left",
        lambda: answer_callback(
            "chain_rule",
            ["chain_forward"],
            _message("chain_forward", X, np.ones(2), np.zeros(2)),
            time.monotonic() - 1,
        ),
        "ReferenceTimeout",
    ),
    (
        "reference-fails-on-the-arguments",
        lambda: answer_callback(
            "chain_rule",
            ["chain_forward"],
            _message("chain_forward", np.zeros(3), np.ones((1, 2)), np.zeros(1)),
        ),
        "ValueError",
    ),
]


@pytest.mark.parametrize("case, reply, reason", DECLINED, ids=[c[0] for c in DECLINED])
def test_a_declined_call_is_answered_with_the_students_own(case, reply, reason):
    """Is every call the reference declines answered 'own', with the reason for the log?"""
    answer = reply()
    assert answer["ok"] is False and answer["own"] is True, answer
    assert reason in answer["error"], answer


def test_an_allowed_call_within_the_bounds_gets_the_reference():
    """Does a call within order, bounds and time get the reference's value, not 'own'?"""
    answer = answer_callback(
        "chain_rule",
        helpers_of("chain_rule.chain_gradients"),
        _message("chain_forward", X, np.ones(2), np.zeros(2)),
        time.monotonic() + 30,
    )
    assert answer["ok"] is True and "own" not in answer
    reference = oracle.expected.reference("chain_rule").chain_forward(X, np.ones(2), np.zeros(2))
    np.testing.assert_allclose(decode(answer["result"]), reference)


def _builds(monkeypatch) -> list[tuple[Any, ...]]:
    """The calls that reach the reference's code from now on, with no answer kept yet."""
    monkeypatch.setattr(oracle, "_ANSWERS", type(oracle._ANSWERS)())
    calls: list[tuple[Any, ...]] = []
    real = oracle.reference_value

    def counted(part, name, args, kwargs, time_limit=None):
        calls.append((name, *args, *kwargs.values()))
        return real(part, name, args, kwargs, time_limit=time_limit)

    monkeypatch.setattr(oracle, "reference_value", counted)
    return calls


def _build_mlp(*args: Any, **kwargs: Any) -> dict[str, Any]:
    message = {"function": "build_mlp", "args": encode(list(args)), "kwargs": encode(kwargs)}
    return answer_callback("deep_sigmoid", ["build_mlp"], message)


@pytest.mark.slow
def test_a_seeded_builder_call_is_built_once_and_answered_the_same(monkeypatch):
    """Is the same seeded build_mlp call (a hidden case every student of a batch meets)
    built by the reference once per process, with the same answer as a fresh build, while
    another seed, another initializer or no seed is built again?"""
    builds = _builds(monkeypatch)
    first = _build_mlp(8, 20, 16, activation="tanh", seed=3)
    again = _build_mlp(8, 20, 16, activation="tanh", seed=3)
    assert first["ok"] and again == first
    assert len(builds) == 1
    oracle._ANSWERS.clear()
    assert _build_mlp(8, 20, 16, activation="tanh", seed=3) == first  # built afresh: equal
    assert len(builds) == 2

    assert _build_mlp(8, 20, 16, activation="tanh", seed=4) != first
    assert _build_mlp(8, 20, 16, activation="tanh", kernel_initializer="he_normal", seed=3) != first
    assert len(builds) == 4
    unseeded = [_build_mlp(3, 2, 4), _build_mlp(3, 2, 4)]
    assert len(builds) == 6  # drawn from Keras's global random state: never kept
    assert unseeded[0] != unseeded[1]


def test_a_huge_rnn_helper_call_runs_no_reference(monkeypatch):
    """Is a 1500-unit RNN helper call declined at once, before any reference code runs?"""
    ran = []
    monkeypatch.setattr(oracle.expected, "reference", lambda part: ran.append(part))
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(1500, 1500)), rng.normal(size=(1500, 2)), np.zeros(1500)]
    args += [rng.normal(size=(5, 2)), np.zeros(1500)]
    started = time.monotonic()
    answer = answer_callback(
        "remedies", ["rnn_jacobian_norms"], _message("rnn_jacobian_norms", *args)
    )
    assert time.monotonic() - started < 5
    assert answer["own"] is True and "over the bound" in answer["error"]
    assert ran == []


#: A correct sigmoid_derivative whose sigmoid call is over the oracle's bounds.
OVER_BOUNDS = """

def sigmoid_derivative(z):
    z = np.asarray(z, dtype=np.float64)
    padded = np.concatenate([z.ravel(), np.zeros(5000)])  # more numbers than any case
    s = sigmoid(padded)[: z.size].reshape(z.shape)
    return s * (1.0 - s)
"""
#: A wrong sigmoid of the student's own: what an over-the-bounds call then gets.
WRONG_SIGMOID = """

def sigmoid(z):
    return np.full(np.shape(z), 0.5)
"""


def _namespace(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<submission chain_rule>", "exec"), namespace)  # noqa: S102
    return namespace


def test_an_over_the_bounds_helper_call_gets_the_students_own_answer():
    """Does a correct helper called over the bounds give its right answer, a wrong one its own?"""
    z = np.linspace(-4, 4, 11)
    expected = oracle.expected.reference("chain_rule").sigmoid_derivative(z)
    right = InProcessRunner(_namespace(reference_source("chain_rule") + OVER_BOUNDS))
    outcome = right.call("chain_rule", "sigmoid_derivative", [z])
    assert outcome.ok, outcome.error_sentence("sigmoid_derivative")
    np.testing.assert_allclose(outcome.value, expected)
    wrong = InProcessRunner(
        _namespace(reference_source("chain_rule") + WRONG_SIGMOID + OVER_BOUNDS)
    )
    outcome = wrong.call("chain_rule", "sigmoid_derivative", [z])
    assert outcome.ok
    np.testing.assert_allclose(outcome.value, np.full(z.shape, 0.25))  # its own sigmoid's


@pytest.mark.slow
def test_a_correct_over_the_bounds_helper_call_scores_full(tmp_path):
    """Graded, does the correct submission keep every point, the wrong sigmoid's cost its own?"""
    from grader.grade import grade_submission
    from grader.isolation.sandbox import PartSandboxes
    from tests.grader.conftest import write_submission

    right = write_submission(
        tmp_path / "right", {"chain_rule.py": reference_source("chain_rule") + OVER_BOUNDS}
    )
    wrong = write_submission(
        tmp_path / "wrong",
        {"chain_rule.py": reference_source("chain_rule") + WRONG_SIGMOID + OVER_BOUNDS},
    )
    with PartSandboxes() as workers:
        right_report = grade_submission(right, sandbox=workers)
        wrong_report = grade_submission(wrong, sandbox=workers)
    for spec in functions_of("chain_rule"):
        test = right_report.test(spec.test_name)
        assert test.score == function(spec.test_name).points, (spec.test_name, test.output)
    for name in ("chain_rule.sigmoid", "chain_rule.sigmoid_derivative"):
        assert wrong_report.test(name).score < function(name).points, name
    # sigmoid is answered by the reference wherever its call is within the bounds
    assert (
        wrong_report.test("chain_rule.chain_forward").score
        == function("chain_rule.chain_forward").points
    )
