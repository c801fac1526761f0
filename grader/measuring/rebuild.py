"""A Keras model rebuilt from its vetted plan, with the grader's own constructors.

:mod:`grader.measuring.vetting` turns a received config into a plain plan and says why
nothing else is trusted; this module constructs that plan with explicit Keras
constructors (``keras.layers.Dense(units=..., activation=...)``), each class and function
taken by a vetted name from Keras's own modules, and sets the received weights. A model
sent across the boundary is written by :func:`describe_model`; a plain float32 Dense
stack skips Keras altogether (:func:`plain_dense_stack`).

Keras is imported inside the functions, not at the head: the worker of the NumPy-only
parts loads this module too, and never imports Keras.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from grader.isolation.protocol import ModelSpec
from grader.measuring import activations
from grader.measuring.bounds import ContractSize
from grader.measuring.layout import ACTIVATION_PROBE
from grader.measuring.plain import ModelRebuildError
from grader.measuring.vetting import (
    Activation,
    Initializer,
    ModelPlan,
    vet_keras_object,
    vetted_plan,
)


def _activation_function(activation: Activation) -> Any:
    if activation.source == "grader":
        return getattr(activations, activation.name)
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    module = keras.activations if activation.source == "activations" else keras.ops
    return getattr(module, activation.name)


def _initializer_object(initializer: Initializer) -> Any:
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    return getattr(keras.initializers, initializer.class_name)(**dict(initializer.arguments))


def _constructed(value: Any) -> Any:
    if isinstance(value, Activation):
        return _activation_function(value)
    if isinstance(value, Initializer):
        return _initializer_object(value)
    return value


def build_model(plan: ModelPlan) -> Any:
    """Construct a vetted model with explicit Keras constructors.

    Args:
        plan: the output of :func:`grader.measuring.vetting.vet_model_config`.

    Returns:
        the built ``keras.Sequential`` (fresh weights; set them afterwards).
    """
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    layers: list[Any] = []
    if plan.input_layer is not None:
        layers.append(keras.layers.InputLayer(**plan.input_layer))
    for layer in plan.layers:
        cls = getattr(keras.layers, layer.class_name)
        layers.append(cls(**{k: _constructed(v) for k, v in layer.arguments.items()}))
    # Every weight is set from the received data right after (rebuild_model), so the
    # layers are built with zeros and get their initializers back afterwards: drawing
    # weights only to overwrite them (an orthogonal kernel's QR, say) was about half of a
    # rebuild's time. The initializers' seeds are fixed when they are constructed, so
    # skipping their calls changes no random state.
    initializers = _swap_initializers(layers, keras.initializers.Zeros())
    try:
        model = keras.Sequential(layers, trainable=plan.trainable, name=plan.name)
        if not model.built:
            model.build(tuple(plan.input_shape))
    finally:
        for layer, name, initializer in initializers:
            setattr(layer, name, initializer)
    return model


def _swap_initializers(layers: list[Any], replacement: Any) -> list[tuple[Any, str, Any]]:
    """Put ``replacement`` in every ``*_initializer`` attribute; return what was there."""
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    swapped = []
    for layer in layers:
        for name, value in list(vars(layer).items()):
            if name.endswith("_initializer") and isinstance(value, keras.initializers.Initializer):
                swapped.append((layer, name, value))
                setattr(layer, name, replacement)
    return swapped


#: Float dtypes whose weights a plain stack takes as Keras's ``set_weights`` would (cast
#: to float32); any other dtype goes through Keras, which decides.
_STACK_WEIGHT_DTYPES = ("float32", "float64")


def plain_dense_stack(
    plan: ModelPlan, weights: list[Any]
) -> tuple[list[Any], list[Any], list[Any]] | None:
    """A model that is only float32 Dense layers, read from plain data without Keras.

    Building the Keras model costs about 0.2 s for the contract's 31 layers (a layer object
    and two variables per layer), most of a check's time in the grader; measuring needs
    only the weights and the activations. This reads them from the vetted config exactly as
    :func:`rebuild_model` followed by :func:`grader.measuring.stack.dense_stack` would: the same
    allow-list, the same activation functions, the weights cast to float32 as
    ``set_weights`` casts them. Anything else (other layers, dtypes, weights that do not
    fit) returns None, and the caller rebuilds the model with Keras, which gives the
    figure or the error message as before.

    Args:
        plan: the vetted config (:func:`grader.measuring.vetting.vetted_plan`).
        weights: the received weights, in ``get_weights`` order.

    Returns:
        ``(kernels, biases, activations)`` per Dense layer (a bias None when the layer has
        none), or None.
    """
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    global_policy = keras.config.dtype_policy().name
    shape = plan.input_shape
    if not shape or type(shape[-1]) is not int or not plan.layers:
        return None
    kernels: list[Any] = []
    biases: list[Any] = []
    activations: list[Any] = []
    remaining = iter(weights)
    fan_in = shape[-1]
    for layer in plan.layers:
        arguments = layer.arguments
        if layer.class_name != "Dense" or (arguments.get("dtype") or global_policy) != "float32":
            return None
        units = arguments["units"]
        wanted = [(fan_in, units)] + ([(units,)] if arguments.get("use_bias", True) else [])
        arrays = []
        for shape_wanted in wanted:
            array = next(remaining, None)
            if (
                not isinstance(array, np.ndarray)
                or array.dtype.name not in _STACK_WEIGHT_DTYPES
                or array.shape != shape_wanted
            ):
                return None
            arrays.append(np.asarray(array, dtype=np.float32))
        kernels.append(arrays[0])
        biases.append(arrays[1] if len(arrays) > 1 else None)
        activation = arguments.get("activation")
        activations.append(
            _activation_function(activation)
            if isinstance(activation, Activation)
            else keras.activations.get(None)
        )
        fan_in = units
    if next(remaining, None) is not None:
        return None
    return kernels, biases, activations


def model_from_plan(plan: ModelPlan, weights: list[Any]) -> Any:
    """Build a vetted plan with Keras and set the received weights.

    Raises:
        ModelRebuildError: when Keras refuses the vetted config, or the weights do not
            fit it.
    """
    try:
        model = build_model(plan)
    except Exception as error:  # noqa: BLE001 - a vetted config Keras still refuses
        raise ModelRebuildError(
            f"the model could not be built from its config ({type(error).__name__}: "
            f"{str(error)[:300]})"
        ) from None
    try:
        model.set_weights(weights)
    except Exception as error:  # noqa: BLE001
        raise ModelRebuildError(f"the weights do not fit the model ({str(error)[:300]})") from None
    return model


def rebuild_model(spec: ModelSpec, size: ContractSize | None = None) -> Any:
    """Rebuild a Keras model from plain data, from allowed built-in parts only.

    Args:
        spec: the model's config and weights.
        size: the size the call that returned it asked for, or None (the allow-list's
            outer bounds only).

    Returns:
        the rebuilt keras.Sequential with the weights set.

    Raises:
        ModelRebuildError: when the config holds anything outside the allow-list (the
            message names where), or the weights do not fit it;
            :class:`~grader.measuring.bounds.ModelTooLarge` when it is larger than ``size``
            allows.
    """
    return model_from_plan(vetted_plan(spec, size), spec.weights)


def _keras_function(name: str) -> Any:
    """The Keras function a saved activation of this name is rebuilt into, or None."""
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    for module in (keras.activations, keras.ops):
        function = getattr(module, name, None)
        if callable(function):
            return function
    return None


def _same_values(function: Any, other: Any) -> bool:
    """Whether two activations agree at :data:`grader.measuring.layout.ACTIVATION_PROBE`."""
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    z = keras.ops.convert_to_tensor(ACTIVATION_PROBE, dtype="float32")
    try:
        ours = np.asarray(keras.ops.convert_to_numpy(function(z)), dtype=np.float64)
        theirs = np.asarray(keras.ops.convert_to_numpy(other(z)), dtype=np.float64)
    except Exception:  # noqa: BLE001 - a student's function may fail on the probe
        return False
    return ours.shape == theirs.shape and bool(np.allclose(ours, theirs, rtol=0, atol=1e-5))


def _saved_as(function: Any) -> dict[str, Any] | None:
    """How an activation is written when Keras's own record would misname it.

    Keras saves any Python function as ``{"module": "builtins", "config": <its name>}``.
    So a student's own ``def sigmoid(z)`` that computes something else would be rebuilt
    as Keras's sigmoid: such a function (one named as a Keras function but giving other
    values at the probe points) is written with its own module, which the allow-list
    refuses, and the model is measured where its code runs. One of the grader's own
    functions (:mod:`grader.measuring.activations`) is written with that module, which the
    allow-list accepts. None when Keras's record is right: a Keras function, a function
    that computes what the Keras function of its name computes, or one that no Keras
    name stands for (the allow-list refuses its record by its name).
    """
    name = getattr(function, "__name__", None)
    if type(name) is not str or not callable(function):
        return None
    if name in activations.GRADER_ACTIVATIONS and getattr(activations, name) is function:
        module = activations.MODULE
    else:
        keras_function = _keras_function(name)
        if (
            keras_function is None
            or keras_function is function
            or _same_values(function, keras_function)
        ):
            return None
        module = str(getattr(function, "__module__", None) or "unknown")
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def describe_model(model: Any) -> ModelSpec:
    """Return a Keras model as plain data.

    An activation Keras's own record would misname (a student's function named as a Keras
    function that computes something else, or one of the grader's own) is written with
    its own module (:func:`_saved_as`).

    Args:
        model: a built Keras model.

    Returns:
        ModelSpec with the model's JSON config and weights.
    """
    config = model.to_json()
    own = {
        layer.name: saved
        for layer in model.layers
        if (saved := _saved_as(getattr(layer, "activation", None))) is not None
    }
    if own:
        parsed = json.loads(config)
        for layer in parsed.get("config", {}).get("layers", []):
            layer_config = layer.get("config", {})
            if layer_config.get("name") in own and "activation" in layer_config:
                layer_config["activation"] = own[layer_config["name"]]
        config = json.dumps(parsed)
    return ModelSpec(config, [np.asarray(w) for w in model.get_weights()])


def rebuild_keras_object(config: Any) -> Any:
    """Rebuild a serialised activation or initializer from the allow-list.

    Args:
        config: what ``keras.saving.serialize_keras_object`` wrote for a built-in
            initializer or activation.

    Returns:
        the initializer object or the activation function.

    Raises:
        ModelRebuildError: for anything that is not an allowed activation or initializer.
    """
    return _constructed(vet_keras_object(config))
