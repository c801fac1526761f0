# corpus: wrong
# function: chain_rule.sigmoid_derivative
# mistake: derivative_formula_on_z
# why: The student applies the formula s*(1-s) to the pre-activation z itself instead of to sigmoid(z).
import numpy as np


def sigmoid_derivative(z):
    z = np.array(z, dtype=np.float64)
    return z * (1.0 - z)
