"""Does a kit measure the student's models with the student's own dense_grad_norms, and only
once it passes its public check?

A kit is the package with recorded values instead of the reference
(:class:`grader.checks.expected.RecordedValues`); here a recording of dense_grad_norms' public
cases stands for one (build_exploding_mlp's check reads no recorded value: it measures).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.assignment import function as contract_function
from grader.checks import expected, measurer
from grader.checks.registry import PUBLIC_SEED, run_check
from grader.checks.runner import InProcessRunner
from grader.course.kit import record_public_values
from grader.notebook import _run as run_in_notebook

EXPLODING = "deep_sigmoid.build_exploding_mlp"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kit") / "recorded_values.json"
    recorded = record_public_values(tests=["deep_sigmoid.dense_grad_norms"])
    path.write_text(json.dumps(recorded), encoding="utf-8")
    return path


@pytest.fixture
def kit(recording: Path) -> Iterator[None]:
    previous = expected.use(expected.RecordedValues(recording))
    try:
        yield
    finally:
        expected.use(previous)


def _reference() -> dict[str, Any]:
    return dict(vars(expected.LiveReference().module("deep_sigmoid")))


def _exploding(functions: dict[str, Any]):
    return run_check(EXPLODING, InProcessRunner(functions), PUBLIC_SEED, public=True)


def test_the_full_package_measures_with_its_own_code() -> None:
    """Outside a kit, is nothing missing, and is the grader's measuring code used?"""
    from grader.measuring.measure import gradient_norms

    assert measurer.unavailable() == ""
    functions = _reference()
    model = functions["build_mlp"](4, 3, 5, seed=0)
    x = np.ones((6, 4), dtype=np.float32)
    y = np.zeros((6, 1), dtype=np.float32)
    assert np.array_equal(measurer.gradient_norms(model, x, y), gradient_norms(model, x, y))


def test_a_kit_measures_with_the_students_own_passing_norms(kit: None) -> None:
    """In a kit, does build_exploding_mlp's check measure every model with the student's own
    dense_grad_norms, giving the full grader's verdict and feedback?"""
    functions = _reference()
    calls = []

    def own(model, x, y):
        calls.append(1)
        return functions["dense_grad_norms"](model, x, y)

    with measurer.measured_with(measurer.OwnNorms(own)):
        result = _exploding(functions)
    assert result.status == "passed", result.output
    assert len(calls) == 4  # one per case
    previous = expected.use(expected.LiveReference())
    try:
        full = _exploding(functions)
    finally:
        expected.use(previous)
    assert (full.status, full.score, full.output) == (result.status, result.score, result.output)


@pytest.mark.parametrize(
    ("own", "received"),
    [
        (None, "no dense_grad_norms of yours was given to measure with"),
        (
            measurer.OwnNorms(None, "your dense_grad_norms does not pass its public check yet"),
            "your dense_grad_norms does not pass its public check yet",
        ),
    ],
)
def test_a_kit_without_passing_norms_says_to_make_them_pass_first(
    kit: None, own: measurer.OwnNorms | None, received: str
) -> None:
    """With no dense_grad_norms, or one that fails its check, does every case say so (once
    the student's builder returned)?"""
    functions = _reference()
    if own is None:
        result = _exploding(functions)
    else:
        with measurer.measured_with(own):
            result = _exploding(functions)
    assert result.status == "failed" and result.score == 0
    assert len(result.cases) == 4
    for case in result.cases:
        assert case.category == measurer.UNMEASURED
        assert f"Received: {received}" in case.message
        assert "Hint: Make dense_grad_norms pass first" in case.message


def test_a_kit_whose_norms_raise_says_so(kit: None) -> None:
    """Does a dense_grad_norms that raises on a model fail that case with the error's type?"""
    functions = _reference()

    def own(model, x, y):
        raise ZeroDivisionError("no")

    with measurer.measured_with(measurer.OwnNorms(own)):
        result = _exploding(functions)
    assert [c.category for c in result.cases] == [measurer.UNMEASURED] * 4
    assert "your dense_grad_norms raised ZeroDivisionError on this model" in result.cases[0].message


def test_the_notebook_checks_the_norms_first(kit: None) -> None:
    """Through check(...), is a right dense_grad_norms used and a wrong one refused?"""
    functions = _reference()
    spec = contract_function(EXPLODING)
    passed = run_in_notebook(spec, functions["build_exploding_mlp"], functions)
    assert passed.status == "passed", passed.output
    wrong = dict(functions, dense_grad_norms=lambda model, x, y: np.ones(len(model.layers)))
    refused = run_in_notebook(spec, functions["build_exploding_mlp"], wrong)
    assert refused.status == "failed"
    assert "dense_grad_norms does not pass its public check yet (0 of 5 cases)" in refused.output


def test_a_kit_trains_with_kerass_fit_as_the_grader_trains(kit: None) -> None:
    """Are a kit's training losses (Keras's fit) the grader's own run's, each before its step?"""
    from grader.measuring.measure import train_full_batch
    from grader.measuring.rebuild import describe_model, rebuild_model

    functions = _reference()
    spec = describe_model(functions["build_mlp"](8, 4, 16, activation="tanh", seed=3))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = np.sin(x @ rng.standard_normal(8)).astype(np.float32)
    kit_losses = measurer.train_full_batch(rebuild_model(spec), x, y, 20, 0.05)
    full_losses = train_full_batch(rebuild_model(spec), x, y, 20, 0.05)
    model = rebuild_model(spec)
    first = float(np.mean((np.asarray(model(x)).ravel() - y) ** 2))
    assert kit_losses.shape == (20,)
    np.testing.assert_allclose(kit_losses[0], first, rtol=1e-5)
    np.testing.assert_allclose(kit_losses, full_losses, rtol=1e-3)


def test_a_kit_says_a_stub_builder_is_not_implemented_before_asking_for_norms(kit: None) -> None:
    """With the builder a stub and no passing dense_grad_norms, is the verdict that the
    builder is not implemented yet?"""

    def build_exploding_mlp(input_dim, depth, width, seed=None):
        raise NotImplementedError()

    functions = dict(_reference(), build_exploding_mlp=build_exploding_mlp)
    result = _exploding(functions)
    assert "not implemented yet" in result.output
    assert "dense_grad_norms" not in result.output


# A model of the student's own parts (their own activation function) cannot be rebuilt by
# the grader: in a kit it is built and measured in the student's own kernel
# (InProcessRunner.measure), with their own passing dense_grad_norms.
CORPUS = Path(__file__).resolve().parents[2] / "corpus"
OWN_SINE = (CORPUS / "right" / "deep_sigmoid__own_sine_activation.py").read_text(encoding="utf-8")
#: The student's own tanh with weights of gain 1/2: chi = 1/4 per layer, so the gradients
#: vanish towards the input instead of exploding.
OWN_TANH_VANISHING = """
import keras


def own_tanh(z):
    e = keras.ops.expm1(2 * z)  # exact for small z, where exp(2 * z) - 1 cancels
    return e / (e + 2)


def build_exploding_mlp(input_dim, depth, width, seed=None):
    small = keras.initializers.VarianceScaling(
        scale=0.25, mode="fan_in", distribution="untruncated_normal"
    )
    return build_mlp(input_dim, depth, width, own_tanh, small, seed)
"""


def _with(source: str) -> dict[str, Any]:
    """The reference's functions with ``source`` run over them, as a notebook's cells."""
    namespace = _reference()
    exec(source, namespace)  # noqa: S102 - the test's own source
    return namespace


def _counted(functions: dict[str, Any], calls: list[int]) -> measurer.OwnNorms:
    def own(model, x, y):
        calls.append(1)
        return functions["dense_grad_norms"](model, x, y)

    return measurer.OwnNorms(own)


def _judged(result) -> list[tuple[bool, str, str]]:
    return [(c.passed, c.category, c.message) for c in result.cases]


def test_a_kit_measures_a_model_of_own_parts_in_the_students_kernel(kit: None) -> None:
    """Does a right build_exploding_mlp of the student's own activation pass in a kit,
    measured here with their own dense_grad_norms (not refused as not rebuilt), and give
    the full package's verdict?"""
    from grader.checks.parts.deep_sigmoid import MEASURED_ELSEWHERE, MEASURED_IN_PROCESS

    functions = _with(OWN_SINE)
    calls: list[int] = []
    with measurer.measured_with(_counted(functions, calls)):
        result = _exploding(functions)
    assert result.status == "passed", result.output
    assert len(calls) == 4  # each case's model measured by the student's own function
    assert MEASURED_IN_PROCESS in result.notes and MEASURED_ELSEWHERE not in result.notes
    previous = expected.use(expected.LiveReference())
    try:
        full = _exploding(functions)  # the full package, in a kernel: its own measuring code
    finally:
        expected.use(previous)
    assert (full.status, full.score, _judged(full)) == (
        result.status,
        result.score,
        _judged(result),
    )


def test_a_kit_fails_a_vanishing_model_of_own_parts_with_the_usual_message(kit: None) -> None:
    """Does a build_exploding_mlp of the student's own tanh with chi < 1 (vanishing) fail
    every case in a kit, saying what the norms did?"""
    functions = _with(OWN_TANH_VANISHING)
    with measurer.measured_with(measurer.OwnNorms(functions["dense_grad_norms"])):
        result = _exploding(functions)
    assert result.status == "failed" and result.score == 0, result.output
    assert len(result.cases) == 4
    for case in result.cases:
        assert not case.passed
        assert case.category.startswith("returned a model whose gradient norms do not grow")
        assert "Expected: norms[0]/norms[-1] >= 1e3 with finite norms" in case.message
        ratio = float(case.message.split("Received: norms[0]/norms[-1] = ")[1].split()[0])
        assert ratio < 1  # vanishing: the input side's norm is the smaller
        assert (
            "Hint: Each layer multiplies the backward signal by about its gain chi" in case.message
        )


def test_a_kit_cannot_measure_own_parts_without_passing_norms(kit: None) -> None:
    """Is a model of own parts unmeasured in a kit without a passing dense_grad_norms, or
    with one that raises on it, saying so rather than blaming the builder?"""
    functions = _with(OWN_SINE)
    without = _exploding(functions)
    assert [c.category for c in without.cases] == [measurer.UNMEASURED] * 4

    def own(model, x, y):
        raise ZeroDivisionError("no")

    with measurer.measured_with(measurer.OwnNorms(own)):
        raised = _exploding(functions)
    assert [c.category for c in raised.cases] == [measurer.UNMEASURED] * 4, raised.output
    message = raised.cases[0].message
    assert "Received: your dense_grad_norms raised ZeroDivisionError on this model" in message
    assert "build_exploding_mlp raised" not in raised.output


@pytest.mark.parametrize(
    ("name", "right"),
    [
        ("right/deep_sigmoid__own_activation_in_build_mlp.py", True),
        ("wrong/deep_sigmoid__own_sigmoid_sign_error.py", False),
    ],
    ids=["own-activations", "own-sigmoid-wrong"],
)
def test_a_kit_lays_out_build_mlp_of_own_parts_in_the_students_kernel(
    kit: None, name: str, right: bool
) -> None:
    """Is build_mlp's model of the student's own activations laid out in their kernel in a
    kit (no dense_grad_norms needed), each activation judged by what it computes?"""
    functions = _with((CORPUS / name).read_text(encoding="utf-8"))
    result = run_check(
        "deep_sigmoid.build_mlp", InProcessRunner(functions), PUBLIC_SEED, public=True
    )
    points = contract_function("deep_sigmoid.build_mlp").points
    assert "not rebuilt" not in result.output.lower()
    if right:
        assert result.score == points, result.output
    else:
        assert result.score < points, result.output
        assert any("your own function" in case.message for case in result.cases), result.output


@pytest.mark.slow
@pytest.mark.parametrize("source", [OWN_SINE, OWN_TANH_VANISHING], ids=["right", "vanishing"])
def test_the_full_grader_measures_own_parts_in_a_worker_as_the_kit_does(
    kit: None, source: str, tmp_path: Path, shared_sandbox: Any
) -> None:
    """Does the full grader, measuring in a fresh worker with its own code, give the same
    verdict and feedback on the same functions as a kit measuring in the kernel?"""
    from grader.checks.parts.deep_sigmoid import MEASURED_ELSEWHERE
    from grader.checks.runner import SubprocessRunner
    from grader.course.sources import reference_source
    from grader.submission import load_submission
    from tests.grader.conftest import write_submission

    functions = _with(source)
    with measurer.measured_with(measurer.OwnNorms(functions["dense_grad_norms"])):
        in_kit = _exploding(functions)
    previous = expected.use(expected.LiveReference())
    try:
        folder = write_submission(
            tmp_path / "submission", {"deep_sigmoid.py": reference_source("deep_sigmoid") + source}
        )
        runner = SubprocessRunner(shared_sandbox, load_submission(folder).parts)
        try:
            full = run_check(EXPLODING, runner, PUBLIC_SEED, public=True)
        finally:
            shared_sandbox.end()
    finally:
        expected.use(previous)
    assert MEASURED_ELSEWHERE in full.notes
    assert (full.status, full.score, _judged(full)) == (
        in_kit.status,
        in_kit.score,
        _judged(in_kit),
    )
