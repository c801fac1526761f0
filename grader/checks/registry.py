"""The registry of checks: one per contract function, named ``<part>.<function>``.

A check is a generator: given a :class:`Context` it calls the student's function on
its cases and yields one :class:`~grader.results.CaseResult` per case, collecting every
result instead of stopping at the first failure. :func:`run_check` turns the cases into
a :class:`~grader.results.TestResult` with partial credit.

Every failed case carries a category (``CaseResult.category``): what went wrong, in words
that hold nothing the student's code controls and no reference answer. On a hidden case
it is all the student reads at once besides the description and the hint; the helpers
below (:func:`compare_case`, :func:`error_case`, :func:`warning_case`,
:func:`mutation_case`) set it, and a check that builds a failed case itself names one of
the constants below or its own phrase.
"""

from __future__ import annotations

import builtins
import importlib
import os
import traceback
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.assignment import FUNCTIONS, NUMPY_ONLY_PARTS, PARTS
from grader.assignment import function as contract_function
from grader.checks import expected as expected_values
from grader.checks.compare import (
    Comparison,
    Tolerance,
    as_float_array,
    compare_arrays,
    describe_type,
    format_array,
)
from grader.checks.mistakes import describe, diagnose
from grader.checks.runner import CallOutcome, Runner
from grader.checks.shown_inputs import format_call
from grader.quiet import import_tensorflow
from grader.results import GRADER_FAULT, CaseResult, TestResult

#: Seed of the public cases a student can see and run.
PUBLIC_SEED = 20240
#: Most points kept per series of a figure (a report stays small whatever a call returned).
MAX_FIGURE_POINTS = 512
#: Errors after which the remaining cases of a test are not tried.
_STOPPING = {"MissingFunction", "NotImplementedError", "timeout", "died", "protocol", "NotLoaded"}

# Categories of a failed case: verb phrases whose subject is the function. They hold no
# value, size or text of the student's code, and no reference answer.
DIFFERS = "returned values that differ from the reference"
WRONG_SHAPE = "returned the wrong shape"
NOT_FINITE = "returned a non-finite value (NaN or infinity)"
WRONG_TYPE = "returned a value of the wrong type or form"
CHANGED_INPUT = "changed its input: an argument was changed by the call"
WARNED = "gave warnings"
NOT_REACHED = "was not run on this case: an earlier case stopped the test"
WRONG_LAYOUT = "returned a model whose layout differs from the contract's"
NOT_REBUILT = "returned a model the grader could not rebuild from built-in Keras parts"


class PolicyViolation(Exception):
    """The function broke its part's library rule while it ran: the test scores 0."""

    def __init__(self, function: str, part: str, violations: list[str]) -> None:
        super().__init__(f"{function} {'; '.join(violations)}")
        self.part = part


class MalformedAnswer(Exception):
    """Raised by a check when the received answer is not of a form it can judge.

    Decided from the received data (the student's), so it costs the student the case, with
    the "could not check" message. Any other exception a check raises is a fault of the
    grader's own code (:func:`run_check`): named as the grader's, with its traceback for the
    instructor, never blamed on the student.
    """


class StopCheck(Exception):
    """The function cannot be checked further (missing, a stub, timed out, crashed)."""

    def __init__(self, outcome: CallOutcome) -> None:
        super().__init__(outcome.error_type)
        self.outcome = outcome


@dataclass
class Context:
    """What a check works with: the runner, its own random generator, and settings."""

    runner: Runner
    part: str
    function: str
    rng: np.random.Generator
    public: bool = False
    timeout: float = 30.0
    #: information for the student whatever the outcome; nothing of a hidden case
    notes: list[str] = field(default_factory=list)
    #: notes with numbers of hidden cases (e.g. the unclipped run): the instructor's only
    notes_details: list[str] = field(default_factory=list)
    #: plain data for the HTML report's plots (outputs only, never a hidden input)
    figures: list[dict[str, Any]] = field(default_factory=list)

    def add_figure(
        self, kind: str, title: str, outcome: CallOutcome, student: Any, **series: Any
    ) -> None:
        """Keep a plot's data for the HTML report: the student's series (None when the call
        failed, with the reason) beside the reference's and any other ``series``."""

        def plain(value: Any) -> Any:
            """Floats for JSON: NaN and infinities (gaps in a plot) become None; at most
            :data:`MAX_FIGURE_POINTS` points, evenly spaced, per series."""
            values = as_float_array(value)
            if values is None:
                return None
            values = values.ravel()
            if values.size > MAX_FIGURE_POINTS:
                values = values[np.linspace(0, values.size - 1, MAX_FIGURE_POINTS).astype(int)]
            return [float(v) if np.isfinite(v) else None for v in values]

        self.figures.append(
            {
                "kind": kind,
                "title": title,
                "student": plain(student) if student is not None else None,
                "error": None if outcome.ok else outcome.error_sentence(self.function),
                **{
                    k: plain(v) if not isinstance(v, (int, float, str)) else v
                    for k, v in series.items()
                },
            }
        )

    def add_note(self, note: str, hidden: str) -> None:
        """Keep a note built from a case's numbers: a public case's for the student; a
        hidden case's for the instructor, the student reading ``hidden`` (once) instead.

        Args:
            note: the note, with the case's numbers.
            hidden: what the student reads on hidden cases: a sentence without them.
        """
        if self.public:
            self.notes.append(note)
            return
        self.notes_details.append(note)
        if hidden not in self.notes:
            self.notes.append(hidden)

    def shown(self, value: Any, name: str = "s") -> str:
        """An input as the feedback may show it: a public case's value, a hidden one's name."""
        return str(value) if self.public else name

    @property
    def label(self) -> str:
        """``public`` or ``hidden``, for case descriptions."""
        return "public case" if self.public else "hidden case"

    def call(
        self,
        *args: Any,
        kinds: list[str | None] | None = None,
        state_of: list[int] | None = None,
        record: str | None = None,
        build_dim: int | None = None,
        **kwargs: Any,
    ) -> CallOutcome:
        """Call the student's function; stop the check on errors that end it.

        Raises:
            StopCheck: when the function is missing, a stub, timed out or crashed.
        """
        outcome = self.runner.call(
            self.part,
            self.function,
            list(args),
            kwargs,
            kinds=kinds,
            state_of=state_of,
            record=record,
            build_dim=build_dim,
            timeout=self.timeout,
            seed=int(self.rng.integers(2**31 - 1)),
        )
        outcome.hidden = not self.public
        if self.public:  # a public case's feedback shows its inputs, to paste and rerun
            outcome.shown_call = format_call(self.function, list(args), kwargs)
        if outcome.violations:
            raise PolicyViolation(self.function, self.part, outcome.violations)
        if not outcome.ok and outcome.error_type in _STOPPING:
            raise StopCheck(outcome)
        return outcome


def remembered(compute: Callable[..., Any], *inputs: Any) -> Any:
    """``compute(*inputs)``, computed once per grading process for the same inputs.

    Every student of a batch meets the same hidden cases, so a reference that takes
    seconds (a training run) is computed for the first student only. The function and
    its inputs, not a case's position, are the key. In a student kit the value is the one
    recorded from the reference (:mod:`grader.checks.expected`).
    """
    return expected_values.computed(compute, *inputs)


#: The grader's one background thread (made at first use): work started there runs while
#: the student's process answers, in the order it was started.
_BACKGROUND: ThreadPoolExecutor | None = None


def in_background(work: Callable[..., Any], *args: Any) -> Future:
    """``work(*args)`` started now in the grader's background thread.

    For the grader's own work that does not need the student's next answer: a reference
    run whose inputs are drawn (started before the student's function is called), or the
    measuring of the last model received (while the student's process builds the next).
    ``.result()`` gives the value, or raises what ``work`` raised, where the check needs
    it. One thread runs the work in the order it was started, and the student's calls
    are made in the same order as when everything ran in turn, so every value and every
    call is the same; :func:`run_check` waits for the thread before the check ends. Only
    the grader's computations go there: never a call to the student's process, which
    has one channel, used by the main thread.
    """
    global _BACKGROUND
    if _BACKGROUND is None:
        _BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grader-background")
    return _BACKGROUND.submit(work, *args)


def remembered_ahead(compute: Callable[..., Any], *inputs: Any) -> Future:
    """:func:`remembered` ``(compute, *inputs)``, started now in the background thread."""
    return in_background(remembered, compute, *inputs)


def _background_done() -> None:
    """Wait for all the work started in the background thread (a check that stopped early
    may have left some): none outlives its check."""
    if _BACKGROUND is not None:
        _BACKGROUND.submit(lambda: None).result()


def in_order(cases: Iterator[CaseResult | Future]) -> Iterator[CaseResult]:
    """A check's cases in order, where a case may be a Future of its CaseResult.

    A check yields a Future for a case judged in the background; the next case's call to
    the student's process is made meanwhile. The Future's result comes out before
    anything the check yields or raises after it, so the cases are in their order, and a
    case that could not be judged (its exception) comes before a later stop.
    """
    pending: Future | None = None
    try:
        for case in cases:
            if pending is not None:
                yield pending.result()
                pending = None
            if isinstance(case, Future):
                pending = case
            else:
                yield case
    except GeneratorExit:  # the consumer stopped reading: nothing more is yielded
        raise
    except BaseException:
        if pending is not None:
            yield pending.result()
        raise
    if pending is not None:
        yield pending.result()


CheckFunction = Callable[[Context], Iterator[CaseResult | Future]]


@dataclass(frozen=True)
class Check:
    """A registered check and how long each call of the function may take."""

    name: str
    run: CheckFunction
    timeout: float
    #: how many cases the check judges, so that a case the grader cannot judge costs
    #: that case and the ones not reached, each 1/n, and not the rest as one case
    cases: int = 1


REGISTRY: dict[str, Check] = {}


def register(
    name: str, timeout: float = 30.0, cases: int = 1
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under the test name ``<part>.<function>``.

    Args:
        name: the test's name.
        timeout: seconds one call of the student's function may take.
        cases: how many cases the check yields (the reference's run yields exactly these).
    """
    contract_function(name)  # the contract must know it

    def decorate(run: CheckFunction) -> CheckFunction:
        REGISTRY[name] = Check(name, run, timeout, cases)
        return run

    return decorate


def case_rng(seed: int, test_name: str) -> np.random.Generator:
    """The random generator of one test's cases: fixed by the seed and the test's name."""
    return np.random.default_rng([seed, zlib.crc32(test_name.encode())])


def with_call(outcome: CallOutcome, text: str) -> str:
    """A failed case's message, after a ``Call:`` line with its inputs on a public case."""
    return f"Call: {outcome.shown_call}\n{text}" if outcome.shown_call else text


def message(expected: str, received: str, hint: str, report: str = "") -> str:
    """A failure message in the one shape: Expected, Received, details, Hint."""
    lines = [f"Expected: {expected}", f"Received: {received}"]
    if report:
        lines.append(report)
    lines.append(f"Hint: {hint}")
    return "\n".join(lines)


def contract_signature(function: str) -> str:
    """The contract's signature of a function, e.g. ``chain_forward(x, w, b)``."""
    part = next(f.part for f in FUNCTIONS if f.name == function)
    return function + expected_values.signature(part, function)


def _builtin_name(name: str, base: type[BaseException]) -> bool:
    """Whether ``name`` is a built-in class derived from ``base`` (a name the student's code
    cannot choose freely, unlike its own classes')."""
    value = getattr(builtins, name, None)
    return isinstance(value, type) and issubclass(value, base)


def error_category(outcome: CallOutcome) -> str:
    """The category of a call that produced no value: how it ended, never what it wrote.

    Args:
        outcome: the failed call.

    Returns:
        e.g. ``"raised ValueError"``, ``"was stopped early: it ran past its time limit"``;
        an exception of the student's own class is ``"raised an exception"``.
    """
    kind = outcome.error_type
    if kind == "MissingFunction":
        return "is not defined in the submission"
    if kind == "NotImplementedError":
        return "is not implemented yet (it raises NotImplementedError)"
    if kind == "NotLoaded":
        return "could not be loaded"
    if kind == "timeout":
        return "was stopped early: it ran past its time limit"
    if kind == "died":
        return "could not finish: its process stopped early"
    if kind in ("protocol", "ProtocolError"):
        return "returned more than the size limit, or an answer the grader could not read"
    return f"raised {kind}" if _builtin_name(kind, BaseException) else "raised an exception"


def value_category(received: Any, expected: Any) -> str:
    """The category of a numeric value that does not match the reference's.

    Args:
        received: the student's value.
        expected: the reference's.

    Returns:
        :data:`WRONG_TYPE`, :data:`WRONG_SHAPE`, :data:`NOT_FINITE` or :data:`DIFFERS`.
    """
    got = as_float_array(received)
    wanted = as_float_array(expected)
    if got is None:
        return WRONG_TYPE
    if wanted is None or got.shape != wanted.shape:
        return WRONG_SHAPE
    if np.any(~np.isfinite(got) & np.isfinite(wanted)):
        return NOT_FINITE
    return DIFFERS


def error_case(description: str, outcome: CallOutcome, function: str, hint: str) -> CaseResult:
    """A case whose call raised: say what it raised and where."""
    if outcome.error_type == "TypeError":
        hint = f"Keep the contract's signature: {contract_signature(function)}. {hint}"
    shown = with_call(outcome, message("a result", outcome.error_sentence(function), hint))
    full = with_call(
        outcome, message("a result", outcome.error_sentence(function, full=True), hint)
    )
    return CaseResult(
        description,
        False,
        shown,
        category=error_category(outcome),
        details=full if full != shown else "",
    )


def compare_case(
    description: str,
    outcome: CallOutcome,
    expected: Any,
    tolerance: Tolerance,
    *,
    function: str,
    hint: str,
    variants: dict[str, Callable[[], Any]] | list[tuple[str, Callable[[], Any]]] | None = None,
    scale: Any = None,
    label: str = "",
    convert: Callable[[Any], Any] | None = None,
    alternatives: list[Any] | None = None,
) -> CaseResult:
    """Compare a numeric result with the reference, diagnosing known mistakes.

    Args:
        description: what was checked.
        outcome: the student's call.
        expected: the reference's value.
        tolerance: the comparison's tolerance.
        function: the function's name, for messages.
        hint: the hint when no known mistake matches.
        variants: known mistakes' answers on the same inputs, by mistake id.
        scale: per-element magnitudes for cancellation-prone results.
        label: the value's name in messages.
        convert: applied to the received value before comparing (e.g. stacking a list).
        alternatives: other values that are right too (the same formula evaluated another
            valid way, where float64 rounding differs a lot, e.g. 1 - sigmoid(z) for large z).

    Returns:
        the case's result.
    """
    if not outcome.ok:
        return error_case(description, outcome, function, hint)
    received = outcome.value
    if convert is not None:
        try:
            received = convert(received)
        except Exception:  # noqa: BLE001 - the value is not of the expected form
            return CaseResult(
                description,
                False,
                with_call(
                    outcome, message(describe_type(expected), describe_type(outcome.value), hint)
                ),
                category=WRONG_TYPE,
            )
    if variants and expected_values.is_recording():  # a kit diagnoses from recorded answers
        for _, compute in variants.items() if isinstance(variants, dict) else variants:
            try:
                compute()
            except Exception:  # noqa: BLE001, S112 - a variant that does not apply
                continue
    comparison: Comparison = compare_arrays(received, expected, tolerance, scale=scale, label=label)
    if comparison.ok or any(
        compare_arrays(received, other, tolerance, scale=scale).ok for other in alternatives or []
    ):
        return CaseResult(description, True)
    mistake = None
    if variants:
        mistake = diagnose(
            received, variants, lambda got, wrong: compare_arrays(got, wrong, tolerance).ok
        )
    prefix = f"{label} = " if label else ""
    return CaseResult(
        description,
        False,
        with_call(
            outcome,
            message(
                prefix + format_array(expected),
                prefix + format_array(received),
                describe(mistake) if mistake else hint,
                comparison.report,
            ),
        ),
        mistake=mistake,
        category=value_category(received, expected),
        numpy_report=comparison.numpy,
    )


def warning_case(
    description: str, outcome: CallOutcome, hint: str, overflow_mistake: str | None = None
) -> CaseResult | None:
    """A failed case when the call raised runtime warnings; None when it did not.

    Args:
        description: what was checked.
        outcome: the call.
        hint: the hint for a warning that is not an overflow.
        overflow_mistake: the mistake an overflow warning means here.
    """
    if not outcome.ok or not outcome.warnings:
        return None
    mistake = None
    if overflow_mistake and any("overflow" in w for w in outcome.warnings):
        mistake = overflow_mistake
    hint = describe(mistake) if mistake else hint
    full = with_call(outcome, message("no warnings", "; ".join(outcome.warnings[:3]), hint))
    # A warning's text, and the name of a warning class of its own, are the student's:
    # the names of built-in warning classes only.
    names = [w.split(":")[0].strip() for w in outcome.warnings]
    kinds = ", ".join(dict.fromkeys(n if _builtin_name(n, Warning) else "its own" for n in names))
    category = f"{WARNED} of category {kinds}"
    if not outcome.hidden:
        return CaseResult(description, False, full, mistake=mistake, category=category)
    shown = message("no warnings", f"warnings of category {kinds}", hint)
    return CaseResult(description, False, shown, mistake=mistake, category=category, details=full)


def mutation_case(
    description: str, outcome: CallOutcome, mistake: str = "input_mutated"
) -> CaseResult | None:
    """A failed case when the call changed an argument; None when it did not."""
    if not outcome.mutated:
        return None
    which = ", ".join(f"argument {i + 1}" for i in outcome.mutated)
    return CaseResult(
        description,
        False,
        with_call(
            outcome,
            message("the inputs left unchanged", f"{which} changed by the call", describe(mistake)),
        ),
        mistake=mistake,
        category=CHANGED_INPUT,
    )


def run_check(name: str, runner: Runner, seed: int, public: bool = False) -> TestResult:
    """Run one registered check and score it.

    Args:
        name: the test's name, ``<part>.<function>``.
        runner: how to call the student's code.
        seed: the seed the cases are drawn from.
        public: whether these are the public cases (self-check).

    Returns:
        the TestResult, with partial credit in proportion to the cases passed.
    """
    import_checks(name.split(".")[0])
    check = REGISTRY[name]
    spec = contract_function(name)
    result = TestResult(name, spec.points, hidden=not public)
    scale = float(os.environ.get("GRADER_TIMEOUT_SCALE", "1") or 1)
    context = Context(
        runner,
        spec.part,
        spec.name,
        case_rng(seed, name),
        public=public,
        timeout=check.timeout * scale,
    )
    try:
        for case in in_order(_injected(name, check.run(context))):
            result.cases.append(case)
        result.notes.extend(context.notes)
        result.notes_details.extend(context.notes_details)
        result.figures.extend(context.figures)
    except PolicyViolation as violation:
        numpy_only = violation.part in NUMPY_ONLY_PARTS
        rule = (
            "part 1 derives gradients by hand with NumPy only and may not use tensorflow, "
            "keras, jax, torch or autograd"
            if numpy_only
            else "in part 3 this function is written from array operations, without the "
            "library's clip functions"
        )
        mistake = "policy_forbidden_import" if numpy_only else "policy_forbidden_call"
        result.cases.clear()
        result.verdict = (
            f"Scored 0: {violation} (seen as it ran): {rule}.\nHint: {describe(mistake)}"
        )
    except StopCheck as stop:
        outcome = stop.outcome
        sentence = outcome.error_sentence(spec.name)
        full = outcome.error_sentence(spec.name, full=True)
        if (
            outcome.error_type in ("MissingFunction", "NotImplementedError", "NotLoaded")
            or not result.cases
        ):
            result.verdict = sentence
            result.verdict_details = full if full != sentence else None
        else:
            _fail_remaining(result, check.cases, sentence, error_category(outcome), full)
    except MalformedAnswer as error:
        # The error's text may hold a value the student's code chose: the type only.
        kind = type(error.__cause__ or error).__name__
        kind = kind if _builtin_name(kind, BaseException) else "an error"
        _fail_remaining(
            result,
            check.cases,
            message(
                "a result the grader can check",
                f"a result the grader could not check ({kind})",
                "Return the type and form the contract names.",
            ),
            f"returned a result the grader could not check ({kind})",
        )
    except Exception:  # noqa: BLE001 - a grader fault must not cost other tests
        _grader_fault(result, check.cases, traceback.format_exc())
    finally:
        _background_done()
    return result


#: Set to a test's name (``<part>.<function>``) to make the grader's own code fail in that
#: check after its first case: a fire drill of how a grader fault is reported (the tests use
#: it, and an instructor can try a deployment with it). Read from the grader's environment,
#: which student code never sets.
INJECT_FAULT = "GRADER_INJECT_FAULT"


class InjectedFault(RuntimeError):
    """The fault :data:`INJECT_FAULT` asks for."""


def _injected(name: str, cases: Iterator[Any]) -> Iterator[Any]:
    """The check's cases, with a fault of the grader's after the first when asked for."""
    if os.environ.get(INJECT_FAULT) != name:
        yield from cases
        return
    for case in cases:
        yield case
        raise InjectedFault(f"a grader fault injected by {INJECT_FAULT}={name}")


def _grader_fault(result: TestResult, planned: int, trace: str) -> None:
    """The grader's own code failed while judging a case: that case and the ones after it are
    held at zero, named as the grader's fault (not the student's), and the traceback kept
    for the instructor (:attr:`grader.results.TestResult.grader_fault`)."""
    result.grader_fault = trace
    shown = message(
        "a verdict on this case",
        "none: the grader failed on this case (a fault in the grader's code, not in yours)",
        "Nothing to change for this test: your instructor has the details and will regrade it.",
    )
    result.cases.append(
        CaseResult(f"case {len(result.cases) + 1}", False, shown, category=GRADER_FAULT)
    )
    for index in range(len(result.cases), planned):
        result.cases.append(
            CaseResult(
                f"case {index + 1}",
                False,
                "Not checked: the grader failed on an earlier case of this test.",
                category=NOT_REACHED,
            )
        )


def _fail_remaining(
    result: TestResult, planned: int, sentence: str, category: str, full: str = ""
) -> None:
    """The case that stopped the check and every case it did not reach, each failed.

    So a test scores k/n for k cases passed out of its n, whichever case stopped it.
    """
    details = full if full != sentence else ""
    result.cases.append(
        CaseResult(
            f"case {len(result.cases) + 1}",
            False,
            sentence,
            category=category,
            details=details,
        )
    )
    for index in range(len(result.cases), planned):
        result.cases.append(
            CaseResult(
                f"case {index + 1}",
                False,
                "Not checked: an earlier case stopped this test.",
                category=NOT_REACHED,
            )
        )


def import_checks(part: str | None = None) -> None:
    """Import the checks of one part (or of all parts) so that they register themselves.

    TensorFlow is imported first, quietly, for the parts that need it.
    """
    for name in [part] if part else PARTS:
        if name not in NUMPY_ONLY_PARTS:
            import_tensorflow()
        importlib.import_module(f"grader.checks.parts.{name}")
