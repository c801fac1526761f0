"""Measuring models in the grader's own process, exactly as the contract states.

Models a student built arrive as plain data and are rebuilt here
(:func:`grader.models.rebuild_model`); their gradient norms and training runs are
computed here, so the student's code takes no part in the measuring. This module is the
grader's own code, not the reference's: the student kit ships it (:mod:`grader.kit`).

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

from typing import Any

import numpy as np

from grader.quiet import import_tensorflow


def dense_layers(model: Any) -> list[Any]:
    """The model's Dense layers, input side first."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def activation_name(layer: Any) -> str:
    """The name of a layer's activation (``linear`` for none)."""
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


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
        model: the rebuilt model.
        input_dim: expected input width.
        depth: expected number of hidden Dense layers.
        width: expected units per hidden layer.
        activation: expected hidden activation, or None for any.
        strict: whether layers other than Dense are forbidden.

    Returns:
        sentences, empty when the layout is right.
    """
    import keras

    problems = []
    if not isinstance(model, keras.Sequential):
        problems.append(f"the model is a {type(model).__name__}, not a keras.Sequential")
    dense = dense_layers(model)
    others = [type(layer).__name__ for layer in model.layers if layer not in dense]
    if strict and others:
        problems.append(f"it has layers other than Dense: {', '.join(others)}")
    if len(dense) != depth + 1:
        problems.append(f"it has {len(dense)} Dense layers; expected {depth} hidden + 1 output")
        return problems
    hidden, output = dense[:-1], dense[-1]
    units = sorted({layer.units for layer in hidden})
    if units and units != [width]:
        problems.append(f"hidden layers have {units} units; expected {width}")
    if activation is not None:
        names = sorted({activation_name(layer) for layer in hidden})
        if names != [activation]:
            problems.append(f"hidden activations are {names}; expected {activation!r}")
    if output.units != 1:
        problems.append(f"the output layer has {output.units} units; expected 1")
    if activation_name(output) != "linear":
        problems.append(
            f"the output layer's activation is {activation_name(output)!r}; expected linear"
        )
    first = getattr(dense[0], "kernel", None)
    if first is not None and first.shape[0] != input_dim:
        problems.append(f"the first layer takes {first.shape[0]} inputs; expected {input_dim}")
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


#: Compiled measuring functions, by (kind, activations, biases): each is traced once, with
#: every dimension open, and serves every width and sample count of that layout.
_COMPILED: dict[tuple[Any, ...], Any] = {}


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
    if key in _COMPILED:
        return _COMPILED[key]
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

        _COMPILED[key] = norms
    else:
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

        _COMPILED[key] = train
    return _COMPILED[key]


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

    The compiled measuring functions are kept (they hold no model).
    """
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


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


def measure_in_worker(
    model: Any, input_dim: int, depth: int, width: int, x: np.ndarray, y: np.ndarray
) -> dict[str, Any]:
    """Layout and per-Dense kernel gradient norms of a model, as plain data.

    For a model the grader cannot rebuild from built-in parts (a student's own activation
    function or layer, :class:`grader.models.ModelRebuildError`): this runs in a fresh
    jailed worker that loaded the student's module (the model's own code must run to be
    measured), with the grader's measuring code, and computes what
    :func:`gradient_norms` computes in the grader: the mean squared error of the model
    called in inference mode, the L2 norm of dL/d(kernel) per Dense layer.

    Args:
        model: the student's model, live, in the worker.
        input_dim: expected input width.
        depth: expected hidden Dense layers.
        width: expected units per hidden layer.
        x: inputs (m, input_dim).
        y: targets (m, 1).

    Returns:
        ``problems`` (layout sentences), ``norms`` (floats; empty when the layout is
        wrong) and ``first_activation`` (the first Dense layer's activation name).
    """
    tf = import_tensorflow()
    problems = layout_problems(model, input_dim, depth, width)
    dense = dense_layers(model)
    norms: list[float] = []
    if not problems:
        inputs = tf.convert_to_tensor(x, dtype=tf.float32)
        targets = tf.convert_to_tensor(y, dtype=tf.float32)
        kernels = [layer.kernel for layer in dense]
        with tf.GradientTape() as tape:
            prediction = model(inputs)
            loss = tf.reduce_mean(tf.square(prediction - tf.reshape(targets, tf.shape(prediction))))
        grads = tape.gradient(loss, kernels)
        norms = [float(tf.norm(g)) if g is not None else float("nan") for g in grads]
    first = activation_name(dense[0]) if dense else ""
    return {"problems": problems, "norms": norms, "first_activation": str(first)[:100]}
