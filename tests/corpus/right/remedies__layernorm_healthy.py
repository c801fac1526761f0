# corpus: right
# functions: remedies.build_healthy_mlp
# why: The student puts a LayerNormalization between each linear Dense layer with orthogonal weights and its tanh, which keeps every layer's pre-activations at unit scale.
import keras


def build_healthy_mlp(input_dim, depth, width, seed=None):
    def orthogonal(i):
        return keras.initializers.Orthogonal(seed=None if seed is None else 100 * seed + i)

    model = keras.Sequential([keras.Input(shape=(input_dim,))])
    for i in range(depth):
        model.add(keras.layers.Dense(width, kernel_initializer=orthogonal(i)))
        model.add(keras.layers.LayerNormalization())
        model.add(keras.layers.Activation("tanh"))
    model.add(keras.layers.Dense(1, kernel_initializer=orthogonal(depth)))
    return model
