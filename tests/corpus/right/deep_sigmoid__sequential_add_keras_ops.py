# corpus: right
# functions: deep_sigmoid.build_mlp, deep_sigmoid.dense_grad_norms, deep_sigmoid.gradient_regime
# why: The student grows the model with Sequential.add, clones the initializer per layer through serialize/deserialize, uses Keras's MeanSquaredError and keras.ops, and returns a tensor of norms.
import keras
import tensorflow as tf


def _initializer_for_layer(kernel_initializer, seed, index):
    """A fresh initializer per layer; seeded per layer when a seed is given."""
    config = keras.initializers.serialize(keras.initializers.get(kernel_initializer))
    inner = config.get("config", {})
    if "seed" in inner:
        inner["seed"] = None if seed is None else 7919 * seed + index
    return keras.initializers.deserialize(config)


def build_mlp(
    input_dim,
    depth,
    width,
    activation="sigmoid",
    kernel_initializer="glorot_uniform",
    seed=None,
):
    model = keras.Sequential()
    model.add(keras.Input(shape=(input_dim,)))
    for index in range(depth):
        model.add(
            keras.layers.Dense(
                width,
                activation=activation,
                kernel_initializer=_initializer_for_layer(kernel_initializer, seed, index),
            )
        )
    model.add(
        keras.layers.Dense(
            1,
            activation=None,
            kernel_initializer=_initializer_for_layer(kernel_initializer, seed, depth),
        )
    )
    return model


def dense_grad_norms(model, x, y):
    x = keras.ops.convert_to_tensor(x, dtype="float32")
    y = keras.ops.convert_to_tensor(y, dtype="float32")
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    mse = keras.losses.MeanSquaredError()
    with tf.GradientTape() as tape:
        loss = mse(y, model(x))
    grads = tape.gradient(loss, kernels)
    return keras.ops.stack([keras.ops.sqrt(keras.ops.sum(keras.ops.square(g))) for g in grads])


def gradient_regime(norms, threshold=1e3):
    first = float(norms[0])
    last = float(norms[-1])
    if last > threshold * first:
        return "vanishing"
    if first > threshold * last:
        return "exploding"
    return "stable"
