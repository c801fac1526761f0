"""What measuring one student's model may cost the grader: a size bound and a CPU budget.

The grader rebuilds and measures a student's model in its own process
(:mod:`grader.measuring.measure`), so the model decides how much of the grader's memory and
time that takes, whatever limits the student's own process has. Two bounds, both on the
grader's side, hold that cost to what the contract needs:

- :class:`ContractSize`: the size of the model a call asked for (the input width, depth and
  width the grader passed), and the most weights and layers a model returned by that call
  may have. The bound is the largest right answer the grader expects: every layer up to
  :data:`WIDTH_SLACK` times as wide as asked, :data:`NORMALISATION_LAYERS` normalisation
  layers after each hidden layer and one on the inputs, and activation, dropout and noise
  layers between (:data:`LAYERS_PER_DENSE` layers per Dense layer). A model over it is
  refused before anything is built (:class:`ModelTooLarge`). The allow-list's own limits
  (:data:`grader.measuring.vetting.MAX_PARAMETERS` and its neighbours) stay the outer bound,
  for configs no call asked for.
- :class:`CpuBudget`: the process CPU time the grader may spend measuring one model,
  checked between training steps (:func:`grader.measuring.measure.train_full_batch`); past
  it the measurement stops (:class:`BudgetExceeded`) and the case fails with a verdict of
  its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from grader.measuring.plain import ModelRebuildError

#: How much wider than asked a layer of a right answer may be (a student who fixes the
#: width at 64 still meets the width 32 cases).
WIDTH_SLACK = 2
#: Normalisation layers a right answer may put after each hidden Dense layer (one more may
#: normalise the inputs).
NORMALISATION_LAYERS = 2
#: Numbers per feature of the largest normalisation layer (BatchNormalization: gamma, beta
#: and the moving mean and variance), as :mod:`grader.measuring.vetting` counts them.
NUMBERS_PER_FEATURE = 4
#: Layers a right answer may have per Dense layer: the Dense layer itself, normalisation,
#: activation, dropout and noise layers, with room to spare. As many again may come before
#: the first Dense layer.
LAYERS_PER_DENSE = 6


def dense_weights(input_dim: int, depth: int, width: int) -> int:
    """Weights (kernels and biases) of ``depth`` hidden ``Dense(width)`` layers on
    ``input_dim`` inputs and a ``Dense(1)`` output: the contract's layout."""
    weights, fan_in = 0, input_dim
    for units in [width] * depth + [1]:
        weights += fan_in * units + units
        fan_in = units
    return weights


@dataclass(frozen=True)
class ContractSize:
    """The size of the model a contract call asked for, and the bound of what it may return.

    Args:
        input_dim: the input width the grader passed.
        depth: the hidden Dense layers it asked for.
        width: the units per hidden layer it asked for.
    """

    input_dim: int
    depth: int
    width: int

    @property
    def weights(self) -> int:
        """Weights of the contract's layout for this call."""
        return dense_weights(self.input_dim, self.depth, self.width)

    @property
    def max_weights(self) -> int:
        """The most weights a model returned for this call may have (see the module)."""
        wide = WIDTH_SLACK * self.width
        normalisation = NUMBERS_PER_FEATURE * (
            self.input_dim + NORMALISATION_LAYERS * self.depth * wide
        )
        return dense_weights(self.input_dim, self.depth, wide) + normalisation

    @property
    def max_layers(self) -> int:
        """The most layers (the input layer not counted) a model for this call may have."""
        return LAYERS_PER_DENSE * (self.depth + 2)

    def excess(self, weights: int | None, layers: int) -> ModelTooLarge | None:
        """The refusal of a model of ``weights`` weights (None: not counted, its layers
        are too many already) in ``layers`` layers, or None when it is within the bound."""
        if (weights is None or weights <= self.max_weights) and layers <= self.max_layers:
            return None
        return ModelTooLarge(self, weights, layers)

    def expected(self) -> str:
        """What the bound allows, for a message's ``Expected:``."""
        return (
            f"a model of at most {self.max_weights:,} weights in at most {self.max_layers} "
            f"layers: the contract asks for {self.depth} hidden Dense({self.width}) layers "
            f"and a Dense(1) on {self.input_dim} inputs ({self.weights:,} weights), and the "
            f"bound leaves room for layers up to {WIDTH_SLACK}x as wide and for "
            "normalisation, activation and dropout layers between them"
        )


class ModelTooLarge(ModelRebuildError):
    """A model larger than the call that returned it asks for (:class:`ContractSize`).

    Attributes:
        size: the call's size and bound.
        weights: the model's weights (kernels, biases, normalisation layers' numbers), or
            None when its layers alone were too many to count them.
        layers: its layers, the input layer not counted.
    """

    def __init__(self, size: ContractSize, weights: int | None, layers: int) -> None:
        self.size = size
        self.weights = weights
        self.layers = layers
        super().__init__(
            f"{self.received()}; the call allows at most {size.max_weights:,} weights in "
            f"{size.max_layers} layers"
        )

    def received(self) -> str:
        """The model's size, for a message's ``Received:``."""
        if self.weights is None:
            return f"a model of {self.layers} layers"
        return f"a model of {self.weights:,} weights in {self.layers} layers"


#: Process CPU seconds the grader may spend measuring one student's model: its gradient
#: norms and its training run (200 steps for build_healthy_mlp), about 15 times what the
#: reference's model costs. Measured on a 2-core machine, the reference's model at the
#: contract's largest size (depth 30, width 64) takes 0.5 s of CPU (0.7 s with the tracing
#: of its layout), a right answer with a BatchNormalization after every hidden layer 2.7 s
#: (it is trained through Keras), and the largest plain Dense stack the size bound allows
#: 1.8 s; a model at the bound's edge on every count (twice as wide, float64, two
#: normalisation layers and three others per Dense layer) 11 s, and it is stopped.
MEASURE_CPU_SECONDS = 10.0


class BudgetExceeded(Exception):
    """The measurement of a model went past its :class:`CpuBudget` and was stopped.

    Attributes:
        spent: the CPU seconds spent when it stopped.
        seconds: the budget.
        done: how far it got, e.g. ``"40 of 200 training steps"``.
    """

    def __init__(self, spent: float, seconds: float, done: str) -> None:
        super().__init__(f"{spent:.1f} s of CPU spent, {seconds:g} s allowed, after {done}")
        self.spent = spent
        self.seconds = seconds
        self.done = done


class CpuBudget:
    """The grader's process CPU time for measuring one model, from now.

    Process time, not the calling thread's: TensorFlow runs a model's operations on its own
    threads. It also counts what the grader's other threads do meanwhile; while a model is
    measured they mostly wait for the student's process, and the budget leaves room for
    the rest.

    Args:
        seconds: the budget; :data:`MEASURE_CPU_SECONDS` when None.
    """

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = MEASURE_CPU_SECONDS if seconds is None else seconds
        self.started = time.process_time()

    def spent(self) -> float:
        """CPU seconds spent since the budget started."""
        return time.process_time() - self.started

    def check(self, done: str) -> None:
        """Stop the measurement if the budget is spent; called before each further step.

        Args:
            done: how far the measurement got, for the verdict.

        Raises:
            BudgetExceeded: when more than the budget has been spent.
        """
        spent = self.spent()
        if spent > self.seconds:
            raise BudgetExceeded(spent, self.seconds, done)
