"""Do the model checks hold a returned model to the size its call asked for, and its measuring
to the grader's CPU budget, with verdicts of their own, while every right answer passes?

The student's functions are called in this process (:class:`InProcessRunner`): what is
checked is the grader's side, which is the same whichever process built the model.
"""

from __future__ import annotations

import pytest

from grader.checks.parts.deep_sigmoid import TOO_LARGE
from grader.checks.parts.remedies import OVER_BUDGET
from grader.checks.registry import run_check
from grader.checks.runner import InProcessRunner
from grader.measuring import bounds
from solutions.deep_sigmoid import build_exploding_mlp, build_mlp
from solutions.remedies import build_healthy_mlp


def _keras():
    import keras

    return keras


def _tanh_stack(input_dim, depth, width, between=(), dtype=None):
    keras = _keras()
    layers = [keras.Input(shape=(input_dim,), dtype=dtype)]
    for index in range(depth):
        init = keras.initializers.Orthogonal(seed=index)
        layers.append(keras.layers.Dense(width, "tanh", kernel_initializer=init, dtype=dtype))
        layers.extend(make() for make in between)
    layers.append(keras.layers.Dense(1, dtype=dtype))
    return keras.Sequential(layers)


def _healthy(builder):
    """A build_healthy_mlp from ``builder(input_dim, depth, width)``."""

    def build_healthy_mlp(input_dim, depth, width, seed=None):
        return builder(input_dim, depth, width)

    return build_healthy_mlp


def _grade(name: str, function) -> object:
    return run_check(name, InProcessRunner({name.split(".")[1]: function}), seed=7)


RIGHT = {
    "reference": build_healthy_mlp,
    "batch-norm-and-activation-layers": _healthy(
        lambda i, d, w: _tanh_stack(
            i,
            d,
            w,
            between=[
                _keras().layers.BatchNormalization,
                lambda: _keras().layers.Activation("linear"),
            ],
        )
    ),
    "float64": _healthy(lambda i, d, w: _tanh_stack(i, d, w, dtype="float64")),
    "width-fixed-at-64": _healthy(lambda i, d, w: _tanh_stack(i, d, 64)),
}


@pytest.mark.parametrize("name", list(RIGHT))
def test_right_healthy_models_pass_within_the_bounds(name):
    """Do the reference and right answers of other shapes score full marks, size bound and
    CPU budget in force?"""
    result = _grade("remedies.build_healthy_mlp", RIGHT[name])
    assert result.status == "passed", result.output


def test_a_healthy_model_larger_than_asked_gets_its_own_verdict_unmeasured(monkeypatch):
    """Is a right-but-oversized build_healthy_mlp (three times as wide) failed on every case
    as larger than the contract asks, with the bound and its size, and never measured?"""
    from grader.checks.parts import remedies

    def measured(*args):
        raise AssertionError("an oversized model was measured")

    monkeypatch.setattr(remedies, "gradient_norms", measured)
    result = _grade(
        "remedies.build_healthy_mlp", _healthy(lambda i, d, w: _tanh_stack(i, d, 3 * w))
    )
    assert result.score == 0 and len(result.cases) == 4
    for case in result.cases:
        assert case.category == TOO_LARGE, case
        assert "Expected: a model of at most" in case.message
        assert "Received: a model of" in case.message and "weights in" in case.message
        assert "Hint: Build what the call asks for" in case.message


def test_an_exploding_model_larger_than_asked_gets_the_same_verdict():
    """Is an oversized build_exploding_mlp refused with the same category?"""

    def build_exploding_mlp_wide(input_dim, depth, width, seed=None):
        return build_exploding_mlp(input_dim, depth, 3 * width, seed=seed)

    result = _grade("deep_sigmoid.build_exploding_mlp", build_exploding_mlp_wide)
    assert [case.category for case in result.cases] == [TOO_LARGE] * 4


def test_build_mlp_is_held_to_its_own_calls_sizes():
    """Does the reference build_mlp pass, and one that makes every layer 4096 wide fail as
    too large (not merely as a wrong layout)?"""
    assert _grade("deep_sigmoid.build_mlp", build_mlp).status == "passed"

    def build_mlp_wide(input_dim, depth, width, activation="sigmoid", **kwargs):
        return build_mlp(input_dim, depth, 4096, activation=activation, **kwargs)

    result = _grade("deep_sigmoid.build_mlp", build_mlp_wide)
    layout_cases = [
        case for case in result.cases if " layers and a linear Dense(1)" in case.description
    ]
    assert len(layout_cases) == 3
    assert all(case.category == TOO_LARGE for case in layout_cases), result.output


def test_measuring_past_the_cpu_budget_stops_with_its_own_verdict(monkeypatch):
    """With a budget too small for any model, is every case of the reference failed as too
    long to measure, saying where it stopped, and not as a grader fault?"""
    monkeypatch.setattr(bounds, "MEASURE_CPU_SECONDS", 1e-9)
    result = _grade("remedies.build_healthy_mlp", build_healthy_mlp)
    assert result.score == 0 and len(result.cases) == 4
    for case in result.cases:
        assert case.category == OVER_BUDGET, case
        assert "Expected: a model the grader measures within 1e-09 s" in case.message
        assert "at 0 of 200 training steps" in case.message
