"""Part 2 `deep_sigmoid`: vanishing and exploding gradients in a deep Keras MLP."""

import keras
import numpy as np
import tensorflow as tf


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    """Build a deep multilayer perceptron.

    Args:
        input_dim: number of input features.
        depth: number of hidden ``Dense(width, activation)`` layers.
        width: units per hidden layer.
        activation: activation of the hidden layers.
        kernel_initializer: initializer of every Dense kernel (name or instance).
        seed: int or None; the same seed gives the same weights in every layer, the
            output layer's included. An initializer that takes no seed (``"ones"``,
            ``"zeros"``) is used as it is.

    Returns:
        keras.Sequential: ``depth`` hidden Dense layers, then ``Dense(1)`` with a
        linear output, every kernel drawn with ``kernel_initializer``.
    """

    # YOUR CODE HERE
    raise NotImplementedError()


def dense_grad_norms(model, x, y):
    """Return the Frobenius norm of dL/d(kernel) for every Dense layer, input side first.

    The Frobenius norm of a matrix is the square root of the sum of squares of all its
    entries (not the spectral norm, its largest singular value).

    Args:
        model: a Keras model.
        x: inputs, shape (m, input_dim).
        y: targets, shape (m, 1) or (m,).

    Returns:
        np.ndarray of shape (number of Dense layers,), where L is the mean squared
        error of ``model(x)`` against ``y``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def gradient_regime(norms, threshold=1e3):
    """Name the regime that per-layer gradient norms show.

    Args:
        norms: per-layer gradient norms, input side first.
        threshold: ratio beyond which the gradients count as vanishing or exploding.

    Returns:
        ``"vanishing"`` if norms[-1]/norms[0] > threshold, ``"exploding"`` if
        norms[0]/norms[-1] > threshold, else ``"stable"``.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def build_exploding_mlp(input_dim, depth, width, seed=None):
    """Build an MLP laid out as ``build_mlp`` does whose gradients explode.

    Args:
        input_dim: number of input features.
        depth: number of hidden Dense layers.
        width: units per hidden layer.
        seed: int or None; the same seed gives the same weights.

    Returns:
        keras.Sequential whose ``dense_grad_norms`` are finite and whose input-side
        norm is at least 1e3 times the output-side norm, measured with input_dim 8,
        depth 20 and 30, width 32 and 64, several seeds, on 64 standard-normal samples
        as inputs and targets, the model called in inference mode.
    """
    # YOUR CODE HERE
    raise NotImplementedError()
