# corpus: wrong
# function: chain_rule.chain_forward
# mistake: forward_returns_preactivations
# why: The student stores the weighted sums z_k in the list instead of the neuron outputs O_k.
import numpy as np


def chain_forward(x, w, b):
    o = np.asarray(x, dtype=float)
    zs = []
    for k in range(len(w)):
        z = w[k] * o + b[k]
        o = sigmoid(z)
        zs.append(z)
    return zs
