"""Checks of part 3, `clipping`: array functions against the reference, training runs replayed.

The known mistakes' answers and the run without clipping are named here and computed by
:mod:`grader.checks.simulators.clipping` (recorded in a student kit,
:class:`grader.checks.mistakes.Simulation`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from grader.checks.compare import (
    TOLERANCES,
    Tolerance,
    as_float_array,
    compare_arrays,
    describe_type,
    format_array,
)
from grader.checks.expected import is_recording, simulated
from grader.checks.expected import reference as reference_of
from grader.checks.mistakes import Simulation, describe, known_answer
from grader.checks.registry import (
    DIFFERS,
    NOT_FINITE,
    WRONG_TYPE,
    Context,
    MalformedAnswer,
    compare_case,
    error_case,
    in_background,
    message,
    mutation_case,
    register,
    remembered_ahead,
    value_category,
)
from grader.isolation.protocol import OptimizerSpec
from grader.measuring.rebuild import describe_model, rebuild_model
from grader.quiet import import_tensorflow
from grader.results import CaseResult

reference = reference_of("clipping")
TOL = TOLERANCES["clipping"]
TRAINING = TOLERANCES["clipping.training"]
#: A loss curve is compared more loosely than one step: rounding differences grow.
CURVE = Tolerance(rtol=1e-2, atol=1e-5)
#: What a student reads about the unclipped run on hidden cases (its losses are numbers of
#: the reference's run on a hidden input: the instructor's only).
UNCLIPPED_ON_PUBLIC = (
    "Without clipping, the same runs start from an exploding model; python -m grader check "
    "YOUR_FOLDER shows on the public cases how far their losses go."
)


def gradient_list(
    rng: np.random.Generator, scale: float = 3.0, zeros: bool = False
) -> list[np.ndarray]:
    """A list of float32 'gradients' of mixed shapes: a scalar, a vector, a matrix, a 3-D tensor."""
    shapes = [(), (int(rng.integers(1, 6)),), (2, int(rng.integers(2, 5))), (2, 2, 3)]
    if zeros:
        return [np.zeros(shape, dtype=np.float32) for shape in shapes]
    return [(rng.normal(0, scale, size=shape)).astype(np.float32) for shape in shapes]


def _flatten(value: Any, like: list[np.ndarray]) -> np.ndarray:
    """A list of tensors shaped like ``like``, flattened into one float64 vector."""
    if not isinstance(value, (list, tuple)) or len(value) != len(like):
        raise ValueError("not a list of the same length")
    arrays = [np.asarray(v, dtype=np.float64) for v in value]
    for got, want in zip(arrays, like):
        if got.shape != np.shape(want):
            raise ValueError(f"a tensor of shape {got.shape} where {np.shape(want)} was expected")
    return np.concatenate([a.ravel() for a in arrays]) if arrays else np.zeros(0)


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def list_case(
    description: str,
    outcome: Any,
    expected: list[np.ndarray],
    function: str,
    hint: str,
    variants: list[tuple[str, Any]] | None = None,
) -> CaseResult:
    """Compare a returned list of tensors with the reference's, tensor shapes first."""
    if outcome.ok:
        try:
            _flatten(outcome.value, expected)
        except (ValueError, TypeError) as error:
            return CaseResult(
                description,
                False,
                message(
                    f"a list of {len(expected)} tensors of shapes {[np.shape(e) for e in expected]}",
                    f"{describe_type(outcome.value)} ({error})",
                    hint,
                ),
                category="returned a list whose number of tensors or their shapes differ "
                "from the gradients'",
            )
    return mutation_case(description, outcome) or compare_case(
        description,
        outcome,
        _flat(expected),
        TOL,
        function=function,
        hint=hint,
        variants=[(m, lambda f=f: _flat(f())) for m, f in (variants or [])],
        convert=lambda value: _flatten(value, expected),
        label="all elements, flattened",
    )


def _kinds(index: int) -> list[str | None]:
    return [[None, "tensors", "lists"][index % 3]]


@register("clipping.clip_by_value", timeout=10, cases=5)
def check_clip_by_value(ctx: Context) -> Iterator[CaseResult]:
    """Elementwise clipping against the reference, for arrays, tensors and lists."""
    hint = (
        "Clip every element of every tensor to [-clip_value, clip_value] (np.minimum/np.maximum)."
    )
    cases = [
        (f"clip_by_value at 1.0 on 4 arrays ({ctx.label})", gradient_list(ctx.rng), 1.0),
        ("clip_by_value on 4 tf.Tensors", gradient_list(ctx.rng), float(ctx.rng.uniform(0.5, 2))),
        (
            "clip_by_value on 4 nested Python lists",
            gradient_list(ctx.rng),
            float(ctx.rng.uniform(0.5, 2)),
        ),
        (
            "clip_by_value with a bound above every element (nothing changes)",
            gradient_list(ctx.rng, 0.1),
            5.0,
        ),
        ("clip_by_value on all-zero gradients", gradient_list(ctx.rng, zeros=True), 1.0),
    ]
    for index, (description, grads, bound) in enumerate(cases):
        outcome = ctx.call(grads, bound, kinds=_kinds(index))
        yield list_case(
            description,
            outcome,
            reference.clip_by_value(grads, bound),
            "clip_by_value",
            hint,
            [("value_one_sided", Simulation("clipping.upper_clip", grads, bound))],
        )


@register("clipping.clip_by_norm", timeout=10, cases=5)
def check_clip_by_norm(ctx: Context) -> Iterator[CaseResult]:
    """Per-tensor norm clipping against the reference, including tensors already small and zeros."""
    hint = "Rescale each tensor t separately: t * clip_norm / max(||t||_2, clip_norm)."

    cases = [
        (
            f"clip_by_norm at 2.0, some tensors above and some below ({ctx.label})",
            gradient_list(ctx.rng),
            2.0,
        ),
        ("clip_by_norm on tf.Tensors", gradient_list(ctx.rng), float(ctx.rng.uniform(0.5, 3))),
        ("clip_by_norm on nested Python lists", gradient_list(ctx.rng, 0.5), 1.0),
        ("clip_by_norm with every tensor below the threshold", gradient_list(ctx.rng, 0.05), 10.0),
        ("clip_by_norm on all-zero gradients", gradient_list(ctx.rng, zeros=True), 1.0),
    ]
    for index, (description, grads, bound) in enumerate(cases):
        outcome = ctx.call(grads, bound, kinds=_kinds(index))
        yield list_case(
            description,
            outcome,
            reference.clip_by_norm(grads, bound),
            "clip_by_norm",
            hint,
            [
                ("norm_uses_global", Simulation("clipping.scaled_by_global_norm", grads, bound)),
                ("rescales_small_gradients", Simulation("clipping.always_rescaled", grads, bound)),
            ],
        )


def _float32_norm(grads: list[Any]) -> float:
    """What a student's float32 code gives where the squares overflow: infinity. A known
    mistake's answer, computed here (plain NumPy on the case's inputs, so a kit computes it
    too). Where the float32 squares do not overflow the mistake does not apply: it raises,
    and so matches nothing (:func:`grader.checks.mistakes.diagnose`) and never gives
    global_norm's own answer.

    Raises:
        ValueError: when no square overflows float32.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.float32(0)
        for tensor in grads:
            values = np.asarray(tensor, dtype=np.float32)
            total = np.float32(total + np.sum(values * values, dtype=np.float32))
    if not np.isinf(total):
        raise ValueError("no square overflows float32 here")
    return float("inf")


@register("clipping.global_norm", timeout=10, cases=5)
def check_global_norm(ctx: Context) -> Iterator[CaseResult]:
    """One float: sqrt of the sum of squares of every element of every tensor."""
    hint = (
        "The global norm is sqrt of the sum of squares of every element of every tensor, one "
        "root for all of them. Exploding gradients reach 1e20 and more: compare each "
        "intermediate quantity with the range of the dtype it is computed in (float32's largest "
        "value is 3.4e38)."
    )
    cases = [
        (f"global_norm of 4 arrays ({ctx.label})", gradient_list(ctx.rng)),
        ("global_norm of 4 tf.Tensors", gradient_list(ctx.rng, 50.0)),
        ("global_norm of nested Python lists", gradient_list(ctx.rng, 0.01)),
        ("global_norm of all-zero gradients", gradient_list(ctx.rng, zeros=True)),
        (
            "global_norm of exploding float32 gradients, elements up to ~1e20 (squares overflow float32)",
            gradient_list(ctx.rng, 3e19),
        ),
    ]
    for index, (description, grads) in enumerate(cases):
        outcome = ctx.call(grads, kinds=_kinds(index))
        yield mutation_case(description, outcome) or compare_case(
            description,
            outcome,
            reference.global_norm(grads),
            TOL,
            function="global_norm",
            hint=hint,
            variants=[
                # first: an overflowed sum is infinite, and so may another variant be
                ("float32_squares_overflow", lambda grads=grads: _float32_norm(grads)),
                ("norm_without_sqrt", Simulation("clipping.sum_of_squares", grads)),
                ("sum_of_norms", Simulation("clipping.sum_of_norms", grads)),
            ],
            label="norm",
        )


@register("clipping.clip_by_global_norm", timeout=10, cases=4)
def check_clip_by_global_norm(ctx: Context) -> Iterator[CaseResult]:
    """(clipped, norm before clipping) against the reference, as tf.clip_by_global_norm returns."""
    hint = (
        "Compute the global norm once, scale every tensor by clip_norm / max(norm, clip_norm), "
        "and return (clipped, norm) with the norm before clipping."
    )
    cases = [
        (
            f"clip_by_global_norm at 1.0 with a global norm far above it ({ctx.label})",
            gradient_list(ctx.rng),
            1.0,
        ),
        (
            "clip_by_global_norm on tf.Tensors",
            gradient_list(ctx.rng),
            float(ctx.rng.uniform(0.5, 3)),
        ),
        (
            "clip_by_global_norm with the global norm below the threshold",
            gradient_list(ctx.rng, 0.05),
            5.0,
        ),
        ("clip_by_global_norm on all-zero gradients", gradient_list(ctx.rng, zeros=True), 1.0),
    ]
    for index, (description, grads, bound) in enumerate(cases):
        outcome = ctx.call(grads, bound, kinds=[[None, "tensors"][index % 2]])
        clipped, norm = reference.clip_by_global_norm(grads, bound)
        if outcome.ok and not (
            isinstance(outcome.value, (list, tuple)) and len(outcome.value) == 2
        ):
            yield CaseResult(
                description,
                False,
                message("a tuple (clipped, norm)", describe_type(outcome.value), hint),
                category=WRONG_TYPE,
            )
            continue
        if not outcome.ok:
            yield error_case(description, outcome, "clip_by_global_norm", hint)
            continue
        received_clipped, received_norm = outcome.value
        norm_check = compare_arrays(received_norm, norm, TOL, label="norm")
        if not norm_check.ok:
            after = min(norm, bound)
            mistake = (
                "norm_after_clipping" if compare_arrays(received_norm, after, TOL).ok else None
            )
            yield CaseResult(
                description,
                False,
                message(
                    f"norm = {norm:.6g} (before clipping)",
                    f"norm = {format_array(received_norm)}",
                    describe(mistake) if mistake else hint,
                    norm_check.report,
                ),
                mistake=mistake,
                category=value_category(received_norm, norm).replace(
                    DIFFERS, "returned a norm that differs from the reference"
                ),
            )
            continue
        inner = outcome.__class__(ok=True, value=received_clipped, mutated=outcome.mutated)
        yield list_case(
            description,
            inner,
            clipped,
            "clip_by_global_norm",
            hint,
            [
                ("per_tensor_clipping", lambda g=grads, c=bound: reference.clip_by_norm(g, c)),
            ],
        )


def _is_number(value: Any) -> bool:
    """Whether a config value is a real number (not a string, a bool or None)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


@register("clipping.make_optimizer", timeout=20, cases=4)
def check_make_optimizer(ctx: Context) -> Iterator[CaseResult]:
    """An SGD optimizer with exactly the named Keras clipping argument.

    Well conditioned: no arithmetic is compared, only the optimizer's settings read from
    its config (to a relative 1e-6 for the numbers the student passed on), so neither
    oneDNN nor the thread count can change a verdict.
    """
    import_tensorflow()
    hint = (
        "keras.optimizers.SGD(learning_rate=learning_rate, clipvalue=... | clipnorm=... | "
        'global_clipnorm=...), by strategy; "none" sets none of them.'
    )
    keys = {
        "none": None,
        "value": "clipvalue",
        "norm": "clipnorm",
        "global_norm": "global_clipnorm",
    }
    for strategy, key in keys.items():
        threshold = round(float(ctx.rng.uniform(0.5, 5)), 3)
        rate = round(float(ctx.rng.uniform(0.001, 0.5)), 4)
        description = f"make_optimizer({strategy!r}, {threshold}, {rate})"
        outcome = ctx.call(strategy, threshold, rate)
        if not outcome.ok:
            yield error_case(description, outcome, "make_optimizer", hint)
            continue
        spec = outcome.value
        if not isinstance(spec, OptimizerSpec) or spec.class_name != "SGD":
            yield CaseResult(
                description,
                False,
                message("a keras.optimizers.SGD", describe_type(spec), hint),
                category="did not return a keras.optimizers.SGD",
            )
            continue
        config = spec.config
        settings = {k: config.get(k) for k in ("clipvalue", "clipnorm", "global_clipnorm")}
        wanted = {k: (threshold if k == key else None) for k in settings}
        problems = []
        for k, v in settings.items():
            if wanted[k] is None and v is not None:
                problems.append(f"{k}={v!r}")
            elif wanted[k] is not None and (
                not _is_number(v) or abs(float(v) - threshold) > 1e-6 * threshold
            ):
                problems.append(f"{k}={v!r}")
        learning_rate = config.get("learning_rate")
        if not _is_number(learning_rate) or abs(learning_rate - rate) > 1e-5 * rate:
            problems.append(f"learning_rate={learning_rate}")
        if not problems:
            yield CaseResult(description, True)
            continue
        holder = next((k for k, v in settings.items() if v is not None and k != key), None)
        mistake = "optimizer_args_mixed" if holder else None
        expected = ", ".join(f"{k}={v}" for k, v in wanted.items()) + f", learning_rate={rate}"
        received = (
            ", ".join(f"{k}={v}" for k, v in settings.items()) + f", learning_rate={learning_rate}"
        )
        yield CaseResult(
            description,
            False,
            message(expected, received, describe(mistake) if mistake else hint),
            mistake=mistake,
            category="returned an optimizer whose clipping or learning-rate settings differ "
            "from the contract's",
        )


#: The depth and width of the exploding models train_with_clipping runs from.
RUN_DEPTH, RUN_WIDTH = 6, 16


def exploding_model(seed: int, input_dim: int = 5, depth: int = 4, width: int = 8) -> Any:
    """A ReLU MLP with weights of standard deviation 2/sqrt(fan_in): its first steps explode."""
    # lazy: Keras loads through import_tensorflow (quietly) when a check that needs it runs
    import keras

    build_mlp = reference_of("deep_sigmoid").build_mlp
    initializer = keras.initializers.VarianceScaling(
        scale=4.0, mode="fan_in", distribution="untruncated_normal"
    )
    return build_mlp(
        input_dim, depth, width, activation="relu", kernel_initializer=initializer, seed=seed
    )


def _reference_step(spec, x, y, clip_norm, rate):
    """The reference step on a fresh copy of the model: its result and the weights after."""
    # lazy: Keras loads through import_tensorflow (quietly) when a check that needs it runs
    import keras

    model = rebuild_model(spec)
    optimizer = keras.optimizers.SGD(learning_rate=rate)
    result = reference.clipped_train_step(model, optimizer, x, y, clip_norm)
    return result, model.get_weights()


def _reference_run(spec, x, y, clip_norm, rate, steps):
    """The reference's clipped training run from the model's weights."""
    return reference.train_with_clipping(rebuild_model(spec), x, y, clip_norm, rate, steps)


@register("clipping.clipped_train_step", timeout=60, cases=3)
def check_clipped_train_step(ctx: Context) -> Iterator[CaseResult]:
    """One step replayed from the same weights: loss, norms before and after, weights after.

    Well conditioned: one step from the same weights of a small (4-layer) exploding ReLU
    MLP or a 3-layer tanh one, never the steps after it, where an unclipped exploding run
    turns chaotic. Measured (the reference in fresh processes): oneDNN on against off moves
    the loss and norms by at most 1e-7 relative, one against two intra-op threads by
    nothing; a relative perturbation of 1e-6 of the starting weights moves them by at most
    3.2e-5 (30 seeds). ``clipping.training``'s rtol of 2e-3 is 4 orders above that.
    """
    import_tensorflow()
    # lazy: Keras loads through import_tensorflow (quietly) when a check that needs it runs
    import keras

    hint = (
        "In a tf.GradientTape compute the MSE loss, take the gradients, clip them with your "
        "clip_by_global_norm (or tf.clip_by_global_norm), apply the clipped ones with "
        "optimizer.apply_gradients, and return the loss and both norms as floats."
    )
    cases = [
        (f"one step of an exploding ReLU MLP, clip_norm=1.0 ({ctx.label})", 1.0, 0.05, 4.0),
        ("one step with clip_norm=0.25 and learning rate 0.1", 0.25, 0.1, 4.0),
        ("one step whose gradient norm is below clip_norm (no clipping)", 1e4, 0.01, 1.0),
    ]
    for description, clip_norm, rate, gain in cases:
        seed = int(ctx.rng.integers(10_000))
        if gain == 4.0:
            model = exploding_model(seed)
        else:
            build_mlp = reference_of("deep_sigmoid").build_mlp
            model = build_mlp(5, 3, 8, activation="tanh", seed=seed)
        spec = describe_model(model)
        x = ctx.rng.standard_normal((16, 5)).astype(np.float32)
        y = ctx.rng.standard_normal((16, 1)).astype(np.float32)
        optimizer = OptimizerSpec("SGD", keras.optimizers.SGD(learning_rate=rate).get_config())
        reference_step = remembered_ahead(_reference_step, spec, x, y, clip_norm, rate)
        outcome = ctx.call(spec, optimizer, x, y, clip_norm, state_of=[0])
        if not outcome.ok:
            yield error_case(description, outcome, "clipped_train_step", hint)
            continue
        result = outcome.value
        keys = ("loss", "grad_norm", "clipped_norm")
        if not isinstance(result, dict) or not all(k in result for k in keys):
            yield CaseResult(
                description,
                False,
                message(f"a dict with {', '.join(keys)}", describe_type(result), hint),
                category=WRONG_TYPE,
            )
            continue
        expected, after = reference_step.result()
        figures = [as_float_array(result[k]) for k in keys]
        if any(f is None or f.size != 1 for f in figures):
            odd = next(k for k, f in zip(keys, figures) if f is None or f.size != 1)
            yield CaseResult(
                description,
                False,
                message(
                    f"a dict with {', '.join(keys)} as floats",
                    f"{odd}: {describe_type(result[odd])}",
                    hint,
                ),
                category=WRONG_TYPE,
            )
            continue
        received = np.array(
            [f.item() if f is not None and f.size == 1 else np.nan for f in figures]
        )
        wanted = np.array([expected[k] for k in keys])
        check = compare_arrays(received, wanted, TRAINING, label="(loss, grad_norm, clipped_norm)")
        weights = outcome.state[0] if outcome.state else None
        try:  # the model's weights as the student's process returned them
            returned = _flat(weights) if weights else None
        except (TypeError, ValueError) as error:
            raise MalformedAnswer("the model's weights after the call") from error
        weights_check = (
            compare_arrays(returned, _flat(after), TRAINING, label="weights after the step")
            if returned is not None
            else check
        )
        unclipped = Simulation("clipping.unclipped_weights", spec, x, y, rate)
        after_step = Simulation("clipping.loss_after_step", spec, after, x, y)
        if is_recording():  # a kit diagnoses from the values recorded now
            for simulation in (unclipped, after_step):
                known_answer(simulation)
        if check.ok and weights_check.ok:
            yield CaseResult(description, True)
            continue
        mistake = None
        unclipped_weights = known_answer(unclipped) if not weights_check.ok else None
        if (
            unclipped_weights is not None
            and returned is not None
            and compare_arrays(returned, _flat(unclipped_weights), TRAINING).ok
        ):
            mistake = "clip_after_update"
        elif (
            abs(received[1] - expected["clipped_norm"]) <= 2e-3 * expected["clipped_norm"]
            and abs(received[1] - expected["grad_norm"]) > 2e-3 * expected["grad_norm"]
        ):
            mistake = "reported_norm_after_clipping"
        elif (after_loss := known_answer(after_step)) is not None:
            if (
                abs(received[0] - after_loss) <= 2e-3 * abs(after_loss)
                and abs(received[0] - wanted[0]) > 2e-3 * wanted[0]
            ):
                mistake = "loss_after_update"
        report = check.report if not check.ok else weights_check.report
        yield CaseResult(
            description,
            False,
            message(
                ", ".join(f"{k}={v:.6g}" for k, v in expected.items())
                + " and the clipped update applied",
                ", ".join(f"{k}={v:.6g}" for k, v in zip(keys, received))
                + ("" if weights_check.ok else "; the weights after the step differ"),
                describe(mistake) if mistake else hint,
                report,
            ),
            mistake=mistake,
            category="returned a loss or norms that differ from the reference"
            if not check.ok
            else "left the model's weights different from the reference's after the step",
        )


@register("clipping.train_with_clipping", timeout=120, cases=2)
def check_train_with_clipping(ctx: Context) -> Iterator[CaseResult]:
    """An exploding start with a large learning rate: finite losses, norms within the bound,
    and the reference's loss curve from the same weights.

    Tolerance from measured sensitivity: the runs start from an exploding model, but
    clipping bounds every update (learning rate x clip_norm), so the clipped run does not
    amplify rounding as the unclipped one does. Measured on the reference in fresh
    processes: oneDNN on against off moves its losses by at most 1.1e-5 relative over 20
    steps, one against two intra-op threads by nothing; a relative perturbation of 1e-6 of
    the starting weights grows at most 700-fold over the 15 steps (median 9; 30 seeds),
    so float32 rounding (1e-7) gives at most 7e-5. :data:`CURVE`'s rtol of 1e-2 is over 100
    times that. The unclipped run (the note) is chaotic: the step where it turns NaN may
    differ between machines; it is a note, never part of the verdict.
    """
    import_tensorflow()

    hint = (
        "Create keras.optimizers.SGD(learning_rate=learning_rate) once, then make `steps` "
        "clipped steps (e.g. clipped_train_step(model, optimizer, x, y, clip_norm)) and return "
        "the losses."
    )
    for description, clip_norm, rate, steps in [
        (
            f"15 steps from an exploding start, clip_norm=1.0, learning rate 0.05 ({ctx.label})",
            1.0,
            0.05,
            15,
        ),
        ("10 steps with clip_norm=0.5, learning rate 0.02", 0.5, 0.02, 10),
    ]:
        seed = int(ctx.rng.integers(10_000))
        spec = describe_model(exploding_model(seed, depth=RUN_DEPTH, width=RUN_WIDTH))
        x = ctx.rng.standard_normal((32, 5)).astype(np.float32)
        y = ctx.rng.standard_normal((32, 1)).astype(np.float32)
        # The reference's runs while the student's runs.
        expected_run = remembered_ahead(_reference_run, spec, x, y, clip_norm, rate, steps)
        unclipped_run = in_background(simulated, "clipping.unclipped_run", spec, x, y, steps, rate)
        outcome = ctx.call(spec, x, y, clip_norm, rate, steps, record="clipped_train_step")
        expected, unclipped = expected_run.result(), unclipped_run.result()
        bad = np.flatnonzero(~np.isfinite(unclipped))
        ctx.add_note(
            f"Without clipping, the same run ({steps} steps, learning rate {rate}) goes from loss "
            f"{unclipped[0]:.4g} to "
            + (f"NaN or inf at step {bad[0] + 1}." if bad.size else f"{unclipped[-1]:.4g}."),
            UNCLIPPED_ON_PUBLIC,
        )
        if not ctx.figures:
            steps_seen = [r for r in outcome.recorded or [] if isinstance(r, dict)]
            ctx.add_figure(
                "training",
                f"Loss per step from an exploding start (clip_norm={clip_norm})",
                outcome,
                outcome.value if outcome.ok else None,
                reference=expected,
                unclipped=unclipped,
                threshold=float(clip_norm),
                grad_norms=[r.get("grad_norm") for r in steps_seen],
                clipped_norms=[r.get("clipped_norm") for r in steps_seen],
            )
        if not outcome.ok:
            yield error_case(description, outcome, "train_with_clipping", hint)
            continue
        losses = outcome.value
        array = None
        array = as_float_array(losses)
        if array is None or array.shape != (steps,):
            yield CaseResult(
                description,
                False,
                message(f"an array of {steps} losses", describe_type(losses), hint),
                category=WRONG_TYPE if array is None else "returned the wrong number of losses",
            )
            continue
        if not np.all(np.isfinite(array)):
            yield CaseResult(
                description,
                False,
                message(
                    "every loss finite",
                    f"{int(np.sum(~np.isfinite(array)))} losses are NaN or infinite",
                    describe("no_clipping"),
                ),
                mistake="no_clipping",
                category=NOT_FINITE,
            )
            continue
        recorded = outcome.recorded or []
        norms = [r.get("clipped_norm") for r in recorded if isinstance(r, dict)]
        over = [
            float(n) for n in norms if isinstance(n, (int, float)) and n > clip_norm * (1 + 1e-3)
        ]
        # Any route that makes the same clipped steps is right (the student's own compiled
        # step, say): the losses against the reference's decide. Recorded calls of
        # clipped_train_step only add a check of their post-clip norms.
        if over:
            yield CaseResult(
                description,
                False,
                message(
                    f"every post-clip global norm <= {clip_norm}",
                    f"post-clip norms up to {max(over):.4g}",
                    describe("no_clipping"),
                ),
                mistake="no_clipping",
                category="made steps whose post-clip global norm is above clip_norm",
            )
            continue

        yield compare_case(
            description,
            outcome,
            expected,
            CURVE,
            function="train_with_clipping",
            hint=hint,
            variants=[
                (
                    "learning_rate_ignored",
                    Simulation("clipping.default_rate_run", spec, x, y, clip_norm, steps),
                ),
                ("no_clipping", lambda u=unclipped: u),
            ],
            label="losses",
        )
