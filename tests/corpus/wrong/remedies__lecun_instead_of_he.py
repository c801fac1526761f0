# corpus: wrong
# function: remedies.he_normal_stddev
# mistake: lecun_instead_of_he
# why: The student forgets the factor 2 that makes up for ReLU zeroing half the inputs and returns LeCun's sqrt(1/fan_in).
import numpy as np


def he_normal_stddev(fan_in):
    variance = 1.0 / fan_in
    return float(np.sqrt(variance))
