# corpus: right
# functions: deep_sigmoid.build_exploding_mlp
# why: The student writes their own Dense layer (a subclass that applies a sine after the affine map) and stacks it with gain-3 weights: a model with a custom layer, measured as any other.
import keras


class SineDense(keras.layers.Dense):
    def call(self, inputs):
        return keras.ops.sin(super().call(inputs))


def build_exploding_mlp(input_dim, depth, width, seed=None):
    layers = [keras.Input(shape=(input_dim,))]
    for i in range(depth):
        gain_three = keras.initializers.VarianceScaling(
            scale=9.0,
            mode="fan_in",
            distribution="untruncated_normal",
            seed=None if seed is None else seed + i,
        )
        layers.append(SineDense(width, kernel_initializer=gain_three))
    layers.append(keras.layers.Dense(1))
    return keras.Sequential(layers)
