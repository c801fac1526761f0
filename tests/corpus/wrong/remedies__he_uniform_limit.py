# corpus: wrong
# function: remedies.he_normal_stddev
# mistake: glorot_he_mixed
# why: The student carries the 6 of the Glorot uniform formula over to He and returns sqrt(6/fan_in), the He uniform limit, instead of the He normal standard deviation.
import numpy as np


def he_normal_stddev(fan_in):
    return float(np.sqrt(6.0 / fan_in))
