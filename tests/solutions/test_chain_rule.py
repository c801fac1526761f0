"""Check the reference solution of Part 1 `chain_rule` against TensorFlow autodiff.

TensorFlow is the independent reference here: every gradient is taken with
``tf.GradientTape`` on float64 tensors through the same chain of sigmoid neurons.
"""

import ast
import contextlib
import inspect
import warnings

import numpy as np
import pytest
import tensorflow as tf

from solutions import chain_rule

# ---------------------------------------------------------------------------------------
# Random chains: 1 to 30 neurons, batches of 1 to 64 samples.


def _chain_case(seed, n=None, m=None):
    """Return a pytest.param holding (x, y, w, b) for a random chain."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 31)) if n is None else n
    m = int(rng.integers(1, 65)) if m is None else m
    # |w| up to 6: some links amplify (|w|/4 > 1 near z = 0), most shrink the signal.
    w = rng.uniform(-6.0, 6.0, size=n)
    b = rng.normal(0.0, 1.0, size=n)
    x = rng.normal(0.0, 1.0, size=m)
    y = rng.uniform(0.0, 1.0, size=m)
    return pytest.param(x, y, w, b, id=f"seed{seed}-n{n}-m{m}")


CHAINS = [_chain_case(seed) for seed in range(8)] + [
    _chain_case(100, n=1, m=1),
    _chain_case(101, n=1, m=64),
    _chain_case(102, n=30, m=1),
    _chain_case(103, n=30, m=64),
]


def tf_chain_outputs(x, w, b):
    """Return [O_1, ..., O_n] of the chain, computed with TensorFlow ops."""
    out = x
    outputs = []
    for k in range(int(w.shape[0])):
        out = tf.sigmoid(w[k] * out + b[k])
        outputs.append(out)
    return outputs


def tf_chain_gradients(x, y, w, b):
    """Return (dL/dw, dL/db) of L = mean((O_n - y)**2) by autodiff, in float64."""
    w_var = tf.Variable(w, dtype=tf.float64)
    b_var = tf.Variable(b, dtype=tf.float64)
    x_t = tf.constant(x, dtype=tf.float64)
    y_t = tf.constant(y, dtype=tf.float64)
    with tf.GradientTape() as tape:
        o_n = tf_chain_outputs(x_t, w_var, b_var)[-1]
        loss = tf.reduce_mean(tf.square(o_n - y_t))
    dw, db = tape.gradient(loss, [w_var, b_var])
    return dw.numpy(), db.numpy()


# ---------------------------------------------------------------------------------------
# sigmoid and sigmoid_derivative


@contextlib.contextmanager
def strict_numpy():
    """Turn warnings into errors and make NumPy raise on overflow, 0/0 and x/0.

    Underflow stays at NumPy's default (ignored): e^-10000 rounds to 0.0 in float64,
    which is the correct float64 answer, and every overflow-safe sigmoid produces it.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            yield


EXTREME_Z = np.array(
    [-np.finfo(np.float64).max, -1e4, -1000.0, -745.5, -709.0, 0.0, 709.0, 745.5, 1000.0, 1e4]
    + [np.finfo(np.float64).max]
)


def test_sigmoid_extreme_inputs_finite_without_warnings():
    """Is sigmoid finite, in [0, 1] and silent (no overflow warning) at +-1e4 and beyond?"""
    with strict_numpy():
        at_1e4 = np.asarray(chain_rule.sigmoid(np.array([-1e4, 1e4])), dtype=np.float64)
        wide = np.asarray(chain_rule.sigmoid(EXTREME_Z), dtype=np.float64)
    assert at_1e4.shape == (2,)
    assert 0.0 <= at_1e4[0] <= 1e-300
    assert at_1e4[1] == 1.0
    assert np.all(np.isfinite(wide))
    assert np.all((wide >= 0.0) & (wide <= 1.0))
    assert np.all(np.diff(wide) >= 0.0)  # monotone on the sorted inputs


def test_sigmoid_scalar_at_plus_minus_1e4_without_warnings():
    """Does sigmoid take a Python float of +-1e4 without a warning?"""
    with strict_numpy():
        low = float(np.asarray(chain_rule.sigmoid(-1e4)))
        high = float(np.asarray(chain_rule.sigmoid(1e4)))
    assert low == pytest.approx(0.0, abs=1e-300)
    assert high == 1.0


def test_sigmoid_matches_definition_on_moderate_z(rng):
    """Does sigmoid equal 1/(1+exp(-z)) elementwise on moderate z, keeping the shape?"""
    z = rng.uniform(-30.0, 30.0, size=(7, 11))
    expected = 1.0 / (1.0 + np.exp(-z))
    result = np.asarray(chain_rule.sigmoid(z))
    assert result.shape == z.shape
    np.testing.assert_allclose(result, expected, rtol=1e-13, atol=0)


def test_sigmoid_matches_tf_sigmoid(rng):
    """Does sigmoid agree with tf.sigmoid in float64, given a list or a tf.Tensor?"""
    z = rng.uniform(-40.0, 40.0, size=50)
    expected = tf.sigmoid(tf.constant(z, dtype=tf.float64)).numpy()
    for given in (z, z.tolist(), tf.constant(z, dtype=tf.float64)):
        np.testing.assert_allclose(np.asarray(chain_rule.sigmoid(given)), expected, rtol=1e-12)


def test_sigmoid_derivative_matches_tf_gradient(rng):
    """Does sigmoid_derivative equal TensorFlow's gradient of tf.sigmoid on moderate z?"""
    z = np.concatenate([rng.uniform(-10.0, 10.0, size=200), [0.0, -1.0, 1.0]])
    z_t = tf.constant(z, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z_t)
        s = tf.sigmoid(z_t)
    expected = tape.gradient(s, z_t).numpy()  # elementwise: s_i depends on z_i only
    result = np.asarray(chain_rule.sigmoid_derivative(z))
    assert result.shape == z.shape
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=0)
    assert result[-3] == 0.25


def test_sigmoid_derivative_stays_in_zero_to_quarter(rng):
    """Does sigmoid_derivative stay in [0, 0.25] on a wide range, extremes included?"""
    z = np.concatenate([rng.normal(0.0, 50.0, size=1000), EXTREME_Z, np.linspace(-5, 5, 101)])
    with strict_numpy():
        result = np.asarray(chain_rule.sigmoid_derivative(z), dtype=np.float64)
    assert np.all(np.isfinite(result))
    assert result.min() >= 0.0
    assert result.max() <= 0.25
    assert result.max() == pytest.approx(0.25)  # reached at z = 0


# ---------------------------------------------------------------------------------------
# The chain


@pytest.mark.parametrize(("x", "y", "w", "b"), CHAINS)
def test_chain_forward_matches_tf(x, y, w, b):
    """Does chain_forward return [O_1, ..., O_n], each (m,), as a TensorFlow forward pass?"""
    expected = tf_chain_outputs(
        tf.constant(x, tf.float64), tf.constant(w, tf.float64), tf.constant(b, tf.float64)
    )
    result = chain_rule.chain_forward(x, w, b)
    assert len(result) == len(w)
    for got, want in zip(result, expected, strict=True):
        got = np.asarray(got)
        assert got.shape == x.shape
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(("x", "y", "w", "b"), CHAINS)
def test_chain_gradients_match_autodiff(x, y, w, b):
    """Do chain_gradients equal dL/dw and dL/db from tf.GradientTape in float64?"""
    expected_dw, expected_db = tf_chain_gradients(x, y, w, b)
    dw, db = chain_rule.chain_gradients(x, y, w, b)
    dw, db = np.asarray(dw), np.asarray(db)
    assert dw.shape == w.shape
    assert db.shape == b.shape
    # Vanishing entries are products, accurate relative to themselves; the batch sums
    # can cancel, hence a small absolute floor relative to the largest entry.
    np.testing.assert_allclose(dw, expected_dw, rtol=1e-9, atol=1e-12 * np.abs(expected_dw).max())
    np.testing.assert_allclose(db, expected_db, rtol=1e-9, atol=1e-12 * np.abs(expected_db).max())


def test_chain_gradients_on_a_30_neuron_chain_span_orders_of_magnitude():
    """Does chain_gradients match autodiff on a 30-neuron chain whose gradient vanishes?"""
    rng = np.random.default_rng(7)
    w = rng.uniform(-1.0, 1.0, size=30)
    b = rng.normal(size=30)
    x = rng.normal(size=16)
    y = rng.uniform(size=16)
    expected_dw, expected_db = tf_chain_gradients(x, y, w, b)
    dw, db = (np.asarray(g) for g in chain_rule.chain_gradients(x, y, w, b))
    # |w| <= 1 and sigmoid' <= 1/4: the first neuron's gradient is tiny next to the last's.
    assert abs(expected_db[0]) < 1e-12 * abs(expected_db[-1])
    np.testing.assert_allclose(dw, expected_dw, rtol=1e-9, atol=0)
    np.testing.assert_allclose(db, expected_db, rtol=1e-9, atol=0)


def test_chain_gradients_accept_lists_and_tensors():
    """Do lists and tf.Tensors as inputs give the same gradients as NumPy arrays?"""
    x, y, w, b = CHAINS[3].values
    expected = [np.asarray(g) for g in chain_rule.chain_gradients(x, y, w, b)]
    as_lists = chain_rule.chain_gradients(x.tolist(), y.tolist(), w.tolist(), b.tolist())
    as_tensors = chain_rule.chain_gradients(*(tf.constant(a, tf.float64) for a in (x, y, w, b)))
    for got in (as_lists, as_tensors):
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(np.asarray(g), e, rtol=1e-14)


def test_chain_functions_leave_inputs_unchanged():
    """Do chain_forward, chain_gradients and local_gains leave x, y, w and b as they were?"""
    x, y, w, b = CHAINS[5].values
    originals = [a.copy() for a in (x, y, w, b)]
    chain_rule.chain_forward(x, w, b)
    chain_rule.chain_gradients(x, y, w, b)
    chain_rule.local_gains(x, w, b)
    for after, before in zip((x, y, w, b), originals, strict=True):
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize(("x", "y", "w", "b"), CHAINS)
def test_local_gains_multiply_to_end_to_end_derivative(x, y, w, b):
    """Does the product of local_gains over the chain equal dO_n/dO_0 from autodiff, per sample?"""
    x_t = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x_t)
        o_n = tf_chain_outputs(x_t, tf.constant(w, tf.float64), tf.constant(b, tf.float64))[-1]
        # O_n of sample i depends on x_i only, so the gradient of the sum is per sample.
        total = tf.reduce_sum(o_n)
    expected = tape.gradient(total, x_t).numpy()
    gains = np.asarray(chain_rule.local_gains(x, w, b))
    assert gains.shape == (len(w), len(x))
    np.testing.assert_allclose(np.prod(gains, axis=0), expected, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize(("x", "y", "w", "b"), CHAINS[:6])
def test_local_gains_rows_match_per_link_autodiff(x, y, w, b):
    """Does row k-1 of local_gains hold dO_k/dO_{k-1} as autodiff gives it per link?"""
    x_t = tf.constant(x, tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x_t)
        outputs = [x_t] + tf_chain_outputs(
            x_t, tf.constant(w, tf.float64), tf.constant(b, tf.float64)
        )
        totals = [tf.reduce_sum(o) for o in outputs]
    expected = np.stack(
        [tape.gradient(totals[k], outputs[k - 1]).numpy() for k in range(1, len(w) + 1)]
    )
    del tape
    gains = np.asarray(chain_rule.local_gains(x, w, b))
    np.testing.assert_allclose(gains, expected, rtol=1e-12, atol=1e-300)
    # sigmoid' <= 1/4 bounds each gain by |w_k| / 4.
    assert np.all(np.abs(gains) <= np.abs(w)[:, None] / 4.0 + 1e-15)


# ---------------------------------------------------------------------------------------
# sgd_update


def test_sgd_update_matches_formula_and_leaves_input_unchanged(rng):
    """Does sgd_update return param - lr*grad as a new array and leave param and grad alone?"""
    param = rng.normal(size=(4, 3))
    grad = rng.normal(size=(4, 3))
    param_before, grad_before = param.copy(), grad.copy()
    result = np.asarray(chain_rule.sgd_update(param, grad, 0.1))
    assert result.shape == param.shape
    np.testing.assert_allclose(result, param_before - 0.1 * grad_before, rtol=1e-15)
    np.testing.assert_array_equal(param, param_before)
    np.testing.assert_array_equal(grad, grad_before)
    assert not np.shares_memory(result, param)


def test_sgd_update_steps_against_the_gradient():
    """Does a positive gradient lower the parameter (w_new = w_old - eta * dL/dw)?"""
    result = np.asarray(chain_rule.sgd_update([1.0, -2.0, 0.5], [2.0, -4.0, 0.0], 0.25))
    np.testing.assert_allclose(result, [0.5, -1.0, 0.5], rtol=0, atol=1e-15)
    assert float(np.asarray(chain_rule.sgd_update(3.0, 1.0, 0.5))) == pytest.approx(2.5)


def test_sgd_update_descends_the_chain_loss():
    """Does a small sgd_update step along chain_gradients lower the chain's loss?"""
    x, y, w, b = CHAINS[2].values

    def loss(w_, b_):
        return float(np.mean((np.asarray(chain_rule.chain_forward(x, w_, b_)[-1]) - y) ** 2))

    dw, db = chain_rule.chain_gradients(x, y, w, b)
    w_new = chain_rule.sgd_update(w, dw, 1e-2)
    b_new = chain_rule.sgd_update(b, db, 1e-2)
    assert loss(w_new, b_new) < loss(w, b)


# ---------------------------------------------------------------------------------------
# The rule of the part: NumPy only.


def test_chain_rule_imports_no_autodiff_library():
    """Does the reference chain_rule stay clear of tensorflow, keras, jax, torch and autograd?"""
    tree = ast.parse(inspect.getsource(chain_rule))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported  # the parse found the module's imports
    assert not imported & {"tensorflow", "keras", "jax", "torch", "autograd"}
