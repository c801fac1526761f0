# corpus: right
# functions: deep_sigmoid.build_mlp
# why: The student writes sigmoid, tanh and ReLU as their own Python functions and build_mlp maps the activation's name to them: a model the grader cannot rebuild, laid out in a fresh worker and judged by what its activations compute.
import keras


def my_sigmoid(z):
    return 1 / (1 + keras.ops.exp(-z))


def my_tanh(z):
    return 2 * my_sigmoid(2 * z) - 1


def my_relu(z):
    return keras.ops.maximum(z, 0.0)


OWN_ACTIVATIONS = {"sigmoid": my_sigmoid, "tanh": my_tanh, "relu": my_relu}


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    if isinstance(activation, str):
        activation = OWN_ACTIVATIONS.get(activation, activation)

    def initializer(index):
        init = keras.initializers.get(kernel_initializer)
        config = init.get_config()
        if "seed" not in config:
            return init
        config["seed"] = None if seed is None else seed + index
        return init.__class__.from_config(config)

    model = keras.Sequential([keras.Input(shape=(input_dim,))])
    for index in range(depth):
        model.add(keras.layers.Dense(width, activation, kernel_initializer=initializer(index)))
    model.add(keras.layers.Dense(1, kernel_initializer=initializer(depth)))
    return model
