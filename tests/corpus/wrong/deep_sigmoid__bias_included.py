# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: bias_included
# why: The student takes each Dense layer's norm over all its trainable weights, kernel and bias together, instead of over the kernel only.
import keras
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        pred = model(x)
        loss = tf.reduce_mean(tf.square(pred - tf.reshape(y, pred.shape)))
    grads = tape.gradient(loss, [layer.trainable_weights for layer in dense])
    result = []
    for layer_grads in grads:
        squares = sum(float(tf.reduce_sum(tf.square(g))) for g in layer_grads)
        result.append(np.sqrt(squares))
    return np.array(result)
