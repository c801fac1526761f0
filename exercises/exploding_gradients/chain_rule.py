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
    # YOUR CODE HERE
    raise NotImplementedError()


def sigmoid_derivative(z):
    """Return sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)), elementwise.

    Args:
        z: array-like of pre-activations.

    Returns:
        np.ndarray of float64, same shape as ``z``, every value in [0, 0.25].
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def chain_forward(x, w, b):
    """Run the chain forward and return every neuron's output.

    Args:
        x: inputs, shape (m,).
        w: weights w_1..w_n, shape (n,).
        b: biases b_1..b_n, shape (n,).

    Returns:
        list of n arrays ``[O_1, ..., O_n]``, each of shape (m,).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


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
    # YOUR CODE HERE
    raise NotImplementedError()


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
    # YOUR CODE HERE
    raise NotImplementedError()


def sgd_update(param, grad, learning_rate):
    """Return one step of gradient descent: param - learning_rate * grad.

    Args:
        param: current parameter values (array-like).
        grad: dL/dparam, same shape as ``param``.
        learning_rate: the step size eta.

    Returns:
        a new np.ndarray; ``param`` itself is left unchanged.
    """
    # YOUR CODE HERE
    raise NotImplementedError()
