# corpus: right
# functions: chain_rule.chain_forward, chain_rule.sgd_update
# why: The student fills a preallocated (n, m) array and returns its rows as a list, and updates an explicit copy of the parameters in place.
import numpy as np


def chain_forward(x, w, b):
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    current = np.asarray(x, dtype=np.float64)
    table = np.empty((w.shape[0], current.shape[0]))
    for k in range(w.shape[0]):
        table[k] = sigmoid(w[k] * current + b[k])
        current = table[k]
    return list(table)


def sgd_update(param, grad, learning_rate):
    new_param = np.array(param, dtype=np.float64, copy=True)
    new_param -= learning_rate * np.asarray(grad, dtype=np.float64)
    return new_param
