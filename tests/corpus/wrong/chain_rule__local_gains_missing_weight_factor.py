# corpus: wrong
# function: chain_rule.local_gains
# mistake: local_gains_missing_weight_factor
# why: The student returns only the sigmoid slope sigmoid'(z_k) for every link and forgets to multiply by w_k.
import numpy as np


def local_gains(x, w, b):
    o = np.asarray(x, dtype=np.float64)
    rows = []
    for w_k, b_k in zip(w, b):
        z = w_k * o + b_k
        rows.append(sigmoid_derivative(z))
        o = sigmoid(z)
    return np.array(rows)
