"""Do the compiled measuring functions give the eager figures, traced once per layout?"""

from __future__ import annotations

import numpy as np
import pytest

from grader import measure
from solutions.deep_sigmoid import build_exploding_mlp, build_mlp, dense_grad_norms
from solutions.remedies import build_healthy_mlp

#: float32 rounding, through up to 31 layers.
NORMS_RTOL = 1e-5


def _layer_norm_model():
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(6, "tanh"),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(1),
        ]
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_mlp(3, 6, 5, seed=1),
        lambda: build_mlp(8, 20, 16, seed=2),
        lambda: build_mlp(5, 3, 8, activation="relu", kernel_initializer="he_normal", seed=3),
        lambda: build_exploding_mlp(8, 30, 64, seed=4),
        lambda: build_healthy_mlp(8, 20, 32, seed=5),
    ],
    ids=["sigmoid-6", "sigmoid-20", "relu-3", "exploding-30x64", "healthy-20x32"],
)
def test_compiled_gradient_norms_equal_the_eager_reference(build, rng):
    """On plain Dense stacks, are the compiled norms the reference's eager ones to float32 rounding?"""
    model = build()
    assert measure.dense_stack(model) is not None
    input_dim = model.layers[0].kernel.shape[0]
    x = rng.standard_normal((64, input_dim)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    compiled = measure.gradient_norms(model, x, y)
    eager = dense_grad_norms(model, x, y)
    assert compiled.shape == eager.shape
    np.testing.assert_allclose(compiled, eager, rtol=NORMS_RTOL, atol=0)


def test_targets_of_shape_m_give_the_same_norms(rng):
    """Are targets of shape (m,) measured as (m, 1), as the reference reshapes them?"""
    model = build_mlp(4, 3, 6, seed=0)
    x = rng.standard_normal((10, 4)).astype(np.float32)
    y = rng.standard_normal(10).astype(np.float32)
    np.testing.assert_allclose(
        measure.gradient_norms(model, x, y), dense_grad_norms(model, x, y), rtol=NORMS_RTOL
    )


def test_biasless_layers_and_other_activations_are_measured_right(rng):
    """Does a stack with a bias-free layer and mixed activations still match the eager norms?"""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(5, "softplus", use_bias=False),
            keras.layers.Dense(5, keras.ops.sin),
            keras.layers.Dense(1),
        ]
    )
    assert measure.dense_stack(model).layout[1] == (False, True, True)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    np.testing.assert_allclose(
        measure.gradient_norms(model, x, y), dense_grad_norms(model, x, y), rtol=NORMS_RTOL
    )


def test_a_model_with_other_layers_is_measured_through_keras(rng):
    """Is a model with a normalisation layer left to the reference's own code (and right)?"""
    model = _layer_norm_model()
    assert measure.dense_stack(model) is None
    x = rng.standard_normal((12, 4)).astype(np.float32)
    y = rng.standard_normal((12, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        measure.gradient_norms(model, x, y), dense_grad_norms(model, x, y)
    )


def test_one_trace_serves_every_width_and_sample_count(rng):
    """Are two widths and two sample counts of one layout measured by a single trace?"""
    norms = None
    for width, samples in [(32, 64), (64, 64), (32, 16)]:
        model = build_mlp(8, 4, width, activation="tanh", seed=width)
        x = rng.standard_normal((samples, 8)).astype(np.float32)
        y = rng.standard_normal((samples, 1)).astype(np.float32)
        measure.gradient_norms(model, x, y)
        norms = measure._compiled("norms", measure.dense_stack(model))
    assert norms.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(
    "build,steps",
    [
        (lambda: build_mlp(4, 3, 8, activation="tanh", seed=7), 30),
        pytest.param(lambda: build_healthy_mlp(8, 20, 32, seed=8), 200, marks=pytest.mark.slow),
    ],
    ids=["tanh-3-30steps", "healthy-20x32-200steps"],
)
def test_compiled_training_equals_keras_sgd(build, steps, rng):
    """Does the compiled run give Keras SGD's losses, and leave the model's weights alone?"""
    model = build()
    before = [w.copy() for w in model.get_weights()]
    input_dim = model.layers[0].kernel.shape[0]
    x, y = measure.sine_task(rng, input_dim)
    compiled = measure.train_full_batch(model, x, y, steps, 0.05)
    for weight, kept in zip(model.get_weights(), before):
        np.testing.assert_array_equal(weight, kept)
    eager = measure.train_keras(model, x, y, steps, 0.05)
    assert compiled.shape == eager.shape == (steps,)
    # Rounding differences grow over the steps: float32 rounding per step, 1e-4 over 200.
    np.testing.assert_allclose(compiled[:5], eager[:5], rtol=1e-5)
    np.testing.assert_allclose(compiled, eager, rtol=1e-4)


def test_a_wrong_update_would_be_caught(rng):
    """Would the comparison with Keras fail for a step that ignored the learning rate?"""
    model = build_mlp(4, 3, 8, activation="tanh", seed=7)
    x, y = measure.sine_task(rng, 4)
    eager = measure.train_keras(model, x, y, 30, 0.05)
    model = build_mlp(4, 3, 8, activation="tanh", seed=7)
    wrong = measure.train_full_batch(model, x, y, 30, 0.5)
    assert not np.allclose(wrong, eager, rtol=1e-4)
