"""A model that is a plain stack of float32 Dense layers, held as its weight arrays.

What ``build_mlp`` and almost every student's ``build_exploding_mlp`` and
``build_healthy_mlp`` return. The grader measures such a model in its own process by a
function compiled once per layout over these arrays (:mod:`grader.measuring.measure`), not
through the Keras model; :func:`grader.measuring.rebuild.plain_dense_stack` reads one straight
from a received model's plain data, without building a Keras model, and :func:`dense_stack`
reads one from a Keras model. Its layout is described as the Keras model's would be
(:func:`grader.measuring.layout.describe_layout`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class DenseStack:
    """A model that is a plain stack of float32 Dense layers, as weight arrays.

    Args:
        kernels: per layer, its kernel (fan_in, units).
        biases: per layer, its bias (units,) or None.
        activations: per layer, its activation function (a built-in Keras function).
    """

    def __init__(self, kernels: list[Any], biases: list[Any], activations: list[Any]) -> None:
        self.kernels = kernels
        self.biases = biases
        self.activations = activations

    @property
    def layout(self) -> tuple[Any, ...]:
        """What a compiled function depends on: activations, biases and shapes."""
        return (
            tuple(self.activations),
            tuple(b is not None for b in self.biases),
            tuple(tuple(k.shape) for k in self.kernels),
        )


def dense_stack(model: Any) -> DenseStack | None:
    """The model as a :class:`DenseStack`, or None when it is anything else.

    Only a ``keras.Sequential`` of ``Dense`` layers (no constraints, no LoRA, no
    quantisation, float32 throughout) qualifies: for those the stack computes exactly what
    the model computes, and what an SGD step does to it.
    """
    if isinstance(model, DenseStack):
        return model
    # lazy: Keras loads through import_tensorflow (quietly); the NumPy-only worker imports this module
    import keras

    if type(model) is not keras.Sequential or not model.layers:
        return None
    kernels, biases, activations = [], [], []
    for layer in model.layers:
        if type(layer) is not keras.layers.Dense:
            return None
        if (
            layer.kernel_constraint is not None
            or layer.bias_constraint is not None
            or getattr(layer, "lora_enabled", False)
            or getattr(layer, "quantization_mode", None)
            or layer.dtype_policy.name != "float32"
            or not callable(layer.activation)
        ):
            return None
        kernel = np.asarray(layer.kernel)
        if kernel.dtype != np.float32 or kernel.ndim != 2:
            return None
        if kernels and kernels[-1].shape[1] != kernel.shape[0]:
            return None
        kernels.append(kernel)
        biases.append(np.asarray(layer.bias) if layer.bias is not None else None)
        activations.append(layer.activation)
    return DenseStack(kernels, biases, activations)
