# corpus: wrong
# function: clipping.clipped_train_step
# mistake: loss_after_update
# why: The student recomputes the loss after applying the update to "see the effect of the step" and returns that instead of the loss before the update.
import tensorflow as tf


def clipped_train_step(model, optimizer, x, y, clip_norm):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))

    def mse():
        return tf.reduce_mean(tf.square(model(x, training=True) - y))

    with tf.GradientTape() as tape:
        loss = mse()
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, grad_norm = tf.clip_by_global_norm(grads, clip_norm)
    optimizer.apply_gradients(zip(clipped, model.trainable_variables))
    new_loss = mse()
    return {
        "loss": float(new_loss),
        "grad_norm": float(grad_norm),
        "clipped_norm": float(tf.linalg.global_norm(clipped)),
    }
