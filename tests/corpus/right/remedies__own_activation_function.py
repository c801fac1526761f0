# corpus: right
# functions: remedies.build_healthy_mlp
# why: The student writes tanh as their own Python activation function and stacks Dense layers of it with orthogonal weights: a model the grader cannot rebuild, measured in a fresh worker with the grader's code.
import keras


def soft_tanh(x):
    return keras.ops.tanh(x)


def build_healthy_mlp(input_dim, depth, width, seed=None):
    def orthogonal(i):
        return keras.initializers.Orthogonal(seed=None if seed is None else 1000 * seed + i)

    layers = [keras.Input(shape=(input_dim,))]
    for i in range(depth):
        layers.append(
            keras.layers.Dense(width, activation=soft_tanh, kernel_initializer=orthogonal(i))
        )
    layers.append(keras.layers.Dense(1, kernel_initializer=orthogonal(depth)))
    return keras.Sequential(layers)
