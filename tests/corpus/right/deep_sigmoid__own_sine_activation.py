# corpus: right
# functions: deep_sigmoid.build_exploding_mlp
# why: The student writes their own activation as a Python function and passes it to their own build_mlp, with weights of gain 3: any activation is allowed, a student's own function included.
import keras


def sine(x):
    return keras.ops.sin(x)


def build_exploding_mlp(input_dim, depth, width, seed=None):
    gain_three = keras.initializers.VarianceScaling(
        scale=9.0, mode="fan_in", distribution="untruncated_normal"
    )
    return build_mlp(input_dim, depth, width, sine, gain_three, seed)
