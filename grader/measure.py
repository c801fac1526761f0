"""Measuring models in the grader's own process, exactly as the contract states.

Models a student built arrive as plain data and are rebuilt here
(:func:`grader.models.rebuild_model`); their gradient norms and training runs are
computed with the reference code, so the student's code takes no part in the measuring.
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


def gradient_norms(model: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-Dense-layer kernel gradient norms, as the reference computes them."""
    from solutions.deep_sigmoid import dense_grad_norms

    return dense_grad_norms(model, x, y)


def train_full_batch(
    model: Any, x: np.ndarray, y: np.ndarray, steps: int, learning_rate: float
) -> np.ndarray:
    """Losses of ``steps`` full-batch SGD steps on the mean squared error.

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
