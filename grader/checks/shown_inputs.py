"""A public case's call, written so that a student can paste it into a cell and rerun it.

The public cases' feedback shows their inputs (the README promises it: public cases are
those "whose inputs the feedback shows"); a hidden case's never. :func:`format_call` writes
``chain_gradients(np.array([...], dtype=np.float32), ...)`` with every number exact (the
shortest text that reads back as the same float of that precision). An input too large to
read in one line (more than :data:`MAX_ELEMENTS` numbers, or a model's weights) is named by
its kind and shape instead, and the line is cut at :data:`MAX_CHARS`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.isolation.protocol import KerasObjectSpec, ModelSpec, OptimizerSpec

#: Most numbers of one array written out in full.
MAX_ELEMENTS = 40
#: Longest line shown.
MAX_CHARS = 1200


def _number(value: Any, dtype: np.dtype) -> str:
    if dtype.kind == "b":
        return str(bool(value))
    if dtype.kind in "iu":
        return str(int(value))
    return repr(float(value)) if dtype == np.float64 else str(dtype.type(value))


def _nested(array: np.ndarray) -> str:
    if array.ndim == 0:
        return _number(array.item(), array.dtype)
    return "[" + ", ".join(_nested(item) for item in array) + "]"


def format_value(value: Any) -> str:
    """One input as Python a student can paste (or a short description when too large)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            return f"an array of shape {value.shape}"
        if value.size > MAX_ELEMENTS:
            return f"<a {value.dtype} array of shape {value.shape}: too large to show here>"
        dtype = "" if value.dtype == np.float64 else f", dtype=np.{value.dtype}"
        return f"np.array({_nested(value)}{dtype})"
    if isinstance(value, ModelSpec):
        return "<the model the case describes>"
    if isinstance(value, OptimizerSpec):
        rate = value.config.get("learning_rate")
        return f"keras.optimizers.{value.class_name}(learning_rate={rate!r})"
    if isinstance(value, KerasObjectSpec):
        return f"<a Keras {value.config.get('class_name', 'object')}>"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(format_value(v) for v in value)
        return (
            f"[{inner}]"
            if isinstance(value, list)
            else f"({inner}{',' if len(value) == 1 else ''})"
        )
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {format_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def format_call(function: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """The call as one line: ``function(arg, ..., name=value)``, cut at :data:`MAX_CHARS`."""
    shown = [format_value(a) for a in args] + [f"{k}={format_value(v)}" for k, v in kwargs.items()]
    text = f"{function}({', '.join(shown)})"
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 5] + " ...)"
