# corpus: right
# functions: clipping.clip_by_value, clipping.clip_by_norm, clipping.global_norm, clipping.clip_by_global_norm
# why: The student uses np.clip, np.linalg.norm on the flattened tensor, math.fsum for the global sum of squares, and an explicit "only scale when too big" branch.
import math

import numpy as np


def clip_by_value(grads, clip_value):
    return [np.clip(np.asarray(g), -clip_value, clip_value) for g in grads]


def clip_by_norm(grads, clip_norm):
    result = []
    for g in grads:
        arr = np.asarray(g)
        norm = np.linalg.norm(arr.astype(np.float64).ravel())
        if norm > clip_norm:
            arr = arr * (clip_norm / norm)
        result.append(arr)
    return result


def global_norm(grads):
    squares = []
    for g in grads:
        flat = np.asarray(g, dtype=np.float64).ravel()
        squares.append(float(np.dot(flat, flat)))
    return math.sqrt(math.fsum(squares))


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    arrays = [np.asarray(g) for g in grads]
    if norm <= clip_norm:
        return [a.copy() for a in arrays], norm
    factor = clip_norm / norm
    return [a * factor for a in arrays], norm
