# corpus: right
# functions: deep_sigmoid.gradient_regime
# why: The student picks the regime's name from a NumPy array of names, so it returns a np.str_ (a str subclass), not a plain str.
import numpy as np


def gradient_regime(norms, threshold=1e3):
    names = np.array(["stable", "vanishing", "exploding"])
    norms = np.asarray(norms, dtype=np.float64)
    index = 1 if norms[-1] / norms[0] > threshold else 2 if norms[0] / norms[-1] > threshold else 0
    return names[index]
