# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: missing_factor_two
# why: The student differentiates (O_n - y)^2 as (O_n - y), dropping the 2, so every gradient is half the true one.
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    outputs = [x] + chain_forward(x, w, b)
    n = len(w)
    dL_dw = np.zeros(n)
    dL_db = np.zeros(n)
    error = outputs[-1] - y
    upstream = error / len(error)
    for k in range(n, 0, -1):
        delta = upstream * sigmoid_derivative(w[k - 1] * outputs[k - 1] + b[k - 1])
        dL_dw[k - 1] = delta @ outputs[k - 1]
        dL_db[k - 1] = delta.sum()
        upstream = delta * w[k - 1]
    return dL_dw, dL_db
