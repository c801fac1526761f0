"""Part 3's simulators: clipping gone wrong, and the training runs of known mistakes."""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.isolation.protocol import ModelSpec
from grader.measuring.measure import train_full_batch
from grader.measuring.rebuild import rebuild_model
from grader.quiet import import_tensorflow
from grader.worker.trusted_step import trusted_train_step

__all__ = [
    "always_rescaled",
    "default_rate_run",
    "loss_after_step",
    "scaled_by_global_norm",
    "sum_of_norms",
    "sum_of_squares",
    "unclipped_run",
    "unclipped_weights",
    "upper_clip",
]


def upper_clip(grads: list[Any], clip_value: float) -> list[np.ndarray]:
    """Only the upper bound applied."""
    return [np.minimum(t, clip_value) for t in grads]


def sum_of_squares(grads: list[Any]) -> float:
    """The sum of squares of every element, in float64, without the square root."""
    return sum(float(np.sum(np.square(np.asarray(g), dtype=np.float64))) for g in grads)


def sum_of_norms(grads: list[Any]) -> float:
    """The per-tensor norms added up."""
    return float(sum(np.linalg.norm(np.ravel(np.asarray(t, dtype=np.float64))) for t in grads))


def scaled_by_global_norm(grads: list[Any], clip_norm: float) -> list[np.ndarray]:
    """Every tensor scaled by the global norm (clip_by_norm written as the global clip)."""
    norm = float(np.sqrt(sum_of_squares(grads)))
    return [np.asarray(t) * (clip_norm / max(norm, clip_norm)) for t in grads]


def always_rescaled(grads: list[Any], clip_norm: float) -> list[np.ndarray]:
    """Every tensor rescaled to norm clip_norm, those within the bound too."""
    with np.errstate(divide="ignore", invalid="ignore"):  # all-zero tensors give NaN
        return [
            np.asarray(t) * clip_norm / np.sqrt(np.sum(np.square(t, dtype=np.float64)))
            for t in grads
        ]


def unclipped_run(spec: ModelSpec, x: np.ndarray, y: np.ndarray, steps: int, rate: float):
    """The losses of the same run without clipping."""
    return train_full_batch(rebuild_model(spec), x, y, steps, rate)


def unclipped_weights(spec: ModelSpec, x: np.ndarray, y: np.ndarray, rate: float):
    """Weights after applying the unclipped gradients (the clip-after-update mistake)."""
    tf = import_tensorflow()
    model = rebuild_model(spec)
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        loss = tf.reduce_mean(tf.square(pred - tf.reshape(y, tf.shape(pred))))
    grads = tape.gradient(loss, model.trainable_variables)
    return [np.asarray(w) - rate * np.asarray(g) for w, g in zip(model.get_weights(), grads)]


def default_rate_run(spec: ModelSpec, x: np.ndarray, y: np.ndarray, clip_norm: float, steps: int):
    """The clipped steps made with SGD's default learning rate (the rate argument ignored)."""
    # lazy: Keras loads through import_tensorflow (quietly) when a simulator needs it
    import keras

    import_tensorflow()
    model = rebuild_model(spec)
    optimizer = keras.optimizers.SGD()
    return np.array(
        [trusted_train_step(model, optimizer, x, y, clip_norm)["loss"] for _ in range(steps)]
    )


def loss_after_step(spec: ModelSpec, weights: list[Any], x: np.ndarray, y: np.ndarray) -> float:
    """The loss of the model once stepped (``weights``): reported instead of the one before."""
    import_tensorflow()
    stepped = rebuild_model(spec)
    stepped.set_weights(weights)
    return float(np.mean((np.asarray(stepped(x)) - y) ** 2))
