# corpus: wrong
# function: remedies.rnn_jacobian_norms
# mistake: tanh_derivative_missing
# why: The student multiplies only the recurrent weight matrices, as if dh_t/dh_{t-1} were w_rec, and leaves out diag(1 - h_t^2).
import numpy as np


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    w_rec = np.asarray(w_rec, dtype=np.float64)
    T = len(xs)
    norms = np.zeros(T)
    J = np.eye(w_rec.shape[0])
    for t in range(T - 1, -1, -1):
        J = J @ w_rec
        norms[t] = np.linalg.norm(J, ord=2)
    return norms
