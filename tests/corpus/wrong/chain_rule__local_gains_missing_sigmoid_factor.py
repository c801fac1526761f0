# corpus: wrong
# function: chain_rule.local_gains
# mistake: local_gains_missing_sigmoid_factor
# why: The student reads dz_k/dO_{k-1} = w_k as the whole local gain and returns w_k for every sample, leaving out sigmoid'(z_k).
import numpy as np


def local_gains(x, w, b):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    gains = np.zeros((len(w), len(x)))
    for k in range(len(w)):
        gains[k, :] = w[k] * np.ones_like(x)
    return gains
