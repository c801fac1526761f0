"""Keras models and optimizers to and from plain data.

A model crosses the process boundary as its JSON config and its weights
(:class:`~grader.protocol.ModelSpec`); it is rebuilt with Keras's safe deserialisation,
which refuses ``Lambda`` layers and other arbitrary code, so a model a student built can
be measured in the grader's own process without running the student's code.
"""

from __future__ import annotations

import json
from typing import Any

from grader.protocol import ModelSpec, OptimizerSpec


class ModelRebuildError(ValueError):
    """A model config that Keras cannot rebuild from built-in layers alone."""


#: Element-wise functions of keras.ops a model may use as activations. Keras saves such a
#: function by its name only; these names are resolved to these functions, nothing else.
SAFE_FUNCTION_NAMES = (
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "silu",
    "softplus",
    "softsign",
    "leaky_relu",
    "hard_sigmoid",
    "hard_silu",
    "exp",
    "log1p",
    "abs",
    "square",
    "negative",
    "sign",
    "arctan",
    "sinh",
    "erf",
    "log_sigmoid",
    "mish",
)


def safe_custom_objects() -> dict[str, Any]:
    """Name -> function for the element-wise keras.ops functions accepted as activations."""
    import keras

    return {
        name: getattr(keras.ops, name) for name in SAFE_FUNCTION_NAMES if hasattr(keras.ops, name)
    }


def deserialize_safely(config: dict[str, Any]) -> Any:
    """Rebuild a serialised Keras object with safe mode on and only built-in functions."""
    import keras

    return keras.saving.deserialize_keras_object(
        config, safe_mode=True, custom_objects=safe_custom_objects()
    )


def describe_model(model: Any) -> ModelSpec:
    """Return a Keras model as plain data.

    Args:
        model: a built Keras model.

    Returns:
        ModelSpec with the model's JSON config and weights.
    """
    import numpy as np

    return ModelSpec(model.to_json(), [np.asarray(w) for w in model.get_weights()])


def rebuild_model(spec: ModelSpec) -> Any:
    """Rebuild a Keras model from plain data, refusing custom code.

    Args:
        spec: the model's config and weights.

    Returns:
        the rebuilt keras.Model with the weights set.

    Raises:
        ModelRebuildError: when the config is not a model of built-in Keras parts, or
            the weights do not fit it.
    """
    import keras

    try:
        config = json.loads(spec.config)
        model = deserialize_safely(config)
    except Exception as error:  # noqa: BLE001 - any failure means "not rebuildable"
        raise ModelRebuildError(
            "the model could not be rebuilt from its config with built-in Keras layers "
            f"({type(error).__name__}: {str(error)[:300]})"
        ) from None
    if not isinstance(model, keras.Model):
        raise ModelRebuildError(f"the config describes a {type(model).__name__}, not a model")
    try:
        model.set_weights(spec.weights)
    except Exception as error:  # noqa: BLE001
        raise ModelRebuildError(f"the weights do not fit the model ({error})") from None
    return model


def describe_optimizer(optimizer: Any) -> OptimizerSpec:
    """Return a Keras optimizer as plain data (class name and config)."""
    config = {}
    for key, value in optimizer.get_config().items():
        if value is None or type(value) in (bool, int, float, str):
            config[key] = value
        else:
            config[key] = float(value) if hasattr(value, "__float__") else repr(value)
    return OptimizerSpec(type(optimizer).__name__, config)


def rebuild_optimizer(spec: OptimizerSpec) -> Any:
    """Rebuild a Keras optimizer of a built-in class from its config.

    Raises:
        ModelRebuildError: for a class that is not a built-in Keras optimizer.
    """
    import keras

    cls = getattr(keras.optimizers, spec.class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, keras.optimizers.Optimizer)):
        raise ModelRebuildError(f"{spec.class_name} is not a built-in Keras optimizer")
    return cls.from_config(dict(spec.config))
