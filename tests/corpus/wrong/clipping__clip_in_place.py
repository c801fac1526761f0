# corpus: wrong
# function: clipping.clip_by_global_norm
# mistake: input_mutated
# why: The student rescales the gradients by assigning back into the list they were given, grads[i] = ..., so the caller's list is changed and returned.
import numpy as np


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    if norm > clip_norm:
        for i in range(len(grads)):
            grads[i] = np.asarray(grads[i]) * (clip_norm / norm)
    return grads, norm
