# corpus: wrong
# function: deep_sigmoid.dense_grad_norms
# mistake: none
# why: The student recomputes the forward pass layer by layer, looking each Dense layer's activation up by its name in a table of the activations the course uses, and falls back to the identity for a name not in it.
import keras
import numpy as np
import tensorflow as tf

KNOWN = {"sigmoid": tf.sigmoid, "tanh": tf.tanh, "relu": tf.nn.relu}


def dense_grad_norms(model, x, y):
    h = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.reshape(tf.convert_to_tensor(y, dtype=tf.float32), (-1, 1))
    kernels = []
    with tf.GradientTape() as tape:
        for layer in model.layers:
            if isinstance(layer, keras.layers.Dense):
                kernels.append(layer.kernel)
                z = tf.matmul(h, layer.kernel) + layer.bias
                h = KNOWN.get(layer.activation.__name__, tf.identity)(z)
            else:
                h = layer(h)
        loss = tf.reduce_mean(tf.square(h - y))
    return np.array([tf.norm(g).numpy() for g in tape.gradient(loss, kernels)])
