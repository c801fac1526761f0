# corpus: right
# functions: deep_sigmoid.dense_grad_norms, deep_sigmoid.gradient_regime
# why: The student takes one gradient call per Dense layer with a persistent tape, stacks the float32 norms into a tf.Tensor, and picks the regime from a small lookup.
import keras
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.cast(x, tf.float32)
    y = tf.cast(y, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        prediction = model(x)
        target = tf.reshape(y, [-1, 1])
        loss = keras.ops.mean(keras.ops.square(prediction - target))
    norms = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            norms.append(tf.linalg.norm(tape.gradient(loss, layer.kernel)))
    del tape
    return tf.stack(norms)


def gradient_regime(norms, threshold=1e3):
    norms = np.asarray(norms, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        verdicts = {
            "vanishing": norms[-1] / norms[0] > threshold,
            "exploding": norms[0] / norms[-1] > threshold,
        }
    for name, holds in verdicts.items():
        if holds:
            return name
    return "stable"
