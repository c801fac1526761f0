"""Checks of part 2, `deep_sigmoid`: models built by the student are rebuilt and measured here.

A model the grader cannot rebuild from built-in parts (the student's own activation
function or Dense subclass) is built and measured in a fresh worker by the grader's
measuring code (:func:`measured_elsewhere`), and the feedback says so: ``build_exploding_mlp``
here, ``build_healthy_mlp`` in part 4, and ``build_mlp``, whose layout is read there with
each activation's values at a few points, so that the student's own sigmoid counts as
sigmoid and a wrong one does not. ``dense_grad_norms`` is given the grader's own models (one
of them with an activation no Keras name stands for,
:mod:`grader.measuring.activations`), and ``gradient_regime`` arrays. In a student kit
the models are measured with the student's own ``dense_grad_norms`` once it passes
(:mod:`grader.checks.measurer`), and the known mistakes' norms are recorded
(:class:`grader.checks.mistakes.Simulation`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from grader.checks.compare import TOLERANCES, describe_type
from grader.checks.expected import reference as reference_of
from grader.checks.measurer import (
    NotMeasured,
    gradient_norms,
    in_kit,
    rebuild_for_measuring,
    unavailable,
    unmeasured_case,
)
from grader.checks.mistakes import Simulation, describe
from grader.checks.registry import (
    NOT_REBUILT,
    WRONG_LAYOUT,
    Context,
    StopCheck,
    compare_case,
    error_case,
    message,
    register,
    remembered,
)
from grader.isolation.protocol import ModelSpec
from grader.measuring.activations import scaled_tanh
from grader.measuring.bounds import ContractSize, ModelTooLarge
from grader.measuring.data import standard_normal_data
from grader.measuring.layout import (
    NARROW_DTYPES,
    compute_dtype,
    dense_layers,
    describe_layout,
    first_activation,
    layout_problems,
)
from grader.measuring.plain import ModelRebuildError
from grader.measuring.reading import (
    UnreadableMeasurement,
    acts_as_sigmoid,
    named_by_values,
    read_measurement,
)
from grader.measuring.rebuild import describe_model, rebuild_model
from grader.quiet import import_tensorflow
from grader.results import CaseResult

TOL = TOLERANCES["deep_sigmoid"]
#: The sizes at which the contract measures build_exploding_mlp and build_healthy_mlp.
CONTRACT_SIZES = [(20, 32), (20, 64), (30, 32), (30, 64)]
CONTRACT_INPUT_DIM = 8
#: The category of a model over the size its call asked for
#: (:class:`grader.measuring.bounds.ContractSize`).
TOO_LARGE = "returned a model larger than the contract asks for"


def too_large_case(description: str, refusal: ModelTooLarge) -> CaseResult:
    """The failed case of a model larger than its call asked for: refused unmeasured."""
    return CaseResult(
        description,
        False,
        message(
            refusal.size.expected(),
            refusal.received(),
            "Build what the call asks for: depth hidden Dense(width) layers on input_dim "
            "inputs and a Dense(1), from the arguments the function is given; the grader "
            "measures every model in its own process and does not measure a larger one.",
        ),
        category=TOO_LARGE,
    )


def received_model(
    description: str,
    outcome: Any,
    function: str,
    hint: str,
    *,
    measuring: bool = False,
    size: ContractSize | None = None,
) -> tuple[Any, CaseResult | None]:
    """Rebuild the model a call returned, or the failed case saying why not.

    With ``measuring``, a plain Dense stack comes back as the
    :class:`grader.measuring.stack.DenseStack` the measuring code reads (no Keras model built,
    :func:`grader.checks.measurer.rebuild_for_measuring`; a Keras model in a student kit), for
    checks that only lay it out and measure it. With ``size`` (the input width, depth and
    width the call was given), a model over its bound is refused before anything is built
    (:data:`TOO_LARGE`).
    """
    if not outcome.ok:
        return None, error_case(description, outcome, function, hint)
    if not isinstance(outcome.value, ModelSpec):
        return None, CaseResult(
            description,
            False,
            message("a keras.Sequential", describe_type(outcome.value), hint),
            category="did not return a Keras model",
        )
    try:
        rebuild = rebuild_for_measuring if measuring else rebuild_model
        return rebuild(outcome.value, size), None
    except ModelTooLarge as refusal:
        return None, too_large_case(description, refusal)
    except ModelRebuildError as error:
        return None, CaseResult(
            description,
            False,
            message(
                "a model of built-in Keras layers",
                str(error),
                "Build the model from keras.layers (Dense, Activation, normalisation layers) "
                "with built-in activations and initializers given by name or instance.",
            ),
            category=NOT_REBUILT,
        )


def layout_case(
    description: str,
    model: Any,
    problems: list[str],
    hint: str,
    mistakes: dict[str, bool] | None = None,
) -> CaseResult:
    """A case for a model's layout: passed when there are no problems."""
    if not problems:
        return CaseResult(description, True)
    mistake = next((m for m, hit in (mistakes or {}).items() if hit), None)
    return CaseResult(
        description,
        False,
        message(
            "the layout of the contract",
            "; ".join(problems),
            describe(mistake) if mistake else hint,
        ),
        mistake=mistake,
        category=WRONG_LAYOUT,
    )


def _weights_equal(a: ModelSpec, b: ModelSpec) -> bool:
    return len(a.weights) == len(b.weights) and all(
        x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a.weights, b.weights)
    )


def _kernels_of_ones(kernels: list[np.ndarray]) -> list[str]:
    """kernel_initializer='ones' must give hidden kernels of ones."""
    if all(np.all(np.asarray(kernel) == 1.0) for kernel in kernels[:-1]):
        return []
    return ["the hidden kernels are not all ones"]


def _he_spread(kernels: list[np.ndarray]) -> list[str]:
    """kernel_initializer='he_normal' must give 64x64 kernels of spread sqrt(2/64)."""
    inner = [np.asarray(kernel) for kernel in kernels[1:-1]]
    spread = float(np.std(np.concatenate([k.ravel() for k in inner])))
    wanted = np.sqrt(2 / 64)
    if abs(spread / wanted - 1) <= 0.1:
        return []
    return [
        f"the 64x64 kernels have standard deviation {spread:.4f}; he_normal gives "
        f"sqrt(2/64) = {wanted:.4f}"
    ]


def _layout_mistakes(layout: dict[str, Any], problems: list[str]) -> dict[str, bool]:
    dense = layout["dense"]
    return {
        "hidden_layers_off_by_one": layout["dense_count"] in (4, 6),
        "output_activation": bool(dense) and dense[-1]["activation"] != "linear",
    }


def _initializer_mistake(layout: dict[str, Any], problems: list[str]) -> dict[str, bool]:
    return {"initializer_ignored": any("kernels" in p for p in problems)}


def _spec_kernels(spec: ModelSpec) -> list[np.ndarray]:
    """The kernels of a received model whose layout is a plain Dense stack: its 2-D weights,
    input side first (read from the plain data, for a model measured elsewhere)."""
    return [w for w in spec.weights if isinstance(w, np.ndarray) and w.ndim == 2]


@register("deep_sigmoid.build_mlp", timeout=60, cases=4)
def check_build_mlp(ctx: Context) -> Iterator[CaseResult]:
    """Layout, activation, initializer and seed behaviour of build_mlp."""
    import_tensorflow()
    hint = (
        "keras.Sequential([keras.Input(shape=(input_dim,)), depth x Dense(width, activation, "
        "kernel_initializer=...), Dense(1)])."
    )
    seed = int(ctx.rng.integers(1000))

    # (arguments, keyword arguments, hidden activation, a further rule, mistakes it shows)
    cases = [
        ((5, 4, 7), {}, "sigmoid", None, _layout_mistakes),
        (
            (3, 2, 4),
            {"activation": "tanh", "kernel_initializer": "ones"},
            "tanh",
            _kernels_of_ones,
            _initializer_mistake,
        ),
        (
            (6, 3, 64),
            {"activation": "relu", "kernel_initializer": "he_normal"},
            "relu",
            _he_spread,
            _initializer_mistake,
        ),
    ]
    for args, kwargs, activation, rule, mistakes in cases:
        shown = ", ".join(
            [*map(str, args), *(f"{k}={v!r}" for k, v in kwargs.items()), f"seed={ctx.shown(seed)}"]
        )
        description = f"build_mlp({shown}): {args[1]} {activation} Dense({args[2]}) layers and a linear Dense(1)"
        outcome = ctx.call(*args, seed=seed, build_dim=args[0], **kwargs)
        # A model of the student's own parts (their own activation function or Dense
        # subclass) cannot be rebuilt here: it is laid out in a fresh worker, and each
        # Dense layer's activation is judged by its values at the probe points, not its
        # name (reading.named_by_values); the kernels are read from the plain data.
        size = ContractSize(*args)
        model, failed = received_model(description, outcome, "build_mlp", hint, size=size)
        measured = measured_elsewhere(
            ctx, outcome, failed, (*args, seed), [], kind="layout", kwargs=kwargs
        )
        if measured is not None:
            read, failed = measurement_case(
                description,
                measured,
                "build_mlp",
                hint,
                kind="layout",
                input_dim=args[0],
                depth=args[1],
                width=args[2],
            )
            if failed is None and read["too_large"] is not None:
                failed = too_large_case(description, read["too_large"])
            if failed:
                yield failed
                continue
            layout = named_by_values(read["layout"], read["layer_values"], activation)
            kernels = _spec_kernels(outcome.value)
        elif failed:
            yield failed
            continue
        else:
            layout = describe_layout(model)
            kernels = [np.asarray(layer.kernel) for layer in dense_layers(model)]
        problems = layout_problems(layout, *args, activation)
        if not problems and rule is not None:
            problems += rule(kernels)
        yield layout_case(description, layout, problems, hint, mistakes(layout, problems))

    description = (
        f"build_mlp(4, 3, 5, seed={ctx.shown(seed)}) twice gives the same weights; "
        f"seed={ctx.shown(seed + 1, 's+1')} others"
    )
    first = ctx.call(4, 3, 5, seed=seed, build_dim=4)
    again = ctx.call(4, 3, 5, seed=seed, build_dim=4)
    other = ctx.call(4, 3, 5, seed=seed + 1, build_dim=4)
    broken = next((o for o in (first, again, other) if not o.ok), None)
    if broken is not None:
        yield error_case(description, broken, "build_mlp", hint)
    elif not all(isinstance(o.value, ModelSpec) for o in (first, again, other)):
        yield CaseResult(
            description,
            False,
            message("keras models", describe_type(first.value), hint),
            category="did not return a Keras model",
        )
    elif not _weights_equal(first.value, again.value):
        yield CaseResult(
            description,
            False,
            message(
                "identical weights for the same seed",
                "different weights on each call",
                describe("seed_ignored"),
            ),
            mistake="seed_ignored",
            category="gave different weights for the same seed",
        )
    elif _weights_equal(first.value, other.value):
        yield CaseResult(
            description,
            False,
            message(
                "different weights for a different seed",
                "the same weights",
                "Derive every initializer's seed from the `seed` argument.",
            ),
            category="gave the same weights for different seeds",
        )
    else:
        yield CaseResult(description, True)


@register("deep_sigmoid.dense_grad_norms", timeout=60, cases=5)
def check_dense_grad_norms(ctx: Context) -> Iterator[CaseResult]:
    """Per-Dense-layer kernel gradient norms against the reference on the same models.

    Well conditioned: one backward pass of small or contracting models (sigmoid, a 3-layer
    ReLU, LayerNormalization); oneDNN on against off moves every value the reference
    computes for these checks by at most 1.3e-5 relative, against the part's rtol of 2e-3.
    """
    import_tensorflow()
    # lazy: Keras loads through import_tensorflow (quietly) when a check that needs it runs
    import keras

    build_mlp = reference_of("deep_sigmoid").build_mlp
    hint = (
        "Compare each of your norms with the quantity the contract names: for each Dense layer, "
        "input side first, the Frobenius norm of dL/d(kernel), L being the mean squared error "
        "of model(x) against y. Check which loss you differentiate (its shape: model(x) is "
        "(m, 1)), with respect to which variables, and which norm you take."
    )
    seed = int(ctx.rng.integers(1000))

    def normalised() -> Any:
        return keras.Sequential(
            [
                keras.Input(shape=(4,)),
                keras.layers.Dense(
                    6, "tanh", kernel_initializer=keras.initializers.GlorotUniform(seed)
                ),
                keras.layers.LayerNormalization(),
                keras.layers.Dense(
                    6, "relu", kernel_initializer=keras.initializers.HeNormal(seed + 1)
                ),
                keras.layers.Dense(
                    1, kernel_initializer=keras.initializers.GlorotUniform(seed + 2)
                ),
            ]
        )

    cases = [
        (
            f"a 6-layer sigmoid MLP of width 5, 16 samples ({ctx.label})",
            lambda: build_mlp(3, 6, 5, seed=seed),
            3,
            (16, 1),
            None,
        ),
        (
            "a 20-layer sigmoid MLP (norms from ~1e-13 up), 32 samples",
            lambda: build_mlp(8, 20, 16, seed=seed + 1),
            8,
            (32, 1),
            None,
        ),
        (
            "a 3-layer ReLU MLP with targets of shape (m,) and inputs as tf.Tensor",
            lambda: build_mlp(
                5, 3, 8, activation="relu", kernel_initializer="he_normal", seed=seed + 2
            ),
            5,
            (10,),
            [None, "tensor", None],
        ),
        (
            "a model with a LayerNormalization between its Dense layers",
            normalised,
            4,
            (12, 1),
            None,
        ),
        (
            "a 3-layer MLP whose activation no Keras name stands for (LeCun's scaled tanh, "
            "1.7159 tanh(2z/3), a Python function of the grader's)",
            lambda: build_mlp(4, 3, 8, activation=scaled_tanh, seed=seed + 3),
            4,
            (12, 1),
            None,
        ),
    ]
    for index, (description, build, input_dim, y_shape, kinds) in enumerate(cases):
        x = ctx.rng.standard_normal((y_shape[0], input_dim)).astype(np.float32)
        y = ctx.rng.standard_normal(y_shape).astype(np.float32)

        spec, expected = remembered(_prepared_case, build, index, seed, x, y)
        outcome = ctx.call(spec, x, y, kinds=kinds)
        if index == 1:
            ctx.add_figure(
                "per_layer",
                "Gradient norm per Dense layer: 20 hidden sigmoid layers, then the linear "
                "output layer (21 in all)",
                outcome,
                outcome.value if outcome.ok else None,
                reference=expected,
                xlabel="Dense layer (1 = input side; 21 = output layer)",
                ylabel="||dL/dW|| (log scale)",
                last="output layer",
            )
        variants = [
            ("norms_reversed", lambda e=expected: e[::-1]),
            ("bias_included", Simulation("deep_sigmoid.variable_norms", spec, x, y, False)),
            ("sum_instead_of_mean", lambda e=expected, m=y_shape[0]: e * m),
            ("output_layer_missing", lambda e=expected: e[:-1]),
            ("bias_included", Simulation("deep_sigmoid.variable_norms", spec, x, y, True)),
        ]
        yield compare_case(
            description,
            outcome,
            expected,
            TOL,
            function="dense_grad_norms",
            hint=hint,
            variants=variants,
            label="norms",
        )


def _prepared_case(build: Any, index: int, seed: int, x: np.ndarray, y: np.ndarray):
    """A reference model (as plain data) and its norms; ``index`` and ``seed`` name it."""
    model = build()
    return describe_model(model), reference_of("deep_sigmoid").dense_grad_norms(model, x, y)


@register("deep_sigmoid.gradient_regime", timeout=10, cases=7)
def check_gradient_regime(ctx: Context) -> Iterator[CaseResult]:
    """The regime named from the first and last norms and the threshold."""
    hint = (
        '"vanishing" if norms[-1]/norms[0] > threshold, "exploding" if norms[0]/norms[-1] > '
        'threshold, else "stable" (strict inequalities).'
    )
    small, large = float(ctx.rng.uniform(1e-9, 1e-6)), float(ctx.rng.uniform(0.1, 10))
    middle = list(ctx.rng.uniform(0.1, 1, size=3))
    cases = [
        ("norms rising 1e6-fold towards the output", [small, *middle, large], {}, "vanishing"),
        ("norms falling 1e6-fold towards the output", [large, *middle, small], {}, "exploding"),
        ("norms within a factor 50", [1.0, 20.0, 50.0], {}, "stable"),
        ("a ratio of 50 with threshold=10", [1.0, 3.0, 50.0], {"threshold": 10.0}, "vanishing"),
        (
            "a ratio of 50 with threshold=10, falling",
            [50.0, 3.0, 1.0],
            {"threshold": 10.0},
            "exploding",
        ),
        ("a ratio of exactly the threshold (not above it)", [2.0, 1.0, 2000.0], {}, "stable"),
        ("large middle layers, first and last equal", [1.0, 1e9, 1.0], {}, "stable"),
    ]
    for description, norms, kwargs, expected in cases:
        outcome = ctx.call(np.array(norms), **kwargs)
        if not outcome.ok:
            yield error_case(description, outcome, "gradient_regime", hint)
            continue
        if type(outcome.value) is str and outcome.value == expected:
            yield CaseResult(description, True)
            continue
        swapped = {"vanishing": "exploding", "exploding": "vanishing"}.get(expected)
        mistake = None
        text = outcome.value if type(outcome.value) is str else None
        if text == swapped:
            mistake = "regime_swapped"
        elif kwargs and text == "stable":
            mistake = "regime_ignores_threshold"
        yield CaseResult(
            description,
            False,
            message(
                repr(expected),
                describe_type(outcome.value)
                if type(outcome.value) is not str
                else repr(outcome.value),
                describe(mistake) if mistake else hint,
            ),
            mistake=mistake,
            category="returned the wrong regime"
            if type(outcome.value) is str
            else "returned a value of the wrong type or form",
        )


#: The largest finite number of each 16-bit float dtype, shown to a model computing in one.
_LARGEST = {"float16": "65504", "bfloat16": "3.4e38, with 8 significant bits"}


def narrow_dtype_note(dtype: str) -> str:
    """The sentence said of a model computing in a 16-bit float dtype (mixed precision)
    whose figures are not finite, or ``""`` for any other dtype.

    Such a model is measured as it is, the loss computed in float32 as Keras computes it
    (:func:`grader.measuring.measure.mean_squared_error`): the contract's conditions hold
    for what the model itself computes.
    """
    if dtype not in NARROW_DTYPES:
        return ""
    return (
        f" Your model computes in {dtype} (mixed precision, largest number {_LARGEST[dtype]}): "
        "it is measured as it is, with the loss in float32 as Keras computes it, and the "
        "contract asks for finite figures from what the model computes; build it in float32 "
        "or float64."
    )


#: Said once per test when a model was measured in the student's process.
MEASURED_ELSEWHERE = (
    "Note: your model uses parts the grader cannot rebuild from built-in Keras parts (your own "
    "activation function or layer), so it was built and measured in a fresh, jailed process "
    "running your code, with the grader's measuring code."
)
#: The same note when the model was built and measured in the student's own kernel
#: (:meth:`grader.checks.runner.InProcessRunner.measure`).
MEASURED_IN_PROCESS = (
    "Note: your model uses parts the grader cannot rebuild from built-in Keras parts (your own "
    "activation function or layer), so it was built and measured here, in the process running "
    "your code (the grader does the same in a fresh process running your code)."
)


def measured_elsewhere(
    ctx: Context,
    outcome: Any,
    refused: CaseResult | None,
    args: tuple[int, int, int, int],
    data: list[np.ndarray],
    *,
    kind: str = "exploding",
    steps: int = 0,
    learning_rate: float = 0.0,
    kwargs: dict[str, Any] | None = None,
) -> Any:
    """The measurement of a model the grader cannot rebuild, made in a fresh worker (by an
    :class:`~grader.checks.runner.InProcessRunner`, in the student's own kernel).

    Args:
        ctx: the check's context (its runner, part, function, time limit).
        outcome: the builder's call.
        refused: what :func:`received_model` said of its model: only a model it refused
            for holding parts the grader does not rebuild (the student's own activation
            or layer) is measured elsewhere.
        args: the builder's arguments (input_dim, depth, width, seed).
        data: ``[x, y]`` for the gradient norms, then ``[task_x, task_y]`` for ``healthy``;
            nothing for ``layout``.
        kind: the measurement (:data:`grader.measuring.in_worker.MEASURE_KINDS`).
        steps: SGD steps of ``healthy``'s training run.
        learning_rate: their learning rate.
        kwargs: the builder's further keyword arguments (build_mlp's activation and
            initializer), besides ``seed``.

    Returns:
        the measurement's outcome (its value a record for
        :func:`grader.measuring.reading.read_measurement`), or None when the model was not refused
        for that reason (it was rebuilt here, or the call failed), or the runner cannot
        measure.
    """
    measure = getattr(ctx.runner, "measure", None)
    if (
        measure is None
        or refused is None
        or refused.category != NOT_REBUILT
        or not outcome.ok
        or not isinstance(outcome.value, ModelSpec)
    ):
        return None
    input_dim, depth, width, seed = args
    measured = measure(
        ctx.part,
        ctx.function,
        [input_dim, depth, width],
        list(data),
        kwargs={**(kwargs or {}), "seed": seed},
        kind=kind,
        steps=steps,
        learning_rate=learning_rate,
        seed=seed,
        timeout=ctx.timeout,
    )
    measured.hidden = not ctx.public
    in_process = getattr(ctx.runner, "measures_in_process", False)
    note = MEASURED_IN_PROCESS if in_process else MEASURED_ELSEWHERE
    if note not in ctx.notes:
        ctx.notes.append(note)
    return measured


def measurement_case(
    description: str,
    measured: Any,
    function: str,
    hint: str,
    *,
    kind: str,
    input_dim: int,
    depth: int,
    width: int,
    steps: int = 0,
) -> tuple[dict[str, Any] | None, CaseResult | None]:
    """Read a worker's measurement, or the failed case saying why it cannot be used.

    Returns:
        the read measurement (:func:`grader.measuring.reading.read_measurement`) and None, or None
        and the failed case: the builder raised, or the answer is not a measurement's
        form (what the student's process wrote is not shown).

    Raises:
        StopCheck: when the measuring ran past the check's time limit or its process
            died, as for a call of the student's function.
    """
    if not measured.ok:
        if measured.error_type == NotMeasured.__name__ and in_kit():  # the kit's own measuring
            return None, unmeasured_case(description, measured.error_message)
        if measured.error_type in ("timeout", "died", "protocol"):
            raise StopCheck(measured)  # as a call that ends the check: k/n, no further waits
        return None, error_case(description, measured, function, hint)
    try:
        return read_measurement(measured.value, kind, input_dim, depth, width, steps), None
    except UnreadableMeasurement as error:
        shown = message(
            "a measurement of the model, as the grader's measuring code gives it",
            "an answer of another form from the process that ran your code",
            "Build the model from Keras layers and your own functions; do not change the "
            "grader's code or objects from your module.",
        )
        return None, CaseResult(
            description,
            False,
            shown,
            details=f"{shown}\n({error})",
            category="the measurement of the model came back in another form",
        )


def is_sigmoid(first_activation: str, values: list[float] | None = None) -> bool:
    """Whether a model's first activation is sigmoid: by name, or by its values at the
    probe points for a student's own function
    (:func:`grader.measuring.reading.acts_as_sigmoid`)."""
    return first_activation == "sigmoid" or bool(values) and acts_as_sigmoid(values)


@register("deep_sigmoid.build_exploding_mlp", timeout=60, cases=4)
def check_build_exploding_mlp(ctx: Context) -> Iterator[CaseResult]:
    """Measured as the contract states: finite norms with norms[0]/norms[-1] >= 1e3.

    Well conditioned: the norms of the model as built, one backward pass, no training.
    Measured over 8 models per answer (both depths and widths, two seeds): oneDNN on against
    off moves each norm by at most 7e-7 relative (the reference's chaotic tanh included);
    the smallest ratio is 6.5e4 for the reference (65 times the threshold) and 4.9e5 or
    more for the right answers of the corpus, the largest of a wrong one 3.4.
    """
    import_tensorflow()
    hint = (
        "Each layer multiplies the backward signal by about its gain chi = fan_in * Var(w) * "
        "E[f'(z)^2], so the ratio needs chi clearly above 1 in every layer. Estimate chi for "
        "your activation and weights at these widths, and look at your model's dense_grad_norms "
        "layer by layer: do they grow towards the input, and by how much per layer?"
    )
    for depth, width in CONTRACT_SIZES:
        # Every input is drawn before the student's code runs, so that the cases do not
        # depend on what an earlier case did.
        seed = int(ctx.rng.integers(10_000))
        x, y = standard_normal_data(ctx.rng, CONTRACT_INPUT_DIM)
        description = (
            f"build_exploding_mlp(8, {depth}, {width}, seed={ctx.shown(seed)}) on 64 standard-normal "
            "samples: norms[0]/norms[-1] >= 1e3, all finite"
        )
        outcome = ctx.call(
            CONTRACT_INPUT_DIM, depth, width, seed=seed, build_dim=CONTRACT_INPUT_DIM
        )
        if outcome.ok and (problem := unavailable()):  # a kit without passing dense_grad_norms
            yield unmeasured_case(description, problem)
            continue
        layout_hint = "Lay the model out as build_mlp does: depth Dense(width) layers and Dense(1)."
        model, failed = received_model(
            description,
            outcome,
            "build_exploding_mlp",
            hint,
            measuring=True,
            size=ContractSize(CONTRACT_INPUT_DIM, depth, width),
        )
        measured = measured_elsewhere(
            ctx, outcome, failed, (CONTRACT_INPUT_DIM, depth, width, seed), [x, y], kind="exploding"
        )
        values: list[float] = []
        if measured is not None:  # a model of the student's own parts: measured in their process
            read, failed = measurement_case(
                description,
                measured,
                "build_exploding_mlp",
                hint,
                kind="exploding",
                input_dim=CONTRACT_INPUT_DIM,
                depth=depth,
                width=width,
            )
            if failed:
                yield failed
                continue
            if read["too_large"] is not None:
                yield too_large_case(description, read["too_large"])
                continue
            if read["problems"]:
                yield CaseResult(
                    description,
                    False,
                    message("the layout of build_mlp", "; ".join(read["problems"]), layout_hint),
                    category=WRONG_LAYOUT,
                )
                continue
            norms = read["norms"]
            first_name = read["first_activation"]
            values = read["activation_values"]
            dtype = read["layout"]["dtype"]
        else:
            if failed:
                yield failed
                continue
            problems = layout_problems(model, CONTRACT_INPUT_DIM, depth, width)
            if problems:
                yield layout_case(description, model, problems, layout_hint)
                continue
            try:
                norms = gradient_norms(model, x, y)
            except NotMeasured as error:  # a kit: the student's dense_grad_norms raised
                yield unmeasured_case(description, str(error))
                continue
            first_name = first_activation(model)
            dtype = compute_dtype(model)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = norms[0] / norms[-1] if norms.size else np.nan
        # A last norm of exactly 0 (the output layer's inputs all vanished) gives an infinite
        # ratio: that is a forward signal that died, not a gradient that grew.
        if norms.size and np.all(np.isfinite(norms)) and norms[-1] > 0 and ratio >= 1e3:
            yield CaseResult(description, True)
            continue
        mistake = "sigmoid_cannot_explode" if is_sigmoid(first_name, values) else None
        if norms.size and np.all(np.isfinite(norms)) and norms[-1] == 0:
            received = (
                "norms[-1] = 0: the output layer gets no gradient, since its inputs vanished "
                "(a signal that dies on the way forward, not a gradient that grows)"
            )
        else:
            received = (
                f"norms[0]/norms[-1] = {ratio:.3g} (norms from {norms.min():.3g} to {norms.max():.3g})"
                if np.all(np.isfinite(norms))
                else "non-finite gradient norms" + narrow_dtype_note(dtype)
            )
        yield CaseResult(
            description,
            False,
            message(
                "norms[0]/norms[-1] >= 1e3 with finite norms, norms[-1] > 0",
                received,
                describe(mistake) if mistake else hint,
            ),
            mistake=mistake,
            category="returned a model whose gradient norms do not grow 1e3-fold towards the input"
            if np.all(np.isfinite(norms))
            else "returned a model whose gradient norms are not finite",
        )
