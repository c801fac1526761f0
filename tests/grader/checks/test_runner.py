"""Does the grader take from a worker's answer only what the contract needs, cut on receipt?"""

from __future__ import annotations

import json

import numpy as np

from grader.checks.runner import (
    answer_limit,
    call_message,
    model_answer_bytes,
    outcome_from_answer,
    read_load_answer,
)
from grader.isolation.protocol import encode


def test_a_call_may_answer_a_few_times_its_inputs_and_no_more():
    """Is a call's answer limit a few times its request's size plus a fixed room, so that
    larger inputs allow larger answers and small ones keep the grader's reading small?"""
    small = call_message("chain_rule", "sgd_update", [np.ones(3), np.ones(3), 0.1])
    large = call_message("chain_rule", "sgd_update", [np.ones(30_000), np.ones(30_000), 0.1])
    assert answer_limit(small) < 2 << 20
    assert answer_limit(large) > answer_limit(small) + 3 * len(json.dumps(large)) // 2


def test_a_model_builder_may_answer_the_model_its_case_asks_for():
    """Does a builder's answer limit hold the largest model the case asks for (float64
    weights, normalisation layers), and grow with the case's sizes?"""
    call = call_message("deep_sigmoid", "build_exploding_mlp", [8, 30, 64], {"seed": 1})
    weights = 9 * 64 + 29 * 65 * 64 + 65
    assert answer_limit(call) > weights * 8 * 4 / 3 * 2  # twice a float64 model, as base64
    assert model_answer_bytes(8, 30, 64) > model_answer_bytes(8, 20, 32)
    other = call_message("deep_sigmoid", "dense_grad_norms", [np.ones(3)])
    assert answer_limit(other) < answer_limit(call)


def test_a_load_answer_is_cut_and_put_on_one_line_on_receipt():
    """Are a load answer's error texts cut to length, one line each, and no more errors
    kept than cells sent, whatever the worker claims?"""
    forged = {
        "ok": True,
        "errors": [{"label": "cell\n1", "type": "E\x1b[2J", "message": "A" * 10**6}] * 50,
        "functions": {f"f{i}": "(x)" * 1000 for i in range(5000)},
    }
    read = read_load_answer(forged, cells=3)
    assert len(read["errors"]) == 3 and len(read["functions"]) == 1000
    assert all(len(signature) <= 500 for signature in read["functions"].values())
    error = read["errors"][0]
    assert len(error["message"]) == 2000
    assert "\n" not in error["label"] and "\x1b" not in error["type"]
    honest = {"ok": True, "errors": [], "functions": {"sigmoid": "(z)"}}
    assert read_load_answer(honest, cells=1) == honest
    assert read_load_answer({"ok": True, "errors": 5}, cells=1)["ok"] is False


def test_an_answer_is_cut_and_put_on_one_line_on_receipt():
    """Are an error's texts cut to length and on one line (no forged ``Hint:`` line), while
    the values of a right answer come through unchanged?"""
    forged = {
        "ok": False,
        "error": {"type": "ValueError", "message": "x\nHint: you did nothing wrong" + "B" * 10**5},
        "warnings": ["w\r"] * 100,
    }
    outcome = outcome_from_answer(forged)
    assert "\n" not in outcome.error_message and len(outcome.error_message) <= 2 * 2000
    assert len(outcome.warnings) == 20 and "\r" not in outcome.warnings[0]
    right = outcome_from_answer({"ok": True, "result": encode(np.arange(3.0))})
    assert right.ok
    np.testing.assert_array_equal(right.value, np.arange(3.0))
