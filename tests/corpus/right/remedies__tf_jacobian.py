# corpus: right
# functions: remedies.rnn_jacobian_norms
# why: The student runs the RNN in float64 TensorFlow under a persistent GradientTape and asks tape.jacobian for dh_T/dh_{t-1} with respect to each recorded hidden state.
import numpy as np
import tensorflow as tf


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    w_rec = tf.constant(np.asarray(w_rec, dtype=np.float64))
    w_in = tf.constant(np.asarray(w_in, dtype=np.float64))
    b = tf.constant(np.asarray(b, dtype=np.float64))
    xs = tf.constant(np.asarray(xs, dtype=np.float64))
    h = tf.constant(np.asarray(h0, dtype=np.float64))
    states = []
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(h)
        for t in range(xs.shape[0]):
            states.append(h)  # h_{t}, the input of step t+1
            h = tf.tanh(tf.linalg.matvec(w_rec, h) + tf.linalg.matvec(w_in, xs[t]) + b)
    norms = []
    for previous in states:
        jacobian = tape.jacobian(h, previous, experimental_use_pfor=False)
        norms.append(float(tf.linalg.svd(jacobian, compute_uv=False)[0]))
    del tape
    return np.array(norms)
