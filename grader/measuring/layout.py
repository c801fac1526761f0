"""A model's layout as the contract's rules read it.

:func:`describe_layout` reads what the rules need of a model into a bounded plain record;
the rules (:func:`layout_problems` for ``build_mlp`` and ``build_exploding_mlp``,
:func:`healthy_layout_problems` for ``build_healthy_mlp``) read only that record. So a model
is judged by the same code from the same data wherever it was measured. A model rebuilt in
the grader's process is described there. A model the grader cannot rebuild is described by
this code inside the student's worker (:func:`grader.measuring.in_worker.measure_in_worker`,
which applies the rules there only to decide what else to measure); the grader reads that
record back as hostile data (:func:`grader.measuring.reading.read_measurement`) and applies
the rules to it again in its own process.
"""

from __future__ import annotations

import math
from typing import Any

from grader.measuring.stack import DenseStack

#: Where the first Dense layer's activation is evaluated, so that the grader can tell a
#: student's own sigmoid from its values (a name says nothing about what a function does).
ACTIVATION_PROBE = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)


def dense_layers(model: Any) -> list[Any]:
    """The model's Dense layers, input side first."""
    # lazy: Keras loads through import_tensorflow (quietly); the NumPy-only worker imports this module
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _function_name(activation: Any) -> str:
    return getattr(activation, "__name__", str(activation))


def activation_name(layer: Any) -> str:
    """The name of a layer's activation (``linear`` for none)."""
    return _function_name(getattr(layer, "activation", None))


def first_activation(model: Any) -> str:
    """The name of the first Dense layer's activation of a model or
    :class:`~grader.measuring.stack.DenseStack`."""
    if isinstance(model, DenseStack):
        return _function_name(model.activations[0])
    return activation_name(dense_layers(model)[0])


#: Float dtypes from the narrowest: a model's compute dtype is its narrowest Dense layer's.
_DTYPE_ORDER = ("float16", "bfloat16", "float32", "float64")
#: The 16-bit float dtypes a model computes in under mixed precision (or a float16 policy).
NARROW_DTYPES = _DTYPE_ORDER[:2]


def compute_dtype(model: Any) -> str:
    """The dtype a model computes its Dense layers in: the narrowest of their compute dtypes
    (``float16`` for a mixed_float16 model, ``float64`` for a model built in float64);
    ``float32`` for a :class:`~grader.measuring.stack.DenseStack` or a model without Dense
    layers."""
    if isinstance(model, DenseStack):
        return "float32"
    names = {str(getattr(layer, "compute_dtype", "float32")) for layer in dense_layers(model)}
    known = [name for name in _DTYPE_ORDER if name in names]
    if known:
        return known[0]
    return min(names, default="float32")


#: Most Dense layers a layout description holds in detail (the contract's models have 31).
MAX_LAYOUT_LAYERS = 200
#: Most names of other layers a layout description holds, and characters per name.
MAX_LAYOUT_NAMES, MAX_NAME_CHARS = 8, 60


def describe_layout(model: Any) -> dict[str, Any]:
    """What the layout rules read of a model, as bounded plain data.

    The rules (:func:`layout_problems`, :func:`healthy_layout_problems`) read only this,
    so a model measured in a worker is judged in the grader from the same data, by the
    same code, as a model rebuilt here.

    Args:
        model: a Keras model, or a :class:`~grader.measuring.stack.DenseStack` (described as
            the Keras model it stands for).

    Returns:
        ``model_class`` (its class's name), ``sequential`` (whether it is a
        ``keras.Sequential``), ``dense_count``, ``others`` (names of the layers that are
        not Dense, at most :data:`MAX_LAYOUT_NAMES`), ``dense`` (per Dense layer, input
        side first, at most :data:`MAX_LAYOUT_LAYERS`: ``units``, ``activation``,
        ``fan_in`` or None), ``weights`` (every number the model holds, as
        ``count_params``), ``layer_count`` (its layers, the input layer not counted) and
        ``dtype`` (:func:`compute_dtype`).
    """
    if isinstance(model, DenseStack):
        return _layout_record(
            "Sequential",
            True,
            [(k.shape[1], a, k.shape[0]) for k, a in zip(model.kernels, model.activations)],
            [],
            sum(k.size + (0 if b is None else b.size) for k, b in zip(model.kernels, model.biases)),
            len(model.kernels),
            "float32",
        )
    # lazy: Keras loads through import_tensorflow (quietly); the NumPy-only worker imports this module
    import keras

    dense = dense_layers(model)
    kernels = [getattr(layer, "kernel", None) for layer in dense]
    return _layout_record(
        type(model).__name__,
        isinstance(model, keras.Sequential),
        [
            (layer.units, layer.activation, None if kernel is None else kernel.shape[0])
            for layer, kernel in zip(dense, kernels)
        ],
        [type(layer).__name__ for layer in model.layers if layer not in dense],
        sum(math.prod(weight.shape) for weight in model.weights),
        len(model.layers),
        compute_dtype(model),
    )


def _layout_record(
    model_class: str,
    sequential: bool,
    dense: list[tuple[Any, Any, Any]],
    others: list[str],
    weights: int,
    layer_count: int,
    dtype: str,
) -> dict[str, Any]:
    """The bounded layout record of :func:`describe_layout`, from ``(units, activation,
    fan_in or None)`` per Dense layer, the names of the other layers and the model's
    sizes: the one place the bounds apply, whether the model is a Keras model or a
    :class:`~grader.measuring.stack.DenseStack`."""
    return {
        "model_class": model_class[:MAX_NAME_CHARS],
        "sequential": sequential,
        "weights": int(weights),
        "layer_count": int(layer_count),
        "dtype": str(dtype)[:MAX_NAME_CHARS],
        "dense_count": len(dense),
        "others": [name[:MAX_NAME_CHARS] for name in others[:MAX_LAYOUT_NAMES]],
        "dense": [
            {
                "units": int(units),
                "activation": str(_function_name(activation))[:MAX_NAME_CHARS],
                "fan_in": None if fan_in is None else int(fan_in),
            }
            for units, activation, fan_in in dense[:MAX_LAYOUT_LAYERS]
        ],
    }


def _sequential_layout(model: Any) -> tuple[dict[str, Any], list[str]]:
    """A model's layout (plain data) and, when it is not a ``keras.Sequential``, that
    sentence: the first rule both layout checks share."""
    layout = model if isinstance(model, dict) else describe_layout(model)
    problems = []
    if not layout["sequential"]:
        problems.append(f"the model is a {layout['model_class']}, not a keras.Sequential")
    return layout, problems


def layout_problems(
    model: Any,
    input_dim: int,
    depth: int,
    width: int,
    activation: str | None = None,
    strict: bool = True,
) -> list[str]:
    """What differs between a model and the layout ``build_mlp`` describes.

    Args:
        model: the rebuilt model, or its :func:`describe_layout` (plain data).
        input_dim: expected input width.
        depth: expected number of hidden Dense layers.
        width: expected units per hidden layer.
        activation: expected hidden activation, or None for any.
        strict: whether layers other than Dense are forbidden.

    Returns:
        sentences, empty when the layout is right.
    """
    layout, problems = _sequential_layout(model)
    if strict and layout["others"]:
        problems.append(f"it has layers other than Dense: {', '.join(layout['others'])}")
    count = layout["dense_count"]
    if count != depth + 1:
        problems.append(f"it has {count} Dense layers; expected {depth} hidden + 1 output")
        return problems
    dense = layout["dense"]
    hidden, output = dense[:-1], dense[-1]
    units = sorted({layer["units"] for layer in hidden})
    if units and units != [width]:
        problems.append(f"hidden layers have {units} units; expected {width}")
    if activation is not None:
        names = sorted({layer["activation"] for layer in hidden})
        if names != [activation]:
            problems.append(f"hidden activations are {names}; expected {activation!r}")
    if output["units"] != 1:
        problems.append(f"the output layer has {output['units']} units; expected 1")
    if output["activation"] != "linear":
        problems.append(
            f"the output layer's activation is {output['activation']!r}; expected linear"
        )
    first = dense[0]["fan_in"]
    if first is not None and first != input_dim:
        problems.append(f"the first layer takes {first} inputs; expected {input_dim}")
    return problems


def healthy_layout_problems(model: Any, depth: int) -> list[str]:
    """What differs between a model and the layout ``build_healthy_mlp`` must have.

    ``depth`` hidden Dense layers and a ``Dense(1)`` output, counted as
    :func:`dense_layers` counts them; any activation and any other layers between.

    Args:
        model: the model, or its :func:`describe_layout` (plain data).
        depth: expected number of hidden Dense layers.

    Returns:
        sentences, empty when the layout is right.
    """
    layout, problems = _sequential_layout(model)
    count = layout["dense_count"]
    if count != depth + 1:
        problems.append(f"it has {count} Dense layers; expected {depth} hidden + 1 output")
    elif layout["dense"][-1]["units"] != 1:
        problems.append(
            f"the last Dense layer has {layout['dense'][-1]['units']} units; expected 1"
        )
    return problems
