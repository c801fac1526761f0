# corpus: wrong
# function: chain_rule.sigmoid_derivative
# mistake: none
# why: The student differentiates 1/(1+e^-z) by the quotient rule and codes e^-z/(1+e^-z)^2, which is right for moderate z but gives inf/inf = nan (with overflow warnings) for very negative z.
import numpy as np


def sigmoid_derivative(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-z)
    return e / (1 + e) ** 2
