# corpus: wrong
# function: clipping.train_with_clipping
# mistake: no_clipping
# why: The student writes their own training loop and applies the raw gradients, so clip_norm is accepted but never used.
import keras
import numpy as np
import tensorflow as tf


def train_with_clipping(model, x, y, clip_norm, learning_rate, steps):
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    return np.array(losses)
