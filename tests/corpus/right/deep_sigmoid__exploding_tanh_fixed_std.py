# corpus: right
# functions: deep_sigmoid.build_exploding_mlp
# why: The student writes the model out by hand with tanh and weights of fixed standard deviation 2 (a gain of 2*sqrt(width) per layer), which puts tanh in the chaotic regime.
import keras


def build_exploding_mlp(input_dim, depth, width, seed=None):
    def big_normal(layer_index):
        layer_seed = None if seed is None else 1000 * seed + layer_index
        return keras.initializers.RandomNormal(mean=0.0, stddev=2.0, seed=layer_seed)

    layers = [keras.Input(shape=(input_dim,))]
    for i in range(depth):
        layers.append(
            keras.layers.Dense(width, activation="tanh", kernel_initializer=big_normal(i))
        )
    layers.append(keras.layers.Dense(1, kernel_initializer=big_normal(depth)))
    return keras.Sequential(layers)
