"""Are Part 3's forbidden library functions recognised by identity, whatever name reached them?

The routes run in a fresh process armed as a worker is (``clip_routes.py``): every alias of a
forbidden function that TensorFlow's and Keras's public modules hold is found there by
identity, not listed here, and each must be recorded under the contract's name; so must the
routes that are not plain attributes (wrappers, graphs traced earlier, ops by name). Right
answers, ``np.clip`` (which the contract allows) included, must record nothing, and the
watched functions must behave as before. Attempts at switching the recognition off are
refused or noted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.paths import ROOT

#: Routes that are not plain attributes, and the name each must be recorded under.
FORBIDDEN_ROUTES = {
    "getattr": "tf.clip_by_value",
    "importlib": "tf.clip_by_norm",
    "class attribute": "tf.clip_by_value",
    "staticmethod": "tf.clip_by_norm",
    "raw op as class attribute": "tf.raw_ops.ClipByValue",
    "partial": "tf.clip_by_global_norm",
    "lambda": "tf.linalg.global_norm",
    "default argument": "tf.linalg.global_norm",
    "taken before arming": "tf.clip_by_norm",
    "innermost function": "tf.clip_by_value",
    "keras backend": "tf.clip_by_value",
    "tf.experimental.numpy.clip": "tf.clip_by_value",
    "keras.ops.clip in tf.function": "keras.ops.clip",
    "op by name": "tf.raw_ops.ClipByValue",
    "tf.function traced before": "tf.clip_by_value",
    "raw op in tf.function traced before": "tf.raw_ops.ClipByValue",
    "nested tf.function traced before": "keras.ops.clip",
    "tf.cond branch traced before": "tf.clip_by_norm",
}
#: Right answers: array operations only (np.clip is NumPy's, which the contract allows).
RIGHT_ROUTES = (
    "numpy vectorised",
    "np.clip",
    "tf.minimum and tf.maximum",
    "tf.where",
    "keras.ops minimum and maximum",
    "keras.ops.where",
    "python loops",
    "float64",
    "norms",
    "honest tf.function traced before",
    "honest tf.function",
)
#: Aliases the search must find (it would find none if identity were lost).
KNOWN_ALIASES = {
    "tf.compat.v1.clip_by_value": "tf.clip_by_value",
    "tf.compat.v1.global_norm": "tf.linalg.global_norm",
    "tf.compat.v1.raw_ops.ClipByValue": "tf.raw_ops.ClipByValue",
    "tf.raw_ops.ClipByValue": "tf.raw_ops.ClipByValue",
    "keras.ops.numpy.clip": "keras.ops.clip",
    "keras.src.ops.numpy.clip": "keras.ops.clip",
}


@pytest.fixture(scope="module")
def routes() -> dict[str, Any]:
    """What each route recorded, in a process armed as a worker is."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.grader.worker.clip_routes"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_alias_found_by_identity_is_recorded_under_the_contracts_name(routes):
    """Is each alias the public modules hold recorded as the function it is?"""
    aliases = routes["aliases"]
    assert set(KNOWN_ALIASES.items()) <= {(p, a["label"]) for p, a in aliases.items()}
    wrong = {
        path: alias
        for path, alias in aliases.items()
        if alias["calls"] != [alias["label"]] or alias["tampered"] or alias["error"]
    }
    assert not wrong, wrong


@pytest.mark.parametrize("route", sorted(FORBIDDEN_ROUTES))
def test_a_route_around_the_name_is_recorded(routes, route):
    """Is a forbidden function reached through a wrapper, a graph or its op recorded?"""
    recorded = routes["routes"][route]
    assert recorded["error"] is None, recorded
    assert recorded["calls"] == [FORBIDDEN_ROUTES[route]], recorded


@pytest.mark.parametrize("route", RIGHT_ROUTES)
def test_a_right_answer_records_nothing(routes, route):
    """Do array operations (and np.clip, which the contract allows) record no library call?"""
    assert routes["routes"][route] == {"calls": [], "tampered": [], "error": None}


def test_the_watched_functions_behave_as_before(routes):
    """Do the watched functions return, raise and declare what they did, and record nothing
    outside a window?"""
    behaviour = routes["behaviour"]
    clipped = [[-1.0, 0.5], [1.0, 1.0]]
    assert behaviour["value"] == behaviour["raw"] == behaviour["keras"] == clipped
    assert behaviour["global"][1] == pytest.approx((9 + 0.25 + 4 + 81) ** 0.5)
    assert behaviour["raised"] == "TypeError"
    assert behaviour["signatures"] == [
        "(t, clip_value_min, clip_value_max, name=None)",
        "(x, x_min, x_max)",
        "(t_list, clip_norm, use_norm=None, name=None)",
    ]
    assert behaviour["outside a window"] == []


@pytest.mark.parametrize(
    "attempt, error, note",
    [
        ("object-graph walk", None, "walked the interpreter's objects (gc.get_objects)"),
        ("window closed early", None, "closed the clip recorder's window early"),
        ("window opened again", None, "opened the clip recorder's window again"),
        ("op callback removed", None, "removed the clip recorder's op callback"),
        (
            "code replaced",
            "PermissionError: __code__ of a library clip function cannot be changed",
            "changed what a library clip function runs",
        ),
        ("window after the code was changed", None, "changed what a library clip function runs"),
    ],
)
def test_switching_the_recognition_off_is_refused_or_noted(routes, attempt, error, note):
    """Is each attempt at removing the recorder refused, or noted in the verdict's data?"""
    recorded = routes["tampering"][attempt]
    assert (recorded["error"] or "").startswith(error or ""), recorded
    if error is None:
        assert recorded["error"] is None, recorded
    assert (note in recorded["tampered"]) if note else recorded["tampered"] == [], recorded


def test_a_clean_window_after_noted_attempts_starts_clean(routes):
    """Does a window's note stay with its own window (unlike a changed function's or an
    object-graph walk's, which stay for good)?"""
    assert routes["tampering"]["clean window after"] == {"calls": [], "tampered": [], "error": None}


# -- graded end to end: the verdicts of Part 3 -------------------------------------------

#: Library clip functions reached by names the syntax tree does not follow: a class
#: attribute, a staticmethod, a compat path, a partial made at the top level.
ALIASED_LIBRARY = """

import functools


class _Library:
    value = tf.raw_ops.ClipByValue
    norm = staticmethod(tf.clip_by_norm)
    total = staticmethod(tf.compat.v1.global_norm)


_clip_globally = functools.partial(tf.clip_by_global_norm)


def clip_by_value(grads, clip_value):
    clipped = []
    for g in grads:
        t = tf.convert_to_tensor(g)
        bound = tf.cast(clip_value, t.dtype)
        clipped.append(_Library.value(t=t, clip_value_min=-bound, clip_value_max=bound).numpy())
    return clipped


def clip_by_norm(grads, clip_norm):
    return [_Library().norm(tf.convert_to_tensor(g), clip_norm).numpy() for g in grads]


def global_norm(grads):
    return float(_Library.total([tf.cast(g, tf.float64) for g in grads]))


def clip_by_global_norm(grads, clip_norm):
    clipped, norm = _clip_globally([tf.convert_to_tensor(g) for g in grads], clip_norm)
    return [c.numpy() for c in clipped], float(norm)
"""
#: Right answers from array operations of every library: Keras ops, tf.where, loops.
ARRAY_OPERATIONS = """

import math


def clip_by_value(grads, clip_value):
    clipped = []
    for g in grads:
        t = tf.convert_to_tensor(g)
        bound = tf.cast(clip_value, t.dtype)
        t = tf.where(t > bound, bound, tf.where(t < -bound, -bound, t))
        clipped.append(t.numpy())
    return clipped


def clip_by_norm(grads, clip_norm):
    clipped = []
    for g in grads:
        t = tf.convert_to_tensor(g)
        norm = float(tf.norm(tf.cast(t, tf.float64)))
        clipped.append((t * tf.cast(clip_norm / max(norm, clip_norm), t.dtype)).numpy())
    return clipped


def global_norm(grads):
    total = 0.0
    for g in grads:
        for value in np.asarray(g, dtype=np.float64).ravel().tolist():
            total += value * value
    return math.sqrt(total)


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    scale = clip_norm / max(norm, clip_norm)
    clipped = [
        keras.ops.convert_to_numpy(keras.ops.maximum(keras.ops.minimum(g, math.inf), -math.inf))
        * np.asarray(scale, dtype=np.asarray(g).dtype)
        for g in grads
    ]
    return clipped, norm
"""
ARRAY_FUNCTIONS = ("clip_by_value", "clip_by_norm", "global_norm", "clip_by_global_norm")


@pytest.mark.slow
def test_library_clip_functions_under_other_names_score_zero(grade_sources):
    """Do the library's clip functions, reached by names the syntax tree misses, score 0
    with the name the contract forbids, while the training functions keep their points?"""
    from grader.assignment import function
    from grader.checks.policy import find_violations
    from grader.course.sources import reference_source

    source = reference_source("clipping") + ALIASED_LIBRARY
    assert find_violations("clipping", source) == {}  # the syntax tree sees nothing
    report = grade_sources({"clipping.py": source})
    expected = {
        "clip_by_value": "tf.raw_ops.ClipByValue",
        "clip_by_norm": "tf.clip_by_norm",
        "global_norm": "tf.linalg.global_norm",
        "clip_by_global_norm": "tf.clip_by_global_norm",
    }
    for name, label in expected.items():
        test = report.test(f"clipping.{name}")
        assert test.score == 0, (name, test.output)
        assert f"called {label} while it ran" in test.output, test.output
        assert "without the library's clip functions" in test.output, test.output
    for name in ("make_optimizer", "clipped_train_step", "train_with_clipping"):
        test = report.test(f"clipping.{name}")
        assert test.score == function(f"clipping.{name}").points, (name, test.output)


@pytest.mark.slow
def test_array_operations_of_every_library_keep_their_points(grade_sources):
    """Do right answers written from Keras ops, tf.where and Python loops score in full?"""
    from grader.assignment import function
    from grader.course.sources import reference_source

    report = grade_sources({"clipping.py": reference_source("clipping") + ARRAY_OPERATIONS})
    for name in ARRAY_FUNCTIONS:
        test = report.test(f"clipping.{name}")
        assert test.score == function(f"clipping.{name}").points, (name, test.output)
        assert "while it ran" not in test.output, test.output
