# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: sum_instead_of_mean
# why: The student builds the loss with tf.reduce_sum of the squared errors, so every norm is m times the mean-squared-error one.
import keras
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    kernels = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            kernels.append(layer.kernel)
    with tf.GradientTape() as tape:
        out = model(x)
        loss = tf.reduce_sum(tf.square(out - tf.reshape(y, tf.shape(out))))
    grads = tape.gradient(loss, kernels)
    return np.array([float(tf.norm(g)) for g in grads])
