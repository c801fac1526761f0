"""A submission's parts as the worker holds them: one module namespace per loaded part.

:class:`Worker` runs a part's code cells into a fresh module, then answers the grader's
``load``, ``call`` and ``measure`` requests with plain data; the serving loop
(:mod:`grader.worker.serve`) and the in-notebook runner
(:class:`grader.checks.runner.InProcessRunner`) both use it.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.assignment import NUMPY_ONLY_PARTS
from grader.isolation.libraries import CLIPPING_ARRAY_FUNCTIONS
from grader.isolation.protocol import decode, encode
from grader.quiet import import_tensorflow
from grader.worker.calls import (
    OwnHelper,
    convert_argument,
    describe_error,
    execute_call,
    plain_result,
)
from grader.worker.clip_watch import ClipRecorder, watch_clip_functions
from grader.worker.guards import NumpyOnly

try:
    # full package only: measuring a model computes dense_grad_norms' answer, so a kit lacks it
    from grader.measuring.in_worker import measure_in_worker
except ModuleNotFoundError as missing:  # a student kit, and only a kit
    if missing.name != "grader.measuring.in_worker":
        raise
    measure_in_worker = None

#: Names a notebook's setup cell imports from the grader; inside the worker they do nothing.
NOTEBOOK_HELPERS = ("check", "grade", "hint")


def strip_notebook_only(source: str) -> str:
    """Comment out IPython magics and shell escapes, which plain Python cannot run."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # " + stripped
        lines.append(line)
    return "\n".join(lines) + "\n"


class Worker:
    """The worker's state: one module namespace per loaded part."""

    def __init__(
        self, ask: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    ) -> None:
        """Args:
        ask: sends a callback message to the grader and returns its reply.
        """
        self.namespaces: dict[str, dict[str, Any]] = {}
        #: per NumPy-only part, the libraries its code reached while it loaded
        self.load_reached: dict[str, list[str]] = {}
        self.ask = ask
        # Taken before any student code loads: replacing grader.worker.calls.execute_call
        # (or this module's name for it) from the student's module does not change what
        # this worker runs.
        self._execute = execute_call
        self._clip_recorder = ClipRecorder  # likewise: the module's name for it may change

    def callback(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Ask the grader for the reference value of helper ``name``.

        Raises:
            OwnHelper: when the grader declines the call: the student's helper runs.
        """
        reply = None
        if self.ask is not None:
            reply = self.ask(
                {
                    "op": "callback",
                    "function": name,
                    "args": encode(plain_result(args)),
                    "kwargs": encode(plain_result(kwargs)),
                }
            )
        if not reply or reply.get("own") or not reply.get("ok"):
            # Declined (order, bounds, time, a failing reference) or unanswered: the
            # student's own helper runs, as it would in Python.
            raise OwnHelper(name)
        return convert_argument(decode(reply["result"]), None)

    def load(self, part: str, cells: list[dict[str, str]]) -> dict[str, Any]:
        """Run a part's code cells, each on its own, into a fresh module namespace."""
        module = types.ModuleType(part)
        module.__file__ = f"<submission {part}>"
        namespace = module.__dict__
        for name in NOTEBOOK_HELPERS:
            namespace[name] = lambda *args, **kwargs: None
        sys.modules[f"submission_{part}"] = module
        errors = []
        guard = NumpyOnly() if part in NUMPY_ONLY_PARTS else contextlib.nullcontext()
        if part not in NUMPY_ONLY_PARTS:
            watch_clip_functions()  # before the part's code can copy a clip function
        with guard:
            self._run_cells(cells, namespace, errors)
        reached = getattr(guard, "reached", [])
        self.load_reached[part] = list(reached)
        self.namespaces[part] = namespace
        functions = {}
        for name, value in namespace.items():
            if callable(value) and not name.startswith("_") and name not in NOTEBOOK_HELPERS:
                functions[name] = _signature(value)
        answer = {"ok": True, "errors": errors, "functions": functions}
        if reached:
            answer["reached"] = reached
        return answer

    def _run_cells(
        self, cells: list[dict[str, str]], namespace: dict[str, Any], errors: list[Any]
    ) -> None:
        for cell in cells:
            label = cell["label"]
            try:
                code = compile(strip_notebook_only(cell["source"]), f"<submission {label}>", "exec")
                exec(code, namespace)  # noqa: S102 - running student code is this module's job
            except SystemExit as error:
                errors.append(
                    {
                        "label": label,
                        "type": "SystemExit",
                        "message": f"exit({error.code})",
                        "where": "",
                    }
                )
            except BaseException as error:  # noqa: BLE001
                if isinstance(error, KeyboardInterrupt):
                    errors.append(
                        {"label": label, "type": "KeyboardInterrupt", "message": "", "where": ""}
                    )
                    continue
                errors.append({"label": label, **describe_error(error)})

    def measure(self, message: dict[str, Any]) -> dict[str, Any]:
        """Build a model with the student's function and measure it with the grader's code.

        Used in a fresh process for a model the grader cannot rebuild from built-in parts
        (:func:`grader.measuring.in_worker.measure_in_worker`, of the ``kind`` the message names:
        ``exploding`` or ``healthy``). The measuring runs in the student's process because
        the model's own code must run; the function was captured when this module was
        imported, before any student code, and only plain data returns. The grader reads
        the answer as hostile data (:func:`grader.measuring.reading.read_measurement`).
        """
        namespace = self.namespaces.get(message["part"]) or {}
        function = namespace.get(message["function"])
        if not callable(function):
            return {
                "ok": False,
                "error": {"type": "MissingFunction", "message": message["function"], "where": ""},
            }
        try:
            args = decode(message.get("args", {"__list__": []}))
            kwargs = decode(message.get("kwargs", {"__dict__": {}}))
            data = decode(message.get("data", {"__list__": []}))
            seed = int(message.get("seed", 0))
            options = {
                "kind": str(message.get("kind", "exploding")),
                "steps": int(message.get("steps", 0)),
                "learning_rate": float(message.get("learning_rate", 0.0)),
            }
            np.random.seed(seed)
            import_tensorflow()
            sys.modules["keras"].utils.set_random_seed(seed)
            model = function(*args, **kwargs)  # called as the check calls it
            input_dim, depth, width = (int(a) for a in args[:3])
            if not model.built:
                model.build((None, input_dim))
            if _MEASURE is None:
                raise RuntimeError("a student kit does not measure models in a worker")
            measured = _MEASURE(model, input_dim, depth, width, *data, **options)
            return {"ok": True, "result": encode(measured)}
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            return {"ok": False, "error": describe_error(error)}

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        """Call one function of a loaded part."""
        namespace = self.namespaces.get(message["part"])
        if namespace is None:
            return {
                "ok": False,
                "error": {"type": "NotLoaded", "message": message["part"], "where": ""},
            }
        function = namespace.get(message["function"])
        if not callable(function):
            return {
                "ok": False,
                "error": {"type": "MissingFunction", "message": message["function"], "where": ""},
            }
        try:
            args = decode(message.get("args", {"__list__": []}))
            kwargs = decode(message.get("kwargs", {"__dict__": {}}))
        except Exception as error:  # noqa: BLE001
            return {
                "ok": False,
                "error": {"type": "ProtocolError", "message": str(error), "where": ""},
            }
        part = message["part"]
        if part in NUMPY_ONLY_PARTS:
            guard: Any = NumpyOnly()
        elif part == "clipping" and message["function"] in CLIPPING_ARRAY_FUNCTIONS:
            guard = self._clip_recorder()
        else:
            guard = contextlib.nullcontext()
        try:
            with guard:
                answer = self._execute(
                    function,
                    args,
                    kwargs,
                    kinds=message.get("kinds"),
                    state_of=message.get("state_of"),
                    namespace=namespace,
                    record=message.get("record"),
                    build_dim=message.get("build_dim"),
                    seed=int(message.get("seed", 0)),
                    helpers=message.get("helpers"),
                    callback=self.callback,
                    trusted=message.get("trusted"),
                )
        except Exception as error:  # noqa: BLE001 - e.g. a result that cannot be encoded
            return {"ok": False, "error": describe_error(error)}
        violations = []
        if getattr(guard, "reached", None):
            violations.append(f"reached {', '.join(guard.reached)} while it ran")
        elif not answer.get("ok") and self.load_reached.get(part):
            # It failed after its part's code tried, while loading, to reach a library
            # that a NumPy-only part does not have: that attempt is the reason given.
            reached = ", ".join(self.load_reached[part])
            violations.append(f"reached {reached} while its part's code loaded")
        if getattr(guard, "calls", None):
            violations.append(f"called {', '.join(sorted(set(guard.calls)))} while it ran")
        if getattr(guard, "tampered", None):
            violations.append(f"ran after its part's code {'; '.join(guard.tampered)}")
        if violations:
            answer["violations"] = violations
        return answer


#: The grader's measuring code, referenced when this module is imported (before any
#: student code is loaded); None in a student kit, which measures in no worker.
_MEASURE = measure_in_worker


def _signature(value: Any) -> str:
    try:
        return str(inspect.signature(value))
    except (TypeError, ValueError):
        return "(...)"
