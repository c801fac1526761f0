# corpus: wrong
# function: chain_rule.sigmoid
# mistake: naive_sigmoid_overflow
# why: The student types the textbook formula 1/(1+exp(-z)), which gives the right values but makes np.exp overflow (with a RuntimeWarning) for very negative z.
import numpy as np


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    return 1 / (1 + np.exp(-z))
