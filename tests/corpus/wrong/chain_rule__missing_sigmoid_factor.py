# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: missing_sigmoid_factor
# why: The student treats dL/dO_k as dL/dz_k and never multiplies by sigmoid'(z_k) on the way back.
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    outs = chain_forward(x, w, b)
    inputs = [x] + outs[:-1]
    m = x.size
    dL_dw = np.zeros_like(w)
    dL_db = np.zeros_like(w)
    delta = 2.0 * (outs[-1] - y) / m
    for k in range(len(w) - 1, -1, -1):
        dL_dw[k] = np.sum(delta * inputs[k])
        dL_db[k] = np.sum(delta)
        delta = delta * w[k]
    return dL_dw, dL_db
