# corpus: right
# functions: remedies.build_healthy_mlp
# why: The student writes their own normalisation layer (a keras.layers.Layer subclass that divides by the root mean square and learns a gain) and puts it between each linear Dense layer and its tanh.
import keras


class RMSNorm(keras.layers.Layer):
    def build(self, input_shape):
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")

    def call(self, x):
        mean_square = keras.ops.mean(keras.ops.square(x), axis=-1, keepdims=True)
        return self.gain * x / keras.ops.sqrt(mean_square + 1e-6)


def build_healthy_mlp(input_dim, depth, width, seed=None):
    layers = [keras.Input(shape=(input_dim,))]
    for i in range(depth):
        weights = keras.initializers.Orthogonal(seed=None if seed is None else 7 * seed + i)
        layers += [
            keras.layers.Dense(width, kernel_initializer=weights),
            RMSNorm(),
            keras.layers.Activation("tanh"),
        ]
    layers.append(keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed)))
    return keras.Sequential(layers)
