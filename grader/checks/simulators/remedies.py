"""Part 4's simulators: initialiser formulas mixed up, and RNN Jacobian products with switches."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["gamma", "initializer_formula", "jacobian_products"]

#: What the known mistakes of the initialiser formulas compute, by name.
_FORMULAS = {
    "glorot_normal_stddev": lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out)),
    "glorot_variance": lambda fan_in, fan_out: 6 / (fan_in + fan_out),
    "sqrt_2_over_fan_in": lambda fan_in, fan_out: np.sqrt(2 / fan_in),
    "sqrt_6_over_fan_in": lambda fan_in, fan_out: np.sqrt(6 / fan_in),
    "sqrt_6_over_2_fan_in": lambda fan_in, fan_out: np.sqrt(6 / (2 * fan_in)),
    "lecun_stddev": lambda fan_in, fan_out: np.sqrt(1 / fan_in),
    "he_variance": lambda fan_in, fan_out: 2 / fan_in,
}


def initializer_formula(name: str, fan_in: int, fan_out: int | None = None) -> float:
    """A formula a student mixes up with the one asked for (:data:`_FORMULAS`)."""
    return float(_FORMULAS[name](fan_in, fan_out))


def jacobian_products(
    w_rec: Any,
    w_in: Any,
    b: Any,
    xs: Any,
    h0: Any,
    derivative: bool = True,
    norm: Any = 2,
    shift: int = 0,
) -> np.ndarray:
    """Norms of dh_T/dh_{t-1}, with switches that reproduce known mistakes."""
    h, steps = h0, []
    for x_t in xs:
        h = np.tanh(w_rec @ h + w_in @ x_t + b)
        steps.append(((1 - h**2)[:, None] if derivative else 1.0) * w_rec)
    out, product = np.zeros(len(steps)), np.eye(len(h0))
    for t in range(len(steps), 0, -1):
        if shift:
            out[t - 1] = np.linalg.norm(product, norm)
        product = product @ steps[t - 1]
        if not shift:
            out[t - 1] = np.linalg.norm(product, norm)
    return out


def gamma(activation: str) -> float:
    """The activation's largest slope: returned instead of the bound it gives."""
    return {"sigmoid": 0.25, "tanh": 1.0}[activation]
