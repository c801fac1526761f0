"""The layouts the checks measure when a student's models are the reference's.

A fresh grading process traces a compiled measuring function per layout it measures
(:mod:`grader.measuring.measure`). These are the layouts of the contract's models as the
reference builds them, in the order the checks first measure them, so that
:func:`grader.measuring.measure.trace_ahead` can trace them while the grader waits for the
student's process. A student's model of another layout is traced when it is measured,
as before; a layout listed here that no check measures costs only idle time. A test
grades the reference in a fresh process and checks that it traces nothing not listed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.checks.parts.clipping import RUN_DEPTH
from grader.checks.parts.deep_sigmoid import CONTRACT_SIZES
from grader.measuring.stack import DenseStack


def _stack(activation: str, depth: int) -> Any:
    """A stack of ``depth`` hidden layers of ``activation`` and a linear output, with biases.

    Only its layout counts: the weights are placeholders of the right rank.
    """
    # lazy: Keras loads through import_tensorflow (quietly), when a grading process warms up
    import keras

    hidden = keras.activations.get(activation)
    kernels = [np.zeros((1, 1), np.float32) for _ in range(depth + 1)]
    biases = [np.zeros(1, np.float32) for _ in range(depth + 1)]
    return DenseStack(kernels, biases, [hidden] * depth + [keras.activations.get(None)])


def likely_layouts() -> list[tuple[str, Any]]:
    """``(kind, stack)`` pairs for :func:`grader.measuring.measure.trace_ahead`, in the order of need.

    - ``build_exploding_mlp`` and ``build_healthy_mlp``: the gradient norms of tanh stacks
      at the contract's depths;
    - ``train_with_clipping``: the unclipped run of its ReLU model;
    - ``build_healthy_mlp``: the training runs of tanh stacks at the contract's depths.
    """
    depths = sorted({depth for depth, _ in CONTRACT_SIZES})
    return [
        *(("norms", _stack("tanh", depth)) for depth in depths),
        ("training", _stack("relu", RUN_DEPTH)),
        *(("training", _stack("tanh", depth)) for depth in depths),
    ]
