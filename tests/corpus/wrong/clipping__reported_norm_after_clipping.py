# corpus: wrong
# function: clipping.clipped_train_step
# mistake: reported_norm_after_clipping
# why: The student reports the norm of the gradients that were applied, i.e. after clipping, as grad_norm.
import tensorflow as tf


def clipped_train_step(model, optimizer, x, y, clip_norm):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        loss = tf.reduce_mean(tf.square(pred - tf.reshape(y, tf.shape(pred))))
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, _ = tf.clip_by_global_norm(grads, clip_norm)
    optimizer.apply_gradients(zip(clipped, model.trainable_variables))
    applied_norm = float(tf.linalg.global_norm(clipped))
    return {"loss": float(loss), "grad_norm": applied_norm, "clipped_norm": applied_norm}
