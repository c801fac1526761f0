# corpus: wrong
# function: remedies.rnn_jacobian_norms
# mistake: jacobian_off_by_one
# why: The student stores the norm before multiplying in the step's Jacobian, so entry t-1 holds dh_T/dh_t and the last entry is the identity's norm 1.
import numpy as np


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    w_rec = np.asarray(w_rec, dtype=np.float64)
    w_in = np.asarray(w_in, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    hs = [np.asarray(h0, dtype=np.float64)]
    for x_t in np.asarray(xs, dtype=np.float64):
        hs.append(np.tanh(w_rec @ hs[-1] + w_in @ x_t + b))
    T = len(xs)
    norms = np.zeros(T)
    J = np.eye(w_rec.shape[0])
    for t in range(T, 0, -1):
        norms[t - 1] = np.linalg.norm(J, 2)
        J = J @ ((1 - hs[t] ** 2)[:, None] * w_rec)
    return norms
