# corpus: wrong
# function: clipping.clipped_train_step
# mistake: none
# why: The student clips each variable's gradient separately with clip_by_norm instead of by the global norm, so the update direction changes.
import numpy as np
import tensorflow as tf


def clipped_train_step(model, optimizer, x, y, clip_norm):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    clipped = clip_by_norm(grads, clip_norm)
    optimizer.apply_gradients(
        zip([tf.constant(c, dtype=tf.float32) for c in clipped], model.trainable_variables)
    )
    return {
        "loss": float(loss),
        "grad_norm": global_norm(grads),
        "clipped_norm": float(np.sqrt(sum(np.sum(c.astype(np.float64) ** 2) for c in clipped))),
    }
