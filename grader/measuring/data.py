"""The contract's data: the inputs and targets its models are measured on.

Drawn in the grader's process from a check's seeded generator. A model rebuilt there is
measured on them there (:mod:`grader.measuring.measure`); for a model the grader cannot
rebuild, the same arrays are sent to the student's worker and measured on there
(:mod:`grader.measuring.in_worker`).
"""

from __future__ import annotations

import numpy as np


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
