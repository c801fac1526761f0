"""Part 2 `deep_sigmoid`: vanishing and exploding gradients in a deep Keras MLP."""

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
    """Build a deep multilayer perceptron.

    Args:
        input_dim: number of input features.
        depth: number of hidden ``Dense(width, activation)`` layers.
        width: units per hidden layer.
        activation: activation of the hidden layers.
        kernel_initializer: initializer of every Dense kernel (name or instance).
        seed: int or None; the same seed gives the same weights in every layer, the
            output layer's included. An initializer that takes no seed (``"ones"``,
            ``"zeros"``) is used as it is.

    Returns:
        keras.Sequential: ``depth`` hidden Dense layers, then ``Dense(1)`` with a
        linear output, every kernel drawn with ``kernel_initializer``.
    """

    ### BEGIN SOLUTION
    def initializer(index):
        init = keras.initializers.get(kernel_initializer)
        config = init.get_config()
        if "seed" not in config:
            return init
        # A fresh copy per layer with its own seed: one initializer object, seeded or not,
        # draws the same numbers at every call, so shared it would repeat the weights.
        return init.__class__.from_config(
            {**config, "seed": None if seed is None else seed + index}
        )

    layers = [keras.Input(shape=(input_dim,))]
    for index in range(depth):
        layers.append(
            keras.layers.Dense(width, activation=activation, kernel_initializer=initializer(index))
        )
    layers.append(keras.layers.Dense(1, kernel_initializer=initializer(depth)))
    return keras.Sequential(layers)
    ### END SOLUTION


def dense_grad_norms(model, x, y):
    """Return the Frobenius norm of dL/d(kernel) for every Dense layer, input side first.

    The Frobenius norm of a matrix is the square root of the sum of squares of all its
    entries (not the spectral norm, its largest singular value).

    Args:
        model: a Keras model.
        x: inputs, shape (m, input_dim).
        y: targets, shape (m, 1) or (m,).

    Returns:
        np.ndarray of shape (number of Dense layers,), where L is the mean squared
        error of ``model(x)`` against ``y``.
    """
    ### BEGIN SOLUTION
    x = tf.convert_to_tensor(x, dtype=tf.float32)  # Keras casts it to the model's dtype
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    with tf.GradientTape() as tape:
        prediction = model(x)
        # The targets in the prediction's dtype: a model built in float64 predicts float64.
        y = tf.cast(tf.reshape(y, tf.shape(prediction)), prediction.dtype)
        loss = tf.reduce_mean(tf.square(prediction - y))
    grads = tape.gradient(loss, kernels)
    return np.array([float(tf.norm(g)) for g in grads])
    ### END SOLUTION


def gradient_regime(norms, threshold=1e3):
    """Name the regime that per-layer gradient norms show.

    Args:
        norms: per-layer gradient norms, input side first.
        threshold: ratio beyond which the gradients count as vanishing or exploding.

    Returns:
        ``"vanishing"`` if norms[-1]/norms[0] > threshold, ``"exploding"`` if
        norms[0]/norms[-1] > threshold, else ``"stable"``.
    """
    ### BEGIN SOLUTION
    norms = np.asarray(norms, dtype=np.float64)
    first, last = norms[0], norms[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        if last / first > threshold:
            return "vanishing"
        if first / last > threshold:
            return "exploding"
    return "stable"
    ### END SOLUTION


def build_exploding_mlp(input_dim, depth, width, seed=None):
    """Build an MLP laid out as ``build_mlp`` does whose gradients explode.

    Args:
        input_dim: number of input features.
        depth: number of hidden Dense layers.
        width: units per hidden layer.
        seed: int or None; the same seed gives the same weights.

    Returns:
        keras.Sequential whose ``dense_grad_norms`` are finite and whose input-side
        norm is at least 1e3 times the output-side norm, measured with input_dim 8,
        depth 20 and 30, width 32 and 64, several seeds, on 64 standard-normal samples
        as inputs and targets, the model called in inference mode.
    """
    ### BEGIN SOLUTION
    # What decides the regime is each layer's gain chi = fan_in * Var(w) * E[f'(z)^2].
    # tanh has slope 1 at 0, so weights of standard deviation 8/sqrt(fan_in) give
    # chi well above 1: every layer multiplies the backward signal by more than one
    # while tanh keeps the forward activations bounded. (Sigmoid would need far larger
    # weights, fan_in * Var(w) in the hundreds, since its slope is at most 1/4.)
    initializer = keras.initializers.VarianceScaling(
        scale=64.0, mode="fan_in", distribution="untruncated_normal"
    )
    return build_mlp(input_dim, depth, width, "tanh", initializer, seed)
    ### END SOLUTION
