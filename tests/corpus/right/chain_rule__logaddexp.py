# corpus: right
# functions: chain_rule.sigmoid, chain_rule.sigmoid_derivative
# why: The student writes sigmoid as exp(-log(1 + e^-z)) with np.logaddexp and uses the symmetry sigmoid'(z) = sigmoid'(-z) so that no exponent is ever positive.
import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    # log(1 + e^-z) = logaddexp(0, -z) never overflows
    return np.exp(-np.logaddexp(0.0, -z))


def sigmoid_derivative(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))  # sigmoid' is even, so use e^-|z| <= 1
    return e / (1.0 + e) ** 2
