# corpus: wrong
# function: clipping.clip_by_norm
# mistake: norm_uses_global
# why: The student computes one norm over all tensors and rescales every tensor by it, which is global-norm clipping, not per-tensor clipping.
import numpy as np


def clip_by_norm(grads, clip_norm):
    arrays = [np.asarray(g, dtype=np.float64) for g in grads]
    total = np.sqrt(sum(np.sum(a**2) for a in arrays))
    factor = clip_norm / max(total, clip_norm)
    return [(a * factor).astype(np.asarray(g).dtype) for a, g in zip(arrays, grads)]
