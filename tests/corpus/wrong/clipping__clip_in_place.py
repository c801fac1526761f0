# corpus: wrong
# function: clipping.clip_by_global_norm
# mistake: none
# why: The student scales the arrays in place with g *= scale to save memory, which changes the caller's gradient arrays.
import numpy as np


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    scale = clip_norm / max(norm, clip_norm)
    arrays = [np.asarray(g) for g in grads]
    for g in arrays:
        g *= scale
    return arrays, norm
