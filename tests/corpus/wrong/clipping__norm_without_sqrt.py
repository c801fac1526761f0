# corpus: wrong
# function: clipping.global_norm
# mistake: norm_without_sqrt
# why: The student adds up the squares of every element and returns the sum, forgetting the square root.
import numpy as np


def global_norm(grads):
    total = 0.0
    for g in grads:
        total += np.sum(np.asarray(g, dtype=np.float64) ** 2)
    return float(total)
