"""Measuring models in the grader's own process, exactly as the contract states.

Models a student built arrive as plain data and are rebuilt here
(:func:`grader.measuring.rebuild.rebuild_model`); their gradient norms and training runs are
computed here, so the student's code takes no part in the measuring. This module is the
grader's own code, not the reference's: the student kit ships it (:mod:`grader.course.kit`).

Trace once, run many: a model that is a plain stack of float32 ``Dense`` layers (what
``build_mlp`` and almost every student's ``build_exploding_mlp`` and ``build_healthy_mlp``
return) is measured by a ``tf.function`` over its weight tensors, not over the model object.
The function is traced once per layout (activations, biases, layer shapes) in a process and
reused for every model of that layout, so a batch pays for the tracing once. It computes the
same operations as the Keras model (``matmul``, bias, activation; ``w - g * rate`` for SGD),
so its figures equal the eager ones to float32 rounding (a test checks it). Any other model
(normalisation layers, constraints, mixed precision) is measured through Keras as before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from grader.measuring.rebuild import model_from_plan, plain_dense_stack
from grader.measuring.vetting import vetted_plan
from grader.quiet import import_tensorflow


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
    """The name of the first Dense layer's activation of a model or :class:`DenseStack`."""
    if isinstance(model, DenseStack):
        return _function_name(model.activations[0])
    return activation_name(dense_layers(model)[0])


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
        model: a Keras model.

    Returns:
        ``model_class`` (its class's name), ``sequential`` (whether it is a
        ``keras.Sequential``), ``dense_count``, ``others`` (names of the layers that are
        not Dense, at most :data:`MAX_LAYOUT_NAMES`), ``dense`` (per Dense layer, input
        side first, at most :data:`MAX_LAYOUT_LAYERS`: ``units``, ``activation``,
        ``fan_in`` or None).
    """
    if isinstance(model, DenseStack):
        return model.describe()
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
    )


def _layout_record(
    model_class: str, sequential: bool, dense: list[tuple[Any, Any, Any]], others: list[str]
) -> dict[str, Any]:
    """The bounded layout record of :func:`describe_layout`, from ``(units, activation,
    fan_in or None)`` per Dense layer and the names of the other layers: the one place
    the bounds apply, whether the model is a Keras model or a :class:`DenseStack`."""
    return {
        "model_class": model_class[:MAX_NAME_CHARS],
        "sequential": sequential,
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
        outputs = model(inputs)
        errors = outputs - tf.reshape(targets, tf.shape(outputs))
        mse = tf.reduce_mean(errors * errors)
    return np.array(
        [float(tf.sqrt(tf.reduce_sum(g * g))) for g in tape.gradient(mse, variables)],
        dtype=np.float64,
    )


#: Whether the compiled measuring functions use XLA. Measured on a 2-core machine, XLA's
#: compile time (seconds per layout) outweighs its faster steps for the contract's sizes.
JIT_COMPILE = False


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

    def describe(self) -> dict[str, Any]:
        """The stack's layout as :func:`describe_layout` describes the Keras model it is."""
        return _layout_record(
            "Sequential",
            True,
            [(k.shape[1], a, k.shape[0]) for k, a in zip(self.kernels, self.activations)],
            [],
        )

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


def rebuild_for_measuring(spec: Any) -> Any:
    """A model received as plain data, ready to be measured here.

    A plain float32 Dense stack becomes a :class:`DenseStack` straight from its weights
    (:func:`grader.measuring.rebuild.plain_dense_stack`: no Keras model is built, which is most
    of what a rebuild costs); any other model is rebuilt with Keras
    (:func:`grader.measuring.rebuild.rebuild_model`).
    Either measures the same (:func:`gradient_norms`, :func:`train_full_batch`) and
    describes the same layout (:func:`describe_layout`).

    Raises:
        grader.measuring.plain.ModelRebuildError: as :func:`grader.measuring.rebuild.rebuild_model`.
    """
    import_tensorflow()
    plan = vetted_plan(spec)
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
        losses = tf.TensorArray(tf.float32, size=steps)
        for step in tf.range(steps):
            with tf.GradientTape() as tape:
                tape.watch(weights)
                loss = _mse(tf, _forward(tf, x, weights, has_bias, activations), y)
            grads = tape.gradient(loss, weights)
            losses = losses.write(step, loss)
            # keras.optimizers.SGD without momentum: w -= g * learning_rate
            weights = [w - g * rate for w, g in zip(weights, grads)]
        return losses.stack()

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
    return _AHEAD


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


def train_full_batch(
    model: Any, x: np.ndarray, y: np.ndarray, steps: int, learning_rate: float
) -> np.ndarray:
    """Losses of ``steps`` full-batch SGD steps on the mean squared error.

    A plain Dense stack is trained by a function compiled once per layout (the whole run
    in one call), any other model by Keras's SGD; the model's own weights are left as
    they were in the first case and trained in the second, so callers must not rely on
    either.

    Args:
        model: the rebuilt model.
        x: inputs (m, input_dim).
        y: targets (m,) or (m, 1).
        steps: number of steps.
        learning_rate: SGD's learning rate.

    Returns:
        array (steps,) of the loss before each step.
    """
    tf = import_tensorflow()
    stack = dense_stack(model)
    if stack is not None:
        losses = _compiled("training", stack)(
            tf.constant(x, dtype=tf.float32),
            tf.reshape(tf.constant(y, dtype=tf.float32), (-1, 1)),
            _weight_tensors(tf, stack),
            tf.constant(steps, dtype=tf.int32),
            tf.constant(learning_rate, dtype=tf.float32),
        )
        return np.asarray(losses, dtype=np.float64)
    return train_keras(model, x, y, steps, learning_rate)


def train_keras(
    model: Any, x: np.ndarray, y: np.ndarray, steps: int, learning_rate: float
) -> np.ndarray:
    """Losses of ``steps`` full-batch steps of ``keras.optimizers.SGD`` on the model itself.

    Returns:
        array (steps,) of the loss before each step.
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
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return np.array([float(step()) for _ in range(steps)])


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


def standard_normal_data(rng: np.random.Generator, input_dim: int, samples: int = 64):
    """Inputs and targets drawn from N(0, 1), as the contract measures gradient norms."""
    x = rng.standard_normal((samples, input_dim)).astype(np.float32)
    y = rng.standard_normal((samples, 1)).astype(np.float32)
    return x, y


def sine_task(rng: np.random.Generator, input_dim: int, samples: int = 256):
    """x ~ N(0, 1) of shape (samples, input_dim) and y = sin(x . v) for a unit vector v."""
    x = rng.standard_normal((samples, input_dim)).astype(np.float32)
    v = rng.standard_normal(input_dim)
    v /= np.linalg.norm(v)
    y = np.sin(x @ v).astype(np.float32)[:, None]
    return x, y


#: What a worker measures of a model the grader cannot rebuild: ``exploding`` (layout and
#: gradient norms, for build_exploding_mlp) or ``healthy`` (layout, gradient norms and a
#: training run, for build_healthy_mlp).
MEASURE_KINDS = ("exploding", "healthy")
#: Where the first Dense layer's activation is evaluated, so that the grader can tell a
#: student's own sigmoid from its values (a name says nothing about what a function does).
ACTIVATION_PROBE = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)
#: Most SGD steps a measurement runs (the contract's training test makes 200).
MAX_MEASURE_STEPS = 1000


def _live_gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> list[float]:
    """Per-Dense kernel gradient norms of a live model, as :func:`gradient_norms` measures.

    A kernel the loss does not reach (no gradient) gets NaN.
    """
    tf = import_tensorflow()
    inputs = tf.convert_to_tensor(x, dtype=tf.float32)
    targets = tf.convert_to_tensor(y, dtype=tf.float32)
    kernels = [layer.kernel for layer in dense_layers(model)]
    with tf.GradientTape() as tape:
        prediction = model(inputs)
        loss = tf.reduce_mean(tf.square(prediction - tf.reshape(targets, tf.shape(prediction))))
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
    function or layer, :class:`grader.measuring.plain.ModelRebuildError`): this runs in a fresh
    jailed worker that loaded the student's module (the model's own code must run to be
    measured), with the grader's measuring code, and computes what the grader computes
    for a rebuilt model: the layout (:func:`describe_layout`), the mean squared error of
    the model called in inference mode on ``x, y`` and the L2 norm of dL/d(kernel) per
    Dense layer, and for ``healthy`` the losses of ``steps`` full-batch steps of Keras's
    SGD on ``task_x, task_y`` (:func:`train_keras`, as :func:`train_full_batch` trains a
    model that is not a plain Dense stack). The grader judges the result (see
    :func:`read_measurement`); nothing here decides a score.

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
        ``layout`` (:func:`describe_layout`), ``norms`` (floats, empty when the layout
        is wrong), ``losses`` (floats, the loss before each step; ``healthy`` with a right
        layout only) and ``activation_values`` (the first Dense layer's activation at
        :data:`ACTIVATION_PROBE`).

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
    if not problems:
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


#: Largest gap between an activation's values at :data:`ACTIVATION_PROBE` and sigmoid's
#: for it to count as a sigmoid.
SIGMOID_TOLERANCE = 1e-3


def acts_as_sigmoid(values: list[float]) -> bool:
    """Whether an activation's values at :data:`ACTIVATION_PROBE` are sigmoid's.

    Args:
        values: the activation's values (see :func:`measure_in_worker`).

    Returns:
        True when every probe point is within :data:`SIGMOID_TOLERANCE` of sigmoid.
    """
    if len(values) != len(ACTIVATION_PROBE):
        return False
    z = np.asarray(ACTIVATION_PROBE)
    gap = np.abs(np.asarray(values, dtype=np.float64) - 1 / (1 + np.exp(-z)))
    return bool(np.all(np.isfinite(gap)) and gap.max() <= SIGMOID_TOLERANCE)


class UnreadableMeasurement(ValueError):
    """A worker's measurement that is not of the form :func:`measure_in_worker` returns."""


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
        "dense_count": count,
        "others": [_short(name, "a layer's name") for name in others],
        "dense": layers,
    }


def read_measurement(
    value: Any, kind: str, input_dim: int, depth: int, width: int, steps: int = 0
) -> dict[str, Any]:
    """A worker's measurement, read as hostile plain data, with its layout's problems.

    The worker runs the student's code, which can change anything in its process, so
    its answer is checked for the form and sizes :func:`measure_in_worker` gives before
    the grader judges it, and the layout's problems are found here, by the grader's
    rules, from the plain record.

    Args:
        value: the decoded answer.
        kind: the measurement asked for (:data:`MEASURE_KINDS`).
        input_dim: the input width asked for.
        depth: the hidden Dense layers asked for (a right layout has ``depth + 1`` norms).
        width: the units per hidden layer asked for.
        steps: the SGD steps asked for (a right ``healthy`` layout has that many losses).

    Returns:
        ``problems`` (sentences, empty when the layout is right), ``norms`` and
        ``losses`` (float64 arrays, empty when the layout is wrong), ``first_activation``
        (the first Dense layer's activation name) and ``activation_values`` (floats).

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
    norms: list[float] = []
    losses: list[float] = []
    if not problems:
        norms = _numbers(value.get("norms"), "the norms", count=depth + 1)
        if kind == "healthy":
            losses = _numbers(value.get("losses"), "the losses", count=steps)
    probe = _numbers(
        value.get("activation_values", []),
        "the activation's values",
        most=len(ACTIVATION_PROBE),
    )
    return {
        "problems": problems,
        "norms": np.asarray(norms, dtype=np.float64),
        "losses": np.asarray(losses, dtype=np.float64),
        "first_activation": layout["dense"][0]["activation"] if layout["dense"] else "",
        "activation_values": probe,
    }
