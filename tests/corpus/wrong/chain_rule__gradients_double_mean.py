# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: none
# why: The student divides by m in dL/dO_n and then averages over the batch again with np.mean instead of summing, so the gradients are m times too small.
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    m = x.shape[0]
    O = [x] + chain_forward(x, w, b)
    dw = np.zeros(len(w))
    db = np.zeros(len(w))
    d = 2 * (O[-1] - y) / m
    for k in range(len(w), 0, -1):
        d = d * O[k] * (1 - O[k])
        dw[k - 1] = np.mean(d * O[k - 1])
        db[k - 1] = np.mean(d)
        d = d * w[k - 1]
    return dw, db
