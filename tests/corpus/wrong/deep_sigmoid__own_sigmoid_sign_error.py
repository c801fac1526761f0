# corpus: wrong
# function: deep_sigmoid.build_mlp
# mistake: none
# why: The student writes sigmoid as their own Python function, named sigmoid, with the sign of the exponent lost, 1/(1+e^z), and build_mlp uses it when asked for "sigmoid".
import keras


def sigmoid(z):
    return 1 / (1 + keras.ops.exp(z))


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    if activation == "sigmoid":
        activation = sigmoid

    def initializer(index):
        init = keras.initializers.get(kernel_initializer)
        config = init.get_config()
        if "seed" not in config:
            return init
        return init.__class__.from_config(
            {**config, "seed": None if seed is None else seed + index}
        )

    layers = [keras.Input(shape=(input_dim,))]
    for index in range(depth):
        layers.append(
            keras.layers.Dense(width, activation=activation, kernel_initializer=initializer(index))
        )
    layers.append(keras.layers.Dense(1, kernel_initializer=initializer(depth)))
    return keras.Sequential(layers)
