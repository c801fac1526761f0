# corpus: right
# functions: deep_sigmoid.build_exploding_mlp
# why: The student reuses build_mlp with a bounded activation of slope 1 at zero, keras.ops.sin, and weights of gain 3, so activations stay bounded while the backward signal grows.
import keras


def build_exploding_mlp(input_dim, depth, width, seed=None):
    gain_three = keras.initializers.VarianceScaling(
        scale=9.0, mode="fan_in", distribution="untruncated_normal"
    )
    return build_mlp(
        input_dim, depth, width, activation=keras.ops.sin, kernel_initializer=gain_three, seed=seed
    )
