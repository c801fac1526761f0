# corpus: right
# functions: clipping.clip_by_value, clipping.clip_by_norm, clipping.global_norm, clipping.clip_by_global_norm, clipping.clipped_train_step, clipping.train_with_clipping
# why: The student does all the clipping arithmetic in float64 (the arrays converted with dtype=np.float64, the norms of the training step taken on float64 copies of the gradients) and casts back only what goes into the optimizer.
import keras
import numpy as np
import tensorflow as tf


def clip_by_value(grads, clip_value):
    return [np.clip(np.asarray(g, dtype=np.float64), -clip_value, clip_value) for g in grads]


def clip_by_norm(grads, clip_norm):
    result = []
    for g in grads:
        g = np.asarray(g, dtype=np.float64)
        norm = np.sqrt(np.sum(g * g))
        result.append(g * clip_norm / max(norm, clip_norm))
    return result


def global_norm(grads):
    total = 0.0
    for g in grads:
        g = np.asarray(g, dtype=np.float64)
        total += np.sum(g * g)
    return float(np.sqrt(total))


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    scale = clip_norm / max(norm, clip_norm)
    return [np.asarray(g, dtype=np.float64) * scale for g in grads], norm


def clipped_train_step(model, optimizer, x, y, clip_norm):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    wide = [tf.cast(g, tf.float64) for g in grads]
    grad_norm = tf.sqrt(tf.add_n([tf.reduce_sum(g * g) for g in wide]))
    scale = clip_norm / tf.maximum(grad_norm, tf.constant(clip_norm, tf.float64))
    clipped = [g * scale for g in wide]
    clipped_norm = tf.sqrt(tf.add_n([tf.reduce_sum(g * g) for g in clipped]))
    optimizer.apply_gradients(
        zip(
            [tf.cast(g, v.dtype) for g, v in zip(clipped, model.trainable_variables)],
            model.trainable_variables,
        )
    )
    return {
        "loss": float(loss),
        "grad_norm": float(grad_norm),
        "clipped_norm": float(clipped_norm),
    }


def train_with_clipping(model, x, y, clip_norm, learning_rate, steps):
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    losses = np.zeros(steps, dtype=np.float64)
    for step in range(steps):
        losses[step] = clipped_train_step(model, optimizer, x, y, clip_norm)["loss"]
    return losses
