"""Part 2's simulators: gradient norms that include the biases (two mistakes students make)."""

from __future__ import annotations

import numpy as np

from grader.isolation.protocol import ModelSpec
from grader.measuring.layout import dense_layers
from grader.measuring.rebuild import rebuild_model
from grader.quiet import import_tensorflow

__all__ = ["variable_norms"]


def variable_norms(spec: ModelSpec, x: np.ndarray, y: np.ndarray, per_layer: bool) -> np.ndarray:
    """Gradient norms that include the biases: per Dense layer (kernel and bias together),
    or of every trainable variable in turn."""
    tf = import_tensorflow()
    model = rebuild_model(spec)
    with tf.GradientTape() as tape:
        pred = model(x)
        loss = tf.reduce_mean(tf.square(pred - tf.reshape(y, tf.shape(pred))))
    if not per_layer:
        grads = tape.gradient(loss, model.trainable_variables)
        return np.array([float(tf.norm(g)) for g in grads])
    pairs = tape.gradient(loss, [(layer.kernel, layer.bias) for layer in dense_layers(model)])
    return np.array([np.sqrt(float(tf.norm(k)) ** 2 + float(tf.norm(b)) ** 2) for k, b in pairs])
