# corpus: wrong
# function: remedies.he_normal_stddev
# mistake: none
# why: The student takes the square root of the numerator only and returns sqrt(2)/fan_in.
import math


def he_normal_stddev(fan_in):
    return math.sqrt(2) / fan_in
