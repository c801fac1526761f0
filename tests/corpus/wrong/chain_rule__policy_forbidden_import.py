# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: policy_forbidden_import
# why: The student lets TensorFlow's GradientTape do the backpropagation; the numbers are right but part 1 must be derived by hand without tensorflow.
import numpy as np
import tensorflow as tf


def chain_gradients(x, y, w, b):
    x = tf.constant(np.asarray(x, dtype=np.float64))
    y = tf.constant(np.asarray(y, dtype=np.float64))
    w_var = tf.Variable(np.asarray(w, dtype=np.float64))
    b_var = tf.Variable(np.asarray(b, dtype=np.float64))
    with tf.GradientTape() as tape:
        out = x
        for k in range(w_var.shape[0]):
            out = tf.sigmoid(w_var[k] * out + b_var[k])
        loss = tf.reduce_mean(tf.square(out - y))
    dw, db = tape.gradient(loss, [w_var, b_var])
    return dw.numpy(), db.numpy()
