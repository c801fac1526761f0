# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: bias_included
# why: The student differentiates with respect to model.trainable_variables and returns one norm per variable, so biases are included and the array has twice the number of Dense layers.
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.cast(x, tf.float32)
    y = tf.reshape(tf.cast(y, tf.float32), (-1, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    gradients = tape.gradient(loss, model.trainable_variables)
    return np.array([np.linalg.norm(g.numpy()) for g in gradients])
