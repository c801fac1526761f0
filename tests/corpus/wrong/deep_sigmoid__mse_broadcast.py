# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: none
# why: The student subtracts y of shape (m,) from the (m, 1) prediction without reshaping, so broadcasting averages an (m, m) matrix of errors and the gradients are wrong.
import keras
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.constant(x, dtype=tf.float32)
    y = tf.constant(y, dtype=tf.float32)
    kernels = [l.kernel for l in model.layers if isinstance(l, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, kernels)
    return np.array([tf.norm(g).numpy() for g in grads])
