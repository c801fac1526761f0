# corpus: right
# functions: deep_sigmoid.build_exploding_mlp
# why: The student keeps sigmoid, as the part's title suggests, and reads the chi plot: sigmoid's slope is at most 1/4 and large weights saturate it, so fan_in * Var(w) must be in the thousands (the plot puts chi = 1 near a hundred, and 20 layers must multiply the gradient a thousandfold); the student takes VarianceScaling(2048), one initializer object for every layer.
import keras


def build_exploding_mlp(input_dim, depth, width, seed=None):
    huge = keras.initializers.VarianceScaling(
        scale=2048.0, mode="fan_in", distribution="untruncated_normal", seed=seed
    )
    model = keras.Sequential([keras.Input(shape=(input_dim,))])
    for _ in range(depth):
        model.add(keras.layers.Dense(width, activation="sigmoid", kernel_initializer=huge))
    model.add(keras.layers.Dense(1, kernel_initializer=huge))
    return model
