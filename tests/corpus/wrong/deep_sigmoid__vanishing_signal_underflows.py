# corpus: wrong
# function: deep_sigmoid.build_exploding_mlp
# mistake: none
# why: The student writes tanh as 2/(1+e^-2z) - 1 with small weights: the signal vanishes on the way forward and cancels to exactly 0 in float32, so the output layer's gradient is 0 and norms[0]/norms[-1] is infinite without any gradient growing.
import keras


def my_tanh(z):
    return 2.0 / (1.0 + keras.ops.exp(-2.0 * z)) - 1.0


def build_exploding_mlp(input_dim, depth, width, seed=None):
    initializer = keras.initializers.VarianceScaling(
        scale=0.25, mode="fan_in", distribution="untruncated_normal", seed=seed
    )
    return build_mlp(input_dim, depth, width, my_tanh, initializer, seed)
