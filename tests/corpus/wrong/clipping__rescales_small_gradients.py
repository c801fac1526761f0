# corpus: wrong
# function: clipping.clip_by_norm
# mistake: rescales_small_gradients
# why: The student always rescales t to t * clip_norm / ||t||, which also blows small gradients up to norm clip_norm instead of leaving them alone.
import numpy as np


def clip_by_norm(grads, clip_norm):
    out = []
    for g in grads:
        g = np.asarray(g)
        out.append(g * clip_norm / np.linalg.norm(g))
    return out
