# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: norms_reversed
# why: The student thinks of backpropagation order and lists the norms from the output layer back to the input layer.
import keras
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.constant(x, dtype=tf.float32)
    y = tf.reshape(tf.constant(y, dtype=tf.float32), (-1, 1))
    dense_layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((model(x) - y) ** 2)
    grads = tape.gradient(loss, [layer.kernel for layer in dense_layers])
    norms = [tf.norm(g).numpy() for g in grads]
    # backprop goes from the output to the input
    return np.array(norms[::-1])
