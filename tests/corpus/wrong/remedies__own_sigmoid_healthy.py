# corpus: wrong
# function: remedies.build_healthy_mlp
# mistake: sigmoid_healthy
# why: The student writes the logistic function themselves, thinking Glorot weights are enough, and 20 layers of a slope of at most 1/4 make the gradients vanish.
import keras


def logistic(x):
    return 1 / (1 + keras.ops.exp(-x))


def build_healthy_mlp(input_dim, depth, width, seed=None):
    model = keras.Sequential([keras.Input(shape=(input_dim,))])
    for i in range(depth):
        init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
        model.add(keras.layers.Dense(width, activation=logistic, kernel_initializer=init))
    model.add(keras.layers.Dense(1))
    return model
