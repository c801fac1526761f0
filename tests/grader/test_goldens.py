"""Does the feedback on the typical-mistakes example stay as reviewed (golden texts)?

Run ``python -m pytest tests/grader/test_goldens.py --update-goldens`` after a deliberate
change of wording, and review the diff of ``tests/goldens``. Only NumPy-computed parts are
kept as goldens: their numbers are the same on every machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grade import grade_submission

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
GOLDENS = ROOT / "tests" / "goldens"
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
    folder = ROOT / "exercises" / "example_submissions" / "typical_mistakes"
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
