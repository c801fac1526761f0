"""Does a public case's feedback show its inputs, exactly, as a call a student can paste and
rerun, and a hidden case's never?"""

from __future__ import annotations

import numpy as np

from grader.checks.registry import PUBLIC_SEED, run_check
from grader.checks.runner import InProcessRunner
from grader.checks.shown_inputs import MAX_ELEMENTS, format_call, format_value
from grader.course.sources import reference_source


def test_a_shown_call_reads_back_as_the_same_inputs(rng):
    """Does evaluating the shown arguments give back every input bit for bit, in float64,
    float32, int and bool, nested in lists and tuples?"""
    inputs = [
        rng.standard_normal(5),
        rng.standard_normal((2, 3)).astype(np.float32),
        np.arange(4, dtype=np.int32),
        np.array([True, False]),
        [rng.standard_normal(2).astype(np.float32), np.array(1e-300)],
    ]
    text = format_call("f", inputs, {"threshold": 0.1 + 0.2})
    assert text.startswith("f(") and text.endswith("threshold=0.30000000000000004)")
    shown = eval(text[2:].rsplit(", threshold=", 1)[0], {"np": np})  # noqa: S307 - our text
    for original, back in zip(inputs[:4], shown[:4]):
        assert back.dtype == original.dtype and np.array_equal(back, original)
    assert np.array_equal(shown[4][0], inputs[4][0]) and shown[4][0].dtype == np.float32


def test_a_large_input_is_named_not_written_out():
    big = np.zeros((64, 8), dtype=np.float32)
    assert big.size > MAX_ELEMENTS
    assert format_value(big) == "<a float32 array of shape (64, 8): too large to show here>"


def _wrong_part_one() -> InProcessRunner:
    namespace: dict = {}
    exec(compile(reference_source("chain_rule"), "chain_rule.py", "exec"), namespace)  # noqa: S102
    namespace["chain_gradients"] = lambda x, y, w, b: (np.zeros(len(w)), np.zeros(len(w)))
    return InProcessRunner(namespace)


def test_a_public_case_shows_its_call_and_a_hidden_case_never():
    """Does a failed public case's feedback carry "Call: chain_gradients(np.array(...), ...)",
    and a failed hidden case's (shown at once or in the details) carry no input?"""
    public = run_check("chain_rule.chain_gradients", _wrong_part_one(), PUBLIC_SEED, public=True)
    assert "Call: chain_gradients(np.array([" in public.output
    hidden = run_check("chain_rule.chain_gradients", _wrong_part_one(), 12345)
    assert "Call:" not in hidden.output and "Call:" not in hidden.full_output
