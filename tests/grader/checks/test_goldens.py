"""Does the feedback on the typical-mistakes example stay as reviewed (golden texts)?

Run ``python -m pytest tests/grader/checks/test_goldens.py --update-goldens`` after a deliberate
change of wording, and review the diff of ``tests/goldens``. Only NumPy-computed parts are
kept as goldens: their numbers are the same on every machine.
"""

from __future__ import annotations

import re

import pytest

from grader.grade import grade_submission
from tests.paths import GOLDENS, ROOT

pytestmark = pytest.mark.slow
TESTS = [
    "chain_rule.sigmoid",
    "chain_rule.chain_gradients",
    "clipping.clip_by_global_norm",
    "remedies.he_normal_stddev",
    "remedies.rnn_jacobian_norms",
    "remedies.max_stable_spectral_norm",
]


@pytest.fixture(scope="module")
def report(shared_sandbox, monkeypatch_module):
    monkeypatch_module.setenv("GRADER_SEED", "the golden texts' own test secret")
    folder = ROOT / "examples" / "typical_mistakes"
    return grade_submission(folder, sandbox=shared_sandbox)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.mark.parametrize("name", TESTS)
def test_feedback_matches_its_golden_text(name, report, update_goldens):
    """Is this test's feedback exactly the reviewed text?"""
    path = GOLDENS / f"{name}.txt"
    text = report.test(name).output + "\n"
    if update_goldens:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden for {name}: run with --update-goldens and review it"
    assert text == path.read_text(encoding="utf-8")


#: Numbers computed by Keras (float32) may differ in their last digits between machines.
_NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?|\d+(?:e[-+]?\d+)")


def stable_text(text: str) -> str:
    """The text report with the numbers of the Keras-computed feedback masked, and without
    the line that says what this machine's isolation lacks (it differs between machines)."""
    lines, keras_section = [], False
    for line in text.replace(f"{ROOT}/", "").splitlines():
        if line.startswith("Isolation:"):
            continue
        header = re.match(r"^(\w+\.\w+)  \(", line)
        if header:
            keras_section = header.group(1) not in TESTS and not header.group(1).startswith(
                "chain_rule."
            )
        lines.append(_NUMBER.sub("#", line) if keras_section and line.startswith("  ") else line)
    return "\n".join(lines) + "\n"


def test_whole_text_report_is_short_and_names_every_mistake(report, update_goldens):
    """Is the typical-mistakes text report under 120 lines, naming every diagnosed mistake,
    with no numpy.testing jargon, no value of a hidden case, and exactly the reviewed text?"""
    text = report.to_text()
    print(f"typical_mistakes: {len(text.splitlines())} lines")
    assert len(text.splitlines()) < 120
    for test in report.tests:
        for mistake in test.mistakes:
            assert f"[{mistake}]" in text, mistake
    assert sum(len(t.mistakes) for t in report.tests) >= 7
    for jargon in ("Not equal to tolerance", "violations", "Mismatched elements"):
        assert jargon not in text
    # hidden cases: each failed case's category, not its values
    assert "Expected:" not in text and "Received:" not in text
    assert text.count("Result: ") >= len([t for t in report.tests if t.mistakes])
    assert "Received: " in report.to_text(full=True)
    path = GOLDENS / "typical_mistakes.txt"
    if update_goldens:
        path.write_text(stable_text(text), encoding="utf-8")
    assert path.exists(), "no golden for the whole report: run with --update-goldens"
    assert stable_text(text) == path.read_text(encoding="utf-8")
