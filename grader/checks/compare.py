"""Comparing a student's numbers with the reference's.

The rule is elementwise and scale-aware: ``|received - expected| <= atol + rtol * s``,
where ``s`` is ``|expected|`` or, where cancellation can make a correct result tiny, a
per-element scale the check supplies (the magnitude of the terms that were summed).
With a tiny ``atol`` a gradient of 1e-13 that is off by a factor of 2 fails, which an
absolute tolerance would let through. A student reads the failure in plain words ("6 of 6
values differ; the largest is off by 0.067, 4× relative"); numpy.testing's own report
(tolerance, mismatched elements, max absolute and relative difference) is kept beside it
for the instructor's JSON.

Tolerances are set per part in :data:`TOLERANCES` and written down there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.isolation.protocol import ModelSpec, OptimizerSpec, Unsupported


@dataclass(frozen=True)
class Tolerance:
    """Relative tolerance and an absolute floor."""

    rtol: float
    atol: float


#: Part 1 is float64 NumPy end to end: a correct implementation agrees to ~1e-13, and
#: 1e-6 leaves room for any evaluation order while catching every real mistake.
#: Parts 2 and 3's Keras paths run in float32 (about 1e-7 per operation, accumulated
#: over 20 layers or a few training steps). Part 3's array functions may run in float32.
#: Part 4's formulas are exact; its RNN may be computed in float32. Measured on the
#: reference in fresh processes, oneDNN on against off (one against two intra-op threads
#: changed nothing) moves any value Parts 2 and 3 compare by at most 1.3e-5 relative: each
#: tolerance below is over 100 times that (the checks' docstrings give their own figures).
TOLERANCES: dict[str, Tolerance] = {
    "chain_rule": Tolerance(rtol=1e-6, atol=1e-300),
    "deep_sigmoid": Tolerance(rtol=2e-3, atol=1e-30),
    "clipping": Tolerance(rtol=1e-5, atol=1e-30),
    "clipping.training": Tolerance(rtol=2e-3, atol=1e-6),
    "remedies": Tolerance(rtol=1e-9, atol=1e-300),
    "remedies.rnn": Tolerance(rtol=1e-4, atol=1e-30),
}


def describe_type(value: Any) -> str:
    """A short description of a value's type and shape, for messages."""
    if isinstance(value, Unsupported):
        return str(value)
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} elements"
    if isinstance(value, ModelSpec):
        return "a Keras model"
    if isinstance(value, OptimizerSpec):
        return f"a Keras optimizer ({value.class_name})"
    if value is None:
        return "None"
    return f"a {type(value).__name__} ({str(value)[:60]})"


def as_float_array(value: Any) -> np.ndarray | None:
    """The value as a float64 array, or None when it is not numeric."""
    if isinstance(value, (Unsupported, ModelSpec, OptimizerSpec, str, dict)) or value is None:
        return None
    try:
        array = np.asarray(value)
        if array.dtype.kind == "c":  # complex: a real value only when no part is imaginary
            if np.any(array.imag != 0):
                return None
            array = array.real
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    return array


def format_array(value: Any, limit: int = 6) -> str:
    """Print an array compactly (at most ``limit`` elements per axis)."""
    array = as_float_array(value)
    if array is None:
        return describe_type(value)
    with np.printoptions(precision=6, threshold=2 * limit, edgeitems=limit // 2, linewidth=88):
        return np.array2string(array, separator=", ")


@dataclass
class Comparison:
    """The outcome of comparing one received value with the expected one."""

    ok: bool
    #: the difference in plain words, for the student
    report: str = ""
    #: numpy.testing's report of the same comparison, for the instructor
    numpy: str = ""


def compare_arrays(
    received: Any,
    expected: Any,
    tolerance: Tolerance,
    scale: Any = None,
    label: str = "",
) -> Comparison:
    """Compare a received numeric value with the expected one.

    Args:
        received: what the student's function returned.
        expected: the reference's value.
        tolerance: rtol and atol.
        scale: optional per-element magnitudes (same shape as ``expected``) used
            instead of ``|expected|`` where cancellation can make a result tiny.
        label: name of the value in the report (e.g. ``"dL_dw"``).

    Returns:
        Comparison with ``ok`` and, when not ok, a report that says why.
    """
    wanted = np.asarray(expected, dtype=np.float64)
    got = as_float_array(received)
    name = f"{label}: " if label else ""
    if got is None:
        return Comparison(
            False,
            f"{name}expected numbers of shape {wanted.shape}, received {describe_type(received)}.",
        )
    if got.shape != wanted.shape:
        return Comparison(
            False, f"{name}expected shape {wanted.shape}, received shape {got.shape}."
        )
    bad_nonfinite = ~np.isfinite(got) & np.isfinite(wanted)
    if bad_nonfinite.any():
        return Comparison(
            False,
            f"{name}{int(bad_nonfinite.sum())} of {got.size} values are NaN or infinite where "
            "finite values were expected.",
        )
    magnitude = np.abs(wanted)
    if scale is not None:
        magnitude = np.maximum(magnitude, np.abs(np.asarray(scale, dtype=np.float64)))
    with np.errstate(invalid="ignore", over="ignore"):
        close = np.abs(got - wanted) <= tolerance.atol + tolerance.rtol * magnitude
        close |= got == wanted  # equal infinities and exact matches
        close |= np.isnan(got) & np.isnan(wanted)
    if close.all():
        return Comparison(True)
    try:
        np.testing.assert_allclose(
            got, wanted, rtol=tolerance.rtol, atol=tolerance.atol, err_msg=label
        )
        raw = "numpy.testing finds no difference: the values differ where the terms summed are "
        raw += "large but cancel (scale-aware comparison)."
    except AssertionError as error:
        raw = _tidy_numpy_report(str(error))
    report = describe_difference(got, wanted, ~close)  # Expected/Received name the value
    if scale is not None and raw.startswith("numpy.testing finds no difference"):
        report += " (The terms summed are large but cancel: this precision is reachable.)"
    return Comparison(False, report, raw)


def _number(value: float) -> str:
    """A difference with two significant digits, whole numbers up to 9999 written out."""
    if 10 <= value < 1e4:
        return f"{value:.0f}"
    return f"{value:.2g}"


def describe_difference(received: np.ndarray, expected: np.ndarray, wrong: np.ndarray) -> str:
    """How two arrays differ, in plain words.

    Args:
        received: the student's values.
        expected: the reference's values, the same shape.
        wrong: where they are judged different (booleans, the same shape).

    Returns:
        e.g. ``"6 of 6 values differ; the largest is off by 0.067, 4× relative."``
    """
    received, expected, wrong = (np.atleast_1d(a) for a in (received, expected, wrong))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        difference = np.abs(received - expected)
        finite = wrong & np.isfinite(difference)
        if not finite.any():
            count = int(wrong.sum())
            return (
                f"{count} of {wrong.size} values differ (NaN or infinite where the other is not)."
            )
        largest = float(difference[finite].max())
        nonzero = finite & (expected != 0)
        relative = (
            float((difference[nonzero] / np.abs(expected[nonzero])).max())
            if nonzero.any()
            else None
        )
    if relative is None:
        how = f"off by {_number(largest)} where 0 was expected"
    elif relative >= 1:
        how = f"off by {_number(largest)}, {_number(relative)}× relative"
    else:
        how = f"off by {_number(largest)}, {relative * 100:.2g}% relative"
    if wrong.size == 1:
        return f"The value is {how}."
    return f"{int(wrong.sum())} of {wrong.size} values differ; the largest is {how}."


def _tidy_numpy_report(text: str) -> str:
    """Keep numpy's summary: tolerance, mismatched elements, max differences.

    The values themselves are shown as Expected and Received already.
    """
    keep = ("Not equal to tolerance", "Mismatched elements", "Max absolute", "Max relative")
    lines = [line.strip() for line in text.strip().splitlines()]
    kept = [line for line in lines if line.startswith(keep)]
    if any(line.startswith("x and y nan location mismatch") for line in lines):
        kept.append("NaN in different places.")
    return "\n".join(kept)
