"""Calling a student's function on decoded arguments, answered with plain data.

:func:`execute_call` is shared with the in-notebook runner
(:class:`grader.checks.runner.InProcessRunner`, through :class:`grader.worker.loading.Worker`),
so a function is called the same way in both places. Nothing here decides a score: it
returns what the student's function returned, as plain data.
"""

from __future__ import annotations

import errno
import sys
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.isolation.protocol import KerasObjectSpec, ModelSpec, OptimizerSpec, encode
from grader.measuring.optimizers import describe_optimizer, rebuild_optimizer
from grader.measuring.rebuild import describe_model, rebuild_keras_object, rebuild_model
from grader.quiet import import_tensorflow
from grader.worker import limits


def convert_argument(value: Any, kind: str | None) -> Any:
    """Turn a decoded argument into the form the check asked for.

    Args:
        value: a decoded value (arrays, lists, ModelSpec, OptimizerSpec, ...).
        kind: None (as decoded), ``"list"`` (nested Python lists), ``"tensor"`` (a
            tf.Tensor) or ``"tensors"`` (a list of tf.Tensors).

    Returns:
        the converted value; models and optimizers are rebuilt as Keras objects.
    """
    if isinstance(value, ModelSpec):
        import_tensorflow()
        return rebuild_model(value)
    if isinstance(value, OptimizerSpec):
        import_tensorflow()
        return rebuild_optimizer(value)
    if isinstance(value, KerasObjectSpec):
        import_tensorflow()
        return rebuild_keras_object(value.config)
    if kind == "list":
        return np.asarray(value).tolist()
    if kind == "tensor":
        return import_tensorflow().constant(value)
    if kind == "tensors":
        tf = import_tensorflow()
        return [tf.constant(v) for v in value]
    return value


def plain_result(value: Any, build_dim: int | None = None) -> Any:
    """Turn Keras objects in a result into plain data records.

    Args:
        value: the result.
        build_dim: input width to build a model with when it has no weights yet (a
            Sequential made without ``keras.Input``).
    """
    if "keras" in sys.modules:
        import keras  # lazy: only once it is loaded; the NumPy-only worker never imports it

        if isinstance(value, keras.Model):
            if not value.built and build_dim:
                value.build((None, build_dim))
            return describe_model(value)
        if isinstance(value, keras.optimizers.Optimizer):
            return describe_optimizer(value)
        if isinstance(value, keras.initializers.Initializer):
            return KerasObjectSpec(keras.saving.serialize_keras_object(value))
        if callable(value) and getattr(value, "__module__", "").startswith("keras"):
            return KerasObjectSpec(keras.saving.serialize_keras_object(value))  # an activation
    if type(value) in (list, tuple):
        return type(value)(plain_result(v) for v in value)
    if type(value) is dict:
        return {k: plain_result(v) for k, v in value.items()}
    return value


def _fingerprint(value: Any) -> Any:
    """A comparable copy of an argument, to notice a function that changes its input."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, list):
        return ("list", tuple(_fingerprint(v) for v in value))
    if hasattr(value, "numpy") and hasattr(value, "shape") and not hasattr(value, "layers"):
        try:
            return _fingerprint(np.asarray(value.numpy()))
        except Exception:  # noqa: BLE001
            return None
    return None


def _numbers_only(value: Any) -> bool:
    if isinstance(value, list):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def after_state(value: Any) -> Any:
    """An argument's state after the call, as plain data (arrays, lists of them), or None
    for what is not compared (a model, a scalar). The grader compares it with what it
    sent (:meth:`grader.checks.runner.Runner.call`), so replacing a function of this module from
    the student's code cannot switch the check for changed inputs off."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, list):
        if _numbers_only(value):  # nested Python lists of numbers (the "list" kind)
            try:
                return np.array(value, dtype=np.float64)
            except (TypeError, ValueError):
                pass
        return [after_state(v) for v in value]
    if hasattr(value, "numpy") and hasattr(value, "shape") and not hasattr(value, "layers"):
        try:
            return np.array(value.numpy(), copy=True)
        except Exception:  # noqa: BLE001
            return None
    return None


def _student_frames(error: BaseException) -> str:
    """The traceback lines that point into the student's code, most recent last."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.startswith("<submission")
    ]
    return "".join(traceback.format_list(frames[-3:]))


def describe_error(error: BaseException) -> dict[str, str]:
    """Plain-data description of an exception raised by student code."""
    message = str(error)
    limit = limits.LIMITS
    if isinstance(error, MemoryError) and limit.get("memory_mb"):
        message = f"it needed more memory than the limit of {limit['memory_mb']} MB"
    elif isinstance(error, OSError) and error.errno == errno.EFBIG:
        message = f"it wrote more than the output limit of {limit.get('output_mb', 0)} MB"
    elif isinstance(error, OSError) and error.errno == errno.ENOSPC and limit.get("scratch_mb"):
        message = f"it filled its scratch space, limited to {limit['scratch_mb']} MB"
    elif isinstance(error, OSError) and error.errno == errno.EAGAIN and limit.get("processes"):
        message = f"it started more processes or threads than the limit of {limit['processes']}"
    return {
        "type": type(error).__name__,
        "message": message[:2000],
        "where": _student_frames(error)[:4000],
    }


def execute_call(
    function: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    kinds: list[str | None] | None = None,
    state_of: list[int] | None = None,
    namespace: dict[str, Any] | None = None,
    record: str | None = None,
    build_dim: int | None = None,
    seed: int = 0,
    helpers: list[str] | None = None,
    callback: Callable[[str, list[Any], dict[str, Any]], Any] | None = None,
    trusted: list[str] | None = None,
) -> dict[str, Any]:
    """Call a student's function on decoded arguments and describe what happened.

    Args:
        function: the student's callable.
        args: decoded positional arguments.
        kwargs: decoded keyword arguments.
        kinds: per positional argument, the form to convert it to (see
            :func:`convert_argument`).
        state_of: indices of model arguments whose weights to return after the call.
        namespace: the student's module namespace (needed with ``record``).
        record: name of a function in ``namespace`` whose calls and results to record
            while ``function`` runs (e.g. the train step a training loop should use).
        build_dim: input width for a returned model that is not built yet.
        seed: seed for NumPy, Python and Keras before the call.
        helpers: names of other contract functions that, while ``function`` runs,
            answer with the reference's value through ``callback``.
        callback: asks the grader for a helper's reference value.
        trusted: names of helpers replaced by the worker's own trusted version
            (:data:`TRUSTED_HELPERS`).

    Returns:
        an answer message: ``ok``, the encoded ``result`` or ``error``, the
        ``warnings`` raised, the indices of ``mutated`` arguments, ``state`` and
        ``recorded``.
    """
    kinds = list(kinds or []) + [None] * (len(args) - len(kinds or []))
    converted = [convert_argument(a, k) for a, k in zip(args, kinds)]
    converted_kwargs = {k: convert_argument(v, None) for k, v in kwargs.items()}
    before = [_fingerprint(a) for a in converted]
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
    recorded: list[Any] = []
    original = None
    # The function finds its helpers in its own globals: substitute and record there.
    namespace = getattr(function, "__globals__", namespace)
    saved = _substitute_helpers(namespace, helpers or [], callback, trusted or [])
    if record and namespace is not None and callable(namespace.get(record)):
        original = namespace[record]

        def recorder(*a: Any, **k: Any) -> Any:
            out = original(*a, **k)
            recorded.append(plain_result(out))
            return out

        namespace[record] = recorder
    answer: dict[str, Any] = {"ok": True}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
                result = function(*converted, **converted_kwargs)
            answer["result"] = encode(plain_result(result, build_dim))
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            answer = {"ok": False, "error": describe_error(error)}
        finally:
            if original is not None:
                namespace[record] = original
            if namespace is not None:
                namespace.update(saved)
    answer["warnings"] = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, RuntimeWarning) or str(w.filename).startswith("<submission")
    ][:20]
    answer["mutated"] = [
        i for i, (a, b) in enumerate(zip(before, map(_fingerprint, converted))) if a != b
    ]
    # The grader decides from these (plain data), not from ``mutated`` above.
    answer["after"] = _encode([_after_state(a) for a in converted])
    if state_of:
        answer["state"] = [
            encode([np.asarray(w) for w in converted[i].get_weights()]) for i in state_of
        ]
    if record:
        answer["recorded"] = encode(recorded) if original is not None else None
    return answer


#: Private references, taken when this module is imported (before any student code), so
#: that replacing the module's attributes from the student's code does not change them.
_after_state = after_state
_encode = encode


#: Helpers replaced by the grader's own version while a function is checked, by name: the
#: trusted clipped step (:mod:`grader.worker.trusted_step`) in the full package. A student
#: kit does not hold that step (it is a right answer to ``clipped_train_step``); there the
#: dict starts empty and :func:`grader.checks.expected.trusted_steps` puts in the replay of
#: the recorded steps.
TRUSTED_HELPERS: dict[str, Callable[..., Any]] = {}
try:
    # full package only: the trusted step answers clipped_train_step, so a kit lacks it
    from grader.worker.trusted_step import trusted_train_step
except ModuleNotFoundError as missing:  # a student kit, and only a kit
    if missing.name != "grader.worker.trusted_step":
        raise
else:
    TRUSTED_HELPERS["clipped_train_step"] = trusted_train_step


def _substitute_helpers(
    namespace: dict[str, Any] | None,
    helpers: list[str],
    callback: Callable[[str, list[Any], dict[str, Any]], Any] | None,
    trusted: list[str],
) -> dict[str, Any]:
    """Replace the student's helpers in ``namespace``; return the originals to restore."""
    if namespace is None:
        return {}
    saved = {}
    for name in helpers:
        if callable(namespace.get(name)) and callback is not None:
            saved[name] = namespace[name]
            namespace[name] = _proxy(name, callback, saved[name])
    for name in trusted:
        if callable(namespace.get(name)) and name in TRUSTED_HELPERS:
            saved[name] = namespace[name]
            namespace[name] = TRUSTED_HELPERS[name]
    return saved


class OwnHelper(RuntimeError):
    """The grader gives no reference value for this call (it declined it, or a student kit
    has none recorded): the student's own helper runs."""


def _proxy(
    name: str,
    callback: Callable[[str, list[Any], dict[str, Any]], Any],
    own: Callable[..., Any],
) -> Callable[..., Any]:
    """A helper that asks the reference when its arguments are plain data, and runs the
    student's ``own`` helper otherwise (a Python function as activation, a live model)."""

    def helper(*args: Any, **kwargs: Any) -> Any:
        if not _plain_data([list(args), kwargs]):
            return own(*args, **kwargs)
        try:
            return callback(name, list(args), kwargs)
        except OwnHelper:
            return own(*args, **kwargs)

    helper.__name__ = name
    return helper


_NOT_PLAIN = ("__unsupported__", "__model__", "__optimizer__")


def _plain_data(value: Any) -> bool:
    """Whether ``value`` is plain data the reference can take (no function, no live model)."""
    try:
        encoded = encode(plain_result(value))
    except Exception:  # noqa: BLE001 - too large or too deep
        return False
    pending = [encoded]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if any(key in item for key in _NOT_PLAIN):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True
