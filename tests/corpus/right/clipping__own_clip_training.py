# corpus: right
# functions: clipping.clipped_train_step, clipping.train_with_clipping
# why: The student's training step uses Keras's MeanSquaredError and their own NumPy global-norm clipping, and the loop collects the losses in a list built from make_optimizer("none", ...).
import keras
import numpy as np
import tensorflow as tf


def clipped_train_step(model, optimizer, x, y, clip_norm):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    loss_fn = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    variables = model.trainable_variables
    grads = [g.numpy() for g in tape.gradient(loss, variables)]
    clipped, norm_before = clip_by_global_norm(grads, clip_norm)
    optimizer.apply_gradients(
        [(tf.convert_to_tensor(c, dtype=v.dtype), v) for c, v in zip(clipped, variables)]
    )
    return {
        "loss": float(loss),
        "grad_norm": float(norm_before),
        "clipped_norm": float(global_norm(clipped)),
    }


def train_with_clipping(model, x, y, clip_norm, learning_rate, steps):
    optimizer = make_optimizer("none", None, learning_rate)
    history = []
    for _ in range(steps):
        stats = clipped_train_step(model, optimizer, x, y, clip_norm)
        history.append(stats["loss"])
    return np.asarray(history)
