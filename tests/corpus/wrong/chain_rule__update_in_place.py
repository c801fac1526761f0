# corpus: wrong
# function: chain_rule.sgd_update
# mistake: update_in_place
# why: The student writes param -= learning_rate * grad; np.asarray does not copy a float64 array, so the caller's array is changed too.
import numpy as np


def sgd_update(param, grad, learning_rate):
    param = np.asarray(param, dtype=np.float64)
    param -= learning_rate * np.asarray(grad, dtype=np.float64)
    return param
