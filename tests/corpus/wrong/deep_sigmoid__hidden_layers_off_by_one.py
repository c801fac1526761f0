# corpus: wrong
# function: deep_sigmoid.build_mlp
# mistake: hidden_layers_off_by_one
# why: The student counts the output layer as one of the `depth` layers and builds only depth-1 hidden Dense layers.
import keras


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    model = keras.Sequential()
    model.add(keras.Input(shape=(input_dim,)))
    # depth layers in total, the last one is the output
    for i in range(depth - 1):
        init = keras.initializers.get(kernel_initializer)
        if seed is not None and hasattr(init, "seed"):
            init = init.__class__.from_config({**init.get_config(), "seed": seed + i})
        model.add(keras.layers.Dense(width, activation=activation, kernel_initializer=init))
    out_init = keras.initializers.get(kernel_initializer)
    if seed is not None and hasattr(out_init, "seed"):
        out_init = out_init.__class__.from_config({**out_init.get_config(), "seed": seed + depth})
    model.add(keras.layers.Dense(1, kernel_initializer=out_init))
    return model
