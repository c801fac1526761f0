"""Do the faster rebuilds give exactly what a full Keras rebuild gives?

Three shortcuts serve the grader's speed (issue 13): a plain Dense stack is read from its
plain data without building a Keras model (:func:`grader.measuring.measure.rebuild_for_measuring`),
Keras rebuilds skip drawing weights they overwrite (:func:`grader.measuring.rebuild.build_model`),
and a remembered reference run is keyed without the models' names
(:func:`grader.checks.expected.call_key`). Each is checked against the slow road it replaces,
and each refusal against the message the slow road gives.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.checks.expected import call_key
from grader.isolation.protocol import ModelSpec
from grader.measuring import measure
from grader.measuring.layout import describe_layout, first_activation
from grader.measuring.plain import ModelRebuildError
from grader.measuring.rebuild import describe_model, plain_dense_stack, rebuild_model
from grader.measuring.stack import DenseStack, dense_stack
from grader.measuring.vetting import vetted_plan
from solutions.deep_sigmoid import build_exploding_mlp, build_mlp
from solutions.remedies import build_healthy_mlp


def _biasless_ops_model():
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(5, use_bias=False, activation=keras.ops.sin),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )


STACKS = {
    "healthy-20x32": lambda: build_healthy_mlp(8, 20, 32, seed=3),
    "exploding-30x64": lambda: build_exploding_mlp(8, 30, 64, seed=4),
    "relu-he": lambda: build_mlp(8, 5, 7, "relu", "he_normal", seed=1),
    "no-bias-ops-sin": _biasless_ops_model,
}


@pytest.mark.parametrize("float64", [False, True], ids=["float32", "float64-weights"])
@pytest.mark.parametrize("build", list(STACKS.values()), ids=list(STACKS))
def test_a_plain_stack_equals_the_keras_rebuild(build, float64, rng):
    """Same weights, activations, layout, gradient norms and training run as rebuild_model."""
    spec = describe_model(build())
    if float64:  # set_weights casts to float32; the stack must round the same way
        spec = ModelSpec(spec.config, [w.astype(np.float64) * (1 + 1e-7) for w in spec.weights])
    fast = measure.rebuild_for_measuring(spec)
    keras_model = rebuild_model(spec)
    slow = dense_stack(keras_model)
    assert isinstance(fast, DenseStack)
    for mine, theirs in zip(fast.kernels + fast.biases, slow.kernels + slow.biases):
        assert (mine is None and theirs is None) or (
            mine.dtype == theirs.dtype and np.array_equal(mine, theirs)
        )
    assert fast.activations == slow.activations
    assert describe_layout(fast) == describe_layout(keras_model)
    assert first_activation(fast) == first_activation(keras_model)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        measure.gradient_norms(fast, x, y), measure.gradient_norms(keras_model, x, y)
    )
    np.testing.assert_array_equal(
        measure.train_full_batch(fast, x, y, 5, 0.05),
        measure.train_full_batch(keras_model, x, y, 5, 0.05),
    )


def _layer_norm_spec():
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(6, "tanh"), keras.layers.LayerNormalization()]
    )
    return describe_model(model)


def _changed(spec: ModelSpec, weights=None, config=None) -> ModelSpec:
    return ModelSpec(config if config is not None else spec.config, weights or spec.weights)


def _with_dtype(spec: ModelSpec, dtype: str) -> ModelSpec:
    config = json.loads(spec.config)
    config["config"]["layers"][1]["config"]["dtype"] = dtype
    return _changed(spec, config=json.dumps(config))


SMALL = describe_model(build_mlp(3, 2, 4, seed=1))
NOT_PLAIN = {
    "a normalisation layer": _layer_norm_spec(),
    "a float16 layer": _with_dtype(SMALL, "float16"),
    "a missing bias": _changed(SMALL, weights=SMALL.weights[:-1]),
    "an extra weight": _changed(SMALL, weights=[*SMALL.weights, SMALL.weights[-1]]),
    "a transposed kernel": _changed(SMALL, weights=[SMALL.weights[0].T, *SMALL.weights[1:]]),
    "integer weights": _changed(SMALL, weights=[w.astype(np.int64) for w in SMALL.weights]),
    "a config that is not JSON": _changed(SMALL, config="{not json"),
    "a custom activation": _changed(
        SMALL, config=SMALL.config.replace('"sigmoid"', '"my_module.my_sigmoid"')
    ),
}


@pytest.mark.parametrize("spec", list(NOT_PLAIN.values()), ids=list(NOT_PLAIN))
def test_anything_else_takes_the_keras_road_with_its_own_result(spec):
    """Not a plain float32 stack: no shortcut, and exactly rebuild_model's model or error."""
    try:
        plan = vetted_plan(spec)
    except ModelRebuildError:
        pass  # refused before either road; the error is compared below
    else:
        assert plain_dense_stack(plan, spec.weights) is None
    try:
        expected = rebuild_model(spec)
    except ModelRebuildError as error:
        with pytest.raises(ModelRebuildError) as raised:
            measure.rebuild_for_measuring(spec)
        assert str(raised.value) == str(error)
    else:
        got = measure.rebuild_for_measuring(spec)
        assert not isinstance(got, DenseStack)
        assert got.to_json() == expected.to_json()
        for mine, theirs in zip(got.get_weights(), expected.get_weights()):
            np.testing.assert_array_equal(mine, theirs)


def test_a_keras_rebuild_keeps_the_config_and_initializers_it_did_not_call():
    """Built with zeros, then set: the same config (initializers and seeds), the same weights."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            keras.layers.Dense(8, kernel_initializer=keras.initializers.Orthogonal(seed=3)),
            keras.layers.BatchNormalization(gamma_initializer="random_normal"),
            keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(0.5)),
        ]
    )
    spec = describe_model(model)
    rebuilt = rebuild_model(spec)
    assert json.loads(rebuilt.to_json()) == json.loads(spec.config)
    assert rebuilt.layers[0].kernel_initializer.get_config() == {"seed": 3, "gain": 1.0}
    assert all(np.array_equal(a, b) for a, b in zip(rebuilt.get_weights(), spec.weights))
    # What the initializers are for after the rebuild still works: a clone draws weights.
    clone = keras.models.clone_model(rebuilt)
    np.testing.assert_allclose(
        clone.layers[0].kernel.numpy(), model.layers[0].kernel.numpy(), rtol=1e-6
    )


def test_a_remembered_run_is_found_whatever_keras_named_the_model():
    """Same model under other names: one key. Another dtype policy (also a 'name'): another."""
    first = describe_model(build_mlp(3, 2, 4, seed=1))
    again = describe_model(build_mlp(3, 2, 4, seed=1))  # Keras numbers these names afresh
    assert json.loads(first.config)["config"]["name"] != json.loads(again.config)["config"]["name"]
    assert call_key("run", [first], {}) == call_key("run", [again], {})
    other_weights = describe_model(build_mlp(3, 2, 4, seed=2))
    assert call_key("run", [first], {}) != call_key("run", [other_weights], {})
    assert call_key("run", [first], {}) != call_key("run", [_with_dtype(first, "float16")], {})
