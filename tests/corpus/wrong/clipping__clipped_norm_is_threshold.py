# corpus: wrong
# function: clipping.clipped_train_step
# mistake: none
# why: The student assumes the clipped gradients always have norm clip_norm and reports clip_norm as clipped_norm, which is wrong whenever the gradients were already smaller.
import tensorflow as tf


def clipped_train_step(model, optimizer, x, y, clip_norm):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    with tf.GradientTape() as tape:
        prediction = model(x, training=True)
        loss = tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, grad_norm = tf.clip_by_global_norm(grads, clip_norm)
    optimizer.apply_gradients(zip(clipped, model.trainable_variables))
    return {"loss": float(loss), "grad_norm": float(grad_norm), "clipped_norm": float(clip_norm)}
