# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: sum_instead_of_mean
# why: The student differentiates the sum of squared errors and forgets the 1/m of the mean, so every gradient is m times too big.
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    acts = [x] + chain_forward(x, w, b)
    n = w.shape[0]
    grad_w = np.zeros(n)
    grad_b = np.zeros(n)
    d_out = 2 * (acts[-1] - y)  # dL/dO_n
    for k in reversed(range(n)):
        d_z = d_out * acts[k + 1] * (1 - acts[k + 1])
        grad_w[k] = (d_z * acts[k]).sum()
        grad_b[k] = d_z.sum()
        d_out = d_z * w[k]
    return grad_w, grad_b
