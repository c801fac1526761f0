"""Checks of part 1, `chain_rule`: float64 NumPy, compared with the reference.

The known mistakes' answers, the scale of a cancelling sum and the answers right by another
evaluation are named here and computed by :mod:`grader.checks.simulators.chain_rule`
(recorded in a student kit, :class:`grader.checks.mistakes.Simulation`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import partial

import numpy as np

from grader.checks.compare import TOLERANCES, describe_type
from grader.checks.expected import reference as reference_of
from grader.checks.expected import simulated
from grader.checks.mistakes import Simulation
from grader.checks.registry import (
    WRONG_TYPE,
    Context,
    compare_case,
    message,
    mutation_case,
    register,
    warning_case,
)
from grader.results import CaseResult

reference = reference_of("chain_rule")

#: The weight of sigmoid's overflow case against 1 for each of its four ordinary cases.
OVERFLOW_WEIGHT = 6.0
TOL = TOLERANCES["chain_rule"]


def chain_case(rng: np.random.Generator, n: int, m: int, weight_scale: float = 1.5):
    """A random chain of n neurons and a batch of m samples."""
    x = rng.normal(0, 1.5, size=m)
    y = rng.uniform(0, 1, size=m)
    w = rng.normal(0, weight_scale, size=n)
    b = rng.normal(0, 0.5, size=n)
    return x, y, w, b


def _chain_shapes(ctx: Context) -> list[tuple[str, int, int, float]]:
    """The chains every part-1 check uses: small, single sample, one neuron, deep, saturated."""
    return [
        ("a 3-neuron chain, batch of 5", 3, 5, 1.5),
        ("a 1-neuron chain, batch of 1", 1, 1, 1.5),
        ("a 12-neuron chain, batch of 1", 12, 1, 2.0),
        (
            "a 30-neuron chain, batch of 64 (gradients spanning many orders of magnitude)",
            30,
            64,
            1.0,
        ),
        ("a 6-neuron chain with weights of +-6 (saturating), batch of 17", 6, 17, 6.0),
    ]


@register("chain_rule.sigmoid", timeout=10, cases=5)
def check_sigmoid(ctx: Context) -> Iterator[CaseResult]:
    """Values against the reference; no overflow warning at |z| = 1e4; lists and scalars."""
    hint = "sigmoid(z) = 1 / (1 + e^-z), elementwise, returned as an array of z's shape."
    z = ctx.rng.normal(0, 3, size=9)
    cases = [
        (f"sigmoid on 9 values ({ctx.label})", z, None),
        ("sigmoid on a 4x5 array", ctx.rng.normal(0, 8, size=(4, 5)), None),
        ("sigmoid on a Python list", ctx.rng.normal(0, 2, size=6), "list"),
        ("sigmoid on a scalar", np.float64(ctx.rng.normal()), None),
        (
            "sigmoid at z = -1e4, -800, -40, 0, 40, 800, 1e4: finite, no overflow warning",
            np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4]),
            None,
        ),
    ]
    for description, value, kind in cases:
        outcome = ctx.call(value, kinds=[kind])
        warned = warning_case(description, outcome, hint, "naive_sigmoid_overflow")
        result = warned or compare_case(
            description, outcome, reference.sigmoid(value), TOL, function="sigmoid", hint=hint
        )
        # Stability is the point of this exercise: the overflow case carries most of the
        # points, so the plain formula earns 40% of them.
        yield replace(result, weight=OVERFLOW_WEIGHT) if "overflow" in description else result


@register("chain_rule.sigmoid_derivative", timeout=10, cases=3)
def check_sigmoid_derivative(ctx: Context) -> Iterator[CaseResult]:
    """Values against the reference, including saturated z."""
    hint = "sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z)), at most 0.25 (at z = 0)."
    for description, z in [
        (f"sigmoid_derivative on 11 values ({ctx.label})", ctx.rng.normal(0, 3, size=11)),
        ("sigmoid_derivative on a 3x4 array", ctx.rng.normal(0, 1, size=(3, 4))),
        (
            "sigmoid_derivative at z = -1e4, -50, 0, 50, 1e4",
            np.array([-1e4, -50.0, 0.0, 50.0, 1e4]),
        ),
    ]:
        outcome = ctx.call(z)
        variants = {
            "derivative_is_sigmoid": partial(reference.sigmoid, z),
            "derivative_formula_on_z": Simulation("chain_rule.derivative_formula_on_z", z),
        }
        yield compare_case(
            description,
            outcome,
            reference.sigmoid_derivative(z),
            TOL,
            function="sigmoid_derivative",
            hint=hint,
            variants=variants,
            alternatives=[simulated("chain_rule.derivative_exact", z)],
        )


def _stack(value):
    """A list of n arrays of shape (m,) as one (n, m) array."""
    if isinstance(value, np.ndarray):
        return value
    return np.stack([np.asarray(v, dtype=np.float64) for v in value])


@register("chain_rule.chain_forward", timeout=10, cases=5)
def check_chain_forward(ctx: Context) -> Iterator[CaseResult]:
    """[O_1, ..., O_n] against the reference on chains of 1 to 30 neurons."""
    hint = "O_k = sigmoid(w_k * O_{k-1} + b_k) with O_0 = x; return the n outputs in order."
    for description, n, m, scale in _chain_shapes(ctx):
        x, _, w, b = chain_case(ctx.rng, n, m, scale)
        outcome = ctx.call(x, w, b)
        if outcome.ok and not isinstance(outcome.value, (list, tuple)):
            yield CaseResult(
                description,
                False,
                message(f"a list of {n} arrays", describe_type(outcome.value), hint),
                category=WRONG_TYPE,
            )
            continue
        variants = [
            ("forward_returns_preactivations", Simulation("chain_rule.preactivations", x, w, b)),
            ("forward_includes_input", Simulation("chain_rule.outputs_from_input", x, w, b, n)),
        ]
        if n > 1:  # n + 1 arrays: x, then every output
            variants.append(
                (
                    "forward_includes_input",
                    Simulation("chain_rule.outputs_from_input", x, w, b, n + 1),
                )
            )
        yield mutation_case(description, outcome) or compare_case(
            description,
            outcome,
            np.stack(reference.chain_forward(x, w, b)),
            TOL,
            function="chain_forward",
            hint=hint,
            variants=variants,
            convert=_stack,
            label="[O_1, ..., O_n]",
        )


@register("chain_rule.chain_gradients", timeout=20, cases=6)
def check_chain_gradients(ctx: Context) -> Iterator[CaseResult]:
    """(dL/dw, dL/db) against the reference, scale-aware down to ~1e-13."""
    hint = (
        "Compare your gradients with finite differences of the loss: move one w_k by a small h "
        "in float64 and see how L = mean((O_n - y)^2) moves. Where they disagree says which "
        "step slips: wrong for the last neuron already, look at the loss's derivative and the "
        "last sigmoid; right there and wrong further back, look at what each step back through "
        "a neuron multiplies by."
    )
    cases = _chain_shapes(ctx) + [("a 4-neuron chain given as Python lists, batch of 3", 4, 3, 1.5)]
    for index, (description, n, m, scale) in enumerate(cases):
        x, y, w, b = chain_case(ctx.rng, n, m, scale)
        kinds = ["list"] * 4 if index == len(cases) - 1 else None
        outcome = ctx.call(x, y, w, b, kinds=kinds)
        if outcome.ok and not (
            isinstance(outcome.value, (list, tuple)) and len(outcome.value) == 2
        ):
            yield CaseResult(
                description,
                False,
                message("a tuple (dL_dw, dL_db)", describe_type(outcome.value), hint),
                category=WRONG_TYPE,
            )
            continue
        expected = np.stack(reference.chain_gradients(x, y, w, b))
        envelope = simulated("chain_rule.backprop", x, y, w, b, magnitude=True)
        if n == 30:
            try:
                received = np.abs(_stack(outcome.value)[0]) if outcome.ok else None
            except (TypeError, ValueError, IndexError):
                received = None
            ctx.add_figure(
                "per_layer",
                "|dL/dw_k| along a 30-neuron sigmoid chain",
                outcome,
                received,
                reference=np.abs(expected[0]),
                xlabel="neuron k",
                ylabel="|dL/dw_k| (log scale)",
            )
        variants = {
            name: Simulation("chain_rule.backprop", x, y, w, b, **kw)
            for name, kw in [
                ("sum_instead_of_mean", {"mean": False}),
                ("missing_factor_two", {"factor": 1.0}),
                ("derivative_on_activation", {"derivative": "activation"}),
                ("missing_sigmoid_factor", {"derivative": "none"}),
                ("missing_weight_factor", {"weight": False}),
                ("input_off_by_one", {"offset": 1}),
                ("gradients_reversed", {"reverse": True}),
            ]
        }
        yield mutation_case(description, outcome) or compare_case(
            description,
            outcome,
            expected,
            TOL,
            function="chain_gradients",
            hint=hint,
            variants=variants,
            scale=envelope,
            convert=_stack,
            label="(dL_dw, dL_db)",
            alternatives=[simulated("chain_rule.backprop", x, y, w, b, derivative="exact")],
        )


@register("chain_rule.local_gains", timeout=10, cases=5)
def check_local_gains(ctx: Context) -> Iterator[CaseResult]:
    """The (n, m) array of sigmoid'(z_k) * w_k against the reference."""
    hint = "Row k-1 holds sigmoid'(z_k) * w_k for every sample, with z_k = w_k * O_{k-1} + b_k."
    for description, n, m, scale in _chain_shapes(ctx):
        x, _, w, b = chain_case(ctx.rng, n, m, scale)
        outcome = ctx.call(x, w, b)
        variants = {
            "local_gains_missing_sigmoid_factor": Simulation(
                "chain_rule.gains_without_slope", x, w, b
            ),
            "local_gains_missing_weight_factor": Simulation("chain_rule.slopes", x, w, b),
            "derivative_on_activation": Simulation("chain_rule.gains_on_activation", x, w, b),
        }
        yield mutation_case(description, outcome) or compare_case(
            description,
            outcome,
            reference.local_gains(x, w, b),
            TOL,
            function="local_gains",
            hint=hint,
            variants=variants,
            convert=_stack,
            label="gains",
            alternatives=[simulated("chain_rule.gains_exact", x, w, b)],
        )


@register("chain_rule.sgd_update", timeout=10, cases=3)
def check_sgd_update(ctx: Context) -> Iterator[CaseResult]:
    """param - learning_rate * grad, with the input left unchanged."""
    hint = "w_new = w_old - learning_rate * dL/dw, as a new array."
    for description, shape, rate in [
        (f"sgd_update on 5 weights ({ctx.label})", (5,), float(ctx.rng.uniform(0.01, 1))),
        ("sgd_update on a 3x4 array", (3, 4), float(ctx.rng.uniform(0.01, 1))),
        ("sgd_update with learning_rate 0", (4,), 0.0),
    ]:
        param = ctx.rng.normal(size=shape)
        grad = ctx.rng.normal(size=shape)
        outcome = ctx.call(param, grad, rate)
        yield mutation_case(description, outcome, "update_in_place") or compare_case(
            description,
            outcome,
            reference.sgd_update(param, grad, rate),
            TOL,
            function="sgd_update",
            hint=hint,
            variants={"update_sign": Simulation("chain_rule.update_up", param, grad, rate)},
        )
