# corpus: right
# functions: chain_rule.chain_forward, chain_rule.chain_gradients, chain_rule.local_gains, chain_rule.sgd_update
# why: The student works one sample at a time with plain Python floats and the math module, accumulating the batch gradient in explicit loops.
import math

import numpy as np


def _sigmoid_scalar(z):
    """Stable logistic function of one float."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _forward_one(x_i, w, b):
    """Return [O_0, O_1, ..., O_n] for a single input value."""
    outs = [float(x_i)]
    for w_k, b_k in zip(w, b):
        outs.append(_sigmoid_scalar(w_k * outs[-1] + b_k))
    return outs


def _floats(values):
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def chain_forward(x, w, b):
    w, b = _floats(w), _floats(b)
    per_sample = [_forward_one(x_i, w, b) for x_i in _floats(x)]
    return [np.array([outs[k] for outs in per_sample]) for k in range(1, len(w) + 1)]


def chain_gradients(x, y, w, b):
    xs, ys, w, b = _floats(x), _floats(y), _floats(w), _floats(b)
    m, n = len(xs), len(w)
    dL_dw = [0.0] * n
    dL_db = [0.0] * n
    for x_i, y_i in zip(xs, ys):
        outs = _forward_one(x_i, w, b)
        grad = 2.0 * (outs[n] - y_i) / m  # dL/dO_n for this sample
        for k in range(n, 0, -1):
            grad *= outs[k] * (1.0 - outs[k])  # now dL/dz_k
            dL_dw[k - 1] += grad * outs[k - 1]
            dL_db[k - 1] += grad
            grad *= w[k - 1]  # dL/dO_{k-1}
    return np.array(dL_dw), np.array(dL_db)


def local_gains(x, w, b):
    w, b = _floats(w), _floats(b)
    xs = _floats(x)
    gains = np.empty((len(w), len(xs)))
    for i, x_i in enumerate(xs):
        outs = _forward_one(x_i, w, b)
        for k in range(1, len(w) + 1):
            gains[k - 1, i] = outs[k] * (1.0 - outs[k]) * w[k - 1]
    return gains


def sgd_update(param, grad, learning_rate):
    return np.subtract(param, np.multiply(learning_rate, grad), dtype=np.float64)
