"""The grader's own clipped training step, put in place of the student's while
``train_with_clipping`` is checked, so that only the loop is judged there.

It is a right answer to ``clipping.clipped_train_step``, so the student kit does not ship
this module (:mod:`grader.course.kit`): a kit replays the steps the reference's loop made
from the values recorded when it was built (:func:`grader.checks.expected.trusted_steps`).
"""

from __future__ import annotations

from typing import Any

from grader.quiet import import_tensorflow


def trusted_train_step(
    model: Any, optimizer: Any, x: Any, y: Any, clip_norm: float
) -> dict[str, float]:
    """One step of the mean squared error in a ``tf.GradientTape``, its gradients clipped by
    global norm (``tf.clip_by_global_norm``) and applied with ``optimizer``.

    Returns:
        the loss before the update and the global norms before and after clipping.
    """
    tf = import_tensorflow()
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    with tf.GradientTape() as tape:
        prediction = model(x, training=True)
        loss = tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, norm = tf.clip_by_global_norm(grads, clip_norm)
    optimizer.apply_gradients(zip(clipped, model.trainable_variables))
    return {
        "loss": float(loss),
        "grad_norm": float(norm),
        "clipped_norm": float(tf.linalg.global_norm(clipped)),
    }
