"""The assignment contract: its parts, the functions students implement and their points.

This is the grader's copy of the contract table: names and signatures are fixed by the
course, points add up to 100. Points go to understanding: a function whose formula, answer
or code skeleton the lesson prints (``printed``; transcribing it shows little) carries few
of them, at most :data:`PRINTED_POINTS_CAP` in all; the points sit with what the student
derives, chooses or measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ASSIGNMENT = "exploding_gradients"


@dataclass(frozen=True)
class Function:
    """One function a student implements."""

    part: str
    name: str
    points: float
    summary: str
    #: The lesson prints this function's formula, answer or code skeleton (the contract's
    #: own formula, a mapping it lists, a training-step skeleton): writing it is transcribing.
    printed: bool = False

    @property
    def test_name(self) -> str:
        """The test's name, ``<part>.<function>``."""
        return f"{self.part}.{self.name}"


#: The most points that functions the lesson prints (``Function.printed``) may carry.
PRINTED_POINTS_CAP = 25

#: Marks a function whose formula, answer or skeleton the lesson prints.
PRINTED = True


def _part(part: str, *functions: tuple[Any, ...]) -> list[Function]:
    return [Function(part, *entry) for entry in functions]


FUNCTIONS: list[Function] = [
    *_part(
        "chain_rule",
        # Most of sigmoid's points are on the overflow cases: a stable route is derived.
        ("sigmoid", 5, "elementwise 1/(1+e^-z), finite without overflow warnings"),
        ("sigmoid_derivative", 1, "sigmoid(z)*(1-sigmoid(z))", PRINTED),
        ("chain_forward", 2, "the outputs [O_1, ..., O_n] of the sigmoid chain", PRINTED),
        # The lesson works out one neuron; the student derives delta_k for the chain.
        ("chain_gradients", 14, "(dL/dw, dL/db) of the chain by backpropagation"),
        ("local_gains", 2, "dO_k/dO_{k-1} = sigmoid'(z_k)*w_k per sample, shape (n, m)", PRINTED),
        ("sgd_update", 1, "param - learning_rate*grad, input unchanged", PRINTED),
    ),
    *_part(
        "deep_sigmoid",
        (
            "build_mlp",
            3,
            "depth hidden Dense(width, activation) layers and a linear Dense(1)",
            PRINTED,
        ),
        ("dense_grad_norms", 9, "Frobenius norm of dL/d(kernel) per Dense layer, input side first"),
        (
            "gradient_regime",
            1,
            "'vanishing', 'exploding' or 'stable' from per-layer norms",
            PRINTED,
        ),
        (
            "build_exploding_mlp",
            12,
            "an MLP whose input-side gradient norm is >= 1e3x the output's",
        ),
    ),
    *_part(
        "clipping",
        ("clip_by_value", 1, "every element clipped to [-clip_value, clip_value]", PRINTED),
        ("clip_by_norm", 2, "each tensor rescaled to norm at most clip_norm, separately", PRINTED),
        # The plain formula is printed; the points are for a norm that does not overflow.
        ("global_norm", 5, "sqrt of the sum of squares of every element of every tensor"),
        (
            "clip_by_global_norm",
            2,
            "(clipped, norm before clipping), as tf.clip_by_global_norm",
            PRINTED,
        ),
        ("make_optimizer", 2, "SGD with clipvalue, clipnorm or global_clipnorm as named", PRINTED),
        ("clipped_train_step", 4, "one GradientTape step clipped by global norm", PRINTED),
        ("train_with_clipping", 2, "losses of full-batch SGD steps with clipping", PRINTED),
    ),
    *_part(
        "remedies",
        ("glorot_uniform_limit", 1, "sqrt(6/(fan_in+fan_out))", PRINTED),
        ("he_normal_stddev", 1, "sqrt(2/fan_in)", PRINTED),
        ("build_healthy_mlp", 16, "a deep MLP with gradient norms within 100x that trains"),
        ("rnn_jacobian_norms", 12, "spectral norms of dh_T/dh_{t-1} of a tanh RNN"),
        ("max_stable_spectral_norm", 2, "the bound 1/gamma on the recurrent spectral norm"),
    ),
]

PARTS: list[str] = list(dict.fromkeys(f.part for f in FUNCTIONS))

#: Parts whose code may not import an autodiff library.
NUMPY_ONLY_PARTS = {"chain_rule"}


def functions_of(part: str) -> list[Function]:
    """Return the functions of one part, in the contract's order.

    Args:
        part: a part's name, e.g. ``"chain_rule"``.

    Returns:
        list of Function.

    Raises:
        ValueError: if the part does not exist.
    """
    found = [f for f in FUNCTIONS if f.part == part]
    if not found:
        raise ValueError(f"Unknown part. Expected one of {PARTS}. Received: part={part!r}")
    return found


def function(test_name: str) -> Function:
    """Return the function named ``<part>.<function>``.

    Raises:
        ValueError: if no such function is in the contract.
    """
    for f in FUNCTIONS:
        if f.test_name == test_name:
            return f
    raise ValueError(f"Unknown test. Received: test_name={test_name!r}")
