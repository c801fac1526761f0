# corpus: wrong
# function: deep_sigmoid.build_exploding_mlp
# mistake: none
# why: The student uses ReLU with large weights, but with ReLU the activations grow as fast as the backward signal, so every layer's kernel gradient has about the same norm and the ratio stays near 1.
import keras


def build_exploding_mlp(input_dim, depth, width, seed=None):
    init = keras.initializers.RandomNormal(stddev=0.5)
    return build_mlp(input_dim, depth, width, activation="relu", kernel_initializer=init, seed=seed)
