"""The reference value of a helper, so one broken function costs only its own tests.

While the grader checks one function, the contract functions of its part that come
*before* it in the contract's order and that the student's code calls (``chain_gradients``
calling ``chain_forward``, ``build_exploding_mlp`` calling ``build_mlp``) are answered by
the reference: the worker sends the arguments as plain data, this module computes the
reference's result in the grader's process and sends it back as plain data. The reference
code itself never enters the student's process.

The reference answers only when all of these hold, and the student's own code runs
otherwise:

- the helper comes before the function under test in the contract's order, so two
  functions that call each other fail as they would in Python, and no test can ask for
  the answers of a later test;
- its arguments are plain data within the sizes of the contract's cases
  (:func:`within_bounds`), so one call cannot make the grader build a huge model;
- it finishes within the time left to the student's call (:func:`reference_value`).

In a student kit the answers are the values recorded on the public cases
(:mod:`grader.checks.expected`). ``clipped_train_step`` works on live Keras objects, so
``train_with_clipping`` is run with the grader's own step instead
(:mod:`grader.worker.trusted_step`; replayed from recorded values in a kit, which does not
hold it).
"""

from __future__ import annotations

import inspect
import json
import signal
import threading
import time
from collections import OrderedDict, defaultdict
from typing import Any

import numpy as np

from grader.assignment import functions_of
from grader.checks import expected
from grader.isolation.protocol import KerasObjectSpec, ModelSpec, OptimizerSpec, decode, encode
from grader.measuring.rebuild import rebuild_keras_object
from grader.quiet import import_tensorflow
from grader.worker.calls import plain_result

#: Contract functions whose arguments or results are live objects, never answered here.
LIVE_OBJECT_FUNCTIONS = {"dense_grad_norms", "clipped_train_step", "train_with_clipping"}
#: Helpers replaced by a step written in the worker, per function under test.
TRUSTED = {"clipping.train_with_clipping": ["clipped_train_step"]}


#: Most array elements (all arguments together) a helper call may pass to the reference:
#: the largest contract case (a 30-neuron chain on 64 samples, a 64-unit layer) fits.
MAX_ELEMENTS = 4096
#: Largest size (input_dim, depth, width) a builder helper call may pass.
MAX_INTEGER = 256
#: Most weights a model built by a reference helper may have (a 30 x 64 contract MLP fits).
MAX_WEIGHTS = 200_000
#: Builders: the positions of (input_dim, depth, width) in their signatures.
_BUILDERS = {"build_mlp", "build_exploding_mlp", "build_healthy_mlp"}


def helpers_of(test_name: str) -> list[str]:
    """The helpers answered by the reference while ``test_name`` runs.

    Only the functions of the same part that come before ``test_name`` in the contract's
    order (and whose arguments are plain data).
    """
    part, name = test_name.split(".")
    names = [f.name for f in functions_of(part)]
    earlier = names[: names.index(name)] if name in names else []
    return [n for n in earlier if n not in LIVE_OBJECT_FUNCTIONS]


def _elements(value: Any) -> int:
    """How many numbers a plain argument holds (nested lists and arrays counted in full)."""
    if isinstance(value, np.ndarray):
        return int(value.size)
    if isinstance(value, (list, tuple)):
        return sum(_elements(v) for v in value) + 1
    if isinstance(value, dict):
        return sum(_elements(v) for v in value.values()) + 1
    return 1


def within_bounds(name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """Why a helper call is too big for the reference, or ``""`` when it is within bounds.

    Args:
        name: the helper's name.
        args: its decoded positional arguments.
        kwargs: its decoded keyword arguments.

    Returns:
        an empty string, or one sentence naming the bound exceeded.
    """
    values = list(args) + list(kwargs.values())
    elements = sum(_elements(v) for v in values)
    if elements > MAX_ELEMENTS:
        return f"its arguments hold {elements} numbers, over the bound of {MAX_ELEMENTS}"
    if name in _BUILDERS:
        sizes = [int(v) for v in args[:3] if isinstance(v, (int, np.integer))]
        if any(abs(v) > MAX_INTEGER for v in sizes):
            return f"a size (input_dim, depth, width) is over the bound of {MAX_INTEGER}"
        if len(sizes) == 3:
            input_dim, depth, width = sizes
            weights = (input_dim + 1) * width + max(depth - 1, 0) * (width + 1) * width + width
            if weights > MAX_WEIGHTS:
                return f"the model would have {weights} weights, over the bound of {MAX_WEIGHTS}"
    return ""


def _keras_object(value: Any) -> Any:
    """Rebuild a serialised built-in Keras object (safe mode: no custom code)."""
    if isinstance(value, KerasObjectSpec):
        return rebuild_keras_object(value.config)
    return value


class ReferenceTimeout(Exception):
    """The reference did not finish within the time left to the student's call."""


def _with_time_limit(seconds: float | None, run: Any) -> Any:
    """``run()``, interrupted after ``seconds`` (when called in the main thread)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        return run()
    if seconds <= 0:
        raise ReferenceTimeout("no time was left")

    def stop(signum: int, frame: Any) -> None:
        raise ReferenceTimeout(f"it took more than {seconds:.3g} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def reference_value(
    part: str,
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    time_limit: float | None = None,
) -> Any:
    """Call the reference ``part.name`` on plain arguments; return a plain result.

    Args:
        part: the part.
        name: the function.
        args: plain positional arguments.
        kwargs: plain keyword arguments.
        time_limit: seconds the reference may take (None: no limit).

    Raises:
        ValueError: for a function that the oracle does not answer, or arguments over
            the contract's sizes (:func:`within_bounds`).
        ReferenceTimeout: when the reference takes longer than ``time_limit``.
    """
    if name not in [f.name for f in functions_of(part)] or name in LIVE_OBJECT_FUNCTIONS:
        raise ValueError(f"{part}.{name} is not answered by the reference")
    too_big = within_bounds(name, args, kwargs)
    if too_big:
        raise ValueError(f"the call is larger than the contract's cases: {too_big}")
    if part != "chain_rule":
        import_tensorflow()

    function = getattr(expected.reference(part), name)

    def run() -> Any:
        return plain_result(function(*args, **kwargs))

    if name in _BUILDERS:
        return _with_time_limit(time_limit, lambda: _with_fresh_names(run))
    return _with_time_limit(time_limit, run)


def _with_fresh_names(run: Any) -> Any:
    """``run()`` with Keras's automatic names counted from zero, as in a fresh process.

    A model the reference builds is named from Keras's counters (``sequential_3``,
    ``dense_41``), which count every model built in this process before: by the grader's
    own reference work, or for the students graded before in a batch. Counted from zero,
    the answer is the same whichever student comes first and however many processes
    grade the class, and an answer kept for the next student (:data:`_ANSWERS`) is the
    one a fresh build would give.
    """
    # lazy: Keras loads through import_tensorflow (quietly) before a builder is answered
    from keras.src.backend.common import global_state  # the counters' home (Keras 3)

    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", defaultdict(int))
    try:
        return run()
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


#: The reference's answers to builder calls with an integer seed, by the call's plain
#: arguments, oldest first: such a call builds the same weights every time, and every
#: student of a batch who calls the reference's ``build_mlp`` on a hidden case makes the
#: same call, so the model is built and encoded once per grading process.
_ANSWERS: OrderedDict[str, Any] = OrderedDict()
#: Most answers kept (a contract model of 30 x 64 encodes to about 0.7 MB).
MAX_REMEMBERED_ANSWERS = 32


def _answer_key(
    part: str, name: str, message: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
) -> str | None:
    """The key under which the reference's answer to this call is kept, or None when the
    answer is not kept: a call that is not a builder's, or without an integer seed (a
    model drawn from Keras's global random state differs at every call)."""
    if name not in _BUILDERS or not expected.has_hidden_cases():
        return None
    try:
        function = getattr(expected.source().module(part), name)
        seed = inspect.signature(function).bind(*args, **kwargs).arguments.get("seed")
        if type(seed) is not int:
            return None
        return json.dumps([part, name, message.get("args"), message.get("kwargs")], sort_keys=True)
    except (TypeError, ValueError):  # arguments that do not fit, or not JSON
        return None


def answer_callback(
    part: str, allowed: list[str], message: dict[str, Any], deadline: float | None = None
) -> dict[str, Any]:
    """Answer a worker's callback message with the reference's value, as plain data.

    Args:
        part: the part under test.
        allowed: the helpers the reference may answer for (:func:`helpers_of`).
        message: the worker's callback message.
        deadline: ``time.monotonic()`` when the student's call runs out of time.

    Returns:
        ``{"ok": True, "result": ...}``, or, for every call the reference declines (a
        helper not allowed, arguments over the bounds, no time left, a reference that
        fails on them), ``{"ok": False, "own": True, "error": sentence}``: the worker then
        runs the student's own helper.
    """
    name = str(message.get("function"))[:100]  # echoed in the reply: the student's text
    if name not in allowed:
        return _declined(f"{name} is not answered by the reference")
    time_limit = None if deadline is None else deadline - time.monotonic()
    try:
        args = decode(message.get("args", {"__list__": []}))
        kwargs = decode(message.get("kwargs", {"__dict__": {}}))
        if any(isinstance(a, (ModelSpec, OptimizerSpec)) for a in args):
            raise ValueError("live objects cannot be passed to the reference")
        args = [_keras_object(a) for a in args]
        kwargs = {k: _keras_object(v) for k, v in kwargs.items()}
        key = _answer_key(part, name, message, args, kwargs)
        if key is not None and key in _ANSWERS:
            return {"ok": True, "result": _ANSWERS[key]}
        result = encode(reference_value(part, name, args, kwargs, time_limit=time_limit))
        if key is not None:
            _ANSWERS[key] = result
            while len(_ANSWERS) > MAX_REMEMBERED_ANSWERS:
                _ANSWERS.popitem(last=False)
        return {"ok": True, "result": result}
    except expected.NotRecorded:  # a kit: the student's own helper answers
        return _declined(f"{name} was not recorded for these arguments")
    except Exception as error:  # noqa: BLE001 - over the bounds, too slow, bad arguments
        return _declined(f"{type(error).__name__}: {str(error)[:300]}")


def _declined(reason: str) -> dict[str, Any]:
    """The reply to a call the reference does not answer: the student's own helper runs."""
    return {"ok": False, "own": True, "error": reason}
