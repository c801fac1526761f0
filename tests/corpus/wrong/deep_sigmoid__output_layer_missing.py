# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: output_layer_missing
# why: The student loops over model.layers[:-1] to get "the hidden layers" and leaves the output Dense layer's norm out.
import numpy as np
import tensorflow as tf


def dense_grad_norms(model, x, y):
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    hidden = model.layers[:-1]
    with tf.GradientTape() as tape:
        prediction = model(x)
        loss = tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))
    grads = tape.gradient(loss, [layer.kernel for layer in hidden])
    norms = np.zeros(len(grads))
    for i, g in enumerate(grads):
        norms[i] = tf.sqrt(tf.reduce_sum(g * g)).numpy()
    return norms
