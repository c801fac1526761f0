# corpus: wrong
# function: clipping.clipped_train_step
# mistake: clip_after_update
# why: The student applies the raw gradients with the optimizer first and clips them afterwards, so the update itself is never clipped.
import tensorflow as tf


def clipped_train_step(model, optimizer, x, y, clip_norm):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    clipped, norm = clip_by_global_norm(grads, clip_norm)
    return {
        "loss": float(loss),
        "grad_norm": float(norm),
        "clipped_norm": global_norm(clipped),
    }
