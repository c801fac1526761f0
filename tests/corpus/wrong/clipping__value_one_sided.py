# corpus: wrong
# function: clipping.clip_by_value
# mistake: value_one_sided
# why: The student only caps large gradients with np.minimum and forgets that large negative values must be raised to -clip_value.
import numpy as np


def clip_by_value(grads, clip_value):
    clipped = []
    for g in grads:
        clipped.append(np.minimum(np.asarray(g), clip_value))
    return clipped
