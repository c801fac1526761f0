# corpus: wrong
# function: chain_rule.chain_forward
# mistake: none
# why: The student updates one buffer in place with out[:] = ... and appends that same array every step, so every entry of the list ends up equal to O_n.
import numpy as np


def chain_forward(x, w, b):
    out = np.array(x, dtype=np.float64)
    outputs = []
    for k in range(len(w)):
        out[:] = sigmoid(w[k] * out + b[k])
        outputs.append(out)
    return outputs
