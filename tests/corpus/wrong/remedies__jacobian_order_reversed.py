# corpus: wrong
# function: remedies.rnn_jacobian_norms
# mistake: jacobian_order_reversed
# why: The student appends the norms while walking back from t = T and forgets to reverse the list, so entry 0 is dh_T/dh_{T-1} instead of dh_T/dh_0.
import numpy as np


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    W = np.asarray(w_rec, dtype=np.float64)
    U = np.asarray(w_in, dtype=np.float64)
    bias = np.asarray(b, dtype=np.float64)
    h = np.asarray(h0, dtype=np.float64)
    derivs = []
    for x in np.asarray(xs, dtype=np.float64):
        h = np.tanh(W @ h + U @ x + bias)
        derivs.append(1 - h**2)
    norms = []
    M = np.eye(len(h))
    for d in reversed(derivs):
        M = M @ (d[:, None] * W)
        norms.append(np.linalg.norm(M, 2))
    return np.array(norms)
