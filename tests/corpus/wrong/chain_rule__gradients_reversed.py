# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: gradients_reversed
# why: The student appends each gradient while walking backwards from the output and returns the lists without reversing them, so entry 0 belongs to w_n.
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    O = [x] + chain_forward(x, w, b)
    n = len(w)
    grads_w = []
    grads_b = []
    dLdO = 2 * (O[-1] - y) / len(x)
    for k in range(n, 0, -1):
        dLdz = dLdO * O[k] * (1 - O[k])
        grads_w.append(np.sum(dLdz * O[k - 1]))
        grads_b.append(np.sum(dLdz))
        dLdO = dLdz * w[k - 1]
    return np.array(grads_w), np.array(grads_b)
