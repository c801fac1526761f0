# corpus: wrong
# function: remedies.rnn_jacobian_norms
# mistake: frobenius_norm
# why: The student calls np.linalg.norm(M) without ord=2, which for a matrix is the Frobenius norm, not the spectral norm.
import numpy as np


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    w_rec = np.asarray(w_rec, dtype=np.float64)
    w_in = np.asarray(w_in, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    h = np.asarray(h0, dtype=np.float64)
    jacobians = []
    for x_t in np.asarray(xs, dtype=np.float64):
        h = np.tanh(w_rec @ h + w_in @ x_t + b)
        jacobians.append(np.diag(1 - h**2) @ w_rec)
    result = []
    prod = np.eye(h.shape[0])
    for J in reversed(jacobians):
        prod = prod @ J
        result.append(np.linalg.norm(prod))
    return np.array(result[::-1])
