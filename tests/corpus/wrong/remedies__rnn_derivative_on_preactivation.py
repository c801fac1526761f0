# corpus: wrong
# function: remedies.rnn_jacobian_norms
# mistake: none
# why: The student writes tanh'(a) = 1 - a^2 and plugs in the pre-activation a instead of h_t = tanh(a).
import numpy as np


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    w_rec = np.asarray(w_rec, dtype=np.float64)
    w_in = np.asarray(w_in, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    h = np.asarray(h0, dtype=np.float64)
    step_jacobians = []
    for x_t in np.asarray(xs, dtype=np.float64):
        a = w_rec @ h + w_in @ x_t + b
        h = np.tanh(a)
        step_jacobians.append(np.diag(1 - a**2) @ w_rec)
    T = len(step_jacobians)
    norms = np.empty(T)
    product = np.eye(len(h))
    for t in range(T, 0, -1):
        product = product @ step_jacobians[t - 1]
        norms[t - 1] = np.linalg.norm(product, 2)
    return norms
