"""Part 4 `remedies`: initialisation, activations and the RNN condition."""

import keras
import numpy as np


def glorot_uniform_limit(fan_in, fan_out):
    """Return the bound of Glorot (Xavier) uniform initialisation.

    Args:
        fan_in: inputs of the layer.
        fan_out: outputs of the layer.

    Returns:
        float: the limit a of the uniform distribution U(-a, a) whose variance is
        Glorot's 2 / (fan_in + fan_out).
    """
    ### BEGIN SOLUTION
    return float(np.sqrt(6.0 / (fan_in + fan_out)))
    ### END SOLUTION


def he_normal_stddev(fan_in):
    """Return the standard deviation of He normal initialisation.

    Args:
        fan_in: inputs of the layer.

    Returns:
        float: the standard deviation that gives He's variance, twice 1 / fan_in to make
        up for ReLU halving the second moment of its input.
    """
    ### BEGIN SOLUTION
    return float(np.sqrt(2.0 / fan_in))
    ### END SOLUTION


def build_healthy_mlp(input_dim, depth, width, seed=None):
    """Build a deep MLP whose gradients neither vanish nor explode and which trains.

    The principle: a layer gain chi (Part 2, section 4) close to 1 in every layer, with a
    forward signal that neither dies out nor blows up.

    Args:
        input_dim: number of input features.
        depth: number of hidden Dense layers (20 or more).
        width: units per hidden layer.
        seed: int or None; the same seed gives the same weights.

    Returns:
        keras.Sequential of ``depth`` hidden Dense layers and a ``Dense(1)`` output whose
        ``dense_grad_norms`` on standard-normal data span at most a factor 100, and which
        200 full-batch steps of ``SGD(learning_rate=0.05)`` on MSE bring below a quarter
        of its starting loss, every loss finite, on x ~ N(0, 1) of shape
        (256, input_dim), y = sin(x @ v) for a unit vector v; measured with input_dim 8,
        depth 20 and 30, width 32 and 64, several seeds.
    """

    ### BEGIN SOLUTION
    # tanh has slope 1 at 0 and orthogonal weights keep every singular value at 1, so
    # each layer's gain chi = fan_in * Var(w) * E[tanh'(z)^2] stays just below 1 and its
    # Jacobian close to norm-preserving in both directions.
    def orthogonal(index):
        return keras.initializers.Orthogonal(seed=None if seed is None else seed + index)

    layers = [keras.Input(shape=(input_dim,))]
    for index in range(depth):
        layers.append(
            keras.layers.Dense(width, activation="tanh", kernel_initializer=orthogonal(index))
        )
    layers.append(keras.layers.Dense(1, kernel_initializer=orthogonal(depth)))
    return keras.Sequential(layers)
    ### END SOLUTION


def rnn_jacobian_norms(w_rec, w_in, b, xs, h0):
    """Return how strongly each earlier hidden state still moves the last one.

    The RNN is h_t = tanh(w_rec @ h_{t-1} + w_in @ x_t + b) for t = 1..T.

    Args:
        w_rec: recurrent weights, shape (hidden, hidden).
        w_in: input weights, shape (hidden, input_dim).
        b: bias, shape (hidden,).
        xs: inputs x_1..x_T, shape (T, input_dim).
        h0: initial state, shape (hidden,).

    Returns:
        np.ndarray of shape (T,) whose entry t-1 is the spectral norm (largest
        singular value) of dh_T/dh_{t-1} = J_T J_{T-1} ... J_t, where
        J_s = dh_s/dh_{s-1} is the Jacobian of step s (entry T-1 is the norm of J_T).
    """
    ### BEGIN SOLUTION
    w_rec = np.asarray(w_rec, dtype=np.float64)
    w_in = np.asarray(w_in, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    h = np.asarray(h0, dtype=np.float64)
    steps = []  # dh_t/dh_{t-1} = diag(1 - h_t^2) @ w_rec
    for x_t in np.asarray(xs, dtype=np.float64):
        h = np.tanh(w_rec @ h + w_in @ x_t + b)
        steps.append((1.0 - h**2)[:, None] * w_rec)
    norms = np.zeros(len(steps))
    product = np.eye(len(h))
    for t in range(len(steps), 0, -1):
        product = product @ steps[t - 1]  # dh_T/dh_{t-1}
        norms[t - 1] = np.linalg.norm(product, 2)
    return norms
    ### END SOLUTION


def max_stable_spectral_norm(activation):
    """Return the bound 1/gamma under which an RNN's gradients must vanish.

    Pascanu et al. (2013): with |activation'| <= gamma, exploding gradients need the
    largest singular value of the recurrent weights above 1/gamma. gamma is the largest
    slope of the activation: work it out from the activation's derivative.

    Args:
        activation: ``"sigmoid"`` or ``"tanh"``.

    Returns:
        float: 1/gamma for that activation.

    Raises:
        ValueError: for another activation.
    """
    ### BEGIN SOLUTION
    bounds = {"sigmoid": 4.0, "tanh": 1.0}
    if activation not in bounds:
        raise ValueError(
            f"activation must be one of {sorted(bounds)}. Received: activation={activation!r}"
        )
    return bounds[activation]
    ### END SOLUTION
