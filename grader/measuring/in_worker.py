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

from grader.measuring.layout import ACTIVATION_PROBE, dense_layers
from grader.measuring.live import MAX_MEASURE_STEPS, MEASURE_KINDS, measurement_record
from grader.measuring.measure import mean_squared_error, train_keras, wide_gradients
from grader.quiet import import_tensorflow

__all__ = ["ACTIVATION_PROBE", "MAX_MEASURE_STEPS", "MEASURE_KINDS", "measure_in_worker"]


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
        loss = mean_squared_error(tf, model(inputs), targets)
    grads = wide_gradients(tf, tape.gradient(loss, kernels))
    return [float(tf.norm(g)) if g is not None else float("nan") for g in grads]


def measure_in_worker(
    model: Any,
    input_dim: int,
    depth: int,
    width: int,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
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
    activations' values at the probe points (a name says nothing about what a function
    does; ``layout`` stops there, for build_mlp), the
    mean squared error of the model called in inference mode on ``x, y`` and the L2 norm of
    dL/d(kernel) per Dense layer, and for ``healthy`` the losses of ``steps`` full-batch
    steps of Keras's SGD on ``task_x, task_y`` (:func:`grader.measuring.measure.train_keras`,
    as :func:`grader.measuring.measure.train_full_batch` trains a model that is not a plain
    Dense stack). The record is :func:`grader.measuring.live.measurement_record`'s, the one a
    notebook's kernel builds too (:meth:`grader.checks.runner.InProcessRunner.measure`),
    here with the grader's own gradient norms and training run. The grader reads the
    result as hostile data and judges it
    (:func:`grader.measuring.reading.read_measurement`); nothing here decides a score.

    Args:
        model: the student's model, live, in the worker.
        input_dim: expected input width.
        depth: expected hidden Dense layers.
        width: expected units per hidden layer.
        x: inputs of the gradient norms (m, input_dim); None for ``layout``.
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
        layer's activation at :data:`ACTIVATION_PROBE`); for ``layout``, only ``layout``,
        ``activation_values`` and ``layer_values`` (every Dense layer's activation at the
        probe points, input side first), and nothing is measured.

    Raises:
        ValueError: for an unknown ``kind`` or too many steps.
    """
    return measurement_record(
        model,
        input_dim,
        depth,
        width,
        x,
        y,
        task_x,
        task_y,
        norms_of=_live_gradient_norms,
        train=train_keras,
        kind=kind,
        steps=steps,
        learning_rate=learning_rate,
    )
