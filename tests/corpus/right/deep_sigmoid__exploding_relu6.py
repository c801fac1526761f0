# corpus: right
# functions: deep_sigmoid.build_exploding_mlp
# why: The student picks a ReLU: plain ReLU is positively homogeneous, so scaling its weights moves the forward signal and the gradient together and the first/last ratio barely moves; the student caps it (relu6, a built-in name), which bounds the forward signal as tanh does while the slope stays 1 on (0, 6), and draws weights of variance 64/fan_in.
import keras


def build_exploding_mlp(input_dim, depth, width, seed=None):
    def weights(index):
        return keras.initializers.VarianceScaling(
            scale=64.0,
            mode="fan_in",
            distribution="untruncated_normal",
            seed=None if seed is None else seed * 1009 + index,
        )

    model = keras.Sequential([keras.Input(shape=(input_dim,))])
    for index in range(depth):
        model.add(keras.layers.Dense(width, activation="relu6", kernel_initializer=weights(index)))
    model.add(keras.layers.Dense(1, kernel_initializer=weights(depth)))
    return model
