# corpus: wrong
# function: chain_rule.chain_forward
# mistake: forward_includes_input
# why: The student indexes the outputs from O_0 = x and loops k = 1..n-1, so the list has the right length n but is [x, O_1, ..., O_{n-1}].
import numpy as np


def chain_forward(x, w, b):
    n = len(w)
    O = [np.asarray(x, dtype=float)]
    for k in range(1, n):
        O.append(sigmoid(w[k - 1] * O[k - 1] + b[k - 1]))
    return O
