# corpus: right
# functions: chain_rule.chain_gradients, chain_rule.local_gains
# why: The student builds local_gains as a stacked (n, m) array and gets every dL/dO_k from suffix products of the gains (np.cumprod) instead of a backward loop.
import numpy as np


def local_gains(x, w, b):
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    previous = np.vstack([x[None, :], np.array(chain_forward(x, w, b))[:-1]])  # O_0..O_{n-1}
    z = w[:, None] * previous + b[:, None]
    return sigmoid_derivative(z) * w[:, None]


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, m = w.size, x.size
    outputs = np.array(chain_forward(x, w, b))  # (n, m): O_1..O_n
    inputs = np.vstack([x[None, :], outputs[:-1]])  # (n, m): O_0..O_{n-1}
    gains = local_gains(x, w, b)  # row k-1: dO_k/dO_{k-1}
    # dO_n/dO_k = product of the gains of the links after neuron k
    suffix = np.ones((n, m))
    if n > 1:
        suffix[:-1] = np.cumprod(gains[:0:-1], axis=0)[::-1]
    dL_dO = (2.0 / m) * (outputs[-1] - y) * suffix  # row k-1: dL/dO_k
    dL_dz = dL_dO * outputs * (1.0 - outputs)
    return (dL_dz * inputs).sum(axis=1), dL_dz.sum(axis=1)
