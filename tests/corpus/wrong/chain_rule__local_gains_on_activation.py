# corpus: wrong
# function: chain_rule.local_gains
# mistake: none
# why: The student reuses chain_forward's outputs and evaluates the slope at the output, sigmoid'(O_k) * w_k, instead of at the pre-activation z_k.
import numpy as np


def local_gains(x, w, b):
    outputs = chain_forward(x, w, b)
    return np.array([sigmoid_derivative(o_k) * w_k for o_k, w_k in zip(outputs, w)])
