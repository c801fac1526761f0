# corpus: wrong
# function: deep_sigmoid.build_mlp
# mistake: output_activation
# why: The student gives the output layer the same activation as the hidden layers, Dense(1, activation=activation), so the output is squashed instead of linear.
import keras


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    def make_init(i):
        init = keras.initializers.get(kernel_initializer)
        cfg = init.get_config()
        if seed is not None and "seed" in cfg:
            cfg["seed"] = seed * 1000 + i
            init = type(init).from_config(cfg)
        return init

    layers = [keras.Input(shape=(input_dim,))]
    for i in range(depth):
        layers.append(
            keras.layers.Dense(width, activation=activation, kernel_initializer=make_init(i))
        )
    layers.append(keras.layers.Dense(1, activation=activation, kernel_initializer=make_init(depth)))
    return keras.Sequential(layers)
