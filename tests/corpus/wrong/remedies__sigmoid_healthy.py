# corpus: wrong
# function: remedies.build_healthy_mlp
# mistake: sigmoid_healthy
# why: The student thinks Glorot initialisation alone fixes the problem and keeps sigmoid activations, whose slope of at most 1/4 still makes 20 layers' gradients vanish.
import keras


def build_healthy_mlp(input_dim, depth, width, seed=None):
    model = keras.Sequential([keras.Input(shape=(input_dim,))])
    for i in range(depth + 1):
        init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
        units, activation = (width, "sigmoid") if i < depth else (1, None)
        model.add(keras.layers.Dense(units, activation=activation, kernel_initializer=init))
    return model
