# corpus: wrong
# function: remedies.rnn_jacobian_norms
# mistake: none
# why: The student multiplies each earlier step's Jacobian on the left (J_t @ product) instead of on the right, giving J_t ... J_T rather than J_T ... J_t.
import numpy as np


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    w_rec = np.asarray(w_rec, dtype=np.float64)
    w_in = np.asarray(w_in, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    h = np.asarray(h0, dtype=np.float64)
    steps = []
    for x_t in np.asarray(xs, dtype=np.float64):
        h = np.tanh(w_rec @ h + w_in @ x_t + b)
        steps.append((1.0 - h * h)[:, None] * w_rec)
    out = np.zeros(len(steps))
    product = np.eye(len(h))
    for t in reversed(range(len(steps))):
        product = steps[t] @ product
        out[t] = np.linalg.norm(product, 2)
    return out
