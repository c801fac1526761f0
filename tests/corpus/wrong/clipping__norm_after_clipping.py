# corpus: wrong
# function: clipping.clip_by_global_norm
# mistake: norm_after_clipping
# why: The student returns the global norm of the clipped tensors instead of the norm measured before clipping.
import numpy as np


def clip_by_global_norm(grads, clip_norm):
    arrays = [np.asarray(g) for g in grads]
    norm = global_norm(arrays)
    if norm > clip_norm:
        arrays = [a * (clip_norm / norm) for a in arrays]
    return arrays, global_norm(arrays)
