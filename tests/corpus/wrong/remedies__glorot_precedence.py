# corpus: wrong
# function: remedies.glorot_uniform_limit
# mistake: none
# why: The student leaves out the parentheses of the denominator and computes sqrt(6/fan_in + fan_out).
import numpy as np


def glorot_uniform_limit(fan_in, fan_out):
    return float(np.sqrt(6 / fan_in + fan_out))
