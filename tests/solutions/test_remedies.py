"""Check the reference solution of Part 4 `remedies`.

The independent references: the formulas' definitions, Keras' own initializers, a
gradient-norm tape and a training loop written here, and Jacobians from
``tf.GradientTape.jacobian`` in float64.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from solutions import deep_sigmoid, remedies

# ---------------------------------------------------------------------------------------
# Initialisation formulas


@pytest.mark.parametrize(("fan_in", "fan_out"), [(1, 1), (8, 32), (64, 64), (784, 10), (1000, 200)])
def test_glorot_uniform_limit_matches_definition(fan_in, fan_out):
    """Is glorot_uniform_limit sqrt(6/(fan_in+fan_out))?"""
    result = remedies.glorot_uniform_limit(fan_in, fan_out)
    assert np.ndim(result) == 0
    assert float(result) == pytest.approx(math.sqrt(6.0 / (fan_in + fan_out)), rel=1e-12)


def test_glorot_uniform_limit_known_values():
    """Is the limit sqrt(3) for one input and one output, and 0.25 for 48 + 48?"""
    assert float(remedies.glorot_uniform_limit(1, 1)) == pytest.approx(math.sqrt(3.0))
    assert float(remedies.glorot_uniform_limit(48, 48)) == pytest.approx(0.25)


@pytest.mark.parametrize("fan_in", [1, 2, 8, 50, 512])
def test_he_normal_stddev_matches_definition(fan_in):
    """Is he_normal_stddev sqrt(2/fan_in)?"""
    result = remedies.he_normal_stddev(fan_in)
    assert np.ndim(result) == 0
    assert float(result) == pytest.approx(math.sqrt(2.0 / fan_in), rel=1e-12)
    assert float(remedies.he_normal_stddev(2)) == pytest.approx(1.0)


@pytest.mark.parametrize(("fan_in", "fan_out"), [(300, 500), (1000, 200)])
def test_glorot_uniform_limit_bounds_keras_glorot_uniform(fan_in, fan_out):
    """Do Keras' GlorotUniform samples reach, and never pass, glorot_uniform_limit?"""
    limit = float(remedies.glorot_uniform_limit(fan_in, fan_out))
    kernel = np.asarray(keras.initializers.GlorotUniform(seed=0)(shape=(fan_in, fan_out)))
    largest = np.abs(kernel).max()
    assert largest <= limit * (1 + 1e-6)
    assert largest >= 0.999 * limit
    assert kernel.std() == pytest.approx(limit / math.sqrt(3.0), rel=0.02)


@pytest.mark.parametrize(("fan_in", "fan_out"), [(1000, 500), (256, 2000)])
def test_he_normal_stddev_is_keras_he_normal_std(fan_in, fan_out):
    """Is he_normal_stddev the actual std of Keras' (truncated) HeNormal samples?"""
    stddev = float(remedies.he_normal_stddev(fan_in))
    kernel = np.asarray(keras.initializers.HeNormal(seed=0)(shape=(fan_in, fan_out)))
    assert kernel.std() == pytest.approx(stddev, rel=0.05)
    # Keras truncates at two of its own stddev parameters, which is stddev / 0.8796.
    assert np.abs(kernel).max() <= 2.0 * stddev / 0.87962566103423978 * (1 + 1e-5)


# ---------------------------------------------------------------------------------------
# build_healthy_mlp


def tape_kernel_norms(model, x, y):
    """Return the L2 norm of dMSE/d(kernel) of every Dense layer, input side first."""
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.math.squared_difference(model(tf.constant(x)), tf.constant(y)))
    return np.array(
        [np.linalg.norm(g.numpy().astype(np.float64).ravel()) for g in tape.gradient(loss, kernels)]
    )


def sine_task(seed, m=256, input_dim=8):
    """x ~ N(0, 1) of shape (m, input_dim), y = sin(x . v) for a random unit vector v."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, input_dim))
    v = rng.standard_normal(input_dim)
    v /= np.linalg.norm(v)
    return x.astype(np.float32), np.sin(x @ v)[:, None].astype(np.float32)


def train_losses(model, x, y, steps=200, learning_rate=0.05):
    """Full-batch SGD on MSE: the loss before each step, then the loss after the last."""
    x = tf.constant(x)
    y = tf.constant(y)
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    variables = model.trainable_variables

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    losses = [float(step()) for _ in range(steps)]
    losses.append(float(tf.reduce_mean(tf.square(model(x) - y))))
    return np.array(losses)


HEALTHY = [
    pytest.param(depth, width, seed, id=f"depth{depth}-width{width}-seed{seed}")
    for depth in (20, 30)
    for width in (32, 64)
    for seed in (0, 1, 2)
]


def test_build_healthy_mlp_layout_and_seed():
    """Has build_healthy_mlp depth hidden Dense layers, a Dense(1) output, seeded weights?"""
    model = remedies.build_healthy_mlp(8, 20, 32, seed=4)
    assert isinstance(model, keras.Sequential)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(dense) == 21
    assert all(layer.units == 32 for layer in dense[:-1])
    assert model.layers[-1] is dense[-1] and dense[-1].units == 1
    assert tuple(dense[0].kernel.shape) == (8, 32)
    assert np.asarray(model(np.zeros((3, 8), np.float32))).shape == (3, 1)
    again = remedies.build_healthy_mlp(8, 20, 32, seed=4)
    for a, b in zip(model.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = remedies.build_healthy_mlp(8, 20, 32, seed=5)
    assert not np.array_equal(model.get_weights()[0], other.get_weights()[0])


@pytest.mark.slow
@pytest.mark.parametrize(("depth", "width", "seed"), HEALTHY)
def test_build_healthy_mlp_gradient_span_at_most_100(depth, width, seed, request):
    """Do build_healthy_mlp's Dense gradient norms span at most a factor 100?"""
    model = remedies.build_healthy_mlp(8, depth, width, seed=seed)
    rng = np.random.default_rng(seed + 2000)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    norms = tape_kernel_norms(model, x, y)
    assert norms.shape == (depth + 1,)
    assert np.all(np.isfinite(norms)) and np.all(norms > 0)
    span = norms.max() / norms.min()
    request.node.user_properties.append(("healthy_span", float(span)))
    assert span <= 100.0, f"span {span:.3g}"
    assert deep_sigmoid.gradient_regime(norms) == "stable"


@pytest.mark.slow
@pytest.mark.parametrize(("depth", "width", "seed"), HEALTHY)
def test_build_healthy_mlp_trains_to_a_quarter(depth, width, seed, request):
    """Do 200 full-batch SGD(0.05) steps bring build_healthy_mlp to a quarter of its start?"""
    model = remedies.build_healthy_mlp(8, depth, width, seed=seed)
    losses = train_losses(model, *sine_task(seed + 3000))
    ratio = losses[-1] / losses[0]
    request.node.user_properties.append(("healthy_loss_ratio", float(ratio)))
    assert np.all(np.isfinite(losses))
    assert ratio <= 0.25, f"final/start loss {ratio:.3g}"


@pytest.mark.slow
def test_training_check_rejects_a_20_layer_sigmoid_mlp(request):
    """Does the same training check fail a 20-layer sigmoid build_mlp, which stalls?"""
    model = deep_sigmoid.build_mlp(8, 20, 32, seed=0)
    losses = train_losses(model, *sine_task(3000))
    ratio = losses[-1] / losses[0]
    request.node.user_properties.append(("sigmoid_loss_ratio", float(ratio)))
    assert np.all(np.isfinite(losses))
    assert ratio > 0.25


# ---------------------------------------------------------------------------------------
# rnn_jacobian_norms


def random_rnn(seed, steps, hidden, input_dim, spectral_norm):
    """Random weights with a chosen largest singular value of w_rec, inputs and h0."""
    rng = np.random.default_rng(seed)
    w_rec = rng.standard_normal((hidden, hidden))
    w_rec *= spectral_norm / np.linalg.norm(w_rec, 2)
    w_in = rng.standard_normal((hidden, input_dim)) * 0.5
    b = rng.standard_normal(hidden) * 0.1
    xs = rng.standard_normal((steps, input_dim))
    h0 = rng.uniform(-0.5, 0.5, size=hidden)
    return w_rec, w_in, b, xs, h0


RNNS = [
    pytest.param(0, 1, 3, 2, 1.5, id="T1-hidden3"),
    pytest.param(1, 1, 1, 1, 0.7, id="T1-hidden1"),
    pytest.param(2, 5, 4, 3, 0.8, id="T5-hidden4-contracting"),
    pytest.param(3, 8, 1, 1, 2.0, id="T8-hidden1"),
    pytest.param(4, 10, 6, 2, 3.0, id="T10-hidden6-expanding"),
    pytest.param(5, 12, 5, 4, 0.5, id="T12-hidden5-vanishing"),
]


def tape_jacobian_norms(w_rec, w_in, b, xs, h0):
    """Spectral norms of dh_T/dh_{t-1}, each from tf.GradientTape.jacobian in float64."""
    w_rec, w_in, b, xs = (tf.constant(a, tf.float64) for a in (w_rec, w_in, b, xs))
    steps = int(xs.shape[0])

    def step(h, t):  # h_{t-1} -> h_t
        return tf.tanh(tf.linalg.matvec(w_rec, h) + tf.linalg.matvec(w_in, xs[t - 1]) + b)

    states = [tf.constant(h0, tf.float64)]  # h_0, h_1, ..., h_T
    for t in range(1, steps + 1):
        states.append(step(states[-1], t))
    norms = []
    for t in range(1, steps + 1):
        start = tf.identity(states[t - 1])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(start)
            h = start
            for s in range(t, steps + 1):
                h = step(h, s)
        jacobian = tape.jacobian(h, start, experimental_use_pfor=False).numpy()
        del tape
        norms.append(np.linalg.norm(jacobian, 2))
    return np.array(norms)


@pytest.mark.parametrize(("seed", "steps", "hidden", "input_dim", "spectral_norm"), RNNS)
def test_rnn_jacobian_norms_match_tape_jacobians(seed, steps, hidden, input_dim, spectral_norm):
    """Does rnn_jacobian_norms equal the spectral norms of autodiff Jacobians dh_T/dh_{t-1}?"""
    rnn = random_rnn(seed, steps, hidden, input_dim, spectral_norm)
    expected = tape_jacobian_norms(*rnn)
    result = np.asarray(remedies.rnn_jacobian_norms(*rnn), dtype=np.float64)
    assert result.shape == (steps,)
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-300)


def test_rnn_jacobian_norms_last_step_is_one_layer_jacobian():
    """Is the last entry the norm of diag(1 - h_T^2) @ w_rec, and the first of the product?"""
    w_rec, w_in, b, xs, h0 = random_rnn(11, 3, 4, 2, 1.2)
    states = [h0]
    for x_t in xs:
        states.append(np.tanh(w_rec @ states[-1] + w_in @ x_t + b))
    layer = [(1.0 - h**2)[:, None] * w_rec for h in states[1:]]
    result = np.asarray(remedies.rnn_jacobian_norms(w_rec, w_in, b, xs, h0))
    assert result[-1] == pytest.approx(np.linalg.norm(layer[2], 2), rel=1e-12)
    assert result[0] == pytest.approx(np.linalg.norm(layer[2] @ layer[1] @ layer[0], 2), rel=1e-12)


def test_rnn_jacobian_norms_respect_the_contracting_bound():
    """Below ||w_rec||_2 < 1 (tanh), is entry t-1 at most ||w_rec||_2^(T-t+1), so it vanishes?"""
    steps = 15
    w_rec, w_in, b, xs, h0 = random_rnn(12, steps, 5, 3, 0.6)
    result = np.asarray(remedies.rnn_jacobian_norms(w_rec, w_in, b, xs, h0))
    powers = 0.6 ** np.arange(steps, 0, -1)  # entry t-1 spans T-t+1 steps
    assert np.all(result <= powers * (1 + 1e-9))
    assert result[0] < 1e-3


def test_rnn_jacobian_norms_accept_lists_and_tensors_and_leave_inputs_unchanged():
    """Do lists and tf.Tensors give the same norms, with the NumPy inputs left unchanged?"""
    rnn = random_rnn(13, 4, 3, 2, 1.1)
    before = [a.copy() for a in rnn]
    expected = np.asarray(remedies.rnn_jacobian_norms(*rnn))
    for a, was in zip(rnn, before, strict=True):
        np.testing.assert_array_equal(a, was)
    as_lists = remedies.rnn_jacobian_norms(*(a.tolist() for a in rnn))
    as_tensors = remedies.rnn_jacobian_norms(*(tf.constant(a, tf.float64) for a in rnn))
    np.testing.assert_allclose(np.asarray(as_lists), expected, rtol=1e-14)
    np.testing.assert_allclose(np.asarray(as_tensors), expected, rtol=1e-14)


# ---------------------------------------------------------------------------------------
# max_stable_spectral_norm


@pytest.mark.parametrize(
    ("activation", "function", "expected"), [("sigmoid", tf.sigmoid, 4.0), ("tanh", tf.tanh, 1.0)]
)
def test_max_stable_spectral_norm_is_one_over_the_largest_slope(activation, function, expected):
    """Is max_stable_spectral_norm 1/gamma, gamma the activation's largest slope by autodiff?"""
    z = tf.constant(np.linspace(-6.0, 6.0, 1201), tf.float64)  # contains z = 0
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = function(z)
    gamma = float(tf.reduce_max(tape.gradient(out, z)))
    result = float(remedies.max_stable_spectral_norm(activation))
    assert result == expected
    assert result == pytest.approx(1.0 / gamma, rel=1e-12)


@pytest.mark.parametrize("activation", ["relu", "softplus", "linear"])
def test_max_stable_spectral_norm_rejects_other_activations(activation):
    """Does an activation other than sigmoid or tanh raise ValueError?"""
    with pytest.raises(ValueError):
        remedies.max_stable_spectral_norm(activation)
