"""Check the reference solution of Part 3 `clipping`.

The independent references are TensorFlow's own clipping ops (which the solution's
array functions may not call), Keras' optimizer config, and training steps written out
by hand in this file.
"""

import ast
import copy
import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from solutions import clipping, deep_sigmoid

# ---------------------------------------------------------------------------------------
# Random lists of gradients of mixed shapes

SHAPES = [(), (5,), (3, 4), (2, 3, 4), (1,), (4, 1, 2)]
KINDS = ["numpy", "list", "tensor64", "tensor32"]
SCENARIOS = ["mixed", "below", "zeros"]


def random_grads(seed, scenario):
    """Return float64 arrays of every shape in SHAPES, shuffled, of varied magnitude."""
    rng = np.random.default_rng(seed)
    grads = []
    for index in rng.permutation(len(SHAPES)):
        scale = 10.0 ** rng.uniform(-1.0, 1.5)
        grads.append(np.asarray(scale * rng.standard_normal(SHAPES[index]), dtype=np.float64))
    if scenario == "zeros":
        grads = [np.zeros_like(g) for g in grads]
    return grads


def as_kind(grads, kind):
    """Present the gradients as NumPy arrays, Python lists or tf.Tensors."""
    if kind == "numpy":
        return [g.copy() for g in grads]
    if kind == "list":
        return [g.tolist() for g in grads]  # a 0-d array becomes a Python float
    dtype = tf.float64 if kind == "tensor64" else tf.float32
    return [tf.constant(g, dtype=dtype) for g in grads]


def tf_reference(grads, kind):
    """The same gradients as tf.Tensors of the precision the kind carries."""
    dtype = tf.float32 if kind == "tensor32" else tf.float64
    return [tf.constant(g, dtype=dtype) for g in grads]


def tolerance(kind):
    return {"rtol": 1e-5, "atol": 1e-6} if kind == "tensor32" else {"rtol": 1e-12, "atol": 0}


def assert_same_list(result, expected, shapes, kind):
    assert isinstance(result, (list, tuple))
    assert len(result) == len(expected)
    for got, want, shape in zip(result, expected, shapes, strict=True):
        got = np.asarray(got)
        assert got.shape == shape
        np.testing.assert_allclose(got, np.asarray(want), **tolerance(kind))


def case_id(seed, kind, scenario):
    return f"seed{seed}-{kind}-{scenario}"


CASES = [
    pytest.param(seed, kind, scenario, id=case_id(seed, kind, scenario))
    for seed in (0, 1)
    for kind in KINDS
    for scenario in SCENARIOS
]


def norms_of(grads):
    return np.array([np.linalg.norm(g.ravel()) for g in grads])


# ---------------------------------------------------------------------------------------
# The four array functions against TensorFlow's ops


@pytest.mark.parametrize(("seed", "kind", "scenario"), CASES)
def test_clip_by_value_matches_tf(seed, kind, scenario):
    """Does clip_by_value equal tf.clip_by_value on every tensor of a mixed list?"""
    grads = random_grads(seed, scenario)
    biggest = max(np.abs(g).max() for g in grads)
    clip_value = {"mixed": 0.5, "below": 2.0 * biggest + 1.0, "zeros": 0.5}[scenario]
    if scenario == "mixed":
        assert biggest > clip_value  # some entries are really clipped
    expected = [tf.clip_by_value(t, -clip_value, clip_value) for t in tf_reference(grads, kind)]
    result = clipping.clip_by_value(as_kind(grads, kind), clip_value)
    assert_same_list(result, expected, [g.shape for g in grads], kind)


@pytest.mark.parametrize(("seed", "kind", "scenario"), CASES)
def test_clip_by_norm_matches_tf(seed, kind, scenario):
    """Does clip_by_norm equal tf.clip_by_norm, tensor by tensor, on a mixed list?"""
    grads = random_grads(seed, scenario)
    norms = norms_of(grads)
    clip_norm = {"mixed": float(np.median(norms)), "below": 2.0 * norms.max(), "zeros": 1.0}[
        scenario
    ]
    if scenario == "mixed":
        assert (norms > clip_norm * 1.01).any() and (norms < clip_norm * 0.99).any()
    expected = [tf.clip_by_norm(t, clip_norm) for t in tf_reference(grads, kind)]
    result = clipping.clip_by_norm(as_kind(grads, kind), clip_norm)
    assert_same_list(result, expected, [g.shape for g in grads], kind)
    for got in result:
        assert np.linalg.norm(np.asarray(got, np.float64).ravel()) <= clip_norm * (1 + 1e-6)


@pytest.mark.parametrize(("seed", "kind", "scenario"), CASES)
def test_global_norm_matches_tf(seed, kind, scenario):
    """Does global_norm equal tf.linalg.global_norm as a scalar float?"""
    grads = random_grads(seed, scenario)
    expected = float(tf.linalg.global_norm(tf_reference(grads, kind)))
    result = clipping.global_norm(as_kind(grads, kind))
    assert np.ndim(result) == 0
    assert float(np.asarray(result)) == pytest.approx(expected, **_approx(kind))
    if scenario == "zeros":
        assert float(np.asarray(result)) == 0.0


def _approx(kind):
    return {"rel": 1e-6, "abs": 1e-6} if kind == "tensor32" else {"rel": 1e-12, "abs": 0}


@pytest.mark.parametrize(("seed", "kind", "scenario"), CASES)
def test_clip_by_global_norm_matches_tf(seed, kind, scenario):
    """Does clip_by_global_norm return what tf.clip_by_global_norm returns: list and norm?"""
    grads = random_grads(seed, scenario)
    total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    clip_norm = {"mixed": 0.5 * total, "below": 2.0 * total, "zeros": 1.0}[scenario]
    expected, expected_norm = tf.clip_by_global_norm(tf_reference(grads, kind), clip_norm)
    result, norm = clipping.clip_by_global_norm(as_kind(grads, kind), clip_norm)
    assert_same_list(result, expected, [g.shape for g in grads], kind)
    assert np.ndim(norm) == 0
    assert float(np.asarray(norm)) == pytest.approx(float(expected_norm), **_approx(kind))
    clipped_total = np.sqrt(sum(np.sum(np.asarray(g, np.float64) ** 2) for g in result))
    assert clipped_total == pytest.approx(min(total, clip_norm), rel=1e-5, abs=1e-12)


def test_clip_by_global_norm_scales_all_tensors_by_one_factor():
    """Does clip_by_global_norm scale every tensor by the same factor clip/norm?"""
    grads = [np.array([3.0, 0.0]), np.array([[0.0], [4.0]]), np.array(12.0)]  # norm 13
    clipped, norm = clipping.clip_by_global_norm(grads, 6.5)
    assert float(np.asarray(norm)) == pytest.approx(13.0)
    for got, original in zip(clipped, grads, strict=True):
        np.testing.assert_allclose(np.asarray(got), 0.5 * original, rtol=1e-14)


def test_clip_by_norm_clips_each_tensor_separately():
    """Does clip_by_norm leave a small tensor alone while it shrinks a large one?"""
    small, large = np.array([0.3, 0.4]), np.array([6.0, 8.0])
    got_small, got_large = clipping.clip_by_norm([small, large], 1.0)
    np.testing.assert_allclose(np.asarray(got_small), small, rtol=1e-15)
    np.testing.assert_allclose(np.asarray(got_large), [0.6, 0.8], rtol=1e-14)


def test_array_functions_leave_inputs_unchanged():
    """Do the four array functions leave arrays and nested lists as they were?"""
    grads = random_grads(3, "mixed")
    arrays = [g.copy() for g in grads]
    lists = [g.tolist() for g in grads]
    lists_before = copy.deepcopy(lists)
    for given in (arrays, lists):
        clipping.clip_by_value(given, 0.1)
        clipping.clip_by_norm(given, 0.1)
        clipping.global_norm(given)
        clipping.clip_by_global_norm(given, 0.1)
    assert lists == lists_before
    for after, before in zip(arrays, grads, strict=True):
        np.testing.assert_array_equal(after, before)


FORBIDDEN = {"clip_by_value", "clip_by_norm", "clip_by_global_norm", "global_norm", "clip"}


@pytest.mark.parametrize(
    "name", ["clip_by_value", "clip_by_norm", "global_norm", "clip_by_global_norm"]
)
def test_array_functions_do_not_call_library_clipping(name):
    """Is the reference written from array operations, calling no tf/keras clipping op?"""
    tree = ast.parse(inspect.getsource(getattr(clipping, name)))
    called = [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    ]
    assert called  # the parse did find the function's calls
    assert not FORBIDDEN & set(called), f"{name} calls {FORBIDDEN & set(called)}"


# ---------------------------------------------------------------------------------------
# make_optimizer

CLIP_ARGUMENTS = ("clipvalue", "clipnorm", "global_clipnorm")


@pytest.mark.parametrize(
    ("strategy", "argument"),
    [("value", "clipvalue"), ("norm", "clipnorm"), ("global_norm", "global_clipnorm")],
)
def test_make_optimizer_sets_exactly_the_named_argument(strategy, argument):
    """Does make_optimizer set only the Keras argument its strategy names?"""
    optimizer = clipping.make_optimizer(strategy, 2.5, 0.03)
    assert isinstance(optimizer, keras.optimizers.SGD)
    config = optimizer.get_config()
    assert config[argument] == pytest.approx(2.5)
    for other in CLIP_ARGUMENTS:
        if other != argument:
            assert config[other] is None, f"{other} = {config[other]}"
    assert config["learning_rate"] == pytest.approx(0.03, rel=1e-6)


def test_make_optimizer_none_clips_nothing():
    """Does "none" give a plain SGD with all three clipping arguments None?"""
    optimizer = clipping.make_optimizer("none", 2.5, 0.2)
    assert isinstance(optimizer, keras.optimizers.SGD)
    config = optimizer.get_config()
    assert all(config[name] is None for name in CLIP_ARGUMENTS)
    assert config["learning_rate"] == pytest.approx(0.2, rel=1e-6)


@pytest.mark.parametrize("strategy", ["clip", "Global_norm", "l2", ""])
def test_make_optimizer_rejects_unknown_strategy(strategy):
    """Does an unknown strategy raise ValueError?"""
    with pytest.raises(ValueError):
        clipping.make_optimizer(strategy, 1.0, 0.1)


@pytest.mark.parametrize(
    ("strategy", "expected_step"),
    [
        # gradients [3, 4] and [12]: global norm 13, norms 5 and 12; threshold 1
        ("none", ([3.0, 4.0], [12.0])),
        ("value", ([1.0, 1.0], [1.0])),
        ("norm", ([0.6, 0.8], [1.0])),
        ("global_norm", ([3.0 / 13, 4.0 / 13], [12.0 / 13])),
    ],
)
def test_make_optimizer_steps_as_named(strategy, expected_step):
    """Does the optimizer's update follow the named clipping on known gradients?"""
    optimizer = clipping.make_optimizer(strategy, 1.0, 0.5)
    a = tf.Variable([0.0, 0.0])
    b = tf.Variable([0.0])
    optimizer.apply_gradients([(tf.constant([3.0, 4.0]), a), (tf.constant([12.0]), b)])
    np.testing.assert_allclose(a.numpy(), -0.5 * np.array(expected_step[0]), rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), -0.5 * np.array(expected_step[1]), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# clipped_train_step and train_with_clipping against steps written by hand


def small_model():
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )


def twin(model):
    """Return a clone of the model with the same starting weights."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def hand_clipped_step(model, x, y, clip_norm, learning_rate):
    """One MSE step by hand: tape, global norm in NumPy, rescale, w -= lr * g."""
    x = tf.constant(np.asarray(x, np.float32))
    y = tf.constant(np.asarray(y, np.float32).reshape(-1, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = [g.numpy().astype(np.float64) for g in tape.gradient(loss, model.trainable_variables)]
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    scale = min(1.0, clip_norm / norm)
    for variable, g in zip(model.trainable_variables, grads, strict=True):
        variable.assign(variable.numpy() - np.float32(learning_rate * scale) * g.astype(np.float32))
    return {"loss": float(loss), "grad_norm": norm, "clipped_norm": norm * scale}


def regression_data(seed, m=32, input_dim=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, input_dim)).astype(np.float32)
    y = (np.sin(x.sum(axis=1, keepdims=True)) * 3.0).astype(np.float32)
    return x, y


@pytest.mark.parametrize("y_shape", ["column", "flat"])
@pytest.mark.parametrize("clip_norm", [0.05, 1e6], ids=["clipping", "not-clipping"])
def test_clipped_train_step_matches_hand_step(clip_norm, y_shape):
    """Does clipped_train_step give the hand-written step's loss, norms and new weights?"""
    model = small_model()
    reference = twin(model)
    x, y = regression_data(0)
    y_given = y if y_shape == "column" else y[:, 0]
    expected = hand_clipped_step(reference, x, y, clip_norm, learning_rate=0.1)
    if clip_norm < 1:
        assert expected["grad_norm"] > clip_norm  # clipping really happens
    start = [w.copy() for w in model.get_weights()]
    result = clipping.clipped_train_step(
        model, keras.optimizers.SGD(learning_rate=0.1), x, y_given, clip_norm
    )
    assert set(result) == {"loss", "grad_norm", "clipped_norm"}
    assert all(isinstance(value, float) for value in result.values())
    for key in result:
        assert result[key] == pytest.approx(expected[key], rel=1e-5), key
    assert result["clipped_norm"] == pytest.approx(min(clip_norm, result["grad_norm"]), rel=1e-5)
    for got, want, was in zip(model.get_weights(), reference.get_weights(), start, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
        assert not np.array_equal(got, was)  # the step moved every variable


def test_train_with_clipping_matches_hand_loop():
    """Does train_with_clipping give the losses and weights of a hand-written clipped loop?"""
    model = small_model()
    reference = twin(model)
    x, y = regression_data(1)
    expected = [hand_clipped_step(reference, x, y, 0.2, 0.05)["loss"] for _ in range(6)]
    losses = np.asarray(clipping.train_with_clipping(model, x, y, 0.2, 0.05, 6))
    assert losses.shape == (6,)
    np.testing.assert_allclose(losses, expected, rtol=1e-5)
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def plain_sgd_losses(model, x, y, learning_rate, steps):
    """Full-batch SGD on MSE without any clipping; returns the loss before each step."""
    x = tf.constant(x)
    y = tf.constant(y)
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        for variable, g in zip(model.trainable_variables, grads, strict=True):
            variable.assign_sub(learning_rate * g)
        losses.append(float(loss))
    return np.array(losses)


@pytest.mark.slow
def test_train_with_clipping_survives_an_exploding_start(request):
    """Does clipping keep an exploding start finite where plain SGD blows up?"""
    model = deep_sigmoid.build_exploding_mlp(8, 5, 32, seed=0)
    unclipped = twin(model)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    steps, learning_rate = 30, 1.0
    plain = plain_sgd_losses(unclipped, x, y, learning_rate, steps)
    clipped = np.asarray(clipping.train_with_clipping(model, x, y, 1.0, learning_rate, steps))
    finite_plain = plain[np.isfinite(plain)]
    request.node.user_properties.append(("plain_max_finite_loss", float(finite_plain.max())))
    request.node.user_properties.append(("plain_nonfinite_steps", int(np.sum(~np.isfinite(plain)))))
    request.node.user_properties.append(
        ("clipped_first_last", (float(clipped[0]), float(clipped[-1])))
    )
    assert clipped[0] == pytest.approx(plain[0], rel=1e-5)  # the same starting point
    assert not np.all(np.isfinite(plain)) or plain.max() > 1e10, "plain SGD did not blow up"
    assert clipped.shape == (steps,)
    assert np.all(np.isfinite(clipped))
    assert clipped.max() < 1e3
    assert clipped[-1] < clipped[0]
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
