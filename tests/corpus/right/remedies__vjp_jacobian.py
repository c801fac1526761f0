# corpus: right
# functions: remedies.rnn_jacobian_norms
# why: The student never forms the step Jacobians: each row e_i^T dh_T/dh_{t-1} is a vector pushed back through the steps by vector-Jacobian products, and the spectral norm comes from np.linalg.svd.
import numpy as np


def _backward_one_step(v, h_t, w_rec):
    """v^T dh_t/dh_{t-1} for h_t = tanh(w_rec h_{t-1} + ...)."""
    return (v * (1.0 - h_t**2)) @ w_rec


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    w_rec = np.asarray(w_rec, dtype=np.float64)
    w_in = np.asarray(w_in, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    states = [np.asarray(h0, dtype=np.float64)]
    for x_t in np.asarray(xs, dtype=np.float64):
        states.append(np.tanh(w_rec @ states[-1] + w_in @ x_t + b))
    T = len(states) - 1
    hidden = states[0].shape[0]
    norms = np.zeros(T)
    for t in range(1, T + 1):
        rows = []
        for i in range(hidden):
            v = np.zeros(hidden)
            v[i] = 1.0
            for s in range(T, t - 1, -1):
                v = _backward_one_step(v, states[s], w_rec)
            rows.append(v)
        jacobian = np.array(rows)  # dh_T/dh_{t-1}
        norms[t - 1] = np.linalg.svd(jacobian, compute_uv=False)[0]
    return norms
