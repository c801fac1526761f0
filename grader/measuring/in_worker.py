"""The measurement of a model the grader cannot rebuild, made in the student's worker.

A model built with the student's own activation function or layer cannot be rebuilt in the
grader from plain data (:class:`grader.measuring.plain.ModelRebuildError`): its own code
must run for it to be measured. So :func:`measure_in_worker`, the grader's own measuring
code, runs inside the student's process: a fresh jailed worker that loaded the student's
module (:mod:`grader.worker.loading` calls it). It computes there what the grader computes
in its own process for a rebuilt model (:mod:`grader.measuring.measure`). The student's
code shares that process and can change anything in it, so nothing computed here is
trusted: the grader reads the answer as hostile data and checks only its form and sizes
(:mod:`grader.measuring.reading`).

The NumPy-only worker imports this module too; TensorFlow and Keras load only when a model
is measured (:func:`grader.quiet.import_tensorflow`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.measuring.bounds import ContractSize
from grader.measuring.layout import (
    ACTIVATION_PROBE,
    dense_layers,
    describe_layout,
    healthy_layout_problems,
    layout_problems,
)
from grader.measuring.measure import train_keras
from grader.quiet import import_tensorflow

#: What a worker measures of a model the grader cannot rebuild: ``exploding`` (layout and
#: gradient norms, for build_exploding_mlp) or ``healthy`` (layout, gradient norms and a
#: training run, for build_healthy_mlp).
MEASURE_KINDS = ("exploding", "healthy")
#: Most SGD steps a measurement runs (the contract's training test makes 200).
MAX_MEASURE_STEPS = 1000


def _live_gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> list[float]:
    """Per-Dense kernel gradient norms of a live model, as the grader measures a rebuilt one
    (:func:`grader.measuring.measure.gradient_norms`).

    A kernel the loss does not reach (no gradient) gets NaN.
    """
    tf = import_tensorflow()
    inputs = tf.convert_to_tensor(x, dtype=tf.float32)
    targets = tf.convert_to_tensor(y, dtype=tf.float32)
    kernels = [layer.kernel for layer in dense_layers(model)]
    with tf.GradientTape() as tape:
        prediction = model(inputs)
        # a float64 (or mixed-precision) model computes in its own dtype: so do its targets
        targets = tf.cast(tf.reshape(targets, tf.shape(prediction)), prediction.dtype)
        loss = tf.reduce_mean(tf.square(prediction - targets))
    grads = tape.gradient(loss, kernels)
    return [float(tf.norm(g)) if g is not None else float("nan") for g in grads]


def _activation_values(model: Any) -> list[float]:
    """The first Dense layer's activation at :data:`ACTIVATION_PROBE` (empty if it fails)."""
    tf = import_tensorflow()
    dense = dense_layers(model)
    activation = getattr(dense[0], "activation", None) if dense else None
    if not callable(activation):
        return []
    try:
        values = np.asarray(activation(tf.constant(ACTIVATION_PROBE, dtype=tf.float32)))
        values = np.asarray(values, dtype=np.float64).ravel()
    except Exception:  # noqa: BLE001 - the student's function may fail on a probe
        return []
    return [float(v) for v in values[: len(ACTIVATION_PROBE)]]


def measure_in_worker(
    model: Any,
    input_dim: int,
    depth: int,
    width: int,
    x: np.ndarray,
    y: np.ndarray,
    task_x: np.ndarray | None = None,
    task_y: np.ndarray | None = None,
    *,
    kind: str = "exploding",
    steps: int = 0,
    learning_rate: float = 0.0,
) -> dict[str, Any]:
    """The measurement of a model the grader cannot rebuild, as bounded plain data.

    For a model the grader cannot rebuild from built-in parts (a student's own activation
    function or layer, :class:`grader.measuring.plain.ModelRebuildError`): this, the
    grader's measuring code, runs in a fresh jailed worker that loaded the student's module
    (the model's own code must run to be measured), and computes what the grader computes
    for a rebuilt model: the layout (:func:`grader.measuring.layout.describe_layout`), the
    mean squared error of the model called in inference mode on ``x, y`` and the L2 norm of
    dL/d(kernel) per Dense layer, and for ``healthy`` the losses of ``steps`` full-batch
    steps of Keras's SGD on ``task_x, task_y`` (:func:`grader.measuring.measure.train_keras`,
    as :func:`grader.measuring.measure.train_full_batch` trains a model that is not a plain
    Dense stack). The grader reads the result as hostile data and judges it
    (:func:`grader.measuring.reading.read_measurement`); nothing here decides a score.

    Args:
        model: the student's model, live, in the worker.
        input_dim: expected input width.
        depth: expected hidden Dense layers.
        width: expected units per hidden layer.
        x: inputs of the gradient norms (m, input_dim).
        y: their targets (m, 1).
        task_x: inputs of the training run (``healthy`` only).
        task_y: its targets.
        kind: one of :data:`MEASURE_KINDS`.
        steps: SGD steps (``healthy`` only, at most :data:`MAX_MEASURE_STEPS`).
        learning_rate: SGD's learning rate.

    Returns:
        ``layout`` (:func:`grader.measuring.layout.describe_layout`), ``norms`` (floats,
        empty when the layout is wrong or the model larger than the call asks for,
        :class:`~grader.measuring.bounds.ContractSize`), ``losses`` (floats, the loss before each step;
        ``healthy`` with a right layout only) and ``activation_values`` (the first Dense
        layer's activation at :data:`ACTIVATION_PROBE`).

    Raises:
        ValueError: for an unknown ``kind`` or too many steps.
    """
    if kind not in MEASURE_KINDS:
        raise ValueError(f"unknown measurement {kind!r}; expected one of {MEASURE_KINDS}")
    if not 0 <= steps <= MAX_MEASURE_STEPS:
        raise ValueError(f"{steps} steps; at most {MAX_MEASURE_STEPS}")
    layout = describe_layout(model)
    if kind == "exploding":
        problems = layout_problems(layout, input_dim, depth, width)
    else:
        problems = healthy_layout_problems(layout, depth)
    probe = _activation_values(model)
    norms: list[float] = []
    losses: list[float] = []
    too_large = ContractSize(input_dim, depth, width).excess(
        layout["weights"], layout["layer_count"]
    )
    if not problems and too_large is None:
        norms = _live_gradient_norms(model, x, y)
        if kind == "healthy" and steps:
            # The norms left the weights as they were: train the same model, as the
            # grader does after measuring a rebuilt one.
            trained = train_keras(model, task_x, task_y, steps, learning_rate)
            losses = [float(v) for v in np.asarray(trained, dtype=np.float64).ravel()]
    return {
        "layout": layout,
        "norms": norms,
        "losses": losses,
        "activation_values": probe,
    }
