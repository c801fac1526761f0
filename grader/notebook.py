"""Checking answers inside a notebook: the self-check and nbgrader's test cells.

``check(sigmoid)`` (or ``check("sigmoid")``) runs the public cases of one function and
prints the verdict and the hints: each failure's principle, then one line saying how to ask
for more. ``hint(sigmoid)`` prints the recipe (:mod:`grader.checks.recipes`): the function's,
and the recipe of the known mistake the last check of it matched; ``check(sigmoid, hint=2)``
prints the check's feedback with the recipes. ``grade("chain_rule.sigmoid", sigmoid)`` is what the
autograded test cells call: it runs the same checks on the public cases and returns the
points, which nbgrader reads as partial credit; at zero points it raises, so the cell
fails. It never reads the hidden cases' secret: code in the student's kernel can read
whatever that kernel can, so the scores that count come from the jailed grader
(``python -m grader batch ... --gradebook``), and under ``nbgrader autograde`` the cells
say that their scores are not protected.

In a student kit (:mod:`grader.course.kit`) the expected values are the ones recorded from the
reference on the public cases (:mod:`grader.checks.expected`), so ``check`` gives the full
grader's verdicts on those cases; the kit has no hidden cases, and ``grade`` prints the
public cases' points and leaves the grading to the instructor. A kit holds no gradient code
of its own, so the checks that measure a model (``build_exploding_mlp``,
``build_healthy_mlp``) measure it with the student's own ``dense_grad_norms`` once that
passes its public check (:mod:`grader.checks.measurer`), and say so until it does.

Importing this module does not import TensorFlow; the checks of parts 2-4 do, quietly.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

from grader.assignment import FUNCTIONS, Function
from grader.assignment import function as contract_function
from grader.checks.expected import has_hidden_cases
from grader.checks.measurer import MEASURED_TESTS, measured_with
from grader.checks.mistakes import describe
from grader.checks.policy import find_violations
from grader.checks.recipes import (
    NOTEBOOK_MORE_HELP,
    RECIPES,
    TIERS,
    attach_recipes,
    recipes_for,
)
from grader.checks.registry import PUBLIC_SEED, run_check
from grader.checks.runner import InProcessRunner
from grader.demos import verified_dense_grad_norms
from grader.results import TestResult, points

#: Printed by the test cells under ``nbgrader autograde`` (which sets NBGRADER_EXECUTION).
UNPROTECTED = (
    "Note: this score was computed inside the student's own kernel, where the student's "
    "code can change it: it is not protected. Protected scores come from "
    "`python -m grader batch submitted --out grading-output --gradebook gradebook.db`."
)


def _find(name: str) -> Function:
    matches = [f for f in FUNCTIONS if name in (f.name, f.test_name)]
    if not matches:
        names = ", ".join(f.name for f in FUNCTIONS)
        raise ValueError(
            f"No function of the assignment is called {name!r}. Expected one of: {names}."
        )
    return matches[0]


def _namespace(frame_depth: int = 2) -> dict[str, Any]:
    frame = inspect.currentframe()
    for _ in range(frame_depth):
        frame = frame.f_back if frame is not None else None
    return dict(frame.f_globals) if frame is not None else {}


def _notebook_source(namespace: dict[str, Any], function: Callable[..., Any] | None) -> str:
    """The code the student ran: the kernel's input history, or the function's module."""
    history = namespace.get("In")
    if isinstance(history, list) and history:
        lines = []
        for cell in history:
            lines.extend(
                "pass" if line.lstrip().startswith(("%", "!")) else line
                for line in str(cell).splitlines()
            )
            lines.append("")
        return "\n".join(lines)
    if function is not None:
        try:
            return inspect.getsource(inspect.getmodule(function) or function)
        except (OSError, TypeError):
            pass
    return ""


def _run(
    spec: Function, target: Callable[..., Any] | None, namespace: dict[str, Any]
) -> TestResult:
    functions = dict(namespace)
    if target is not None:
        functions[spec.name] = target
    violations = find_violations(spec.part, _notebook_source(namespace, target))
    if spec.name in violations:
        mistake = (
            "policy_forbidden_import" if spec.part == "chain_rule" else "policy_forbidden_call"
        )
        return TestResult(
            spec.test_name,
            spec.points,
            verdict=f"Scored 0: {violations[spec.name]}\nHint: {describe(mistake)}",
            hidden=False,
        )
    # Public cases only: the hidden cases' secret never enters a student's kernel.
    if spec.test_name in MEASURED_TESTS and not has_hidden_cases():
        # A kit measures the models with the student's own dense_grad_norms, once it passes.
        with measured_with(verified_dense_grad_norms(functions)):
            return run_check(spec.test_name, InProcessRunner(functions), PUBLIC_SEED, public=True)
    return run_check(spec.test_name, InProcessRunner(functions), PUBLIC_SEED, public=True)


def check_result(
    spec: Function, function: Callable[..., Any] | None, namespace: dict[str, Any]
) -> TestResult:
    """One function's result on the public cases, as :func:`check` finds it (the student
    kit's ``python -m grader check`` checks a folder with it: :mod:`grader.self_check`).

    Args:
        spec: the contract function.
        function: the student's function, or None to take it from ``namespace``.
        namespace: the student's module namespace (with ``In``, the code the policy reads).

    Returns:
        the TestResult on the public cases.
    """
    return _run(spec, function, namespace)


#: The known mistakes the last check of each function matched (by test name), for
#: :func:`hint`: empty once it passes.
_LAST_MISTAKES: dict[str, list[str]] = {}


def _spec_of(function: Callable[..., Any] | str) -> Function:
    name = function if isinstance(function, str) else getattr(function, "__name__", str(function))
    return _find(name)


def check(function: Callable[..., Any] | str, hint: int = 1) -> None:
    """Check one function on the public cases and print the verdict.

    Args:
        function: the function object you wrote (e.g. ``sigmoid``) or its name.
        hint: 1 (the default) prints each failure's principle and how to ask for more; 2
            prints the recipe too, as :func:`hint` does.

    Raises:
        ValueError: when no function of the assignment has that name, or ``hint`` is
            neither 1 nor 2.
    """
    if hint not in TIERS:
        raise ValueError(f"hint is 1 (the principle) or 2 (the recipe too); got {hint!r}.")
    namespace = _namespace()
    spec = _spec_of(function)
    target = None if isinstance(function, str) else function
    result = _run(spec, target, namespace)
    _LAST_MISTAKES[spec.test_name] = result.mistakes if result.status != "passed" else []
    verdict = "PASSED" if result.status == "passed" else "NOT YET"
    print(
        f"{spec.test_name}: {verdict} ({points(result.score)} of {points(result.max_score)} "
        f"point{'' if result.max_score == 1 else 's'} on the public cases)"
    )
    if result.status != "passed":
        if hint >= 2:
            attach_recipes(result)
        print(result.output)
        if hint < 2 and spec.test_name in RECIPES:
            print(NOTEBOOK_MORE_HELP.format(name=spec.name))
    if result.grader_fault:  # public cases in the student's own kernel: nothing hidden in it
        print(
            "\nThe grader's own code failed here (a bug of the course's, not yours); please "
            "report it with this traceback:\n" + result.grader_fault.rstrip()
        )


def hint(function: Callable[..., Any] | str) -> None:
    """Print the recipe for one function: the second tier of hints, asked for.

    The function's recipe, then the recipe of the known mistake that its last
    :func:`check` matched, if it matched one. It runs nothing: ``check`` it first to learn
    which mistake your code looks like.

    Args:
        function: the function object you wrote (e.g. ``sigmoid``) or its name.

    Raises:
        ValueError: when no function of the assignment has that name.
    """
    spec = _spec_of(function)
    lines = recipes_for(spec.test_name, _LAST_MISTAKES.get(spec.test_name, []))
    print(f"{spec.test_name}:")
    print("\n".join(lines) if lines else "No recipe for this function: its hints say it all.")


def grade(test_name: str, function: Callable[..., Any]) -> float:
    """Grade one function on the public cases, as an autograded test cell does, and return
    the points earned (the scores that count come from the jailed grader).

    Args:
        test_name: ``<part>.<function>``.
        function: the student's function.

    Returns:
        the points earned on the public cases, as a float (nbgrader's partial credit).

    Prints the points when they are not full marks, and where the feedback is (the
    ``check`` cell above runs the same checks on the public cases).

    Raises:
        AssertionError: with the points, when no point was earned (not in a kit).
    """
    spec = contract_function(test_name)
    if not has_hidden_cases():
        result = _run(spec, function, _namespace())
        print(
            f"{test_name}: {points(result.score)} of {points(result.max_score)} "
            f"point{'' if result.max_score == 1 else 's'} on the public cases "
            "(your instructor grades the hidden ones)."
        )
        return float(result.score)
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print(UNPROTECTED)
    result = _run(spec, function, _namespace())
    if result.status != "passed":
        # The feedback itself is the check(...) cell's, just above: not repeated here.
        summary = (
            f"{test_name}: {points(result.score)} of {points(result.max_score)} "
            f"point{'' if result.max_score == 1 else 's'}. "
            f"What to fix is in the output of check({spec.name}) above."
        )
        if result.score == 0:
            raise AssertionError(summary)
        print(summary)
    return float(result.score)
