# corpus: right
# functions: remedies.build_healthy_mlp
# why: The student pairs tanh, whose slope is 1 at zero, with orthogonal weights of gain 1.1 (a little above 1 to make up for tanh's slope below 1 away from zero), seeded per layer.
import keras


def build_healthy_mlp(input_dim, depth, width, seed=None):
    layers = [keras.Input(shape=(input_dim,))]
    sizes = [width] * depth + [1]
    for i, units in enumerate(sizes):
        init = keras.initializers.Orthogonal(gain=1.1, seed=None if seed is None else seed * 31 + i)
        activation = "tanh" if i < depth else "linear"
        layers.append(keras.layers.Dense(units, activation=activation, kernel_initializer=init))
    return keras.Sequential(layers)
