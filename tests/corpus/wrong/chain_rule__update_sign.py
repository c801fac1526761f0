# corpus: wrong
# function: chain_rule.sgd_update
# mistake: update_sign
# why: The student follows the course notes' sign and steps along the gradient, w + eta * dL/dw, instead of against it.
import numpy as np


def sgd_update(param, grad, learning_rate):
    new_param = np.array(param, dtype=float) + learning_rate * np.array(grad, dtype=float)
    return new_param
