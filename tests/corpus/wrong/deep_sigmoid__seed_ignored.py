# corpus: wrong
# function: deep_sigmoid.build_mlp
# mistake: seed_ignored
# why: The student accepts the seed argument but never uses it, so two models built with the same seed get different random weights.
import keras


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    model = keras.Sequential([keras.Input(shape=(input_dim,))])
    for _ in range(depth):
        model.add(
            keras.layers.Dense(width, activation=activation, kernel_initializer=kernel_initializer)
        )
    model.add(keras.layers.Dense(1, kernel_initializer=kernel_initializer))
    return model
