"""Verdicts that cannot be gamed: helpers by contract order, bounded references, k/n credit."""

from __future__ import annotations

import time

import numpy as np
import pytest

from grader.assignment import function
from grader.checks.oracle import answer_callback, helpers_of, reference_value, within_bounds
from grader.course.sources import reference_source
from grader.isolation.protocol import encode


def test_helpers_are_only_the_functions_before_the_one_under_test():
    """Does the reference answer only for helpers earlier in the contract's order?"""
    assert helpers_of("chain_rule.sigmoid") == []
    assert helpers_of("chain_rule.local_gains") == [
        "sigmoid",
        "sigmoid_derivative",
        "chain_forward",
        "chain_gradients",
    ]
    assert "clip_by_global_norm" not in helpers_of("clipping.global_norm")
    assert "global_norm" in helpers_of("clipping.clip_by_global_norm")
    assert "rnn_jacobian_norms" not in helpers_of("remedies.build_healthy_mlp")


def test_a_later_helper_is_refused_by_the_grader_too():
    """Does a callback for a function not allowed get an error, not the reference's value?"""
    message = {
        "function": "chain_forward",
        "args": encode([np.zeros(2), np.ones(1), np.zeros(1)]),
        "kwargs": encode({}),
    }
    reply = answer_callback("chain_rule", helpers_of("chain_rule.sigmoid"), message)
    assert reply["ok"] is False and "not answered" in reply["error"]


def test_a_huge_helper_call_is_refused_quickly():
    """Is a 1500-unit RNN (92 s and 955 MB before) refused before the reference runs?"""
    rng = np.random.default_rng(0)
    args = [rng.normal(size=(1500, 1500)), rng.normal(size=(1500, 2)), np.zeros(1500)]
    args += [rng.normal(size=(5, 2)), np.zeros(1500)]
    assert "over the bound" in within_bounds("rnn_jacobian_norms", args, {})
    message = {"function": "rnn_jacobian_norms", "args": encode(args), "kwargs": encode({})}
    started = time.monotonic()
    reply = answer_callback("remedies", ["rnn_jacobian_norms"], message)
    assert time.monotonic() - started < 5
    assert reply["ok"] is False and "larger than the contract's cases" in reply["error"]
    assert "over the bound" in within_bounds("build_mlp", [8, 200, 256], {})
    assert within_bounds("build_mlp", [8, 30, 64, "tanh", None, 1234], {}) == ""


def test_a_slow_reference_is_stopped_at_the_time_left():
    """Is a reference that would outlast the student's call stopped at the time left?"""
    x = np.linspace(-3, 3, 64)
    started = time.monotonic()
    with pytest.raises(ValueError, match="larger"):
        reference_value("chain_rule", "chain_forward", [np.zeros(5000), [1.0], [0.0]], {})
    message = {
        "function": "chain_forward",
        "args": encode([x, np.ones(30), np.zeros(30)]),
        "kwargs": encode({}),
    }
    reply = answer_callback("chain_rule", ["chain_forward"], message, time.monotonic() - 1)
    assert reply["ok"] is False and "ReferenceTimeout" in reply["error"]
    assert time.monotonic() - started < 5
    reply = answer_callback("chain_rule", ["chain_forward"], message, time.monotonic() + 30)
    assert reply["ok"] is True


CYCLE_CLIPPING = """

def global_norm(grads):
    return clip_by_global_norm(grads, 1.0)[1]


def clip_by_global_norm(grads, clip_norm):
    norm = global_norm(grads)
    scale = min(1.0, clip_norm / norm) if norm > 0 else 1.0
    return [np.asarray(g) * scale for g in grads], norm
"""

CYCLE_CHAIN = """

def sigmoid_derivative(z):
    return local_gains(np.asarray(z), [1.0], [0.0])[0]


def local_gains(x, w, b):
    inputs = [np.asarray(x, dtype=np.float64)] + chain_forward(x, w, b)[:-1]
    return np.stack([sigmoid_derivative(w_k * o + b_k) * w_k for w_k, b_k, o in zip(w, b, inputs)])
"""

#: sigmoid gives the right values only when the reference answers a later function for it.
HARVEST = """

def sigmoid(z):
    try:
        chain_forward(np.zeros(2), np.ones(1), np.zeros(1))
    except Exception:
        return np.zeros_like(np.asarray(z, dtype=np.float64))
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=np.float64), -500, 500)))


def chain_forward(x, w, b):
    raise NotImplementedError()
"""


@pytest.mark.slow
def test_functions_that_call_each_other_fail_as_in_python(grade_sources):
    """Does a cycle cost the earlier function its points (RecursionError), not score full?"""
    report = grade_sources(
        {
            "clipping.py": reference_source("clipping") + CYCLE_CLIPPING,
            "chain_rule.py": reference_source("chain_rule") + CYCLE_CHAIN,
        }
    )
    norm = report.test("clipping.global_norm")
    assert norm.score == 0 and "RecursionError" in norm.output
    derivative = report.test("chain_rule.sigmoid_derivative")
    assert derivative.score == 0 and "RecursionError" in derivative.output
    # The later function of each pair uses the reference's earlier one: only its own code counts.
    for name in ("clipping.clip_by_global_norm", "chain_rule.local_gains"):
        assert report.test(name).score == function(name).points


@pytest.mark.slow
def test_no_test_can_ask_the_reference_for_a_later_test(grade_sources):
    """Does a helper call to a later function run the student's own code (here a stub)?"""
    report = grade_sources({"chain_rule.py": reference_source("chain_rule") + HARVEST})
    sigmoid = report.test("chain_rule.sigmoid")
    assert sigmoid.score == 0, sigmoid.output
    assert report.test("chain_rule.chain_forward").score == 0


def test_a_case_the_grader_cannot_judge_costs_its_share_only(monkeypatch):
    """Does a check stopping on its 3rd of 4 cases score 2/4, not 2/3, without the error's
    text: as the student's case when the answer was malformed, as a grader fault otherwise?"""
    from grader.checks import registry as checks
    from grader.checks.runner import InProcessRunner
    from grader.results import GRADER_FAULT_NOTE, CaseResult

    checks.import_checks("chain_rule")
    text = "could not convert string to float: 'a value the student chose'"

    def malformed(ctx):
        yield CaseResult("one", True)
        yield CaseResult("two", True)
        try:
            float("a value the student chose")
        except ValueError as error:
            raise checks.MalformedAnswer("the answer") from error

    def faulty(ctx):
        yield CaseResult("one", True)
        yield CaseResult("two", True)
        raise ValueError(text)

    name = "chain_rule.sigmoid"
    for check, fault in ((malformed, False), (faulty, True)):
        monkeypatch.setitem(checks.REGISTRY, name, checks.Check(name, check, 10, cases=4))
        result = checks.run_check(name, InProcessRunner({}), seed=1)
        assert [c.passed for c in result.cases] == [True, True, False, False]
        assert result.score == result.max_score * 2 / 4
        assert "the student chose" not in result.output
        assert bool(result.grader_fault) is fault
        if fault:  # the traceback is the instructor's; the student reads it is not theirs
            assert GRADER_FAULT_NOTE in result.output and "the student chose" in result.grader_fault
        else:
            assert "could not check (ValueError)" in result.output


@pytest.mark.slow
def test_every_check_declares_the_cases_the_reference_passes():
    """Does every registered check yield exactly its declared number of cases on the reference?"""
    import importlib

    from grader.assignment import FUNCTIONS
    from grader.checks.registry import REGISTRY, import_checks, run_check
    from grader.checks.runner import InProcessRunner

    import_checks()
    for spec in FUNCTIONS:
        if spec.name in ("train_with_clipping", "build_healthy_mlp", "dense_grad_norms"):
            continue  # the slow ones: test_grade.py's reference run covers them
        module = importlib.import_module(f"solutions.{spec.part}")
        functions = {k: v for k, v in vars(module).items() if callable(v)}
        result = run_check(spec.test_name, InProcessRunner(functions), seed=3)
        assert len(result.cases) == REGISTRY[spec.test_name].cases, spec.test_name
        assert result.score == spec.points, result.output


@pytest.mark.slow
def test_an_optimizer_config_holding_a_string_scores_k_of_n(grade_sources):
    """Is a string clipnorm two failed cases of four (half the points), the other cases judged?"""
    wrong = reference_source("clipping").replace(
        "return keras.optimizers.SGD(learning_rate=learning_rate, **clipping)",
        "if strategy in ('norm', 'global_norm'):\n"
        "        clipping = {'clipnorm': 'not a number'}\n"
        "    return keras.optimizers.SGD(learning_rate=learning_rate, **clipping)",
    )
    assert wrong != reference_source("clipping")
    result = grade_sources({"clipping.py": wrong}).test("clipping.make_optimizer")
    assert len(result.cases) == 4
    assert result.score == result.max_score / 2, result.output
    assert "clipnorm=not a number" in result.full_output  # on hidden cases: the details


#: Functions whose failure on a hidden case writes a hidden input into the feedback.
LEAKS = [
    (
        "exception-text",
        "def sgd_update(param, grad, learning_rate):\n"
        "    raise ValueError('LEAK' + repr(float(learning_rate)))\n",
        "raised ValueError",
    ),
    (
        "own-exception-class",
        "def sgd_update(param, grad, learning_rate):\n"
        "    raise type('LEAK' + str(int(learning_rate * 1e6)), (Exception,), {})()\n",
        "raised an exception",
    ),
    (
        "exit-status",
        "def sgd_update(param, grad, learning_rate):\n    import os\n"
        "    os._exit(77 if learning_rate > 0 else 1)\n",
        "its process stopped early",
    ),
    (
        "warning-text",
        "import warnings\nimport numpy as np\n"
        "def sigmoid(z):\n"
        "    warnings.warn('LEAK' + repr(float(np.sum(z))), RuntimeWarning)\n"
        "    z = np.clip(np.asarray(z, dtype=float), -500, 500)\n"
        "    return 1 / (1 + np.exp(-z))\n",
        "warnings of category RuntimeWarning",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case_id, code, category", LEAKS, ids=[c[0] for c in LEAKS])
def test_hidden_case_feedback_shows_the_category_only(
    case_id, code, category, tmp_path, monkeypatch
):
    """Is what the student's code wrote on a hidden case kept out of what is shown at once?"""
    from grader.grade import grade_submission
    from grader.isolation.sandbox import Sandbox
    from tests.grader.conftest import write_submission

    monkeypatch.setenv("GRADER_TIMEOUT_SCALE", "0.3")
    folder = write_submission(
        tmp_path / "student", {"chain_rule.py": reference_source("chain_rule") + "\n\n" + code}
    )
    sandbox = Sandbox(tensorflow=False)
    try:
        report = grade_submission(folder, sandbox=sandbox)
    finally:
        sandbox.close()
    test = report.test(
        "chain_rule.sigmoid" if case_id == "warning-text" else "chain_rule.sgd_update"
    )
    assert test.score < test.max_score
    assert category in test.output, test.output
    for secret_text in ("LEAK", "77"):
        assert secret_text not in test.output
    assert "LEAK" in test.full_output or "77" in test.full_output
    gradescope = report.to_gradescope()["tests"]
    shown = [t["output"] for t in gradescope if t["visibility"] == "visible"]
    later = [t["output"] for t in gradescope if t["visibility"] == "after_due_date"]
    assert not any("LEAK" in text or "status 77" in text for text in shown)
    assert any("LEAK" in text or "status 77" in text for text in later)


def test_figure_data_is_at_most_512_points_per_series():
    """Does a 10-million-element output make a figure of at most 512 points per series?"""
    import json

    from grader.checks.registry import MAX_FIGURE_POINTS, Context
    from grader.checks.runner import CallOutcome, InProcessRunner

    ctx = Context(InProcessRunner({}), "chain_rule", "chain_gradients", np.random.default_rng(0))
    huge = np.arange(10_000_000, dtype=np.float64)
    ctx.add_figure("bars", "a title", CallOutcome(ok=True), huge, reference=huge, other=[1.0, 2.0])
    figure = ctx.figures[0]
    assert len(figure["student"]) == len(figure["reference"]) == MAX_FIGURE_POINTS == 512
    assert figure["student"][0] == 0 and figure["student"][-1] == 9_999_999
    assert figure["other"] == [1.0, 2.0]
    assert len(json.dumps(figure)) < 50_000


def test_a_notebook_nested_too_deeply_costs_its_part_only(tmp_path):
    """Does a notebook of 200,000 nested '[' become a problem of its part, the others loaded?"""
    from grader.submission import load_submission

    (tmp_path / "chain_rule.ipynb").write_text("[" * 200_000)
    (tmp_path / "remedies.py").write_text(reference_source("remedies"))
    submission = load_submission(tmp_path)
    assert submission.parts["chain_rule"].cells == []
    assert "nested too deeply" in " ".join(submission.parts["chain_rule"].problems)
    assert submission.parts["remedies"].cells


@pytest.mark.slow
def test_the_report_is_written_for_a_deeply_nested_notebook(tmp_path):
    """Does the CLI write a report (status 0) for a notebook of 200,000 nested '['?"""
    import subprocess
    import sys

    (tmp_path / "chain_rule.ipynb").write_text("[" * 200_000)
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(tmp_path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "nested too deeply" in result.stdout and "internal error" not in result.stderr


#: An in-place sgd_update that switches the worker's own check for changed inputs off, in
#: whichever of the worker's modules holds it (and ``__main__``, as the worker may run).
TAMPERED = """

import sys

_replaced = []
for _name in list(sys.modules):
    if _name != "__main__" and not _name.startswith("grader.worker"):
        continue
    _module = sys.modules.get(_name)
    if _module is not None and hasattr(_module, "_fingerprint"):
        _module._fingerprint = lambda value: None
        _module.after_state = lambda value: None
        _replaced.append(_name)


def sgd_update(param, grad, learning_rate):
    if not _replaced:  # nothing to switch off was found: a correct update, which scores
        return param - learning_rate * grad
    param -= learning_rate * grad
    return param
"""


@pytest.mark.slow
def test_replacing_the_workers_functions_keeps_the_check_for_changed_inputs(tmp_path):
    """Does an in-place sgd_update that replaces the worker's fingerprint still lose points?"""
    from grader.grade import grade_submission
    from grader.isolation.sandbox import Sandbox
    from tests.grader.conftest import write_submission

    folder = write_submission(
        tmp_path / "student", {"chain_rule.py": reference_source("chain_rule") + TAMPERED}
    )
    sandbox = Sandbox(tensorflow=False)
    try:
        report = grade_submission(folder, sandbox=sandbox)
    finally:
        sandbox.close()
    test = report.test("chain_rule.sgd_update")
    assert test.score < 1, test.output
    assert "changed by the call" in test.output


#: Library use the syntax tree cannot see: only the worker's run-time guards catch it.
RUNTIME_PART1 = """

def _library():
    table = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
    return table["__imp" + "ort__"]("tensor" + "flow")


def sigmoid(z):
    return _library().math.sigmoid(np.asarray(z, dtype=np.float64)).numpy()
"""
RUNTIME_PART3 = """

def _library():
    table = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
    return table["__imp" + "ort__"]("tensor" + "flow")


def clip_by_value(grads, clip_value):
    lib = _library()
    return [lib.clip_by_value(g, -clip_value, clip_value).numpy() for g in grads]
"""


@pytest.mark.slow
def test_library_rules_hold_at_run_time_whatever_name_reached_the_library(grade_sources):
    """Do a hidden TensorFlow import in part 1 and a hidden tf.clip_by_value in part 3 score 0?"""
    from grader.checks.policy import find_violations

    part1 = reference_source("chain_rule") + RUNTIME_PART1
    part3 = reference_source("clipping") + RUNTIME_PART3
    assert find_violations("chain_rule", part1) == {}  # the syntax tree sees nothing
    assert find_violations("clipping", part3) == {}
    report = grade_sources({"chain_rule.py": part1, "clipping.py": part3})
    sigmoid = report.test("chain_rule.sigmoid")
    assert sigmoid.score == 0 and "reached tensorflow while it ran" in sigmoid.output
    clip = report.test("clipping.clip_by_value")
    assert clip.score == 0 and "called tf.clip_by_value while it ran" in clip.output
    for name in ("chain_rule.sigmoid_derivative", "clipping.clip_by_norm"):
        assert report.test(name).score == function(name).points, name
    # clipped_train_step may use tf clipping
    assert (
        report.test("clipping.clipped_train_step").score
        == function("clipping.clipped_train_step").points
    )


def test_a_last_norm_of_zero_is_a_dead_signal_not_an_exploding_gradient():
    """Does a model whose forward signal cancels to exactly 0 in float32 (so norms[-1] = 0 and
    the ratio is infinite) fail build_exploding_mlp, saying why, rather than pass on inf?"""
    from grader.checks.registry import run_check
    from grader.checks.runner import InProcessRunner
    from tests.paths import CORPUS

    namespace: dict = {}
    wrong = (CORPUS / "wrong" / "deep_sigmoid__vanishing_signal_underflows.py").read_text()
    exec(reference_source("deep_sigmoid") + "\n\n" + wrong, namespace)  # noqa: S102
    result = run_check("deep_sigmoid.build_exploding_mlp", InProcessRunner(namespace), 777)
    zero = [
        c for c in result.cases if "norms[-1] = 0: the output layer gets no gradient" in c.message
    ]
    assert zero and not any(c.passed for c in result.cases)
