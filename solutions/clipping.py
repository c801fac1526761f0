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
    ### BEGIN SOLUTION
    return [np.minimum(np.maximum(np.asarray(g), -clip_value), clip_value) for g in grads]
    ### END SOLUTION


def clip_by_norm(grads, clip_norm):
    """Rescale each gradient separately so that its L2 norm is at most clip_norm.

    Args:
        grads: list of arrays or tensors of any shapes.
        clip_norm: positive bound on each tensor's norm.

    Returns:
        list of arrays: each t becomes t * clip_norm / max(||t||_2, clip_norm).
    """
    ### BEGIN SOLUTION
    clipped = []
    for g in grads:
        g = np.asarray(g)
        norm = np.sqrt(np.sum(np.square(g, dtype=np.float64)))
        clipped.append(g * (clip_norm / max(norm, clip_norm)))
    return clipped
    ### END SOLUTION


def global_norm(grads):
    """Return the L2 norm of all gradients taken together.

    Args:
        grads: list of arrays or tensors of any shapes.

    Returns:
        float: sqrt of the sum of squares of every element of every tensor, finite and
        right also for float32 tensors with entries near 1e20, whose squares overflow
        float32.
    """
    ### BEGIN SOLUTION
    return float(np.sqrt(sum(np.sum(np.square(np.asarray(g, dtype=np.float64))) for g in grads)))
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    norm = global_norm(grads)
    scale = clip_norm / max(norm, clip_norm) if np.isfinite(norm) else np.nan
    return [np.asarray(g) * scale for g in grads], norm
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    arguments = {
        "none": None,
        "value": "clipvalue",
        "norm": "clipnorm",
        "global_norm": "global_clipnorm",
    }
    if strategy not in arguments:
        raise ValueError(
            f"strategy must be one of {sorted(arguments)}. Received: strategy={strategy!r}"
        )
    clipping = {arguments[strategy]: threshold} if arguments[strategy] else {}
    return keras.optimizers.SGD(learning_rate=learning_rate, **clipping)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    with tf.GradientTape() as tape:
        prediction = model(x, training=True)
        loss = tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, grad_norm = tf.clip_by_global_norm(grads, clip_norm)
    optimizer.apply_gradients(zip(clipped, model.trainable_variables))
    return {
        "loss": float(loss),
        "grad_norm": float(grad_norm),
        "clipped_norm": float(tf.linalg.global_norm(clipped)),
    }
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    return np.array(
        [clipped_train_step(model, optimizer, x, y, clip_norm)["loss"] for _ in range(steps)]
    )
    ### END SOLUTION
