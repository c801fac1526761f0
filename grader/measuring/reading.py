"""A measurement made in the student's worker, read in the grader as hostile plain data.

A model the grader cannot rebuild is measured where the student's code runs
(:func:`grader.measuring.in_worker.measure_in_worker`), and that code can change anything in
its process: the answer proves nothing by itself. In the grader's process it is checked for
the form and sizes that function gives (anything else is :class:`UnreadableMeasurement`),
names that are not identifiers are never shown, and the layout's problems are found again by
the grader's own rules (:mod:`grader.measuring.layout`). The figures (the norms, the losses,
the activations' values at the probe points, :func:`acts_as`) cannot be checked beyond
that and are judged as they came; the feedback says where the model was measured.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.measuring.bounds import ContractSize
from grader.measuring.layout import (
    ACTIVATION_PROBE,
    MAX_LAYOUT_LAYERS,
    MAX_LAYOUT_NAMES,
    MAX_NAME_CHARS,
    healthy_layout_problems,
    layout_problems,
)

#: Largest gap between an activation's values at
#: :data:`~grader.measuring.layout.ACTIVATION_PROBE` and a built-in activation's for it to
#: count as that activation.
ACTIVATION_TOLERANCE = 1e-3
SIGMOID_TOLERANCE = ACTIVATION_TOLERANCE

#: The built-in activations the contract names for build_mlp (and ``linear``, its output
#: layer's), computed here in NumPy: what a student's own function is compared with.
BUILT_IN_ACTIVATIONS: dict[str, Any] = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}


def activation_gap(values: list[float], name: str) -> float:
    """The largest gap between an activation's values at
    :data:`~grader.measuring.layout.ACTIVATION_PROBE` and the built-in ``name``'s (one of
    :data:`BUILT_IN_ACTIVATIONS`); infinite when the values are missing or not finite."""
    if len(values) != len(ACTIVATION_PROBE):
        return float("inf")
    z = np.asarray(ACTIVATION_PROBE)
    gap = np.abs(np.asarray(values, dtype=np.float64) - BUILT_IN_ACTIVATIONS[name](z))
    return float(gap.max()) if np.all(np.isfinite(gap)) else float("inf")


def acts_as(values: list[float], name: str) -> bool:
    """Whether an activation's values at :data:`~grader.measuring.layout.ACTIVATION_PROBE`
    are those of the built-in activation ``name`` (one of :data:`BUILT_IN_ACTIVATIONS`).

    Args:
        values: the activation's values, as read from a worker's measurement
            (:func:`read_measurement`).
        name: the built-in activation.

    Returns:
        True when every probe point is within :data:`ACTIVATION_TOLERANCE` of it.
    """
    return activation_gap(values, name) <= ACTIVATION_TOLERANCE


def acts_as_sigmoid(values: list[float]) -> bool:
    """Whether an activation's values at the probe points are sigmoid's (:func:`acts_as`)."""
    return acts_as(values, "sigmoid")


def _unlike(own: str, values: list[float], name: str) -> str:
    """How an activation named ``own`` differs from the built-in ``name``, in words."""
    if len(values) != len(ACTIVATION_PROBE):
        return f"{own} (your own function: it gave no values at z = {list(ACTIVATION_PROBE)})"
    z = np.asarray(ACTIVATION_PROBE)
    wanted = BUILT_IN_ACTIVATIONS[name](z)
    with np.errstate(invalid="ignore"):
        gaps = np.abs(np.asarray(values, dtype=np.float64) - wanted)
    worst = int(np.argmax(np.where(np.isfinite(gaps), gaps, np.inf)))
    return (
        f"{own} (your own function: at z = {z[worst]:g} it gives {values[worst]:.4g} where "
        f"{name} gives {wanted[worst]:.4g})"
    )


def named_by_values(
    layout: dict[str, Any], layer_values: list[list[float]], hidden: str
) -> dict[str, Any]:
    """A layout read from a worker, each Dense layer's activation named by what it computes.

    A layer whose activation gives, at the probe points, the values of the activation the
    contract asks for there (``hidden`` for a hidden layer, ``linear`` for the output
    layer) is named so, whatever its own name; any other keeps its name with how it differs
    (:func:`_unlike`), so the layout rules (:func:`grader.measuring.layout.layout_problems`)
    judge what the model computes, not what its functions are called.

    Args:
        layout: the read layout (``read_measurement(...)["layout"]``).
        layer_values: per Dense layer, its activation's values at the probe points.
        hidden: the hidden layers' activation the call asked for (a key of
            :data:`BUILT_IN_ACTIVATIONS`).

    Returns:
        a copy of ``layout`` with the activations named by their values.
    """
    dense = layout["dense"]
    named = []
    for index, layer in enumerate(dense):
        wanted = "linear" if index == len(dense) - 1 else hidden
        values = layer_values[index] if index < len(layer_values) else []
        name = wanted if acts_as(values, wanted) else _unlike(layer["activation"], values, wanted)
        named.append({**layer, "activation": name})
    return {**layout, "dense": named}


class UnreadableMeasurement(ValueError):
    """A worker's measurement that is not of the form
    :func:`grader.measuring.in_worker.measure_in_worker` returns."""


def _numbers(value: Any, what: str, count: int | None = None, most: int = 0) -> list[float]:
    if type(value) is not list:
        raise UnreadableMeasurement(f"{what} is not a list")
    if count is not None and len(value) != count:
        raise UnreadableMeasurement(f"{what} has {len(value)} entries; expected {count}")
    if most and len(value) > most:
        raise UnreadableMeasurement(f"{what} has more than {most} entries")
    if any(type(v) not in (int, float) for v in value):
        raise UnreadableMeasurement(f"{what} holds something other than numbers")
    return [float(v) for v in value]


#: Shown instead of a name from a worker that is not a Python identifier (a class's or a
#: function's name always is one), so free text from the student's process is never shown.
UNSHOWN_NAME = "(a name that is not an identifier)"


def _short(value: Any, what: str) -> str:
    if type(value) is not str or len(value) > MAX_NAME_CHARS:
        raise UnreadableMeasurement(f"{what} is not a short string")
    return value if value.isidentifier() else UNSHOWN_NAME


def _read_layout(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise UnreadableMeasurement("the layout is not a record")
    count = value.get("dense_count")
    others = value.get("others")
    dense = value.get("dense")
    if type(count) is not int or count < 0:
        raise UnreadableMeasurement("the Dense layer count is not a count")
    for key in ("weights", "layer_count"):
        if type(value.get(key)) is not int or value[key] < 0:
            raise UnreadableMeasurement("the model's sizes are not counts")
    if type(value.get("sequential")) is not bool:
        raise UnreadableMeasurement("the model's kind is not said")
    if type(others) is not list or len(others) > MAX_LAYOUT_NAMES:
        raise UnreadableMeasurement("the other layers are not a short list")
    if type(dense) is not list or len(dense) != min(count, MAX_LAYOUT_LAYERS):
        raise UnreadableMeasurement("the Dense layers do not match their count")
    layers = []
    for layer in dense:
        if type(layer) is not dict:
            raise UnreadableMeasurement("a Dense layer is not a record")
        units, fan_in = layer.get("units"), layer.get("fan_in")
        if type(units) is not int or not (fan_in is None or type(fan_in) is int):
            raise UnreadableMeasurement("a Dense layer's sizes are not integers")
        layers.append(
            {
                "units": units,
                "activation": _short(layer.get("activation"), "an activation's name"),
                "fan_in": fan_in,
            }
        )
    return {
        "model_class": _short(value.get("model_class"), "the model's class"),
        "sequential": value["sequential"],
        "weights": value["weights"],
        "layer_count": value["layer_count"],
        "dtype": _short(value.get("dtype", "float32"), "the model's dtype"),
        "dense_count": count,
        "others": [_short(name, "a layer's name") for name in others],
        "dense": layers,
    }


def read_measurement(
    value: Any, kind: str, input_dim: int, depth: int, width: int, steps: int = 0
) -> dict[str, Any]:
    """A worker's measurement, read as hostile plain data, with its layout's problems.

    The worker runs the student's code, which can change anything in its process, so
    its answer is checked for the form and sizes
    :func:`grader.measuring.in_worker.measure_in_worker` gives before the grader judges it,
    and the layout's problems are found here, in the grader's process, by the grader's
    rules, from the plain record.

    Args:
        value: the decoded answer.
        kind: the measurement asked for (:data:`grader.measuring.in_worker.MEASURE_KINDS`).
        input_dim: the input width asked for.
        depth: the hidden Dense layers asked for (a right layout has ``depth + 1`` norms).
        width: the units per hidden layer asked for.
        steps: the SGD steps asked for (a right ``healthy`` layout has that many losses).

    Returns:
        ``too_large`` (a :class:`~grader.measuring.bounds.ModelTooLarge` when the model is
        larger than the call asks for, by the sizes the worker gave, else None),
        ``problems`` (sentences, empty when the layout is right), ``norms`` and
        ``losses`` (float64 arrays, empty when the model is too large or its layout
        wrong, and for ``layout``), ``first_activation`` (the first Dense layer's
        activation name), ``activation_values`` (floats), ``layout`` (the layout record,
        read) and ``layer_values`` (``layout`` only: per Dense layer, its activation's
        values at the probe points, for :func:`named_by_values`).

    Raises:
        UnreadableMeasurement: for an answer of any other form.
    """
    if type(value) is not dict:
        raise UnreadableMeasurement("the measurement is not a record")
    layout = _read_layout(value.get("layout"))
    if kind == "healthy":
        problems = healthy_layout_problems(layout, depth)
    else:
        problems = layout_problems(layout, input_dim, depth, width)
    too_large = ContractSize(input_dim, depth, width).excess(
        layout["weights"], layout["layer_count"]
    )
    norms: list[float] = []
    losses: list[float] = []
    layer_values: list[list[float]] = []
    if kind == "layout":
        values = value.get("layer_values")
        if type(values) is not list or len(values) != len(layout["dense"]):
            raise UnreadableMeasurement("the layers' activation values do not match the layers")
        layer_values = [
            _numbers(v, "a layer's activation values", most=len(ACTIVATION_PROBE)) for v in values
        ]
    elif not problems and too_large is None:
        norms = _numbers(value.get("norms"), "the norms", count=depth + 1)
        if kind == "healthy":
            losses = _numbers(value.get("losses"), "the losses", count=steps)
    probe = _numbers(
        value.get("activation_values", []),
        "the activation's values",
        most=len(ACTIVATION_PROBE),
    )
    return {
        "too_large": too_large,
        "problems": problems,
        "norms": np.asarray(norms, dtype=np.float64),
        "losses": np.asarray(losses, dtype=np.float64),
        "first_activation": layout["dense"][0]["activation"] if layout["dense"] else "",
        "activation_values": probe,
        "layout": layout,
        "layer_values": layer_values,
    }
