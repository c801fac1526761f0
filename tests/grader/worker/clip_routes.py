"""Every route to a library clip function, run where Part 3's array functions run.

Run by ``test_clip_identity.py`` in a fresh process (``python -m
tests.grader.worker.clip_routes``), as a worker runs: the recognition is armed before any of
the routes' code, and each route runs inside an array function's window
(:class:`grader.worker.clip_watch.ClipRecorder`). Prints one JSON object:

- ``aliases``: every attribute of TensorFlow's and Keras's public modules whose value is a
  forbidden function (or wraps one, or shares its code), found by identity before arming,
  with the label it must be recorded under and what the window recorded;
- ``routes``: the other ways in (wrappers, graphs, ops by name), and right answers;
- ``behaviour``: what the watched functions return, raise and declare;
- ``tampering``: attempts at switching the recognition off, run last.
"""

from __future__ import annotations

import functools
import gc
import importlib
import inspect
import json
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.isolation.libraries import CLIP_LIBRARY_FUNCTIONS, clip_label
from grader.quiet import import_tensorflow
from grader.worker import clip_watch, guards

tf = import_tensorflow()
import keras  # noqa: E402 - after TensorFlow's quiet import

T = tf.constant([[-3.0, 0.5], [2.0, 9.0]])
LOW, HIGH = tf.constant(-1.0), tf.constant(1.0)
#: How each forbidden function is called (the aliases of one take its arguments).
CALLS: dict[str, Callable[[Any], Any]] = {
    "tf.clip_by_value": lambda f: f(T, -1.0, 1.0),
    "tf.clip_by_norm": lambda f: f(T, 1.0),
    "tf.clip_by_global_norm": lambda f: f([T], 1.0),
    "tf.linalg.global_norm": lambda f: f([T]),
    "keras.ops.clip": lambda f: f(T, -1.0, 1.0),
    "tf.raw_ops.ClipByValue": lambda f: f(t=T, clip_value_min=LOW, clip_value_max=HIGH),
}
#: The public trees searched for aliases.
ROOTS = {
    "tf": tf,
    "tf.compat.v1": tf.compat.v1,
    "tf.compat.v2": tf.compat.v2,
    "keras": keras,
    "keras.src.ops": keras.src.ops,
}


def _resolve(qualified: str) -> Any:
    root, *path = qualified.split(".")
    value: Any = sys.modules[root]
    for name in path:
        value = getattr(value, name)
    return value


def forbidden_objects() -> dict[int, str]:
    """Every function object that is a forbidden function, a layer of its decorators, or a
    function sharing its innermost code, by id, with its label (found before arming)."""
    found: dict[int, str] = {}
    for qualified in CLIP_LIBRARY_FUNCTIONS:
        value, label = _resolve(qualified), clip_label(qualified)
        layer = value
        while layer is not None:
            found[id(layer)] = label
            layer = getattr(layer, "__wrapped__", None)
        code = inspect.unwrap(value).__code__
        for holder in gc.get_referrers(code):
            if isinstance(holder, types.FunctionType) and holder.__code__ is code:
                found[id(holder)] = label
    return found


def find_aliases(found: dict[int, str]) -> dict[str, str]:
    """``{attribute path: label}`` for every alias of a forbidden function in :data:`ROOTS`."""
    aliases: dict[str, str] = {}
    seen: set[int] = set()
    pending = list(ROOTS.items())
    while pending:
        prefix, module = pending.pop()
        if id(module) in seen:
            continue
        seen.add(id(module))
        for name, value in sorted(vars(module).items()):
            path = f"{prefix}.{name}"
            if isinstance(value, types.ModuleType):
                module_name = getattr(value, "__name__", "")  # tf.keras's loader has none
                public = module_name.startswith(("tensorflow._api", "keras"))
                nested_compat = name == "compat" and "compat" in prefix.split(".")
                if public and not name.startswith("_") and not nested_compat:
                    pending.append((path, value))
            elif callable(value):
                try:
                    inner = inspect.unwrap(value)
                except ValueError:
                    continue
                label = found.get(id(value)) or found.get(id(inner))
                if label:
                    aliases[path] = label
    return aliases


def window(run: Callable[[], Any]) -> dict[str, Any]:
    """Run ``run`` as an array function runs; what the window recorded."""
    error = None
    with clip_watch.ClipRecorder() as guard:
        try:
            run()
        except Exception as failure:  # noqa: BLE001 - reported
            error = f"{type(failure).__name__}: {failure}"
    return {"calls": guard.calls, "tampered": guard.tampered, "error": error}


def routes(early: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Ways to a forbidden function that are not plain attributes, and right answers."""

    class Holder:
        value = tf.clip_by_value
        norm = staticmethod(tf.clip_by_norm)
        raw = tf.raw_ops.ClipByValue

    def default_argument(grads: Any, norm: Any = tf.compat.v1.global_norm) -> Any:
        return norm(grads)

    from tensorflow.python.eager import context, execute

    def op_by_name() -> Any:
        attrs = ("T", T.dtype.as_datatype_enum)
        return execute.execute(b"ClipByValue", 1, [T, LOW, HIGH], attrs, context.context())

    return {
        "getattr": lambda: getattr(tf, "clip_by_" + "value")(T, -1.0, 1.0),
        "importlib": lambda: importlib.import_module("tensorflow.python.ops.clip_ops").clip_by_norm(
            T, 1.0
        ),
        "class attribute": lambda: Holder.value(T, -1.0, 1.0),
        "staticmethod": lambda: Holder().norm(T, 1.0),
        "raw op as class attribute": lambda: Holder.raw(
            t=T, clip_value_min=LOW, clip_value_max=HIGH
        ),
        "partial": lambda: functools.partial(tf.clip_by_global_norm, clip_norm=1.0)([T]),
        "lambda": lambda: (lambda g: tf.compat.v1.global_norm(g))([T]),
        "default argument": lambda: default_argument([T]),
        "taken before arming": lambda: early["norm"](T, 1.0),
        "innermost function": lambda: inspect.unwrap(tf.clip_by_value)(T, -1.0, 1.0),
        "keras backend": lambda: keras.src.backend.tensorflow.numpy.clip(T, -1.0, 1.0),
        "tf.experimental.numpy.clip": lambda: tf.experimental.numpy.clip(T, -1.0, 1.0),
        "keras.ops.clip in tf.function": lambda: tf.function(lambda x: keras.ops.clip(x, -1, 1))(T),
        "op by name": op_by_name,
        "tf.function traced before": lambda: early["traced"](T),
        "raw op in tf.function traced before": lambda: early["raw"](T),
        "nested tf.function traced before": lambda: early["outer"](T),
        "tf.cond branch traced before": lambda: early["cond"](T),
        # right answers: no library clip function
        "numpy vectorised": lambda: np.minimum(np.maximum(np.asarray(T), -1.0), 1.0),
        "np.clip": lambda: np.clip(np.asarray(T), -1.0, 1.0),
        "tf.minimum and tf.maximum": lambda: tf.maximum(tf.minimum(T, 1.0), -1.0),
        "tf.where": lambda: tf.where(T > 1.0, 1.0, tf.where(T < -1.0, -1.0, T)),
        "keras.ops minimum and maximum": lambda: keras.ops.maximum(keras.ops.minimum(T, 1.0), -1.0),
        "keras.ops.where": lambda: keras.ops.where(T > 1.0, 1.0, T),
        "python loops": lambda: [
            [min(max(v, -1.0), 1.0) for v in row] for row in T.numpy().tolist()
        ],
        "float64": lambda: tf.maximum(tf.minimum(tf.cast(T, tf.float64), 1.0), -1.0),
        "norms": lambda: (
            tf.norm(T),
            keras.ops.norm(T),
            tf.sqrt(tf.reduce_sum(tf.square(tf.cast(T, tf.float64)))),
            tf.math.reduce_euclidean_norm(T),
            T * 1.0 / tf.maximum(tf.norm(T), 1.0),
        ),
        "honest tf.function traced before": lambda: early["honest"](T),
        "honest tf.function": lambda: tf.function(lambda x: tf.minimum(x, 1.0))(T),
    }


def before_arming() -> dict[str, Any]:
    """References and graphs made before the recognition is armed, or outside any window."""
    spec = [tf.TensorSpec(None, tf.float32)]
    inner = tf.function(lambda x: keras.ops.clip(x, -1.0, 1.0))
    early: dict[str, Any] = {"norm": inspect.unwrap(tf.clip_by_norm)}
    return early | {
        "inner": inner,
        "spec": spec,
        "make": lambda: {
            "traced": tf.function(lambda x: tf.clip_by_value(x, -1.0, 1.0), input_signature=spec),
            "raw": tf.function(
                lambda x: tf.raw_ops.ClipByValue(t=x, clip_value_min=LOW, clip_value_max=HIGH),
                input_signature=spec,
            ),
            "outer": tf.function(lambda x: inner(x) * 2.0, input_signature=spec),
            "cond": tf.function(
                lambda x: tf.cond(tf.reduce_sum(x) > 0, lambda: tf.clip_by_norm(x, 1.0), lambda: x),
                input_signature=spec,
            ),
            "honest": tf.function(lambda x: tf.minimum(x, 1.0), input_signature=spec),
        },
    }


def behaviour() -> dict[str, Any]:
    """What the watched functions return, raise and declare, outside any window."""
    try:
        tf.clip_by_value("text", 1, 2)
        raised = None
    except Exception as error:  # noqa: BLE001 - its type is the answer
        raised = type(error).__name__
    clipped, norm = tf.clip_by_global_norm([T], 1.0)
    return {
        "value": np.asarray(tf.clip_by_value(T, -1.0, 1.0)).tolist(),
        "raw": np.asarray(
            tf.raw_ops.ClipByValue(t=T, clip_value_min=LOW, clip_value_max=HIGH)
        ).tolist(),
        "keras": np.asarray(keras.ops.clip(T, -1.0, 1.0)).tolist(),
        "global": [np.asarray(clipped[0]).tolist(), float(norm)],
        "raised": raised,
        "signatures": [
            str(inspect.signature(tf.clip_by_value)),
            str(inspect.signature(keras.ops.clip)),
            str(inspect.signature(tf.clip_by_global_norm)),
        ],
        "outside a window": window(lambda: None)["calls"],
    }


def tampering() -> dict[str, Any]:
    """Attempts at switching the recognition off; those noted for good come last."""
    from tensorflow.python.framework import op_callbacks

    results: dict[str, Any] = {}

    def close_early() -> None:
        frame = sys._getframe()
        while frame is not None and not isinstance(
            frame.f_locals.get("guard"), clip_watch.ClipRecorder
        ):
            frame = frame.f_back
        token = vars(frame.f_locals["guard"])["_token"]
        sys.audit(vars(clip_watch)["_CLOSE_EVENT"], token, [])
        tf.clip_by_value(T, -1.0, 1.0)

    results["window closed early"] = window(close_early)

    def reopen() -> None:
        sys.audit(vars(clip_watch)["_OPEN_EVENT"], [])
        tf.clip_by_value(T, -1.0, 1.0)

    results["window opened again"] = window(reopen)

    def callbacks_removed() -> None:
        op_callbacks.clear_op_callbacks()
        tf.raw_ops.ClipByValue(t=T, clip_value_min=LOW, clip_value_max=HIGH)

    results["op callback removed"] = window(callbacks_removed)
    results["clean window after"] = window(lambda: tf.minimum(T, 1.0))

    def walk() -> None:  # noted for good, as a changed function is
        gc.get_objects()

    results["object-graph walk"] = window(walk)

    def restore() -> None:
        inspect.unwrap(tf.clip_by_value).__code__ = (lambda t, a, b, name=None: t).__code__

    results["code replaced"] = window(restore)
    results["window after the code was changed"] = window(lambda: tf.minimum(T, 1.0))
    return results


def main() -> None:
    found = forbidden_objects()
    aliases = find_aliases(found)
    early = before_arming()
    guards.IN_WORKER = True  # as the worker's serve loop sets it
    clip_watch.watch_clip_functions()
    early |= early.pop("make")()
    for name in ("traced", "raw", "outer", "cond", "honest"):
        early[name](T)  # traced here, outside any window
    answer: dict[str, Any] = {"aliases": {}, "routes": {}}
    for path, label in aliases.items():
        function = _resolve_path(path)
        call = functools.partial(CALLS[label], function)
        answer["aliases"][path] = {"label": label, **window(call)}
    for name, run in routes(early).items():
        answer["routes"][name] = window(run)
    answer["behaviour"] = behaviour()
    answer["tampering"] = tampering()
    print(json.dumps(answer))


def _resolve_path(path: str) -> Any:
    prefix = max((p for p in ROOTS if path.startswith(p + ".")), key=len)
    value = ROOTS[prefix]
    for name in path[len(prefix) + 1 :].split("."):
        value = getattr(value, name)
    return value


if __name__ == "__main__":
    main()
