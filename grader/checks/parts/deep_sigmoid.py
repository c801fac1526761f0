"""Checks of part 2, `deep_sigmoid`: models built by the student are rebuilt and measured here.

A model the grader cannot rebuild from built-in parts is measured in a fresh worker by the
grader's measuring code (:func:`measured_elsewhere`) where the contract allows a student's
own parts: ``build_exploding_mlp`` here, ``build_healthy_mlp`` in part 4. ``build_mlp`` is
given built-in parts only (see its check); ``dense_grad_norms`` is given the grader's own
models, and ``gradient_regime`` arrays, so neither meets a student's model. In a student kit
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
from grader.measuring.bounds import ContractSize, ModelTooLarge
from grader.measuring.data import standard_normal_data
from grader.measuring.layout import (
    activation_name,
    dense_layers,
    first_activation,
    layout_problems,
)
from grader.measuring.plain import ModelRebuildError
from grader.measuring.reading import UnreadableMeasurement, acts_as_sigmoid, read_measurement
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


def _kernels_of_ones(model: Any) -> list[str]:
    """kernel_initializer='ones' must give hidden kernels of ones."""
    hidden = dense_layers(model)[:-1]
    if all(np.all(np.asarray(layer.kernel) == 1.0) for layer in hidden):
        return []
    return ["the hidden kernels are not all ones"]


def _he_spread(model: Any) -> list[str]:
    """kernel_initializer='he_normal' must give 64x64 kernels of spread sqrt(2/64)."""
    kernels = [np.asarray(layer.kernel) for layer in dense_layers(model)[1:-1]]
    spread = float(np.std(np.concatenate([k.ravel() for k in kernels])))
    wanted = np.sqrt(2 / 64)
    if abs(spread / wanted - 1) <= 0.1:
        return []
    return [
        f"the 64x64 kernels have standard deviation {spread:.4f}; he_normal gives "
        f"sqrt(2/64) = {wanted:.4f}"
    ]


def _layout_mistakes(model: Any, problems: list[str]) -> dict[str, bool]:
    dense = dense_layers(model)
    return {
        "hidden_layers_off_by_one": len(dense) in (4, 6),
        "output_activation": bool(dense) and activation_name(dense[-1]) != "linear",
    }


def _initializer_mistake(model: Any, problems: list[str]) -> dict[str, bool]:
    return {"initializer_ignored": any("kernels" in p for p in problems)}


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
        # Not measured elsewhere: the grader passes build_mlp built-in activations and
        # initializers by name only, and the contract asks for Dense layers of those, so a
        # right model is always rebuilt here; one that cannot be holds parts the contract
        # does not ask for, and received_model names the part it refused. (A student's own
        # activation reaches build_mlp only through their own build_exploding_mlp or
        # build_healthy_mlp, whose checks measure such models in a fresh worker.)
        model, failed = received_model(
            description, outcome, "build_mlp", hint, size=ContractSize(*args)
        )
        if failed:
            yield failed
            continue
        problems = layout_problems(model, *args, activation)
        if not problems and rule is not None:
            problems += rule(model)
        yield layout_case(description, model, problems, hint, mistakes(model, problems))

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


@register("deep_sigmoid.dense_grad_norms", timeout=60, cases=4)
def check_dense_grad_norms(ctx: Context) -> Iterator[CaseResult]:
    """Per-Dense-layer kernel gradient norms against the reference on the same models."""
    import_tensorflow()
    # lazy: Keras loads through import_tensorflow (quietly) when a check that needs it runs
    import keras

    build_mlp = reference_of("deep_sigmoid").build_mlp
    hint = (
        "Inside a tf.GradientTape compute L = mean((model(x) - y)^2), then take "
        "tape.gradient(L, [layer.kernel for each Dense layer]) and the Frobenius norm of "
        "each (square root of the sum of squares of all entries, not the spectral norm)."
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
        if outcome.value == expected and type(outcome.value) is str:
            yield CaseResult(description, True)
            continue
        swapped = {"vanishing": "exploding", "exploding": "vanishing"}.get(expected)
        mistake = None
        if outcome.value == swapped:
            mistake = "regime_swapped"
        elif kwargs and outcome.value == "stable":
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


#: Said once per test when a model was measured in the student's process.
MEASURED_ELSEWHERE = (
    "Note: your model uses parts the grader cannot rebuild from built-in Keras parts (your own "
    "activation function or layer), so it was built and measured in a fresh, jailed process "
    "running your code, with the grader's measuring code."
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
) -> Any:
    """The measurement of a model the grader cannot rebuild, made in a fresh worker.

    Args:
        ctx: the check's context (its runner, part, function, time limit).
        outcome: the builder's call.
        refused: what :func:`received_model` said of its model: only a model it refused
            for holding parts the grader does not rebuild (the student's own activation
            or layer) is measured elsewhere.
        args: the builder's arguments (input_dim, depth, width, seed).
        data: ``[x, y]`` for the gradient norms, then ``[task_x, task_y]`` for ``healthy``.
        kind: the measurement (:data:`grader.measuring.in_worker.MEASURE_KINDS`).
        steps: SGD steps of ``healthy``'s training run.
        learning_rate: their learning rate.

    Returns:
        the measurement's outcome (its value a record for
        :func:`grader.measuring.reading.read_measurement`), or None when the model was not refused
        for that reason (it was rebuilt here, or the call failed), or the runner has no
        worker.
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
        kwargs={"seed": seed},
        kind=kind,
        steps=steps,
        learning_rate=learning_rate,
        seed=seed,
        timeout=ctx.timeout,
    )
    measured.hidden = not ctx.public
    if MEASURED_ELSEWHERE not in ctx.notes:
        ctx.notes.append(MEASURED_ELSEWHERE)
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
    """Measured as the contract states: finite norms with norms[0]/norms[-1] >= 1e3."""
    import_tensorflow()
    hint = (
        "Make each layer's gain chi = fan_in * Var(w) * E[f'(z)^2] clearly above 1, so that "
        "every layer multiplies the backward signal by more than one. tanh (slope 1 at 0) "
        "gets there with moderately large weights; sigmoid needs far larger ones."
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
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = norms[0] / norms[-1] if norms.size else np.nan
        if norms.size and np.all(np.isfinite(norms)) and ratio >= 1e3:
            yield CaseResult(description, True)
            continue
        mistake = "sigmoid_cannot_explode" if is_sigmoid(first_name, values) else None
        received = (
            f"norms[0]/norms[-1] = {ratio:.3g} (norms from {norms.min():.3g} to {norms.max():.3g})"
            if np.all(np.isfinite(norms))
            else "non-finite gradient norms"
        )
        yield CaseResult(
            description,
            False,
            message(
                "norms[0]/norms[-1] >= 1e3 with finite norms",
                received,
                describe(mistake) if mistake else hint,
            ),
            mistake=mistake,
            category="returned a model whose gradient norms do not grow 1e3-fold towards the input"
            if np.all(np.isfinite(norms))
            else "returned a model whose gradient norms are not finite",
        )
