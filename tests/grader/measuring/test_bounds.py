"""Is a student's model held to the size its call asked for, and its measuring to a CPU budget?

Both bounds are the grader's own: a right answer (normalisation, activation, dropout and
noise layers between the Dense layers, float64 weights, a width fixed a little above the
one asked for) is never refused, and a model larger than the call asks for, or one whose
measuring runs past the budget, is stopped with a verdict of its own.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.measuring import bounds, measure
from grader.measuring.bounds import (
    BudgetExceeded,
    ContractSize,
    CpuBudget,
    ModelTooLarge,
    dense_weights,
)
from grader.measuring.data import sine_task
from grader.measuring.in_worker import measure_in_worker
from grader.measuring.plain import ModelRebuildError
from grader.measuring.reading import UnreadableMeasurement, read_measurement
from grader.measuring.rebuild import describe_model
from grader.measuring.vetting import MAX_LAYERS, MAX_PARAMETERS, vet_model_config, vetted_plan
from solutions.deep_sigmoid import build_exploding_mlp, build_mlp
from solutions.remedies import build_healthy_mlp

#: The contract's smallest and largest (depth, width) of build_healthy_mlp's cases.
SIZES = [(20, 32), (30, 64)]


def _keras():
    import keras

    return keras


def _stack(input_dim, depth, width, between=(), dtype=None, before=(), output=()):
    """``depth`` tanh Dense(width) layers, each followed by the layers ``between`` makes,
    then Dense(1): the shape of the right answers students write."""
    keras = _keras()
    layers = [keras.Input(shape=(input_dim,), dtype=dtype), *(make() for make in before)]
    for index in range(depth):
        init = keras.initializers.Orthogonal(seed=index)
        layers.append(keras.layers.Dense(width, "tanh", kernel_initializer=init, dtype=dtype))
        layers.extend(make() for make in between)
    layers.append(keras.layers.Dense(1, dtype=dtype))
    layers.extend(make() for make in output)
    return keras.Sequential(layers)


def _right_variants():
    keras = _keras()
    return {
        "reference": lambda i, d, w: build_healthy_mlp(i, d, w, seed=1),
        "batch-norm-and-activation": lambda i, d, w: _stack(
            i,
            d,
            w,
            between=[keras.layers.BatchNormalization, lambda: keras.layers.Activation("tanh")],
        ),
        "two-norms-dropout-noise": lambda i, d, w: _stack(
            i,
            d,
            w,
            between=[
                keras.layers.LayerNormalization,
                keras.layers.BatchNormalization,
                lambda: keras.layers.Dropout(0.1),
                lambda: keras.layers.GaussianNoise(0.01),
                lambda: keras.layers.Activation("linear"),
            ],
            before=[keras.layers.BatchNormalization],
            output=[lambda: keras.layers.Activation("linear")],
        ),
        "float64": lambda i, d, w: _stack(i, d, w, dtype="float64"),
        "width-fixed-at-64": lambda i, d, w: _stack(i, d, 64),
    }


def test_the_contract_size_counts_the_contracts_layout():
    """Is the contract's size the reference models' own weight count, for every builder?"""
    for depth, width in SIZES:
        assert (
            ContractSize(8, depth, width).weights
            == build_healthy_mlp(8, depth, width).count_params()
        )
        assert (
            ContractSize(8, depth, width).weights
            == build_exploding_mlp(8, depth, width).count_params()
        )
    assert ContractSize(3, 2, 4).weights == build_mlp(3, 2, 4).count_params()
    assert dense_weights(5, 0, 9) == 6  # no hidden layer: Dense(1) on the inputs


@pytest.mark.parametrize("variant", list(_right_variants()))
@pytest.mark.parametrize("depth, width", SIZES)
def test_right_answers_are_within_the_bound(variant, depth, width):
    """Is every shape of right answer, at the contract's sizes, accepted by the size bound?"""
    model = _right_variants()[variant](8, depth, width)
    plan = vetted_plan(describe_model(model), ContractSize(8, depth, width))
    assert plan.parameters >= model.count_params()  # vetting never undercounts


def _oversized():
    keras = _keras()
    return {
        # three times as wide as asked: nine times the weights of each hidden layer
        "three-times-as-wide": (lambda d, w: _stack(8, d, 3 * w), "weights"),
        # the reviewer's case: 5 M weights of plain Dense layers
        "five-million-weights": (lambda d, w: _stack(8, d, 410), "weights"),
        # a right number of weights spread over far more layers than any right answer
        "hundreds-of-layers": (
            lambda d, w: _stack(8, d, w, between=[lambda: keras.layers.Activation("tanh")] * 8),
            "layers",
        ),
    }


@pytest.mark.parametrize("name", list(_oversized()))
def test_a_model_larger_than_the_call_asks_for_is_refused_before_it_is_built(name, monkeypatch):
    """Is a model over the call's bound refused by the vetting, with its size and the bound?"""
    from grader.measuring import rebuild

    build, over = _oversized()[name]
    depth, width = 30, 64
    model = build(depth, width)
    spec = describe_model(model)
    size = ContractSize(8, depth, width)
    assert model.count_params() <= MAX_PARAMETERS  # the allow-list alone lets it through
    vetted_plan(spec)

    def built(*args):
        raise AssertionError("a model over its bound was built")

    monkeypatch.setattr(rebuild, "model_from_plan", built)
    monkeypatch.setattr(measure, "plain_dense_stack", built)
    monkeypatch.setattr(measure, "model_from_plan", built)
    with pytest.raises(ModelTooLarge) as refused:
        measure.rebuild_for_measuring(spec, size)
    with pytest.raises(ModelTooLarge):
        rebuild.rebuild_model(spec, size)
    error = refused.value
    assert error.weights >= model.count_params() and error.layers == len(model.layers)
    assert (error.weights > size.max_weights) == (over == "weights")
    assert (error.layers > size.max_layers) == (over == "layers")
    assert f"{size.max_weights:,} weights" in size.expected()
    assert f"{size.weights:,} weights" in size.expected()
    assert f"{error.weights:,} weights in {error.layers} layers" in error.received()


def test_the_bound_follows_the_call_not_a_fixed_figure():
    """Is a model right for a large call refused for a small one (the bound is the call's)?"""
    spec = describe_model(build_healthy_mlp(8, 30, 64, seed=1))
    vetted_plan(spec, ContractSize(8, 30, 64))
    with pytest.raises(ModelTooLarge):
        vetted_plan(spec, ContractSize(8, 3, 4))


def _config_with(model, change):
    config = json.loads(model.to_json())
    change(config["config"]["layers"])
    return config


def test_the_calls_bound_is_said_before_the_allow_lists_outer_limits():
    """Is a config past the allow-list's own limits (weights, layers) refused as larger than
    the call asks for when the call is known, and by the outer limit otherwise?"""
    size = ContractSize(8, 3, 4)

    def widen(layers):  # two Dense(4096) back to back: 16.8 M weights, then 4096 x 4096 more
        for layer in layers[1:3]:
            layer["config"]["units"] = 4096
        layers.insert(2, json.loads(json.dumps(layers[2])))

    def lengthen(layers):
        layers[2:2] = [json.loads(json.dumps(layers[2])) for _ in range(MAX_LAYERS)]

    for change, weights in [(widen, True), (lengthen, False)]:
        config = _config_with(_stack(8, 3, 4), change)
        with pytest.raises(ModelTooLarge) as refused:
            vet_model_config(config, size)
        assert (refused.value.weights is not None) == weights
        with pytest.raises(ModelRebuildError, match="more than") as outer:
            vet_model_config(config)
        assert not isinstance(outer.value, ModelTooLarge)
    assert refused.value.received() == f"a model of {MAX_LAYERS + 4} layers"


# -- a model measured in the student's worker ------------------------------------------------


def test_a_worker_measures_nothing_of_a_model_over_the_bound_and_the_grader_says_so(rng):
    """Is a model of the student's own parts over the bound left unmeasured in the worker,
    and read in the grader as too large, whatever the layout?"""
    keras = _keras()
    big = _stack(8, 20, 3 * 32, between=[lambda: keras.layers.Activation(keras.ops.sin)])
    x, y = rng.standard_normal((6, 8)), rng.standard_normal((6, 1))
    task_x, task_y = sine_task(rng, 8, samples=6)
    answer = measure_in_worker(
        big, 8, 20, 32, x, y, task_x, task_y, kind="healthy", steps=3, learning_rate=0.05
    )
    assert answer["norms"] == [] and answer["losses"] == []
    read = read_measurement(answer, "healthy", 8, 20, 32, steps=3)
    assert isinstance(read["too_large"], ModelTooLarge)
    assert read["too_large"].weights == big.count_params()

    right = _stack(8, 20, 32, between=[lambda: keras.layers.Activation(keras.ops.sin)])
    answer = measure_in_worker(
        right, 8, 20, 32, x, y, task_x, task_y, kind="healthy", steps=3, learning_rate=0.05
    )
    read = read_measurement(answer, "healthy", 8, 20, 32, steps=3)
    assert read["too_large"] is None and read["norms"].shape == (21,)


@pytest.mark.parametrize("forged", [None, -1, 1.5, "12", True])
def test_sizes_from_a_worker_that_are_not_counts_are_refused(forged, rng):
    """Is a worker's answer whose model sizes are not counts refused as unreadable?"""
    model = _stack(3, 2, 4)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    answer = measure_in_worker(model, 3, 2, 4, x, y)
    answer["layout"]["weights"] = forged
    with pytest.raises(UnreadableMeasurement):
        read_measurement(answer, "exploding", 3, 2, 4)


# -- the CPU budget ----------------------------------------------------------------------------


class _Clock:
    """A process clock that reads ``readings`` in turn, then 10 s for ever."""

    def __init__(self, readings: list[float]) -> None:
        self.readings = list(readings)

    def process_time(self) -> float:
        return self.readings.pop(0) if self.readings else 10.0


def test_a_spent_budget_stops_and_says_how_far_it_got():
    """Does a budget past its seconds raise, with the figures, and an unspent one not?"""
    CpuBudget(60.0).check("nothing")
    spent = CpuBudget(-1.0)
    with pytest.raises(BudgetExceeded) as stopped:
        spent.check("3 of 200 training steps")
    assert stopped.value.seconds == -1.0 and stopped.value.done == "3 of 200 training steps"
    assert stopped.value.spent >= 0


@pytest.mark.parametrize("keras_path", [False, True], ids=["compiled-stack", "keras-sgd"])
def test_training_stops_at_the_budget_between_steps(keras_path, rng, monkeypatch):
    """Does a training run stop between steps once the budget is spent, compiled or not?"""
    model = build_healthy_mlp(8, 3, 8, seed=2)
    if keras_path:
        model = _stack(8, 3, 8, between=[_keras().layers.BatchNormalization])
    x, y = sine_task(rng, 8, samples=32)
    full = measure.train_full_batch(model, x, y, 45, 0.05, CpuBudget(600.0))
    assert full.shape == (45,)
    if not keras_path:  # the compiled run, in calls of TRAINING_CHUNK steps, is one run
        np.testing.assert_array_equal(full, measure.train_full_batch(model, x, y, 45, 0.05))

    monkeypatch.setattr(bounds, "time", _Clock([0.0, 0.0, 0.0]))  # start, two checks, then 10 s
    with pytest.raises(BudgetExceeded) as stopped:
        measure.train_full_batch(model, x, y, 45, 0.05, CpuBudget(5.0))
    done = 2 * measure.TRAINING_CHUNK if not keras_path else 2
    assert stopped.value.done == f"{done} of 45 training steps"


def test_the_budget_is_read_when_a_measurement_starts(monkeypatch):
    """Does a budget take the module's figure at its start (so a test or a course can set it)?"""
    monkeypatch.setattr(bounds, "MEASURE_CPU_SECONDS", 0.25)
    assert CpuBudget().seconds == 0.25
