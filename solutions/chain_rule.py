"""Part 1 `chain_rule`: the chain rule by hand through a chain of sigmoid neurons.

The chain: ``O_0 = x``, ``z_k = w_k * O_{k-1} + b_k``, ``O_k = sigmoid(z_k)`` for
k = 1..n, and the loss ``L = mean((O_n - y)**2)`` over the batch. Everything here is
NumPy: the gradients are derived by hand, not by an autodiff library.
"""

import numpy as np


def sigmoid(z):
    """Return the logistic sigmoid 1 / (1 + e^-z), elementwise.

    Args:
        z: array-like of any shape.

    Returns:
        np.ndarray of float64, same shape as ``z``, finite and without an overflow
        warning even for very large |z| (try +-1e4).
    """
    ### BEGIN SOLUTION
    z = np.asarray(z, dtype=np.float64)
    # e^-|z| never overflows: its exponent is never positive.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    ### END SOLUTION


def sigmoid_derivative(z):
    """Return sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)), elementwise.

    Args:
        z: array-like of pre-activations.

    Returns:
        np.ndarray of float64, same shape as ``z``, every value in [0, 0.25].
    """
    ### BEGIN SOLUTION
    s = sigmoid(z)
    return s * (1.0 - s)
    ### END SOLUTION


def chain_forward(x, w, b):
    """Run the chain forward and return every neuron's output.

    Args:
        x: inputs, shape (m,).
        w: weights w_1..w_n, shape (n,).
        b: biases b_1..b_n, shape (n,).

    Returns:
        list of n arrays ``[O_1, ..., O_n]``, each of shape (m,).
    """
    ### BEGIN SOLUTION
    out = np.asarray(x, dtype=np.float64)
    outputs = []
    for w_k, b_k in zip(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)):
        out = sigmoid(w_k * out + b_k)
        outputs.append(out)
    return outputs
    ### END SOLUTION


def chain_gradients(x, y, w, b):
    """Return dL/dw and dL/db for L = mean((O_n - y)**2), by backpropagation.

    Derive delta_k = dL/dz_k on paper first (the lesson works out the one-neuron case),
    then carry it backwards from the last neuron to the first.

    Args:
        x: inputs, shape (m,).
        y: targets, shape (m,).
        w: weights, shape (n,).
        b: biases, shape (n,).

    Returns:
        tuple ``(dL_dw, dL_db)``, each an array of shape (n,).
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    outputs = [x] + chain_forward(x, w, b)
    n = len(w)
    dL_dw = np.zeros(n)
    dL_db = np.zeros(n)
    # dL/dO_n for the mean over the batch.
    upstream = 2.0 * (outputs[n] - y) / x.size
    for k in range(n, 0, -1):
        o_k = outputs[k]
        delta = upstream * o_k * (1.0 - o_k)  # dL/dz_k = dL/dO_k * sigmoid'(z_k)
        dL_dw[k - 1] = np.sum(delta * outputs[k - 1])
        dL_db[k - 1] = np.sum(delta)
        upstream = delta * w[k - 1]  # dL/dO_{k-1}
    return dL_dw, dL_db
    ### END SOLUTION


def local_gains(x, w, b):
    """Return the local derivative of every link of the chain, per sample.

    Args:
        x: inputs, shape (m,).
        w: weights, shape (n,).
        b: biases, shape (n,).

    Returns:
        np.ndarray of shape (n, m) whose row k-1 holds
        dO_k/dO_{k-1} = sigmoid'(z_k) * w_k for every sample.
    """
    ### BEGIN SOLUTION
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    inputs = [np.asarray(x, dtype=np.float64)] + chain_forward(x, w, b)[:-1]
    return np.stack([sigmoid_derivative(w_k * o + b_k) * w_k for w_k, b_k, o in zip(w, b, inputs)])
    ### END SOLUTION


def sgd_update(param, grad, learning_rate):
    """Return one step of gradient descent: param - learning_rate * grad.

    Args:
        param: current parameter values (array-like).
        grad: dL/dparam, same shape as ``param``.
        learning_rate: the step size eta.

    Returns:
        a new np.ndarray; ``param`` itself is left unchanged.
    """
    ### BEGIN SOLUTION
    return np.asarray(param, dtype=np.float64) - learning_rate * np.asarray(grad, dtype=np.float64)
    ### END SOLUTION
