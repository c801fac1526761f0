"""Simulators of known mistakes: what a function returns when it makes one, and the other
figures the checks compute from a case's inputs (a scale, a valid alternative, a run).

Each simulator takes a case's inputs and computes a value from the reference's building
blocks, most of them with switches that reproduce one known mistake each
(:mod:`grader.checks.mistakes`). With its switches at their defaults a simulator computes
the right answer, so these modules are the full package's only: the student kit does not
ship them (:mod:`grader.course.kit`). The checks never call a simulator themselves: they
name it (:class:`grader.checks.mistakes.Simulation`), and the source of expected values
(:func:`grader.checks.expected.simulated`) runs it in the full package, recording what it
gave while a kit is built, and in a kit looks the recorded value up, for the public cases
only.

- :mod:`~grader.checks.simulators.chain_rule`: backpropagation through a sigmoid chain;
- :mod:`~grader.checks.simulators.deep_sigmoid`: gradient norms that include the biases;
- :mod:`~grader.checks.simulators.clipping`: clipping and training runs gone wrong;
- :mod:`~grader.checks.simulators.remedies`: initialiser formulas and RNN Jacobians.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from grader.checks.simulators import chain_rule, clipping, deep_sigmoid, remedies

#: Every simulator by the name the checks give it: ``<part>.<function>``.
SIMULATORS: dict[str, Callable[..., Any]] = {
    f"{module.__name__.rpartition('.')[2]}.{name}": function
    for module in (chain_rule, deep_sigmoid, clipping, remedies)
    for name, function in vars(module).items()
    if name in module.__all__
}
