# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: missing_weight_factor
# why: Going back a layer the student multiplies by sigmoid' only and forgets the factor w_k of dz_k/dO_{k-1}.
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    outputs = chain_forward(x, w, b)
    n = len(outputs)
    dL_dw = np.zeros(n)
    dL_db = np.zeros(n)
    upstream = 2 * (outputs[-1] - y) / len(y)
    for k in reversed(range(n)):
        o_k = outputs[k]
        o_prev = outputs[k - 1] if k > 0 else x
        local = upstream * o_k * (1 - o_k)
        dL_dw[k] = np.sum(local * o_prev)
        dL_db[k] = np.sum(local)
        upstream = local  # dL/dO_{k-1}
    return dL_dw, dL_db
