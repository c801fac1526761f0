# corpus: right
# functions: remedies.glorot_uniform_limit, remedies.he_normal_stddev, remedies.max_stable_spectral_norm
# why: The student uses math.sqrt for the initialisation scales and derives 1/gamma from each activation's slope at zero, where it is largest.
import math


def glorot_uniform_limit(fan_in, fan_out):
    variance = 2.0 / (fan_in + fan_out)  # Glorot's variance; U(-a, a) has variance a^2/3
    return math.sqrt(3.0 * variance)


def he_normal_stddev(fan_in):
    return math.sqrt(2.0 / fan_in)


def max_stable_spectral_norm(activation):
    def sigmoid_slope(z):
        s = 1.0 / (1.0 + math.exp(-z))
        return s * (1.0 - s)

    def tanh_slope(z):
        return 1.0 - math.tanh(z) ** 2

    slopes = {"sigmoid": sigmoid_slope, "tanh": tanh_slope}
    if activation not in slopes:
        raise ValueError(
            f"activation must be 'sigmoid' or 'tanh'. Received: activation={activation!r}"
        )
    gamma = slopes[activation](0.0)  # both slopes peak at z = 0
    return 1.0 / gamma
