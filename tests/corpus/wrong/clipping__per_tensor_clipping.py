# corpus: wrong
# function: clipping.clip_by_global_norm
# mistake: per_tensor_clipping
# why: The student computes the global norm to return it but then clips each tensor by its own norm, so the tensors no longer share one scale factor.
import numpy as np


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    clipped = []
    for g in grads:
        g = np.asarray(g)
        g_norm = np.sqrt(np.sum(g.astype(np.float64) ** 2))
        if g_norm > clip_norm:
            g = g * (clip_norm / g_norm)
        clipped.append(g)
    return clipped, norm
