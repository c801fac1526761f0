# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: input_off_by_one
# why: The student multiplies dL/dz_k by the neuron's own output O_k instead of its input O_{k-1} when forming dL/dw_k.
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    outs = chain_forward(x, w, b)
    n = len(w)
    g_w = np.empty(n)
    g_b = np.empty(n)
    dO = 2 * (outs[-1] - y) / x.shape[0]
    for k in range(n - 1, -1, -1):
        dz = dO * outs[k] * (1 - outs[k])
        g_w[k] = np.sum(dz * outs[k])
        g_b[k] = np.sum(dz)
        dO = dz * w[k]
    return g_w, g_b
