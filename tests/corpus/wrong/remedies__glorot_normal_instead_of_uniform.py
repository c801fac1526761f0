# corpus: wrong
# function: remedies.glorot_uniform_limit
# mistake: glorot_normal_instead_of_uniform
# why: The student returns Glorot's variance-preserving standard deviation sqrt(2/(fan_in+fan_out)), the normal variant, instead of the uniform limit sqrt(6/(fan_in+fan_out)).
import numpy as np


def glorot_uniform_limit(fan_in, fan_out):
    return float(np.sqrt(2.0 / (fan_in + fan_out)))
