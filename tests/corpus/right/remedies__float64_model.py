# corpus: right
# functions: remedies.build_healthy_mlp
# why: The student builds the healthy model in float64 (a float64 Input and dtype="float64" on every Dense layer): tanh with orthogonal weights, as the reference, in double precision.
import keras


def build_healthy_mlp(input_dim, depth, width, seed=None):
    def orthogonal(index):
        return keras.initializers.Orthogonal(seed=None if seed is None else 7 * seed + index)

    layers = [keras.Input(shape=(input_dim,), dtype="float64")]
    for index in range(depth):
        layers.append(
            keras.layers.Dense(
                width, activation="tanh", kernel_initializer=orthogonal(index), dtype="float64"
            )
        )
    layers.append(keras.layers.Dense(1, kernel_initializer=orthogonal(depth), dtype="float64"))
    return keras.Sequential(layers)
