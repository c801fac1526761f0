"""Do the recorded expected values answer the checks as the live reference does?

A kit's source (:class:`grader.checks.expected.RecordedValues`) is made here from the chain-rule
checks' public cases only: part 1 is quick and has both kinds of answers a kit needs
(expected values and known mistakes' values), and helpers (``chain_gradients`` calls
``chain_forward``). The kit holds no simulator of a known mistake: its diagnosis works from
the recorded values alone, shown here with the simulators made to refuse every call.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from grader.assignment import functions_of
from grader.checks import expected, simulators
from grader.checks.registry import PUBLIC_SEED, run_check
from grader.checks.runner import InProcessRunner
from grader.course.kit import record_public_values
from grader.course.sources import reference_source
from tests.paths import CORPUS

CHAIN_RULE = [f.test_name for f in functions_of("chain_rule")]
#: Part 4's quick tests: formulas and the RNN (simulated mistakes of both kinds).
REMEDIES = ["remedies.glorot_uniform_limit", "remedies.he_normal_stddev"]
REMEDIES += ["remedies.rnn_jacobian_norms"]


class Refusing(dict):
    """Stands for the simulators where a kit has none: every look-up fails the test."""

    def __getitem__(self, name: str):
        raise AssertionError(f"the simulator {name} ran: a kit has none")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> expected.RecordedValues:
    path = tmp_path_factory.mktemp("recorded") / "recorded_values.json"
    path.write_text(json.dumps(record_public_values(tests=CHAIN_RULE)), encoding="utf-8")
    return expected.RecordedValues(path)


@pytest.fixture(scope="module")
def recorded_remedies(tmp_path_factory: pytest.TempPathFactory) -> expected.RecordedValues:
    path = tmp_path_factory.mktemp("recorded") / "recorded_values.json"
    path.write_text(json.dumps(record_public_values(tests=REMEDIES)), encoding="utf-8")
    return expected.RecordedValues(path)


def _namespace(extra: str = "", part: str = "chain_rule") -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": f"submission_{part}"}
    exec(compile(reference_source(part) + "\n" + extra, "<submission>", "exec"), namespace)
    return namespace


def _results(
    source: Any, namespace: dict[str, Any], tests: list[str] = CHAIN_RULE
) -> dict[str, tuple[str, float, str]]:
    previous = expected.use(source)
    try:
        results = {}
        for name in tests:
            result = run_check(name, InProcessRunner(dict(namespace)), PUBLIC_SEED, public=True)
            results[name] = (result.status, result.score, result.output)
        return results
    finally:
        expected.use(previous)


def test_a_recorded_call_gives_the_live_value_and_another_call_raises(
    recorded: expected.RecordedValues,
) -> None:
    """Does the kit's source answer a recorded call exactly, and refuse any other?"""
    previous = expected.use(recorded)
    try:
        with pytest.raises(expected.NotRecorded, match="only the public cases"):
            expected.reference("chain_rule").sigmoid(np.array([0.123, 4.56]))
        assert expected.signature("chain_rule", "chain_forward") == "(x, w, b)"
    finally:
        expected.use(previous)
    with expected.recording() as values:
        live = expected.reference("chain_rule").sigmoid(np.array([0.0, 700.0]))
    key = expected.call_key("chain_rule.sigmoid", (np.array([0.0, 700.0]),), {})
    assert list(values) == [key]
    np.testing.assert_array_equal(live, [0.5, 1.0])


@pytest.mark.parametrize(
    "wrong",
    [
        "missing_factor_two",
        "missing_sigmoid_factor",
        "forward_includes_input",
        "update_sign",
        "gradients_reversed",
        "local_gains_missing_weight_factor",
    ],
)
def test_recorded_values_give_the_live_verdicts_and_feedback(
    recorded: expected.RecordedValues, wrong: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Are a wrong submission's verdicts, scores and hints (its mistake named) the same
    from recorded values, with no simulator to run, as from the live reference?"""
    extra = (CORPUS / "wrong" / f"chain_rule__{wrong}.py").read_text(encoding="utf-8")
    namespace = _namespace(extra)
    live = _results(expected.LiveReference(), namespace)
    monkeypatch.setattr(simulators, "SIMULATORS", Refusing())
    kit = _results(recorded, namespace)
    assert kit == live
    assert any(status == "failed" for status, _, _ in kit.values())
    assert any(f"[{wrong}]" in output for _, _, output in kit.values())


_OWN_FORWARD_CALL = """
def chain_gradients(x, y, w, b):
    outputs = [np.asarray(x, dtype=float)] + chain_forward(list(x), list(w), list(b))
    dw, db = np.zeros(len(w)), np.zeros(len(w))
    grad = 2 * (outputs[-1] - y) / np.size(x)
    for k in reversed(range(len(w))):
        dz = grad * outputs[k + 1] * (1 - outputs[k + 1])
        dw[k] = np.sum(dz * outputs[k])
        db[k] = np.sum(dz)
        grad = dz * w[k]
    return dw, db
"""


@pytest.mark.parametrize("own_forward", ["reference", "broken"])
def test_a_helper_not_recorded_is_the_students_own(
    recorded: expected.RecordedValues, own_forward: str
) -> None:
    """When a function calls a helper with arguments the kit did not record (lists here),
    does the student's own helper answer: right when it is right, wrong when it is wrong?"""
    broken = "\ndef chain_forward(x, w, b):\n    return [np.asarray(x)] * len(w)\n"
    extra = _OWN_FORWARD_CALL + (broken if own_forward == "broken" else "")
    result = _results(recorded, _namespace(extra))["chain_rule.chain_gradients"]
    if own_forward == "reference":
        assert result[0] == "passed", result[2]
    else:
        assert result[0] == "failed"
        assert "could not be computed" not in result[2]
    live = _results(expected.LiveReference(), _namespace(extra))["chain_rule.chain_gradients"]
    assert live[0] == "passed"  # the full grader answers every helper call with the reference


@pytest.mark.parametrize(
    "wrong",
    ["tanh_derivative_missing", "frobenius_norm", "rnn_jacobian_off_by_one", "glorot_he_mixed"],
)
def test_a_kit_diagnoses_part_4_from_recorded_values(
    recorded_remedies: expected.RecordedValues, wrong: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Is an RNN or formula mistake named the same from recorded values, with no simulator
    to run, as from the live reference; and does the live reference need its simulators
    (they refuse: the mistake is not named)?"""
    extra = (CORPUS / "wrong" / f"remedies__{wrong}.py").read_text(encoding="utf-8")
    mistake = extra.split("# mistake: ")[1].split()[0]
    namespace = _namespace(extra, "remedies")
    live = _results(expected.LiveReference(), namespace, REMEDIES)
    assert any(f"[{mistake}]" in output for _, _, output in live.values())
    monkeypatch.setattr(simulators, "SIMULATORS", Refusing())
    assert _results(recorded_remedies, namespace, REMEDIES) == live
    blind = _results(expected.LiveReference(), namespace, REMEDIES)
    assert not any(f"[{mistake}]" in output for _, _, output in blind.values())
