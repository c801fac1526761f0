# corpus: wrong
# function: chain_rule.chain_gradients
# mistake: derivative_on_activation
# why: The student passes the stored outputs O_k to sigmoid_derivative, computing sigmoid'(O_k) instead of sigmoid'(z_k).
import numpy as np


def chain_gradients(x, y, w, b):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    O = [x] + chain_forward(x, w, b)
    n = len(w)
    m = len(x)
    dw = np.zeros(n)
    db = np.zeros(n)
    grad = 2.0 / m * (O[n] - y)
    for k in range(n, 0, -1):
        grad = grad * sigmoid_derivative(O[k])
        dw[k - 1] = np.dot(grad, O[k - 1])
        db[k - 1] = np.sum(grad)
        grad = grad * w[k - 1]
    return dw, db
