"""Models and measurements that the lessons' demonstration cells use.

A later part's lesson needs what an earlier part's exercises build (a deep MLP, an MLP
whose gradients explode, the gradient norm of every layer). Written out in that
notebook's cells they would show the earlier exercises' answers, so the cells import
them from here instead; they are the reference solutions themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def mlp(
    input_dim: int,
    depth: int,
    width: int,
    activation: str = "sigmoid",
    kernel_initializer: Any = "glorot_uniform",
    seed: int | None = None,
) -> Any:
    """Return the reference ``deep_sigmoid.build_mlp`` model.

    Args:
        input_dim: number of input features.
        depth: number of hidden Dense layers.
        width: units per hidden layer.
        activation: activation of the hidden layers.
        kernel_initializer: initializer of every Dense kernel (name or instance).
        seed: int or None; the same seed gives the same weights.

    Returns:
        keras.Sequential: ``depth`` hidden Dense layers, then a linear ``Dense(1)``.
    """
    from solutions.deep_sigmoid import build_mlp

    return build_mlp(input_dim, depth, width, activation, kernel_initializer, seed)


def exploding_mlp(input_dim: int, depth: int, width: int, seed: int | None = None) -> Any:
    """Return the reference ``deep_sigmoid.build_exploding_mlp`` model.

    Args:
        input_dim: number of input features.
        depth: number of hidden Dense layers.
        width: units per hidden layer.
        seed: int or None; the same seed gives the same weights.

    Returns:
        keras.Sequential whose input-side gradient norm is at least 1e3 times the
        output-side one.
    """
    from solutions.deep_sigmoid import build_exploding_mlp

    return build_exploding_mlp(input_dim, depth, width, seed)


def kernel_grad_norms(model: Any, x: Any, y: Any) -> np.ndarray:
    """Return the reference ``deep_sigmoid.dense_grad_norms`` of a model.

    Args:
        model: a Keras model.
        x: inputs, shape (m, input_dim).
        y: targets, shape (m, 1) or (m,).

    Returns:
        the Frobenius norm of dL/d(kernel) of every Dense layer, input side first, for
        L the mean squared error of ``model(x)`` against ``y``.
    """
    from solutions.deep_sigmoid import dense_grad_norms

    return dense_grad_norms(model, x, y)
