"""Measuring models in the grader's own process, exactly as the contract states.

Models a student built arrive as plain data and are rebuilt here
(:func:`rebuild_for_measuring`); their gradient norms and training runs are computed here,
by the grader's code in the grader's process, so the student's code takes no part in
measuring them. The one exception is a model the grader cannot rebuild from built-in parts
(the student's own activation or layer): it is measured where its code runs, in the
student's worker (:mod:`grader.measuring.in_worker`, which trains it with
:func:`train_keras` from this module), and the grader reads that answer as hostile data
(:mod:`grader.measuring.reading`). This module is the grader's own code, not the
reference's, but its gradient norms are ``dense_grad_norms``' answer: the student kit does
not ship it (:mod:`grader.checks.measurer` says what a kit measures with instead).

Trace once, run many: a model that is a plain stack of float32 ``Dense`` layers (what
``build_mlp`` and almost every student's ``build_exploding_mlp`` and ``build_healthy_mlp``
return, held as a :class:`~grader.measuring.stack.DenseStack`) is measured by a
``tf.function`` over its weight tensors, not over the model object. The function is traced
once per layout (activations, biases, layer shapes) in a process and reused for every model
of that layout, so a batch pays for the tracing once. It computes the same operations as the
Keras model (``matmul``, bias, activation; ``w - g * rate`` for SGD), so its figures equal
the eager ones to float32 rounding (a test checks it). Any other model (normalisation
layers, constraints, mixed precision) is measured through Keras as before.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.measuring.bounds import ContractSize, CpuBudget
from grader.measuring.layout import dense_layers
from grader.measuring.rebuild import model_from_plan, plain_dense_stack
from grader.measuring.stack import DenseStack, dense_stack
from grader.measuring.vetting import vetted_plan
from grader.quiet import import_tensorflow


def _keras_gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-Dense-layer kernel gradient norms through Keras, measured as the contract states.

    L is the mean squared error of ``model(x)`` (float32, inference mode) against ``y``;
    each norm is the square root of the sum of squares of dL/d(kernel).

    Args:
        model: a Keras model.
        x: inputs, shape (m, input_dim).
        y: targets, shape (m, 1) or (m,).

    Returns:
        array (number of Dense layers,), input side first.
    """
    tf = import_tensorflow()
    variables = [layer.kernel for layer in dense_layers(model)]
    inputs = tf.constant(np.asarray(x, dtype=np.float32))
    targets = tf.constant(np.asarray(y, dtype=np.float32))
    with tf.GradientTape() as tape:
        outputs = model(inputs)  # Keras casts the inputs to each layer's compute dtype
        mse = mean_squared_error(tf, outputs, targets)
    return np.array(
        [
            float(tf.sqrt(tf.reduce_sum(g * g)))
            for g in wide_gradients(tf, tape.gradient(mse, variables))
        ],
        dtype=np.float64,
    )


def loss_dtype(tf: Any, prediction: Any) -> Any:
    """The dtype a loss on ``prediction`` is computed in: the prediction's own for float32
    and float64 models, float32 for a 16-bit one (mixed precision), as Keras's losses do."""
    dtype = prediction.dtype
    return dtype if dtype.is_floating and dtype.size >= 4 else tf.float32


def mean_squared_error(tf: Any, prediction: Any, targets: Any) -> Any:
    """The mean squared error of ``prediction`` against ``targets`` (reshaped to its shape),
    both cast to :func:`loss_dtype`: a float64 model is measured in float64, a
    mixed-precision one in float32."""
    dtype = loss_dtype(tf, prediction)
    errors = tf.cast(prediction, dtype) - tf.cast(tf.reshape(targets, tf.shape(prediction)), dtype)
    return tf.reduce_mean(errors * errors)


def wide_gradients(tf: Any, grads: Any) -> list[Any]:
    """The gradients, those of 16-bit variables (a float16 model) cast to float32 so that
    their norms do not overflow; a missing gradient stays None."""
    return [g if g is None or g.dtype.size >= 4 else tf.cast(g, tf.float32) for g in grads]


#: Whether the compiled measuring functions use XLA. Measured on a 2-core machine, XLA's
#: compile time (seconds per layout) outweighs its faster steps for the contract's sizes.
JIT_COMPILE = False


def rebuild_for_measuring(spec: Any, size: ContractSize | None = None) -> Any:
    """A model received as plain data, ready to be measured here.

    A plain float32 Dense stack becomes a :class:`~grader.measuring.stack.DenseStack` straight
    from its weights
    (:func:`grader.measuring.rebuild.plain_dense_stack`: no Keras model is built, which is most
    of what a rebuild costs); any other model is rebuilt with Keras
    (:func:`grader.measuring.rebuild.rebuild_model`).
    Either measures the same (:func:`gradient_norms`, :func:`train_full_batch`) and
    describes the same layout (:func:`grader.measuring.layout.describe_layout`).

    Args:
        spec: the received model.
        size: the size the call that returned it asked for, or None: a model over its
            bound is refused before anything is built.

    Raises:
        grader.measuring.plain.ModelRebuildError: as :func:`grader.measuring.rebuild.rebuild_model`
            (:class:`~grader.measuring.bounds.ModelTooLarge` for a model over ``size``).
    """
    import_tensorflow()
    plan = vetted_plan(spec, size)
    plain = plain_dense_stack(plan, spec.weights)
    if plain is None:
        return model_from_plan(plan, spec.weights)
    return DenseStack(*plain)


#: Compiled measuring functions, by (kind, activations, biases): each is traced once, with
#: every dimension open, and serves every width and sample count of that layout.
_COMPILED: dict[tuple[Any, ...], Any] = {}
_COMPILED_LOCK = threading.Lock()
#: The thread tracing the likely layouts ahead (:func:`trace_ahead`), once per process.
_AHEAD: threading.Thread | None = None
#: Set when the process exits: the thread stops after the layout it is tracing.
_AHEAD_STOP = threading.Event()


def _forward(tf: Any, x: Any, weights: Any, has_bias: Any, activations: Any) -> Any:
    """The stack's output, operation by operation as ``keras.layers.Dense.call``.

    ``weights`` is the flat list kernel, bias, kernel, ... with no entry for a missing bias.
    """
    h, remaining = x, iter(weights)
    for bias_used, activation in zip(has_bias, activations):
        h = tf.matmul(h, next(remaining))
        if bias_used:
            h = tf.add(h, next(remaining))
        h = activation(h)
    return h


def _mse(tf: Any, prediction: Any, y: Any) -> Any:
    return tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))


def _signature(tf: Any, has_bias: tuple[bool, ...]) -> list[Any]:
    """Every dimension left open, so one trace serves every width and sample count."""
    matrix = tf.TensorSpec([None, None], tf.float32)
    vector = tf.TensorSpec([None], tf.float32)
    weights = [spec for used in has_bias for spec in ([matrix, vector] if used else [matrix])]
    return [matrix, matrix, weights]


def _compiled(kind: str, stack: DenseStack) -> Any:
    """The compiled ``norms`` or ``training`` function of the stack's layout."""
    tf = import_tensorflow()
    activations, has_bias = stack.layout[:2]
    key = (kind, activations, has_bias)
    with _COMPILED_LOCK:  # one function per layout, whichever thread asks first
        if key not in _COMPILED:
            _COMPILED[key] = _new_function(tf, kind, stack)
        return _COMPILED[key]


def _new_function(tf: Any, kind: str, stack: DenseStack) -> Any:
    """A new (not yet traced) ``norms`` or ``training`` function for the stack's layout."""
    activations, has_bias = stack.layout[:2]
    kernel_at = [i for i, w in enumerate(_flat_weights(stack)) if w.ndim == 2]
    signature = _signature(tf, has_bias)
    if kind == "norms":

        @tf.function(input_signature=signature, jit_compile=JIT_COMPILE)
        def norms(x: Any, y: Any, weights: Any) -> Any:
            kernels = [weights[i] for i in kernel_at]
            with tf.GradientTape() as tape:
                tape.watch(kernels)
                loss = _mse(tf, _forward(tf, x, weights, has_bias, activations), y)
            grads = tape.gradient(loss, kernels)
            return tf.stack([tf.norm(g) for g in grads])

        return norms

    scalar_int = tf.TensorSpec([], tf.int32)
    scalar = tf.TensorSpec([], tf.float32)

    @tf.function(input_signature=[*signature, scalar_int, scalar], jit_compile=JIT_COMPILE)
    def train(x: Any, y: Any, weights: Any, steps: Any, rate: Any) -> Any:
        """The losses of ``steps`` steps, and the weights after them."""
        losses = tf.TensorArray(tf.float32, size=steps)
        for step in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(weights)
                loss = _mse(tf, _forward(tf, x, weights, has_bias, activations), y)
            grads = tape.gradient(loss, weights)
            losses = losses.write(step, loss)
            # keras.optimizers.SGD without momentum: w -= g * learning_rate
            weights = [w - g * rate for w, g in zip(weights, grads)]
        return losses.stack(), weights

    return train


def trace_ahead(layouts: Sequence[tuple[str, DenseStack]]) -> threading.Thread:
    """Trace the measuring functions of these layouts in a background thread, once per process.

    A fresh grading process (one submission from the command line) traces every layout it
    measures, about 4 s for the contract's models, and meanwhile mostly waits for the
    student's process to answer. This thread traces the likely layouts during those
    waits. They are the same functions traced the same way, so every figure is unchanged;
    a layout the thread has not reached yet is traced by whichever thread asks first
    (``tf.function`` holds a lock while it traces), never twice. Later calls do nothing.

    Args:
        layouts: ``(kind, stack)`` pairs, ``kind`` ``"norms"`` or ``"training"``; only the
            stacks' layouts matter, not their weights.

    Returns:
        the thread (the first call's, for every call).
    """
    global _AHEAD
    if _AHEAD is not None:
        return _AHEAD

    tf = import_tensorflow()

    def trace() -> None:
        for kind, stack in layouts:
            if _AHEAD_STOP.is_set():
                return
            # One call on the stack's own placeholder weights: tracing, then TensorFlow's
            # graph optimisation and instantiation at the first run, which cost more.
            x = tf.zeros((1, stack.kernels[0].shape[0]))
            y = tf.zeros((1, stack.kernels[-1].shape[1]))
            extra = [tf.constant(1), tf.constant(0.0)] if kind == "training" else []
            # A layout that fails here fails the same way when a check measures it, in
            # the main thread, where the failure is reported; nothing is lost here.
            try:
                _compiled(kind, stack)(x, y, _weight_tensors(tf, stack), *extra)
            except Exception:  # noqa: BLE001, S112
                continue

    _AHEAD = threading.Thread(target=trace, name="trace-ahead", daemon=True)
    _AHEAD.start()
    # A process that ends while the thread is inside TensorFlow aborts ("exception not
    # rethrown", exit status 134) as the interpreter tears the thread down: a submission
    # refused at once ends the grading before the tracing does. So the exit waits for the
    # layout being traced, and no further one is started.
    atexit.register(_stop_tracing_ahead)
    return _AHEAD


def _stop_tracing_ahead() -> None:
    _AHEAD_STOP.set()
    traced_ahead()


def traced_ahead() -> None:
    """Wait until the thread of :func:`trace_ahead`, if any, has finished."""
    if _AHEAD is not None:
        _AHEAD.join()


def _flat_weights(stack: DenseStack) -> list[np.ndarray]:
    return [w for pair in zip(stack.kernels, stack.biases) for w in pair if w is not None]


def _weight_tensors(tf: Any, stack: DenseStack) -> list[Any]:
    return [tf.constant(w) for w in _flat_weights(stack)]


def gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-Dense-layer kernel gradient norms, measured as the contract states.

    A plain Dense stack is measured by a function compiled once per layout; any other
    model through Keras (:func:`_keras_gradient_norms`).

    Args:
        model: the rebuilt model.
        x: inputs (m, input_dim).
        y: targets (m, 1) or (m,).

    Returns:
        array (number of Dense layers,) of float64.
    """
    stack = dense_stack(model)
    if stack is None:
        return _keras_gradient_norms(model, x, y)
    tf = import_tensorflow()
    x = tf.constant(x, dtype=tf.float32)
    y = tf.reshape(tf.constant(y, dtype=tf.float32), (tf.shape(x)[0], -1))
    norms = _compiled("norms", stack)(x, y, _weight_tensors(tf, stack))
    return np.asarray(norms, dtype=np.float64)


#: Steps a compiled training run makes per call: between calls the run's CPU budget is
#: checked (:class:`~grader.measuring.bounds.CpuBudget`). Ten calls for the contract's 200
#: steps cost no measurable time over one.
TRAINING_CHUNK = 20


def train_full_batch(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    learning_rate: float,
    budget: CpuBudget | None = None,
) -> np.ndarray:
    """Losses of ``steps`` full-batch SGD steps on the mean squared error.

    A plain Dense stack is trained by a function compiled once per layout (the run in calls
    of :data:`TRAINING_CHUNK` steps, each continuing from the weights the last one left),
    any other model by Keras's SGD; the model's own weights are left as they were in the
    first case and trained in the second, so callers must not rely on either.

    Args:
        model: the rebuilt model.
        x: inputs (m, input_dim).
        y: targets (m,) or (m, 1).
        steps: number of steps.
        learning_rate: SGD's learning rate.
        budget: the CPU the measurement may spend, checked before each further call
            (compiled) or step (Keras); None for none.

    Returns:
        array (steps,) of the loss before each step.

    Raises:
        grader.measuring.bounds.BudgetExceeded: when the budget ran out before the last
            step (the run stops there).
    """
    tf = import_tensorflow()
    stack = dense_stack(model)
    if stack is None:
        return train_keras(model, x, y, steps, learning_rate, budget)
    train = _compiled("training", stack)
    inputs = tf.constant(x, dtype=tf.float32)
    targets = tf.reshape(tf.constant(y, dtype=tf.float32), (-1, 1))
    rate = tf.constant(learning_rate, dtype=tf.float32)
    weights = _weight_tensors(tf, stack)
    losses = [np.zeros(0)]
    for done in range(0, steps, TRAINING_CHUNK):
        if budget is not None:
            budget.check(f"{done} of {steps} training steps")
        count = tf.constant(min(TRAINING_CHUNK, steps - done), dtype=tf.int32)
        chunk, weights = train(inputs, targets, weights, count, rate)
        losses.append(np.asarray(chunk, dtype=np.float64))
    return np.concatenate(losses)


def train_keras(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    learning_rate: float,
    budget: CpuBudget | None = None,
) -> np.ndarray:
    """Losses of ``steps`` full-batch steps of ``keras.optimizers.SGD`` on the model itself.

    Args:
        model: the model, trained in place.
        x: inputs (m, input_dim).
        y: targets (m,) or (m, 1).
        steps: number of steps.
        learning_rate: SGD's learning rate.
        budget: the CPU the measurement may spend, checked before each step; None for
            none (the student's worker, whose own limits hold).

    Returns:
        array (steps,) of the loss before each step.

    Raises:
        grader.measuring.bounds.BudgetExceeded: when the budget ran out before the last
            step.
    """
    tf = import_tensorflow()
    # lazy: Keras loads through import_tensorflow (quietly); the NumPy-only worker imports this module
    import keras

    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    x = tf.constant(x, dtype=tf.float32)
    y = tf.reshape(tf.constant(y, dtype=tf.float32), (-1, 1))

    @tf.function
    def step() -> Any:
        with tf.GradientTape() as tape:
            loss = mean_squared_error(tf, model(x, training=True), y)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = []
    for done in range(steps):
        if budget is not None:
            budget.check(f"{done} of {steps} training steps")
        losses.append(float(step()))
    return np.array(losses, dtype=np.float64)


def release_models() -> None:
    """Free what measuring left behind: Keras's global state and its graph names.

    The compiled measuring functions are kept (they hold no model). ``clear_session``
    collects garbage itself (a full collection, about 0.4 s with TensorFlow loaded), so
    no second collection follows.
    """
    # lazy: Keras loads through import_tensorflow (quietly); the NumPy-only worker imports this module
    import keras

    traced_ahead()  # Keras's global state is reset only while no other thread traces
    keras.backend.clear_session(free_memory=True)
