# corpus: wrong
# function: deep_sigmoid.gradient_regime
# mistake: regime_swapped
# why: The student reads a large last/first ratio as "the gradient grows", naming vanishing and exploding the wrong way round.
import numpy as np


def gradient_regime(norms, threshold=1e3):
    norms = np.asarray(norms, dtype=float)
    ratio = norms[-1] / norms[0]
    if ratio > threshold:
        return "exploding"
    if 1 / ratio > threshold:
        return "vanishing"
    return "stable"
