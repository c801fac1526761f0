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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks.expected import trusted_steps
from grader.checks.oracle import TRUSTED, answer_callback, helpers_of
from grader.isolation.protocol import ProtocolError, decode, encode
from grader.isolation.sandbox import PartSandboxes, Sandbox, WorkerFailure
from grader.submission import PartCode
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


def outcome_from_answer(answer: dict[str, Any]) -> CallOutcome:
    """Build a CallOutcome from a worker's answer message (validating it)."""
    try:
        if answer.get("ok") is True:
            return CallOutcome(
                ok=True,
                value=decode(answer.get("result")),
                warnings=[str(w)[:500] for w in answer.get("warnings", [])][:20],
                mutated=[int(i) for i in answer.get("mutated", [])],
                state=[decode(s) for s in answer["state"]] if answer.get("state") else None,
                recorded=decode(answer["recorded"]) if answer.get("recorded") else None,
                after=decode(answer["after"]) if answer.get("after") else None,
                violations=[str(v)[:300] for v in answer.get("violations", [])][:5],
            )
        error = answer.get("error") or {}
        return CallOutcome(
            ok=False,
            error_type=str(error.get("type", "Error"))[:100],
            error_message=str(error.get("message", ""))[:2000],
            where=str(error.get("where", ""))[:4000],
            warnings=[str(w)[:500] for w in answer.get("warnings", [])][:20],
            mutated=[int(i) for i in answer.get("mutated", [])],
            violations=[str(v)[:300] for v in answer.get("violations", [])][:5],
        )
    except (ProtocolError, KeyError, TypeError, ValueError) as error:
        return CallOutcome(
            ok=False, error_type="protocol", error_message=f"malformed answer ({error})"
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
            try:
                answer = worker.request({"op": "load", "part": part, "cells": cells}, timeout)
            except WorkerFailure as failure:
                answer = {"ok": False, "failure": failure.kind, "message": str(failure)}
            # After a failure the answer stays for the restarted worker: not loaded again.
            self._loaded[part] = (worker.generation, answer)
        return self._loaded[part][1]

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
                message, timeout, on_callback=lambda m: answer_callback(part, allowed, m, deadline)
            )
        except WorkerFailure as failure:
            return CallOutcome(ok=False, error_type=failure.kind, error_message=str(failure))
        return outcome_from_answer(answer)

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
        try:
            answer = self.sandbox.request(message, timeout)
        except WorkerFailure as failure:
            return CallOutcome(ok=False, error_type=failure.kind, error_message=str(failure))
        return outcome_from_answer(answer)


class InProcessRunner(Runner):
    """Calls functions defined in this process (a notebook's kernel), with no time limit.

    The call goes through the worker's own code and the same encoding as a worker's
    answer, so a check sees the same values as from :class:`SubprocessRunner`.

    Args:
        functions: the student's namespace: callables by name.
    """

    def __init__(self, functions: dict[str, Callable[..., Any]]) -> None:
        self.functions = functions

    def _send(self, part: str, message: dict[str, Any], timeout: float) -> CallOutcome:
        allowed = message["helpers"]
        worker = Worker(ask=lambda m: json.loads(json.dumps(answer_callback(part, allowed, m))))
        worker.namespaces[part] = self.functions
        with trusted_steps():  # recorded, or replayed in a student kit
            answer = worker.call(json.loads(json.dumps(message)))
        return outcome_from_answer(json.loads(json.dumps(answer)))
