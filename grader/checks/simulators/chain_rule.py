"""Part 1's simulators: a sigmoid chain run forward and backpropagated, with switches.

Float64 NumPy, written by the grader (the reference is not called): a mistake's answer
needs to agree with a student's only to the part's tolerance.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "backprop",
    "derivative_exact",
    "derivative_formula_on_z",
    "gains_exact",
    "gains_on_activation",
    "gains_without_slope",
    "outputs_from_input",
    "preactivations",
    "slopes",
    "update_up",
]


def _sigmoid(z: Any) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))  # never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _chain(x: Any, w: Any, b: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations and outputs [O_0 = x, O_1, ..., O_n]."""
    outs, zs = [np.asarray(x, dtype=np.float64)], []
    for w_k, b_k in zip(w, b):
        zs.append(w_k * outs[-1] + b_k)
        outs.append(_sigmoid(zs[-1]))
    return zs, outs


def backprop(
    x: Any,
    y: Any,
    w: Any,
    b: Any,
    *,
    derivative: str = "z",
    weight: bool = True,
    mean: bool = True,
    factor: float = 2.0,
    offset: int = 0,
    reverse: bool = False,
    magnitude: bool = False,
) -> np.ndarray:
    """The chain's gradients stacked as (dL/dw, dL/db), with switches that reproduce known
    mistakes.

    ``derivative="exact"`` evaluates sigmoid' another valid way (a right answer whose
    float64 rounding differs); ``magnitude=True`` sums absolute values instead: the scale
    against which a cancelling sum is compared.
    """
    zs, outs = _chain(x, w, b)
    n, m = len(w), np.asarray(x).size
    dw, db = np.zeros(n), np.zeros(n)
    upstream = factor * (outs[n] - np.asarray(y, dtype=np.float64)) / (m if mean else 1)
    if magnitude:
        upstream = np.abs(upstream)
    for k in range(n, 0, -1):
        slope = {
            "z": outs[k] * (1 - outs[k]),
            "exact": _sigmoid(zs[k - 1]) * _sigmoid(-zs[k - 1]),
            "activation": _sigmoid(outs[k]) * (1 - _sigmoid(outs[k])),
            "none": np.ones_like(outs[k]),
        }[derivative]
        delta = upstream * slope
        source = outs[min(k - 1 + offset, n)]
        dw[k - 1] = np.sum(np.abs(delta * source)) if magnitude else np.sum(delta * source)
        db[k - 1] = np.sum(np.abs(delta)) if magnitude else np.sum(delta)
        link = (abs(w[k - 1]) if magnitude else w[k - 1]) if weight else 1.0
        upstream = delta * link
    if reverse:
        dw, db = dw[::-1].copy(), db[::-1].copy()
    return np.stack([dw, db])


def preactivations(x: Any, w: Any, b: Any) -> np.ndarray:
    """[z_1, ..., z_n] stacked: the pre-activations returned instead of the outputs."""
    return np.stack(_chain(x, w, b)[0])


def outputs_from_input(x: Any, w: Any, b: Any, count: int) -> np.ndarray:
    """The first ``count`` of [x, O_1, ..., O_n] stacked: the input counted as an output."""
    return np.stack(_chain(x, w, b)[1][:count])


def slopes(x: Any, w: Any, b: Any) -> np.ndarray:
    """sigmoid'(z_k) per neuron and sample: the local gain without its weight."""
    return np.stack([o * (1 - o) for o in _chain(x, w, b)[1][1:]])


def gains_without_slope(x: Any, w: Any, b: Any) -> np.ndarray:
    """w_k for every sample: the local gain without sigmoid'."""
    w = np.asarray(w, dtype=np.float64)
    return np.broadcast_to(w[:, None], (w.size, np.asarray(x).size)).copy()


def gains_on_activation(x: Any, w: Any, b: Any) -> np.ndarray:
    """sigmoid' applied to O_k instead of z_k, times w_k."""
    outs = _chain(x, w, b)[1]
    return np.stack([_sigmoid(o) * (1 - _sigmoid(o)) * w_k for o, w_k in zip(outs[1:], w)])


def gains_exact(x: Any, w: Any, b: Any) -> np.ndarray:
    """The local gains with sigmoid' evaluated another valid way (sigmoid(z)sigmoid(-z))."""
    zs = _chain(x, w, b)[0]
    return np.stack([_sigmoid(z) * _sigmoid(-z) * w_k for z, w_k in zip(zs, w)])


def derivative_formula_on_z(z: Any) -> np.ndarray:
    """s(1 - s) applied to z itself."""
    z = np.asarray(z, dtype=np.float64)
    return z * (1 - z)


def derivative_exact(z: Any) -> np.ndarray:
    """sigmoid'(z) evaluated another valid way: sigmoid(z) * sigmoid(-z)."""
    return _sigmoid(z) * _sigmoid(-np.asarray(z, dtype=np.float64))


def update_up(param: Any, grad: Any, learning_rate: float) -> np.ndarray:
    """The update that moves up the gradient."""
    return np.asarray(param) + learning_rate * np.asarray(grad)
