"""Part 3 `clipping`: gradient clipping by value, by norm and by global norm."""

import keras
import numpy as np
import tensorflow as tf


def clip_by_value(grads, clip_value):
    """Clip every element of every gradient to [-clip_value, clip_value].

    Args:
        grads: list of arrays or tensors of any shapes.
        clip_value: positive bound.

    Returns:
        list of arrays, one per gradient, with the same shapes.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def clip_by_norm(grads, clip_norm):
    """Rescale each gradient separately so that its L2 norm is at most clip_norm.

    Args:
        grads: list of arrays or tensors of any shapes.
        clip_norm: positive bound on each tensor's norm.

    Returns:
        list of arrays: each t becomes t * clip_norm / max(||t||_2, clip_norm).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def global_norm(grads):
    """Return the L2 norm of all gradients taken together.

    Args:
        grads: list of arrays or tensors of any shapes.

    Returns:
        float: sqrt of the sum of squares of every element of every tensor, finite and
        right also for float32 tensors with entries near 1e20, whose squares overflow
        float32.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def clip_by_global_norm(grads, clip_norm):
    """Rescale all gradients by one common factor so that their global norm is at most clip_norm.

    Args:
        grads: list of arrays or tensors of any shapes.
        clip_norm: positive bound on the global norm.

    Returns:
        tuple ``(clipped, norm)``: every t becomes t * clip_norm / max(norm, clip_norm),
        and ``norm`` is the global norm before clipping, as ``global_norm`` computes it.
        The same as ``tf.clip_by_global_norm`` returns wherever TensorFlow's norm is
        finite, and still finite where TensorFlow's overflows float32 (there it returns
        an infinite norm and NaN values).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def make_optimizer(strategy, threshold, learning_rate):
    """Return a Keras SGD optimizer that clips gradients as ``strategy`` names.

    Args:
        strategy: ``"none"``, ``"value"`` (clipvalue), ``"norm"`` (clipnorm, per
            variable) or ``"global_norm"`` (global_clipnorm).
        threshold: the clipping threshold (ignored for ``"none"``).
        learning_rate: the SGD learning rate.

    Returns:
        keras.optimizers.SGD.

    Raises:
        ValueError: for an unknown strategy.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def clipped_train_step(model, optimizer, x, y, clip_norm):
    """Make one training step on the mean squared error, clipped by global norm.

    Args:
        model: a Keras model.
        optimizer: a Keras optimizer that applies the clipped gradients.
        x: inputs, shape (m, input_dim).
        y: targets, shape (m, 1) or (m,).
        clip_norm: bound on the global norm of the gradients.

    Returns:
        dict with floats ``loss`` (before the update), ``grad_norm`` (global norm
        before clipping) and ``clipped_norm`` (global norm after clipping).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def train_with_clipping(model, x, y, clip_norm, learning_rate, steps):
    """Train with full-batch SGD, clipping every step's gradients by global norm.

    Args:
        model: a Keras model.
        x: inputs, shape (m, input_dim).
        y: targets, shape (m, 1) or (m,).
        clip_norm: bound on the global norm of the gradients.
        learning_rate: the SGD learning rate.
        steps: number of steps.

    Returns:
        np.ndarray of shape (steps,): the loss before each step.
    """
    # YOUR CODE HERE
    raise NotImplementedError()
