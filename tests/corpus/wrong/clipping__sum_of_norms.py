# corpus: wrong
# function: clipping.global_norm
# mistake: sum_of_norms
# why: The student adds the L2 norms of the tensors, which is larger than the norm of all elements taken together.
import numpy as np


def global_norm(grads):
    return float(sum(np.linalg.norm(np.asarray(g, dtype=np.float64).ravel()) for g in grads))
