# corpus: wrong
# function: chain_rule.sigmoid_derivative
# mistake: derivative_is_sigmoid
# why: The student remembers that the sigmoid's derivative is "written with the sigmoid itself" and returns sigmoid(z) without the (1 - sigmoid(z)) factor.
import numpy as np


def sigmoid_derivative(z):
    z = np.asarray(z, dtype=np.float64)
    # derivative of the logistic function, expressed with the function itself
    s = sigmoid(z)
    return s
