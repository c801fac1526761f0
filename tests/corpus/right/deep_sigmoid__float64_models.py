# corpus: right
# functions: deep_sigmoid.build_mlp, deep_sigmoid.dense_grad_norms, deep_sigmoid.build_exploding_mlp
# why: The student builds every model in float64 (a float64 Input and dtype="float64" on every Dense layer) and writes dense_grad_norms so that it works for a model of any dtype, casting the targets to the prediction's dtype.
import keras
import numpy as np
import tensorflow as tf


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    def initializer(index):
        init = keras.initializers.get(kernel_initializer)
        config = init.get_config()
        if "seed" not in config:
            return init
        config["seed"] = None if seed is None else seed + index
        return type(init).from_config(config)

    model = keras.Sequential([keras.Input(shape=(input_dim,), dtype="float64")])
    for index in range(depth):
        model.add(
            keras.layers.Dense(
                width,
                activation=activation,
                kernel_initializer=initializer(index),
                dtype="float64",
            )
        )
    model.add(keras.layers.Dense(1, kernel_initializer=initializer(depth), dtype="float64"))
    return model


def dense_grad_norms(model, x, y):
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        prediction = model(tf.convert_to_tensor(x))
        target = tf.cast(tf.reshape(y, tf.shape(prediction)), prediction.dtype)
        loss = tf.reduce_mean((prediction - target) ** 2)
    return np.array([np.sqrt(np.sum(np.square(g.numpy()))) for g in tape.gradient(loss, kernels)])


def build_exploding_mlp(input_dim, depth, width, seed=None):
    spread = keras.initializers.VarianceScaling(
        scale=64.0, mode="fan_in", distribution="untruncated_normal"
    )
    return build_mlp(input_dim, depth, width, "tanh", spread, seed)
