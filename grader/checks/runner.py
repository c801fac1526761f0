"""Calling a student's function, the same way in a worker process or in a notebook.

A check asks a runner to call ``<part>.<function>`` on arguments and gets back a
:class:`CallOutcome` of plain data. :class:`SubprocessRunner` runs the code in
:class:`~grader.isolation.sandbox.PartSandboxes` (part 1 in a worker without TensorFlow);
:class:`InProcessRunner` calls functions already defined in a notebook's kernel (the
self-check and nbgrader's test cells). Both send the answer through the same encoding,
so a check sees the same values either way.
"""

from __future__ import annotations

import builtins
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks.expected import trusted_steps
from grader.checks.oracle import TRUSTED, answer_callback, helpers_of
from grader.escaping import for_terminal
from grader.isolation.protocol import ProtocolError, decode, encode
from grader.isolation.sandbox import PartSandboxes, Sandbox, WorkerFailure
from grader.measuring.live import measurement_record
from grader.quiet import import_tensorflow
from grader.submission import PartCode
from grader.worker.calls import describe_error
from grader.worker.loading import Worker


@dataclass
class CallOutcome:
    """What one call of a student's function did, as plain data."""

    ok: bool
    value: Any = None
    error_type: str = ""
    error_message: str = ""
    where: str = ""
    warnings: list[str] = field(default_factory=list)
    mutated: list[int] = field(default_factory=list)
    state: list[Any] | None = None
    recorded: list[Any] | None = None
    #: the arguments' states after the call, as the worker returned them (plain data)
    after: list[Any] | None = None
    #: library rules broken while the function ran (seen by the worker's run-time guards)
    violations: list[str] = field(default_factory=list)

    #: whether the call ran on a hidden case: then what the student's code controls
    #: (exception text, exit status, sizes) stays out of the feedback shown at once
    hidden: bool = False
    #: on a public case, the call as a student can paste it into a cell and rerun it
    #: (:func:`grader.checks.shown_inputs.format_call`); empty on a hidden case
    shown_call: str = ""

    @property
    def not_implemented(self) -> bool:
        """Whether the function is still the stub."""
        return self.error_type == "NotImplementedError"

    def error_sentence(self, function: str, full: bool = False) -> str:
        """One sentence saying why the call produced no value.

        Args:
            function: the function's name.
            full: give the details (exception text, where, exit status) even on a hidden
                case; for the instructor and for feedback shown after the due date.
        """
        if self.error_type == "MissingFunction":
            return f"{function} is not defined in the submission."
        if self.error_type == "NotImplementedError":
            return f"{function} is not implemented yet (it raises NotImplementedError)."
        if self.hidden and not full:
            return self._category_sentence(function)
        if self.error_type == "timeout":
            return f"{function} was stopped: {self.error_message}."
        if self.error_type in ("died", "protocol"):
            return f"{function} could not finish: {self.error_message}."
        text = f"{function} raised {self.error_type}"
        if self.error_message:
            text += f": {self.error_message}"
        if self.where:
            text += f"\n{self.where.rstrip()}"
        return text

    def _category_sentence(self, function: str) -> str:
        """What went wrong, as a category only: nothing the student's code wrote."""
        later = "(on a hidden case: the details are kept for the instructor)"
        if self.error_type == "timeout":
            return f"{function} was stopped early: it ran past its time limit {later}."
        if self.error_type == "died":
            return f"{function} could not finish: its process stopped early {later}."
        if self.error_type in ("protocol", "ProtocolError"):
            return (
                f"{function} returned more than the size limit, or an answer the grader "
                f"could not read {later}."
            )
        name = self.error_type if _is_builtin_exception(self.error_type) else "an exception"
        return f"{function} raised {name} {later}."


def _is_builtin_exception(name: str) -> bool:
    """Whether ``name`` is a built-in exception's (a class the student cannot name freely)."""
    value = getattr(builtins, name, None)
    return isinstance(value, type) and issubclass(value, BaseException)


def _differs(sent: Any, after: Any) -> bool:
    """Whether an argument's state after the call differs from what the grader sent."""
    if after is None:
        return False  # not compared (a model, a scalar)
    if isinstance(after, list):
        if not isinstance(sent, (list, tuple)) or len(sent) != len(after):
            return True
        return any(_differs(s, a) for s, a in zip(sent, after))
    try:
        before = np.asarray(sent)
        now = np.asarray(after)
        if before.shape != now.shape:
            return True
        return not np.array_equal(before, now, equal_nan=now.dtype.kind in "fc")
    except (TypeError, ValueError):
        return True


def changed_arguments(sent: list[Any], after: list[Any] | None) -> list[int]:
    """Indices of the arguments the call changed, decided here from plain data.

    Args:
        sent: the arguments the grader sent.
        after: their states after the call, as the worker returned them; None when the
            answer holds none (a worker whose code was tampered with): then every array
            argument counts as changed.

    Returns:
        the indices of the changed arguments.
    """
    if after is None or not isinstance(after, list) or len(after) != len(sent):
        return [i for i, a in enumerate(sent) if isinstance(a, (np.ndarray, list))]
    return [i for i, (s, a) in enumerate(zip(sent, after)) if _differs(s, a)]


def _line(value: object, limit: int) -> str:
    """A text from the worker, cut to ``limit`` on receipt and put on one line (its controls
    and newlines shown escaped): what a student's code wrote never starts a line of its own,
    nor passes for a ``Hint:`` or a score line, in any report."""
    return for_terminal(str(value)[:limit])


def outcome_from_answer(answer: dict[str, Any]) -> CallOutcome:
    """Build a CallOutcome from a worker's answer message (validating it).

    Every text is cut to its length and put on one line here, on receipt (the worker's own
    cuts are not relied on); ``where`` (the student's lines) keeps its newlines, each line
    cleaned.
    """
    try:
        warnings = [_line(w, 500) for w in list(answer.get("warnings", []))[:20]]
        violations = [_line(v, 300) for v in list(answer.get("violations", []))[:5]]
        mutated = [int(i) for i in list(answer.get("mutated", []))[:64]]
        if answer.get("ok") is True:
            return CallOutcome(
                ok=True,
                value=decode(answer.get("result")),
                warnings=warnings,
                mutated=mutated,
                state=[decode(s) for s in answer["state"]] if answer.get("state") else None,
                recorded=decode(answer["recorded"]) if answer.get("recorded") else None,
                after=decode(answer["after"]) if answer.get("after") else None,
                violations=violations,
            )
        error = answer.get("error") or {}
        return CallOutcome(
            ok=False,
            error_type=_line(error.get("type", "Error"), 100),
            error_message=_line(error.get("message", ""), 2000),
            where=for_terminal(str(error.get("where", ""))[:4000], lines=True),
            warnings=warnings,
            mutated=mutated,
            violations=violations,
        )
    except (ProtocolError, AttributeError, KeyError, TypeError, ValueError) as error:
        return CallOutcome(
            ok=False, error_type="protocol", error_message=f"malformed answer ({error})"
        )


#: The contract's functions that return a Keras model (built from ``input_dim, depth, width``).
MODEL_BUILDERS = ("build_mlp", "build_exploding_mlp", "build_healthy_mlp")
#: What any answer may hold beyond its values: error texts, warnings, violations, framing.
_ANSWER_BASE_BYTES = 1 << 20
#: An answer's values are the same order of size as the call's inputs (a gradient per
#: weight, a clipped copy, the arguments' state after the call): at most this many times
#: their size as sent (array data as base64 in both directions).
_ANSWER_PER_REQUEST_BYTE = 4
#: A returned model's weights, as base64 of float64 (10.7 bytes each), and some room.
_BYTES_PER_WEIGHT = 12
#: A returned model's config, per layer (a Dense layer's JSON config is about 1.5 KB).
_BYTES_PER_LAYER = 16 << 10
#: How far a right model may go past the contract's plain layout (normalisation layers, a
#: wider input, a separate output activation) before its size alone makes it wrong; the
#: vetting of the model judges its size with the contract's own bound, this only keeps
#: the grader from reading more than any model it could accept.
_MODEL_ROOM = 4


def model_answer_bytes(input_dim: int, depth: int, width: int) -> int:
    """The largest answer a model builder's call may send, from the case's sizes."""
    input_dim, depth, width = (max(int(v), 1) for v in (input_dim, depth, width))
    weights = (input_dim + 1) * width + (depth - 1) * (width + 1) * width + width + 1
    weights += 4 * depth * width  # normalisation layers' parameters
    layers = 4 * (depth + 2)
    return _MODEL_ROOM * (weights * _BYTES_PER_WEIGHT + layers * _BYTES_PER_LAYER)


def answer_limit(message: dict[str, Any]) -> int:
    """The largest answer, in bytes, that a request can need: what the grader reads at most.

    Derived from the contract and the request itself, never from the worker's own limits:
    a ``load`` answer is its cells' error texts and the names defined; a ``call`` answer
    is at most a few times the call's inputs, plus a model's weights and config for a
    model builder (:func:`model_answer_bytes`); a ``measure`` answer is a few hundred
    figures. A longer answer is refused from its header, before it is read
    (:meth:`grader.isolation.sandbox.Sandbox.request`).
    """
    op = message.get("op")
    if op == "load":
        return _ANSWER_BASE_BYTES + len(message.get("cells", [])) * (8 << 10)
    if op == "measure":
        return 4 * _ANSWER_BASE_BYTES
    request = len(json.dumps(message, allow_nan=False))
    limit = _ANSWER_BASE_BYTES + _ANSWER_PER_REQUEST_BYTE * request
    if message.get("function") in MODEL_BUILDERS:
        try:
            sizes = [int(v) for v in decode(message.get("args"))[:3]]
        except (ProtocolError, TypeError, ValueError):
            sizes = []
        if len(sizes) == 3:
            limit += model_answer_bytes(*sizes)
    return limit


#: On receipt, the longest of each text a load answer carries (the worker's own cuts are
#: not relied on) and the most cell errors it may list (one per cell sent).
_LABEL_CHARS, _TYPE_CHARS, _MESSAGE_CHARS, _NAME_CHARS, _SIGNATURE_CHARS = 200, 100, 2000, 100, 500
_MAX_NAMES = 1000


def read_load_answer(answer: dict[str, Any], cells: int) -> dict[str, Any]:
    """A worker's ``load`` answer, checked and cut to size on receipt.

    Args:
        answer: the answer as it arrived.
        cells: how many cells were sent (at most one error each).

    Returns:
        ``{"ok", "errors": [{"label", "type", "message"}], "functions": {name: signature}}``
        of plain built-in values within the lengths above; a malformed answer reads as a
        failed load.
    """
    try:
        errors = []
        for error in list(answer.get("errors") or [])[:cells]:
            errors.append(
                {
                    "label": _line(error.get("label", ""), _LABEL_CHARS),
                    "type": _line(error.get("type", "Error"), _TYPE_CHARS),
                    "message": _line(error.get("message", ""), _MESSAGE_CHARS),
                }
            )
        defined = answer.get("functions") or {}
        if not isinstance(defined, dict):
            raise TypeError("functions is not a mapping")
        functions = {
            _line(name, _NAME_CHARS): _line(signature, _SIGNATURE_CHARS)
            for name, signature in list(defined.items())[:_MAX_NAMES]
        }
        read = {
            "ok": answer.get("ok") is True,
            "errors": errors,
            "functions": functions,
        }
        if not read["ok"]:
            read["failure"] = _line(answer.get("failure", "died"), _TYPE_CHARS)
            read["message"] = _line(answer.get("message", ""), _MESSAGE_CHARS)
        return read
    except (AttributeError, TypeError, ValueError):
        return {
            "ok": False,
            "failure": "protocol",
            "message": "the worker sent a malformed answer to loading the code",
            "errors": [],
            "functions": {},
        }


def _within(outcome: CallOutcome, deadline: float, timeout: float) -> CallOutcome:
    """The outcome, or a time-out when reading and decoding the answer ran past the call's
    deadline (the decoding of a large answer counts in the call's time)."""
    if time.monotonic() <= deadline:
        return outcome
    return CallOutcome(
        ok=False,
        error_type="timeout",
        error_message=f"it ran past the time limit of {timeout:g} s",
    )


def call_message(
    part: str,
    function: str,
    args: list[Any],
    kwargs: dict[str, Any] | None = None,
    *,
    kinds: list[str | None] | None = None,
    state_of: list[int] | None = None,
    record: str | None = None,
    build_dim: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The request to call ``part.function``, as a worker reads it.

    Args:
        part: the part.
        function: the function's name.
        args: positional arguments (plain data, models as ModelSpec).
        kwargs: keyword arguments.
        kinds: per argument, the form the function receives it in (see
            :func:`grader.worker.calls.convert_argument`).
        state_of: indices of model arguments whose weights to return after the call.
        record: a helper whose results to record during the call.
        build_dim: input width to build a returned model that has no weights yet.
        seed: the seed set before the call.

    Returns:
        the message, with the helpers the reference answers for (:mod:`grader.checks.oracle`).
    """
    test_name = f"{part}.{function}"
    return {
        "op": "call",
        "part": part,
        "function": function,
        "args": encode(list(args)),
        "kwargs": encode(dict(kwargs or {})),
        "kinds": kinds,
        "state_of": state_of,
        "record": record,
        "build_dim": build_dim,
        "seed": seed,
        "helpers": helpers_of(test_name),
        "trusted": TRUSTED.get(test_name, []),
    }


class Runner:
    """Calls a student's function and describes the outcome; subclasses say where."""

    def call(
        self,
        part: str,
        function: str,
        args: list[Any],
        kwargs: dict[str, Any] | None = None,
        *,
        timeout: float = 30.0,
        **options: Any,
    ) -> CallOutcome:
        """Call ``part.function`` on ``args``.

        Args:
            part: the part.
            function: the function's name.
            args: positional arguments.
            kwargs: keyword arguments.
            timeout: seconds the call may take (where the runner can enforce it).
            **options: the other fields of :func:`call_message`.

        Returns:
            the call's outcome as plain data.
        """
        message = call_message(part, function, args, kwargs, **options)
        outcome = self._send(part, message, timeout)
        if outcome.ok:
            outcome.mutated = changed_arguments(list(args), outcome.after)
        return outcome

    def _send(self, part: str, message: dict[str, Any], timeout: float) -> CallOutcome:
        raise NotImplementedError


class SubprocessRunner(Runner):
    """Runs a submission's parts in worker processes: the NumPy-only parts in the worker
    that never imported an autodiff library, the others in the TensorFlow worker
    (:class:`~grader.isolation.sandbox.PartSandboxes`).

    Args:
        sandbox: the workers to use; one Sandbox is used for the parts of its kind, with
            its companion for the others (:meth:`PartSandboxes.around`).
        parts: the submission's code, by part.
    """

    def __init__(self, sandbox: Sandbox | PartSandboxes, parts: dict[str, PartCode]) -> None:
        self.sandbox = PartSandboxes.around(sandbox)
        self.parts = parts
        #: per part, the load answer and the generation of its worker it belongs to
        self._loaded: dict[str, tuple[int, dict[str, Any]]] = {}
        #: per part, its first load answer (see :meth:`first_load`)
        self._first: dict[str, dict[str, Any]] = {}

    def load(self, part: str, timeout: float = 60.0) -> dict[str, Any]:
        """Load a part's code into its worker (again after a restart).

        Returns:
            the load answer: ``errors`` per failed cell and the ``functions`` defined.
        """
        worker = self.sandbox.for_part(part)
        try:
            worker.ensure_child()
        except WorkerFailure as failure:
            return {"ok": False, "failure": failure.kind, "message": str(failure)}
        loaded = self._loaded.get(part)
        if loaded is None or loaded[0] != worker.generation:
            code = self.parts[part]
            cells = [{"label": label, "source": source} for label, source in code.cells]
            request = {"op": "load", "part": part, "cells": cells}
            try:
                answer = read_load_answer(
                    worker.request(request, timeout, max_bytes=answer_limit(request)),
                    len(cells),
                )
            except WorkerFailure as failure:
                answer = {"ok": False, "failure": failure.kind, "message": str(failure)}
            # After a failure the answer stays for the restarted worker: not loaded again.
            self._loaded[part] = (worker.generation, answer)
            self._first.setdefault(part, answer)
        return self._loaded[part][1]

    def load_all(self) -> None:
        """Load every part before any function is called (see :meth:`first_load`)."""
        for part in self.parts:
            self.load(part)

    def first_load(self, part: str) -> dict[str, Any]:
        """The part's first load answer, the one whose errors a report may show.

        When every part is loaded before any call (:meth:`load_all`), what a cell's error
        says was written before any case was run: code that saw a hidden case's inputs in
        one part cannot pass them on through a later part's load error.
        """
        return self._first.get(part) or self.load(part)

    def _send(self, part: str, message: dict[str, Any], timeout: float) -> CallOutcome:
        loaded = self.load(part)
        if not loaded.get("ok"):
            return CallOutcome(
                ok=False,
                error_type=loaded.get("failure", "died"),
                error_message=loaded.get("message", ""),
            )
        allowed = message["helpers"]
        deadline = time.monotonic() + timeout
        try:
            answer = self.sandbox.for_part(part).request(
                message,
                timeout,
                on_callback=lambda m: answer_callback(part, allowed, m, deadline),
                max_bytes=answer_limit(message),
            )
        except WorkerFailure as failure:
            return CallOutcome(ok=False, error_type=failure.kind, error_message=str(failure))
        return _within(outcome_from_answer(answer), deadline, timeout)

    def measure(
        self,
        part: str,
        function: str,
        args: list[Any],
        data: list[Any],
        *,
        kwargs: dict[str, Any] | None = None,
        kind: str = "exploding",
        steps: int = 0,
        learning_rate: float = 0.0,
        seed: int = 0,
        timeout: float = 60.0,
    ) -> CallOutcome:
        """Build a model with ``part.function`` in a FRESH process and measure it there.

        For a model the grader cannot rebuild from built-in parts: the worker loads the
        part again in a new process and runs
        :func:`grader.measuring.in_worker.measure_in_worker` on the model, returning plain
        data (layout, gradient norms, and for ``healthy`` the losses of a training run),
        which the check reads with :func:`grader.measuring.reading.read_measurement`.

        Args:
            part: the part.
            function: the builder's name.
            args: its positional arguments (input_dim, depth, width).
            data: the measuring inputs ``[x, y]``, and for ``healthy`` the training task's
                ``[x, y, task_x, task_y]``.
            kwargs: its keyword arguments (``seed``).
            kind: the measurement (:data:`grader.measuring.in_worker.MEASURE_KINDS`).
            steps: SGD steps of the training run (``healthy``).
            learning_rate: their learning rate.
            seed: the seed set before the call.
            timeout: seconds the building and measuring may take, together.

        Returns:
            the outcome; its value is the measurement's record.
        """
        try:
            self.sandbox.begin()  # a fresh process: nothing of earlier calls remains
        except WorkerFailure as failure:
            return CallOutcome(ok=False, error_type=failure.kind, error_message=str(failure))
        loaded = self.load(part)
        if not loaded.get("ok"):
            return CallOutcome(
                ok=False,
                error_type=loaded.get("failure", "died"),
                error_message=loaded.get("message", ""),
            )
        message = {
            "op": "measure",
            "part": part,
            "function": function,
            "args": encode(list(args)),
            "kwargs": encode(dict(kwargs or {})),
            "data": encode(list(data)),
            "kind": kind,
            "steps": int(steps),
            "learning_rate": float(learning_rate),
            "seed": seed,
        }
        deadline = time.monotonic() + timeout
        try:
            answer = self.sandbox.request(message, timeout, max_bytes=answer_limit(message))
        except WorkerFailure as failure:
            return CallOutcome(ok=False, error_type=failure.kind, error_message=str(failure))
        return _within(outcome_from_answer(answer), deadline, timeout)


class InProcessRunner(Runner):
    """Calls functions defined in this process (a notebook's kernel), with no time limit.

    The call goes through the worker's own code and the same encoding as a worker's
    answer, so a check sees the same values as from :class:`SubprocessRunner`.

    Args:
        functions: the student's namespace: callables by name.
    """

    #: A model of the student's own parts is measured in this process, not a fresh one
    #: (:meth:`measure`): the feedback's note says so.
    measures_in_process = True
    #: What :meth:`measure` measures with: the gradient norms' function, the training
    #: run's, and the exception saying a kit could not measure. Given by
    #: :mod:`grader.checks.measurer` when it is imported (it imports the registry, which
    #: imports this module, so this module does not import it).
    measurers: tuple[Callable[..., Any], Callable[..., Any], type[Exception]] | None = None

    def __init__(self, functions: dict[str, Callable[..., Any]]) -> None:
        self.functions = functions

    def _send(self, part: str, message: dict[str, Any], timeout: float) -> CallOutcome:
        allowed = message["helpers"]
        worker = Worker(ask=lambda m: json.loads(json.dumps(answer_callback(part, allowed, m))))
        worker.namespaces[part] = self.functions
        with trusted_steps():  # recorded, or replayed in a student kit
            answer = worker.call(json.loads(json.dumps(message)))
        return outcome_from_answer(json.loads(json.dumps(answer)))

    def measure(
        self,
        part: str,
        function: str,
        args: list[Any],
        data: list[Any],
        *,
        kwargs: dict[str, Any] | None = None,
        kind: str = "exploding",
        steps: int = 0,
        learning_rate: float = 0.0,
        seed: int = 0,
        timeout: float = 60.0,
    ) -> CallOutcome:
        """Build a model with ``function`` here and measure it, as
        :meth:`SubprocessRunner.measure` does in a fresh worker.

        The record is the worker's (:func:`grader.measuring.live.measurement_record`),
        its figures from :mod:`grader.checks.measurer`: the grader's own measuring code in
        the full package; in a student kit, which holds none, the student's own
        ``dense_grad_norms`` once it passes its public check, and Keras's ``fit``. The
        answer goes through the worker's encoding, so a check reads the same form either
        way. ``timeout`` is not enforced (a notebook's kernel has no time limit).

        Returns:
            the outcome; its value is the measurement's record. When the kit could not
            measure (:class:`grader.checks.measurer.NotMeasured`: the student's
            ``dense_grad_norms`` raised), a failed outcome of that error type saying why.
        """
        builder = self.functions.get(function)
        if not callable(builder):
            return CallOutcome(ok=False, error_type="MissingFunction", error_message=function)
        if self.measurers is None:
            return CallOutcome(ok=False, error_type="died", error_message="nothing to measure with")
        norms_of, train, not_measured = self.measurers
        try:
            np.random.seed(seed)
            import_tensorflow()
            sys.modules["keras"].utils.set_random_seed(seed)
            model = builder(*args, **dict(kwargs or {}))  # called as the worker calls it
            input_dim, depth, width = (int(a) for a in args[:3])
            if not model.built:
                model.build((None, input_dim))
            measured = measurement_record(
                model,
                input_dim,
                depth,
                width,
                *data,
                norms_of=norms_of,
                train=train,
                kind=kind,
                steps=steps,
                learning_rate=learning_rate,
            )
            answer = {"ok": True, "result": encode(measured)}
        except not_measured as error:
            return CallOutcome(ok=False, error_type=type(error).__name__, error_message=str(error))
        except Exception as error:  # noqa: BLE001 - the student's code may raise anything
            answer = {"ok": False, "error": describe_error(error)}
        return outcome_from_answer(json.loads(json.dumps(answer)))
