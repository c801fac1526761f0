# corpus: wrong
# function: remedies.build_healthy_mlp
# mistake: none
# why: The student uses the textbook fix ReLU + He normal initialisation, which keeps the gradient norms balanced but sometimes diverges at learning rate 0.05.
import keras


def build_healthy_mlp(input_dim, depth, width, seed=None):
    layers = [keras.Input(shape=(input_dim,))]
    for i in range(depth):
        he = keras.initializers.HeNormal(seed=None if seed is None else seed + i)
        layers.append(keras.layers.Dense(width, activation="relu", kernel_initializer=he))
    out_init = keras.initializers.HeNormal(seed=None if seed is None else seed + depth)
    layers.append(keras.layers.Dense(1, kernel_initializer=out_init))
    return keras.Sequential(layers)
