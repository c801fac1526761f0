# corpus: wrong
# function: chain_rule.local_gains
# mistake: none
# why: The student stacks the per-link gains as columns with np.column_stack and returns an (m, n) array, one row per sample, instead of (n, m).
import numpy as np


def local_gains(x, w, b):
    x = np.asarray(x, dtype=np.float64)
    prev = x
    cols = []
    for w_k, b_k in zip(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)):
        z = w_k * prev + b_k
        cols.append(sigmoid_derivative(z) * w_k)
        prev = sigmoid(z)
    return np.column_stack(cols)
