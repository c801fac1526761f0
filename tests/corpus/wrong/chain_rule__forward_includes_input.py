# corpus: wrong
# function: chain_rule.chain_forward
# mistake: forward_includes_input
# why: The student starts the list with O_0 = x as in the lecture's notation and returns all n+1 activations [x, O_1, ..., O_n].
import numpy as np


def chain_forward(x, w, b):
    activations = [np.asarray(x, dtype=np.float64)]
    for w_k, b_k in zip(w, b):
        activations.append(sigmoid(w_k * activations[-1] + b_k))
    return activations
