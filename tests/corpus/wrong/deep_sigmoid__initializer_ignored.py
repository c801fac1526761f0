# corpus: wrong
# function: deep_sigmoid.build_mlp
# mistake: initializer_ignored
# why: The student seeds with keras.utils.set_random_seed but never passes kernel_initializer to the Dense layers, so every model gets Keras's default glorot_uniform.
import keras


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = keras.Sequential()
    model.add(keras.Input(shape=(input_dim,)))
    for _ in range(depth):
        model.add(keras.layers.Dense(width, activation=activation))
    model.add(keras.layers.Dense(1))
    return model
