# corpus: wrong
# function: remedies.glorot_uniform_limit
# mistake: glorot_he_mixed
# why: The student mixes up the two recipes and returns He's sqrt(2/fan_in) as the Glorot uniform limit.
import math


def glorot_uniform_limit(fan_in, fan_out):
    return math.sqrt(2 / fan_in)
