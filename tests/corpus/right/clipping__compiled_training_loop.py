# corpus: right
# functions: clipping.train_with_clipping
# why: The student compiles their own clipped step with tf.function instead of calling clipped_train_step: the same steps by another route, judged by the losses.
import keras
import numpy as np
import tensorflow as tf


def train_with_clipping(model, x, y, clip_norm, learning_rate, steps):
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        clipped, _ = tf.clip_by_global_norm(grads, clip_norm)
        optimizer.apply_gradients(zip(clipped, model.trainable_variables))
        return loss

    return np.array([float(step()) for _ in range(steps)])
