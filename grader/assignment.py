"""The assignment contract: its parts, the functions students implement and their points.

This is the grader's copy of the contract table: names and signatures are fixed by the
course, points add up to 100.
"""

from __future__ import annotations

from dataclasses import dataclass

ASSIGNMENT = "exploding_gradients"


@dataclass(frozen=True)
class Function:
    """One function a student implements."""

    part: str
    name: str
    points: float
    summary: str

    @property
    def test_name(self) -> str:
        """The test's name, ``<part>.<function>``."""
        return f"{self.part}.{self.name}"


def _part(part: str, *functions: tuple[str, float, str]) -> list[Function]:
    return [Function(part, name, points, summary) for name, points, summary in functions]


FUNCTIONS: list[Function] = [
    *_part(
        "chain_rule",
        ("sigmoid", 4, "elementwise 1/(1+e^-z), finite without overflow warnings"),
        ("sigmoid_derivative", 2, "sigmoid(z)*(1-sigmoid(z))"),
        ("chain_forward", 4, "the outputs [O_1, ..., O_n] of the sigmoid chain"),
        ("chain_gradients", 10, "(dL/dw, dL/db) of the chain by backpropagation"),
        ("local_gains", 5, "dO_k/dO_{k-1} = sigmoid'(z_k)*w_k per sample, shape (n, m)"),
        ("sgd_update", 1, "param - learning_rate*grad, input unchanged"),
    ),
    *_part(
        "deep_sigmoid",
        ("build_mlp", 6, "depth hidden Dense(width, activation) layers and a linear Dense(1)"),
        ("dense_grad_norms", 8, "Frobenius norm of dL/d(kernel) per Dense layer, input side first"),
        ("gradient_regime", 2, "'vanishing', 'exploding' or 'stable' from per-layer norms"),
        ("build_exploding_mlp", 9, "an MLP whose input-side gradient norm is >= 1e3x the output's"),
    ),
    *_part(
        "clipping",
        ("clip_by_value", 2, "every element clipped to [-clip_value, clip_value]"),
        ("clip_by_norm", 4, "each tensor rescaled to norm at most clip_norm, separately"),
        ("global_norm", 3, "sqrt of the sum of squares of every element of every tensor"),
        ("clip_by_global_norm", 5, "(clipped, norm before clipping), as tf.clip_by_global_norm"),
        ("make_optimizer", 4, "SGD with clipvalue, clipnorm or global_clipnorm as named"),
        ("clipped_train_step", 6, "one GradientTape step clipped by global norm"),
        ("train_with_clipping", 5, "losses of full-batch SGD steps with clipping"),
    ),
    *_part(
        "remedies",
        ("glorot_uniform_limit", 1, "sqrt(6/(fan_in+fan_out))"),
        ("he_normal_stddev", 1, "sqrt(2/fan_in)"),
        ("build_healthy_mlp", 10, "a deep MLP with gradient norms within 100x that trains"),
        ("rnn_jacobian_norms", 7, "spectral norms of dh_T/dh_{t-1} of a tanh RNN"),
        ("max_stable_spectral_norm", 1, "the bound 1/gamma: 4 for sigmoid, 1 for tanh"),
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
