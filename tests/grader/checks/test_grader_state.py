"""Is the grading process's own state the same after each test and each student as before,
and does a test that changes it lose its own points only?"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from grader.assignment import FUNCTIONS
from grader.checks.grader_state import capture, changes, run_keeping_state, settings
from grader.course.sources import reference_source
from grader.results import CaseResult, TestResult
from tests.paths import ROOT


def keras_module():
    import keras

    return keras


def tensorflow_module():
    import tensorflow as tf

    return tf


def _register_custom_object():
    keras = keras_module()

    class Foo:
        def get_config(self):
            return {}

    keras.saving.register_keras_serializable("a_student")(Foo)


CHANGES = [
    ("floatx", lambda: keras_module().config.set_floatx("float16"), "keras.config.floatx"),
    ("epsilon", lambda: keras_module().config.set_epsilon(0.5), "keras.config.epsilon"),
    (
        "image-data-format",
        lambda: keras_module().config.set_image_data_format("channels_first"),
        "keras.config.image_data_format",
    ),
    (
        "dtype-policy",
        lambda: keras_module().config.set_dtype_policy("mixed_float16"),
        "keras.config.dtype_policy",
    ),
    (
        "distribution",
        lambda: keras_module().distribution.set_distribution(
            keras_module().distribution.DataParallel()
        ),
        "keras.distribution.distribution",
    ),
    (
        "unsafe-deserialization",
        lambda: keras_module().config.enable_unsafe_deserialization(),
        "keras global state safe_mode_saving",
    ),
    (
        "traceback-filtering",
        lambda: keras_module().config.disable_traceback_filtering(),
        "keras.config.is_traceback_filtering_enabled",
    ),
    ("custom-objects", _register_custom_object, "keras.saving.get_custom_objects"),
    (
        "run-functions-eagerly",
        lambda: tensorflow_module().config.run_functions_eagerly(True),
        "tf.config.functions_run_eagerly",
    ),
    (
        "environment-variable",
        lambda: os.environ.__setitem__("A_STUDENT_WAS_HERE", "1"),
        "1 environment variable",
    ),
    ("numpy-errors", lambda: np.seterr(all="ignore"), "numpy.geterr"),
]


@pytest.mark.parametrize("change, name", [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_a_test_that_changes_a_setting_scores_nothing_and_the_setting_is_put_back(change, name):
    """Does a changed setting fail that test, with a message naming it, and is every
    setting as it was afterwards?"""
    before = settings()

    def run():
        change()
        return TestResult("deep_sigmoid.build_exploding_mlp", 6, [CaseResult("a case", True)])

    result = run_keeping_state("deep_sigmoid.build_exploding_mlp", 6, run)
    assert result.score == 0
    lines = result.verdict.splitlines()
    assert lines[0].startswith("Not graded: measuring this function's results changed")
    assert lines[1] == "Expected: the grader's settings left as they were"
    assert lines[2].startswith("Received: a change to ") and name in lines[2]
    assert lines[3].startswith("Hint: ")
    assert changes(before, settings()) == []


def test_a_test_that_changes_nothing_keeps_its_result():
    """Is a test that leaves the settings alone returned as it was?"""
    result = TestResult("chain_rule.sigmoid", 4, [CaseResult("a case", True)])
    assert run_keeping_state("chain_rule.sigmoid", 4, lambda: result) is result
    assert result.score == 4


def draws() -> tuple[float, ...]:
    keras, tf = keras_module(), tensorflow_module()
    return (
        random.random(),
        float(np.random.rand()),
        float(keras.random.normal(())),
        float(tf.random.normal(())),
        float(tf.random.get_global_generator().normal(())),
    )


def test_random_state_is_put_back_after_every_test_without_failing_it():
    """Does each test start from the same random state, whatever the one before drew or
    seeded, without that costing points (a rebuild draws weights as a matter of course)?"""
    keras = keras_module()
    tensorflow_module().random.get_global_generator()  # made before the snapshot
    snapshot = capture()
    expected = draws()
    from grader.checks.grader_state import restore_random_state

    restore_random_state(snapshot)

    def reseeding():
        draws()
        keras.utils.set_random_seed(123)
        draws()
        return TestResult("remedies.build_healthy_mlp", 6, [CaseResult("a case", True)])

    result = run_keeping_state("remedies.build_healthy_mlp", 6, reseeding)
    assert result.score == 6 and result.verdict is None
    assert draws() == expected


def test_a_failing_run_still_puts_the_settings_back():
    """When the test itself raises, are the settings restored before the error goes on?"""
    keras = keras_module()
    before = settings()

    def broken():
        keras.config.set_floatx("float64")
        raise RuntimeError("grader fault")

    with pytest.raises(RuntimeError, match="grader fault"):
        run_keeping_state("chain_rule.sigmoid", 4, broken)
    assert changes(before, settings()) == []
    assert keras.config.floatx() == "float32"


def test_grade_part_fails_only_the_test_that_changed_a_setting(monkeypatch, tmp_path):
    """Through grade_part: is only the test that changed floatx failed, and do the tests
    after it run with the setting put back?"""
    import grader.grade as grade
    from grader.submission import PartCode

    keras = keras_module()
    seen = {}

    def fake_check(name, runner, seed, public=False):
        seen[name] = keras.config.floatx()
        if name == "deep_sigmoid.dense_grad_norms":
            keras.config.set_floatx("float16")
        points = next(f.points for f in FUNCTIONS if f.test_name == name)
        return TestResult(name, points, [CaseResult("a case", True)])

    class Runner:
        def load(self, part):
            return {"ok": True}

        first_load = load

    monkeypatch.setattr(grade, "run_check", fake_check)
    code = PartCode("deep_sigmoid", tmp_path / "deep_sigmoid.py", "module", [("module", "x = 1")])
    results = grade.grade_part("deep_sigmoid", code, Runner(), seed=1, public=False)
    scores = {r.name: r.score for r in results}
    full = {f.test_name: f.points for f in FUNCTIONS if f.part == "deep_sigmoid"}
    assert scores == {**full, "deep_sigmoid.dense_grad_norms": 0}
    assert set(seen.values()) == {"float32"}
    assert "keras.config.floatx" in results[1].verdict


FIRST_MEASUREMENT = """
from grader.quiet import import_tensorflow

import_tensorflow()
import numpy as np

from grader.checks.grader_state import run_keeping_state
from grader.results import CaseResult, TestResult


def run():
    from grader.measuring.measure import gradient_norms, train_full_batch
    from grader.measuring.rebuild import describe_model, rebuild_model
    from solutions.deep_sigmoid import build_mlp

    model = rebuild_model(describe_model(build_mlp(3, 2, 4, seed=1)))
    x = np.ones((4, 3), np.float32)
    gradient_norms(model, x, x[:, :1])
    train_full_batch(model, x, x[:, :1], 2, 0.1)
    return TestResult("deep_sigmoid.dense_grad_norms", 8, [CaseResult("a case", True)])


print(run_keeping_state("deep_sigmoid.dense_grad_norms", 8, run).verdict)
"""


def test_the_first_measurement_in_a_fresh_process_is_not_a_change():
    """In a fresh grading process, where Keras makes some of its globals on first use, is
    the first rebuild and measurement of a model not taken for a change of settings?"""
    result = subprocess.run(
        [sys.executable, "-c", FIRST_MEASUREMENT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "None"


# -- a batch: a hostile student between two correct ones ---------------------------------

#: A build_exploding_mlp whose model config names keras.distribution.set_distribution as
#: an activation: rebuilt by Keras's registry and called in the grader, it set the
#: grader's global distribution to a tensor, and every model built afterwards failed.
HOSTILE_TAIL = """

import json as _json

_SIDE_EFFECT = {
    "module": "keras.distribution",
    "class_name": "function",
    "config": "set_distribution",
    "registered_name": "function",
}


def build_exploding_mlp(input_dim, depth, width, seed=None):
    layers = [keras.Input(shape=(input_dim,))]
    for _ in range(depth):
        layers.append(keras.layers.Dense(width, activation="tanh"))
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    forged = _json.loads(model.to_json())
    forged["config"]["layers"][1]["config"]["activation"] = _SIDE_EFFECT
    text = _json.dumps(forged)
    model.to_json = lambda **kwargs: text
    return model
"""


def test_hostile_model_config_is_refused_before_keras_sees_it():
    """Is the batch test's forged config refused by the allow-list (quick check)?"""
    from grader.measuring.plain import ModelRebuildError
    from grader.measuring.rebuild import describe_model, rebuild_model

    namespace: dict = {}
    exec(compile("import keras\n" + HOSTILE_TAIL, "hostile", "exec"), namespace)
    spec = describe_model(namespace["build_exploding_mlp"](8, 2, 4))
    with pytest.raises(ModelRebuildError, match="set_distribution is not an allowed activation"):
        rebuild_model(spec)


@pytest.mark.slow
def test_a_correct_student_after_a_hostile_one_scores_as_alone(tmp_path):
    """In a batch graded by one process, does a correct student graded after a student
    whose model names a registered Keras function with a global side effect score
    exactly as the same code graded first, in a fresh process (alone)?"""
    correct = reference_source("deep_sigmoid")
    root = tmp_path / "submitted"
    for name, source in [
        ("a_alone", correct),
        ("b_hostile", correct + HOSTILE_TAIL),
        ("c_after", correct),
    ]:
        (root / name).mkdir(parents=True)
        (root / name / "deep_sigmoid.py").write_text(source)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(root), "--out", str(out), "--workers", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr
    with open(out / "grades.csv", newline="") as handle:
        rows = {row.pop("student"): row for row in csv.DictReader(handle)}
    part = [f.test_name for f in FUNCTIONS if f.part == "deep_sigmoid"]
    alone = {t: float(rows["a_alone"][t]) for t in part}
    after = {t: float(rows["c_after"][t]) for t in part}
    assert after == alone
    assert alone == {f.test_name: f.points for f in FUNCTIONS if f.part == "deep_sigmoid"}
