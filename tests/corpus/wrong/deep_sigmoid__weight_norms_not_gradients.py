# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: none
# why: The student computes the loss but then returns the norms of the kernels themselves instead of the norms of their gradients.
import keras
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    norms = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            norms.append(np.linalg.norm(layer.kernel.numpy()))
    return np.array(norms)
