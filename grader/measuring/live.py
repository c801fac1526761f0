"""The record of a live model the grader cannot rebuild, whoever measures its gradients.

A model built from the student's own parts (their own activation function or Dense
subclass) is measured where their code runs. Two places build the same record of it:

- the full grader's fresh jailed worker (:func:`grader.measuring.in_worker.measure_in_worker`),
  with the grader's own measuring code;
- a notebook's kernel (:meth:`grader.checks.runner.InProcessRunner.measure`), with
  :mod:`grader.checks.measurer`: in a student kit, the student's own ``dense_grad_norms``
  once it passes its public check and Keras's own ``fit``.

:func:`measurement_record` lays the model out, reads its activations at the probe points and
asks the callables it is given for the gradient norms and the training run, so that this
module holds no gradient code: the student kit ships it
(:data:`grader.course.kit.KIT_MODULES`). The grader reads the record as hostile data
(:func:`grader.measuring.reading.read_measurement`). The NumPy-only worker imports this
module too; TensorFlow loads only when a model is measured.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.measuring.bounds import ContractSize
from grader.measuring.layout import (
    ACTIVATION_PROBE,
    MAX_LAYOUT_LAYERS,
    dense_layers,
    describe_layout,
    healthy_layout_problems,
    layout_problems,
)
from grader.quiet import import_tensorflow

#: What is measured of a model the grader cannot rebuild: ``exploding`` (layout and
#: gradient norms, for build_exploding_mlp), ``healthy`` (layout, gradient norms and a
#: training run, for build_healthy_mlp) or ``layout`` (layout and every Dense layer's
#: activation at the probe points, for build_mlp).
MEASURE_KINDS = ("exploding", "healthy", "layout")
#: Most SGD steps a measurement runs (the contract's training test makes 200).
MAX_MEASURE_STEPS = 1000

#: Per-Dense-layer kernel gradient norms of a live model on ``x, y``.
NormsOf = Callable[[Any, np.ndarray, np.ndarray], Any]
#: The losses of ``steps`` full-batch SGD steps on ``x, y`` at a learning rate, each before
#: its step: ``train(model, x, y, steps, learning_rate)``.
Train = Callable[[Any, np.ndarray, np.ndarray, int, float], Any]


def activation_values(layer: Any) -> list[float]:
    """A Dense layer's activation at :data:`ACTIVATION_PROBE` (empty if it fails)."""
    tf = import_tensorflow()
    activation = getattr(layer, "activation", None)
    if not callable(activation):
        return []
    try:
        values = np.asarray(activation(tf.constant(ACTIVATION_PROBE, dtype=tf.float32)))
        values = np.asarray(values, dtype=np.float64).ravel()
    except Exception:  # noqa: BLE001 - the student's function may fail on a probe
        return []
    return [float(v) for v in values[: len(ACTIVATION_PROBE)]]


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def measurement_record(
    model: Any,
    input_dim: int,
    depth: int,
    width: int,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    task_x: np.ndarray | None = None,
    task_y: np.ndarray | None = None,
    *,
    norms_of: NormsOf,
    train: Train,
    kind: str = "exploding",
    steps: int = 0,
    learning_rate: float = 0.0,
) -> dict[str, Any]:
    """The measurement of a live model, as bounded plain data, its figures from the callables.

    What the grader computes of a rebuilt model: the layout
    (:func:`grader.measuring.layout.describe_layout`), the activations' values at the
    probe points (a name says nothing about what a function does; ``layout`` stops there,
    for build_mlp), ``norms_of(model, x, y)`` and, for ``healthy``,
    ``train(model, task_x, task_y, steps, learning_rate)``, both only for a model of the
    right layout and size. Nothing here decides a score.

    Args:
        model: the student's model, live.
        input_dim: expected input width.
        depth: expected hidden Dense layers.
        width: expected units per hidden layer.
        x: inputs of the gradient norms (m, input_dim); None for ``layout``.
        y: their targets (m, 1).
        task_x: inputs of the training run (``healthy`` only).
        task_y: its targets.
        norms_of: the gradient norms' measurer.
        train: the training run's.
        kind: one of :data:`MEASURE_KINDS`.
        steps: SGD steps (``healthy`` only, at most :data:`MAX_MEASURE_STEPS`).
        learning_rate: SGD's learning rate.

    Returns:
        ``layout`` (:func:`grader.measuring.layout.describe_layout`), ``norms`` (floats,
        empty when the layout is wrong or the model larger than the call asks for,
        :class:`~grader.measuring.bounds.ContractSize`), ``losses`` (floats, the loss before
        each step; ``healthy`` with a right layout only) and ``activation_values`` (the
        first Dense layer's activation at :data:`ACTIVATION_PROBE`); for ``layout``, only
        ``layout``, ``activation_values`` and ``layer_values`` (every Dense layer's
        activation at the probe points, input side first), and nothing is measured.

    Raises:
        ValueError: for an unknown ``kind`` or too many steps.
    """
    if kind not in MEASURE_KINDS:
        raise ValueError(f"unknown measurement {kind!r}; expected one of {MEASURE_KINDS}")
    if not 0 <= steps <= MAX_MEASURE_STEPS:
        raise ValueError(f"{steps} steps; at most {MAX_MEASURE_STEPS}")
    layout = describe_layout(model)
    if kind == "healthy":
        problems = healthy_layout_problems(layout, depth)
    else:
        problems = layout_problems(layout, input_dim, depth, width)
    dense = dense_layers(model)
    probe = activation_values(dense[0]) if dense else []
    if kind == "layout":
        return {
            "layout": layout,
            "activation_values": probe,
            "layer_values": [activation_values(layer) for layer in dense[:MAX_LAYOUT_LAYERS]],
        }
    norms: list[float] = []
    losses: list[float] = []
    too_large = ContractSize(input_dim, depth, width).excess(
        layout["weights"], layout["layer_count"]
    )
    if not problems and too_large is None:
        norms = _floats(norms_of(model, x, y))
        if kind == "healthy" and steps:
            # The norms left the weights as they were: train the same model, as the
            # grader does after measuring a rebuilt one.
            losses = _floats(train(model, task_x, task_y, steps, learning_rate))
    return {
        "layout": layout,
        "norms": norms,
        "losses": losses,
        "activation_values": probe,
    }
