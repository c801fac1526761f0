"""Check the reference solution of Part 2 `deep_sigmoid`.

The independent reference for the gradient norms is a ``tf.GradientTape`` written here,
never the solution's own ``dense_grad_norms``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from solutions import deep_sigmoid

# ---------------------------------------------------------------------------------------
# Helpers


def tape_kernel_norms(model, x, y):
    """Return the L2 norm of dMSE/d(kernel) of every Dense layer, input side first."""
    x = tf.constant(np.asarray(x, dtype=np.float32))
    y = tf.constant(np.asarray(y, dtype=np.float32).reshape(-1, 1))
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.math.squared_difference(model(x), y))
    grads = tape.gradient(loss, kernels)
    return np.array([np.linalg.norm(g.numpy().astype(np.float64).ravel()) for g in grads])


def standard_normal_data(seed, m=64, input_dim=8):
    """Return the grader's data: m standard-normal inputs (m, input_dim) and targets (m, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, input_dim)).astype(np.float32)
    y = rng.standard_normal((m, 1)).astype(np.float32)
    return x, y


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def numpy_forward(model, x, activation):
    """Run a Dense-only model in NumPy from its weights: the independent forward pass."""
    act = {
        "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
        "tanh": np.tanh,
        "relu": lambda z: np.maximum(z, 0.0),
    }[activation]
    out = np.asarray(x, dtype=np.float64)
    layers = dense_layers(model)
    for index, layer in enumerate(layers):
        kernel, bias = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
        out = out @ kernel + bias
        if index < len(layers) - 1:
            out = act(out)
    return out


# ---------------------------------------------------------------------------------------
# dense_grad_norms


def hand_built_models():
    """Models not made by build_mlp, one with a non-Dense layer between Dense layers."""
    plain = keras.Sequential(
        [
            keras.Input(shape=(5,)),
            keras.layers.Dense(7, activation="tanh"),
            keras.layers.Dense(3, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    mixed = keras.Sequential(
        [
            keras.Input(shape=(5,)),
            keras.layers.Dense(6, activation="sigmoid"),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dense(9, activation="elu"),
            keras.layers.Dense(1),
        ]
    )
    return {"plain": plain, "mixed": mixed}


@pytest.mark.parametrize("name", ["plain", "mixed"])
def test_dense_grad_norms_match_tape_on_hand_built_models(name, rng):
    """Does dense_grad_norms equal norms from a GradientTape on a hand-built model?"""
    model = hand_built_models()[name]
    x = rng.standard_normal((20, 5)).astype(np.float32)
    y = rng.standard_normal((20, 1)).astype(np.float32)
    expected = tape_kernel_norms(model, x, y)
    result = np.asarray(deep_sigmoid.dense_grad_norms(model, x, y), dtype=np.float64)
    assert result.shape == (len(dense_layers(model)),)
    assert np.all(expected > 0)
    np.testing.assert_allclose(result, expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("depth", "width", "activation"), [(1, 4, "sigmoid"), (6, 16, "tanh"), (12, 8, "sigmoid")]
)
def test_dense_grad_norms_match_tape_on_build_mlp(depth, width, activation, rng):
    """Does dense_grad_norms equal tape norms, input side first, on build_mlp models?"""
    model = deep_sigmoid.build_mlp(8, depth, width, activation=activation, seed=3)
    x = rng.standard_normal((32, 8)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    expected = tape_kernel_norms(model, x, y)
    result = np.asarray(deep_sigmoid.dense_grad_norms(model, x, y), dtype=np.float64)
    assert result.shape == (depth + 1,)
    np.testing.assert_allclose(result, expected, rtol=1e-5)


def test_dense_grad_norms_same_for_column_and_flat_targets(rng):
    """Do targets of shape (m, 1), (m,), a list and float64 give the same norms?"""
    model = deep_sigmoid.build_mlp(8, 3, 10, seed=1)
    x = rng.standard_normal((16, 8))
    y = rng.standard_normal(16)
    column = np.asarray(deep_sigmoid.dense_grad_norms(model, x, y[:, None]))
    flat = np.asarray(deep_sigmoid.dense_grad_norms(model, x, y))
    as_lists = np.asarray(deep_sigmoid.dense_grad_norms(model, x.tolist(), y.tolist()))
    np.testing.assert_allclose(flat, column, rtol=1e-6)
    np.testing.assert_allclose(as_lists, column, rtol=1e-6)
    np.testing.assert_allclose(column, tape_kernel_norms(model, x, y), rtol=1e-5)


def test_dense_grad_norms_leave_inputs_and_weights_unchanged(rng):
    """Does dense_grad_norms leave x, y and the model's weights as they were?"""
    model = deep_sigmoid.build_mlp(8, 2, 6, seed=2)
    x = rng.standard_normal((10, 8))
    y = rng.standard_normal((10, 1))
    before = [x.copy(), y.copy()], [w.copy() for w in model.get_weights()]
    deep_sigmoid.dense_grad_norms(model, x, y)
    np.testing.assert_array_equal(x, before[0][0])
    np.testing.assert_array_equal(y, before[0][1])
    for after, was in zip(model.get_weights(), before[1], strict=True):
        np.testing.assert_array_equal(after, was)


@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
def test_20_layer_sigmoid_mlp_vanishes(seed, request):
    """Does a 20-layer sigmoid build_mlp show about 12 orders of magnitude of vanishing?"""
    model = deep_sigmoid.build_mlp(8, 20, 32, seed=seed)
    x, y = standard_normal_data(seed)
    norms = tape_kernel_norms(model, x, y)
    span = norms[-1] / norms[0]
    request.node.user_properties.append(("sigmoid_20_span", float(span)))
    assert np.all(np.isfinite(norms)) and np.all(norms > 0)
    assert span > 1e9, f"output/input norm ratio only {span:.3g}"
    assert deep_sigmoid.gradient_regime(norms) == "vanishing"


# ---------------------------------------------------------------------------------------
# build_exploding_mlp


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
@pytest.mark.parametrize("width", [32, 64], ids=lambda w: f"width{w}")
@pytest.mark.parametrize("depth", [20, 30], ids=lambda d: f"depth{d}")
def test_build_exploding_mlp_explodes(depth, width, seed, request):
    """Do build_exploding_mlp's tape norms stay finite with norms[0]/norms[-1] >= 1e3?"""
    model = deep_sigmoid.build_exploding_mlp(8, depth, width, seed=seed)
    assert len(dense_layers(model)) == depth + 1
    x, y = standard_normal_data(seed + 1000)
    norms = tape_kernel_norms(model, x, y)
    ratio = norms[0] / norms[-1]
    request.node.user_properties.append(("exploding_ratio", float(ratio)))
    assert np.all(np.isfinite(norms)) and np.all(norms > 0)
    assert ratio >= 1e3, f"input/output norm ratio only {ratio:.3g}"
    assert deep_sigmoid.gradient_regime(norms) == "exploding"


@pytest.mark.parametrize("width", [32, 64], ids=lambda w: f"width{w}")
def test_build_exploding_mlp_already_grows_at_depth_10(width):
    """Is norms[0]/norms[-1] already above 10 at depth 10?"""
    for seed in range(3):
        model = deep_sigmoid.build_exploding_mlp(8, 10, width, seed=seed)
        norms = tape_kernel_norms(model, *standard_normal_data(seed + 1000))
        assert np.all(np.isfinite(norms))
        assert norms[0] / norms[-1] > 10.0, f"seed {seed}: {norms[0] / norms[-1]:.3g}"


def test_build_exploding_mlp_layout_and_seed():
    """Is build_exploding_mlp laid out as build_mlp, and does its seed fix the weights?"""
    model = deep_sigmoid.build_exploding_mlp(8, 4, 16, seed=5)
    layers = dense_layers(model)
    assert len(model.layers) == len(layers) == 5
    assert [layer.units for layer in layers] == [16, 16, 16, 16, 1]
    assert layers[-1].get_config()["activation"] == "linear"
    again = deep_sigmoid.build_exploding_mlp(8, 4, 16, seed=5)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------
# build_mlp


@pytest.mark.parametrize(
    ("input_dim", "depth", "width", "activation"),
    [(8, 20, 32, "sigmoid"), (3, 1, 5, "tanh"), (4, 3, 7, "relu")],
    ids=["sigmoid-20x32", "tanh-1x5", "relu-3x7"],
)
def test_build_mlp_layout(input_dim, depth, width, activation, rng):
    """Does build_mlp stack depth Dense(width, activation) layers and a linear Dense(1)?"""
    model = deep_sigmoid.build_mlp(input_dim, depth, width, activation=activation, seed=0)
    assert isinstance(model, keras.Sequential)
    layers = dense_layers(model)
    assert len(model.layers) == len(layers) == depth + 1
    for layer in layers[:-1]:
        assert layer.units == width
        assert layer.get_config()["activation"] == activation
    assert layers[-1].units == 1
    assert layers[-1].get_config()["activation"] == "linear"
    shapes = [tuple(layer.kernel.shape) for layer in layers]
    assert shapes == [(input_dim, width)] + [(width, width)] * (depth - 1) + [(width, 1)]
    x = rng.standard_normal((9, input_dim)).astype(np.float32)
    out = np.asarray(model(x))
    assert out.shape == (9, 1)
    np.testing.assert_allclose(out, numpy_forward(model, x, activation), rtol=1e-4, atol=1e-5)


def test_build_mlp_defaults_to_sigmoid_and_glorot_uniform():
    """Are the defaults a sigmoid activation and Glorot-uniform kernels?"""
    model = deep_sigmoid.build_mlp(256, 2, 512, seed=0)
    layers = dense_layers(model)
    assert [layer.get_config()["activation"] for layer in layers] == [
        "sigmoid",
        "sigmoid",
        "linear",
    ]
    kernel = np.asarray(layers[1].kernel)  # 512 x 512
    limit = np.sqrt(6.0 / (512 + 512))
    assert np.abs(kernel).max() <= limit * (1 + 1e-6)
    assert np.abs(kernel).max() >= 0.98 * limit
    assert kernel.std() == pytest.approx(limit / np.sqrt(3.0), rel=0.02)


def test_build_mlp_same_seed_same_weights():
    """Does the same seed give bitwise the same weights?"""
    first = deep_sigmoid.build_mlp(8, 4, 16, seed=3).get_weights()
    second = deep_sigmoid.build_mlp(8, 4, 16, seed=3).get_weights()
    assert len(first) == len(second) == 10
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("initializer", ["glorot_uniform", "he_normal"])
def test_build_mlp_different_seed_different_weights(initializer):
    """Do different seeds give different kernels?"""
    first = deep_sigmoid.build_mlp(8, 4, 16, kernel_initializer=initializer, seed=3)
    second = deep_sigmoid.build_mlp(8, 4, 16, kernel_initializer=initializer, seed=4)
    for a, b in zip(dense_layers(first), dense_layers(second), strict=True):
        assert not np.array_equal(np.asarray(a.kernel), np.asarray(b.kernel))


def test_build_mlp_seeded_layers_differ_from_each_other():
    """Do the equally shaped hidden layers of one seeded model get different kernels?"""
    kernels = [
        np.asarray(layer.kernel) for layer in dense_layers(deep_sigmoid.build_mlp(8, 4, 16, seed=3))
    ]
    for i in range(1, 4):
        for j in range(i + 1, 4):
            assert not np.array_equal(kernels[i], kernels[j])


def test_build_mlp_respects_he_normal():
    """Does kernel_initializer="he_normal" give a wide layer std near sqrt(2/fan_in)?"""
    model = deep_sigmoid.build_mlp(
        256, 2, 512, activation="relu", kernel_initializer="he_normal", seed=1
    )
    first, second, _ = (np.asarray(layer.kernel) for layer in dense_layers(model))
    assert first.std() == pytest.approx(np.sqrt(2.0 / 256), rel=0.10)
    assert second.std() == pytest.approx(np.sqrt(2.0 / 512), rel=0.10)
    # Not the Glorot-uniform default: a normal has far heavier tails than its limit.
    assert np.abs(second).max() > np.sqrt(6.0 / 1024) * 1.2


def test_build_mlp_accepts_initializer_instances():
    """Does build_mlp take initializer instances, seeded and unseeded?"""
    constant = deep_sigmoid.build_mlp(3, 2, 4, kernel_initializer=keras.initializers.Constant(0.25))
    for layer in dense_layers(constant):
        np.testing.assert_array_equal(np.asarray(layer.kernel), 0.25)
    normal = keras.initializers.RandomNormal(stddev=0.5)
    model = deep_sigmoid.build_mlp(64, 1, 400, kernel_initializer=normal, seed=2)
    assert np.asarray(dense_layers(model)[0].kernel).std() == pytest.approx(0.5, rel=0.05)


# ---------------------------------------------------------------------------------------
# gradient_regime


@pytest.mark.parametrize(
    ("norms", "threshold", "expected"),
    [
        pytest.param([1.0, 1e4], 1e3, "vanishing", id="vanishing-1e4"),
        pytest.param([1e4, 1.0], 1e3, "exploding", id="exploding-1e4"),
        pytest.param([1.0, 2.0, 3.0], 1e3, "stable", id="stable"),
        pytest.param([0.5, 500.0], 1e3, "stable", id="ratio-exactly-1e3-is-stable"),
        pytest.param([500.0, 0.5], 1e3, "stable", id="inverse-exactly-1e3-is-stable"),
        pytest.param([1.0, 1000.5], 1e3, "vanishing", id="just-above-vanishing"),
        pytest.param([1000.5, 1.0], 1e3, "exploding", id="just-above-exploding"),
        pytest.param([1.0, 1e9, 1e-9, 2.0], 1e3, "stable", id="middle-layers-ignored"),
        pytest.param([3e-12, 1e-3, 4.0], 1e3, "vanishing", id="sigmoid-like"),
        pytest.param([1.0, 11.0], 10.0, "vanishing", id="custom-threshold-vanishing"),
        pytest.param([11.0, 1.0], 10.0, "exploding", id="custom-threshold-exploding"),
        pytest.param([1.0, 10.0], 10.0, "stable", id="custom-threshold-edge"),
        pytest.param([1.0, 1e4], 1e5, "stable", id="high-threshold-stable"),
        pytest.param([0.0, 1.0], 1e3, "vanishing", id="zero-input-norm"),
        pytest.param([1.0, 0.0], 1e3, "exploding", id="zero-output-norm"),
        pytest.param([5.0], 1e3, "stable", id="single-layer"),
    ],
)
def test_gradient_regime_on_hand_made_norms(norms, threshold, expected):
    """Does gradient_regime name the regime the contract's two ratios give?"""
    assert deep_sigmoid.gradient_regime(norms, threshold=threshold) == expected
    assert deep_sigmoid.gradient_regime(np.array(norms), threshold) == expected


def test_gradient_regime_default_threshold_and_tensor_input():
    """Is the default threshold 1e3, and does a tf.Tensor of norms work?"""
    assert deep_sigmoid.gradient_regime([1.0, 999.0]) == "stable"
    assert deep_sigmoid.gradient_regime([1.0, 1001.0]) == "vanishing"
    assert deep_sigmoid.gradient_regime(tf.constant([2000.0, 1.0])) == "exploding"


@pytest.mark.parametrize("seed", [None, 5], ids=["unseeded", "seeded"])
def test_build_mlp_draws_each_layer_afresh_from_an_initializer_instance(seed):
    """Does one initializer object, passed for every layer, still give each layer its own kernel?"""
    model = deep_sigmoid.build_mlp(
        4, 4, 6, kernel_initializer=keras.initializers.RandomNormal(stddev=1.0), seed=seed
    )
    hidden = [
        np.asarray(layer.kernel) for layer in model.layers if isinstance(layer, keras.layers.Dense)
    ][1:-1]
    assert len(hidden) == 3
    for first in range(len(hidden)):
        for second in range(first + 1, len(hidden)):
            assert not np.array_equal(hidden[first], hidden[second])
