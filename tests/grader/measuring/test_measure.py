"""Do the compiled measuring functions give the eager figures, traced once per layout?"""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.checks.parts.deep_sigmoid import MEASURED_ELSEWHERE
from grader.checks.runner import CallOutcome, Runner, SubprocessRunner
from grader.course.sources import reference_source
from grader.isolation.protocol import decode, encode
from grader.measuring import measure
from grader.measuring.data import sine_task, standard_normal_data
from grader.measuring.in_worker import ACTIVATION_PROBE, measure_in_worker
from grader.measuring.reading import (
    UNSHOWN_NAME,
    UnreadableMeasurement,
    acts_as_sigmoid,
    read_measurement,
)
from grader.measuring.stack import DenseStack, dense_stack
from grader.submission import load_submission
from solutions.deep_sigmoid import build_exploding_mlp, build_mlp, dense_grad_norms
from solutions.remedies import build_healthy_mlp
from tests.grader.conftest import write_submission
from tests.paths import CORPUS, ROOT

#: float32 rounding, through up to 31 layers.
NORMS_RTOL = 1e-5


def _layer_norm_model():
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(6, "tanh"),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(1),
        ]
    )


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_mlp(3, 6, 5, seed=1),
        lambda: build_mlp(8, 20, 16, seed=2),
        lambda: build_mlp(5, 3, 8, activation="relu", kernel_initializer="he_normal", seed=3),
        lambda: build_exploding_mlp(8, 30, 64, seed=4),
        lambda: build_healthy_mlp(8, 20, 32, seed=5),
    ],
    ids=["sigmoid-6", "sigmoid-20", "relu-3", "exploding-30x64", "healthy-20x32"],
)
def test_compiled_gradient_norms_equal_the_eager_reference(build, rng):
    """On plain Dense stacks, are the compiled norms the reference's eager ones to float32 rounding?"""
    model = build()
    assert dense_stack(model) is not None
    input_dim = model.layers[0].kernel.shape[0]
    x = rng.standard_normal((64, input_dim)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)
    compiled = measure.gradient_norms(model, x, y)
    eager = dense_grad_norms(model, x, y)
    assert compiled.shape == eager.shape
    np.testing.assert_allclose(compiled, eager, rtol=NORMS_RTOL, atol=0)


def test_targets_of_shape_m_give_the_same_norms(rng):
    """Are targets of shape (m,) measured as (m, 1), as the reference reshapes them?"""
    model = build_mlp(4, 3, 6, seed=0)
    x = rng.standard_normal((10, 4)).astype(np.float32)
    y = rng.standard_normal(10).astype(np.float32)
    np.testing.assert_allclose(
        measure.gradient_norms(model, x, y), dense_grad_norms(model, x, y), rtol=NORMS_RTOL
    )


def test_biasless_layers_and_other_activations_are_measured_right(rng):
    """Does a stack with a bias-free layer and mixed activations still match the eager norms?"""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(5, "softplus", use_bias=False),
            keras.layers.Dense(5, keras.ops.sin),
            keras.layers.Dense(1),
        ]
    )
    assert dense_stack(model).layout[1] == (False, True, True)
    x = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    np.testing.assert_allclose(
        measure.gradient_norms(model, x, y), dense_grad_norms(model, x, y), rtol=NORMS_RTOL
    )


def test_a_model_with_other_layers_is_measured_through_keras(rng):
    """Is a model with a normalisation layer left to the reference's own code (and right)?"""
    model = _layer_norm_model()
    assert dense_stack(model) is None
    x = rng.standard_normal((12, 4)).astype(np.float32)
    y = rng.standard_normal((12, 1)).astype(np.float32)
    np.testing.assert_array_equal(
        measure.gradient_norms(model, x, y), dense_grad_norms(model, x, y)
    )


def test_one_trace_serves_every_width_and_sample_count(rng):
    """Are two widths and two sample counts of one layout measured by a single trace?"""
    norms = None
    for width, samples in [(32, 64), (64, 64), (32, 16)]:
        model = build_mlp(8, 4, width, activation="tanh", seed=width)
        x = rng.standard_normal((samples, 8)).astype(np.float32)
        y = rng.standard_normal((samples, 1)).astype(np.float32)
        measure.gradient_norms(model, x, y)
        norms = measure._compiled("norms", dense_stack(model))
    assert norms.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(
    "build,steps",
    [
        (lambda: build_mlp(4, 3, 8, activation="tanh", seed=7), 30),
        pytest.param(lambda: build_healthy_mlp(8, 20, 32, seed=8), 200, marks=pytest.mark.slow),
    ],
    ids=["tanh-3-30steps", "healthy-20x32-200steps"],
)
def test_compiled_training_equals_keras_sgd(build, steps, rng):
    """Does the compiled run give Keras SGD's losses, and leave the model's weights alone?"""
    model = build()
    before = [w.copy() for w in model.get_weights()]
    input_dim = model.layers[0].kernel.shape[0]
    x, y = sine_task(rng, input_dim)
    compiled = measure.train_full_batch(model, x, y, steps, 0.05)
    for weight, kept in zip(model.get_weights(), before):
        np.testing.assert_array_equal(weight, kept)
    eager = measure.train_keras(model, x, y, steps, 0.05)
    assert compiled.shape == eager.shape == (steps,)
    # Rounding differences grow over the steps: float32 rounding per step, 1e-4 over 200.
    np.testing.assert_allclose(compiled[:5], eager[:5], rtol=1e-5)
    np.testing.assert_allclose(compiled, eager, rtol=1e-4)


def test_a_wrong_update_would_be_caught(rng):
    """Would the comparison with Keras fail for a step that ignored the learning rate?"""
    model = build_mlp(4, 3, 8, activation="tanh", seed=7)
    x, y = sine_task(rng, 4)
    eager = measure.train_keras(model, x, y, 30, 0.05)
    model = build_mlp(4, 3, 8, activation="tanh", seed=7)
    wrong = measure.train_full_batch(model, x, y, 30, 0.5)
    assert not np.allclose(wrong, eager, rtol=1e-4)


# -- models the grader cannot rebuild, measured in a fresh worker -------------------------


def _own_activation_model(input_dim: int = 4, depth: int = 2, width: int = 5):
    """A small Dense stack with a Python activation of the test's own (not rebuildable)."""
    import keras

    def own_tanh(x):
        return keras.ops.tanh(x)

    return keras.Sequential(
        [
            keras.Input(shape=(input_dim,)),
            *[keras.layers.Dense(width, activation=own_tanh) for _ in range(depth)],
            keras.layers.Dense(1),
        ]
    )


def _genuine_answer(kind: str, steps: int, rng) -> dict:
    """What measure_in_worker answers for a small model, through the wire's encoding."""
    model = _own_activation_model()
    x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.standard_normal((6, 1))
    answer = measure_in_worker(
        model, 4, 2, 5, x, y.astype(np.float32), x, y, kind=kind, steps=steps, learning_rate=0.05
    )
    return decode(json.loads(json.dumps(encode(answer))))


@pytest.mark.parametrize("kind,steps", [("exploding", 0), ("healthy", 3)])
def test_a_genuine_measurement_is_read_with_its_figures(kind, steps, rng):
    """Is measure_in_worker's own answer read whole: depth + 1 norms, the losses, the activation?"""
    read = read_measurement(_genuine_answer(kind, steps, rng), kind, 4, 2, 5, steps)
    assert read["problems"] == []
    assert read["norms"].shape == (3,) and np.all(read["norms"] > 0)
    assert read["losses"].shape == ((steps,) if kind == "healthy" else (0,))
    assert read["first_activation"] == "own_tanh"
    np.testing.assert_allclose(read["activation_values"], np.tanh(ACTIVATION_PROBE), 1e-6)
    assert not acts_as_sigmoid(read["activation_values"])


def _forge(answer: dict, change) -> dict:
    forged = json.loads(json.dumps(encode(answer)))
    change(forged)
    return decode(forged)


FORGERIES = {
    "not a record": lambda a: a.clear() or a.update({"__list__": []}),
    "no layout": lambda a: a["__dict__"].pop("layout"),
    "a Dense count that its layers do not match": lambda a: a["__dict__"]["layout"]["__dict__"][
        "dense"
    ]["__list__"].pop(),
    "one norm too few": lambda a: a["__dict__"]["norms"]["__list__"].pop(),
    "a norm that is a string": lambda a: a["__dict__"]["norms"]["__list__"].__setitem__(0, "1e9"),
    "a norm that is a bool": lambda a: a["__dict__"]["norms"]["__list__"].__setitem__(0, True),
    "a million losses": lambda a: a["__dict__"].__setitem__(
        "losses", {"__list__": [1.0] * 1_000_000}
    ),
    "a long name": lambda a: a["__dict__"]["layout"]["__dict__"].__setitem__(
        "model_class", "x" * 10_000
    ),
    "units that are text": lambda a: a["__dict__"]["layout"]["__dict__"]["dense"]["__list__"][0][
        "__dict__"
    ].__setitem__("units", "32"),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forged_measurement_is_refused(forgery, rng):
    """Is an answer not of measure_in_worker's form and sizes refused, whatever it says?"""
    answer = _genuine_answer("healthy", 3, rng)
    read_measurement(answer, "healthy", 4, 2, 5, 3)  # the genuine one is read
    with pytest.raises(UnreadableMeasurement):
        read_measurement(_forge(answer, FORGERIES[forgery]), "healthy", 4, 2, 5, 3)


def test_names_from_the_worker_are_shown_only_when_they_are_identifiers(rng):
    """Does a layer name that is free text reach the feedback as a placeholder only?"""
    answer = _genuine_answer("healthy", 3, rng)

    def rename(forged):
        layout = forged["__dict__"]["layout"]["__dict__"]
        layout["sequential"] = False
        layout["model_class"] = "x=0.123,y=-1.5"

    read = read_measurement(_forge(answer, rename), "healthy", 4, 2, 5, 3)
    assert read["problems"] == [f"the model is a {UNSHOWN_NAME}, not a keras.Sequential"]


def test_a_sigmoid_is_told_by_its_values_whatever_its_name():
    """Is a student's own logistic function seen as sigmoid, and tanh or a shifted one not?"""
    z = np.asarray(ACTIVATION_PROBE)
    assert acts_as_sigmoid(list(1 / (1 + np.exp(-z))))
    assert not acts_as_sigmoid(list(np.tanh(z)))
    assert not acts_as_sigmoid(list(1 / (1 + np.exp(-z)) + 0.01))
    assert not acts_as_sigmoid([])


class _ForgingRunner(Runner):
    """Returns a model the grader cannot rebuild, then a forged measurement of it."""

    def __init__(self, forged: dict) -> None:
        from grader.measuring.rebuild import describe_model

        self.spec = describe_model(_own_activation_model(8, 20, 32))
        self.forged = forged

    def _send(self, part, message, timeout):
        return CallOutcome(ok=True, value=self.spec)

    def measure(self, *args, **kwargs):
        return CallOutcome(ok=True, value=self.forged)


def test_a_forged_measurement_scores_nothing_and_shows_nothing_of_it():
    """Does a measurement of another form fail every case, without its text in the feedback?"""
    from grader.checks.registry import run_check

    forged = {"layout": {"model_class": "LEAKED", "dense_count": 21}, "norms": [1.0] * 21}
    result = run_check("remedies.build_healthy_mlp", _ForgingRunner(forged), seed=1)
    assert result.score == 0 and len(result.cases) == 4
    assert all("an answer of another form" in case.message for case in result.cases)
    assert "LEAKED" not in result.output
    assert MEASURED_ELSEWHERE in result.notes


@pytest.fixture
def runner_for(tmp_path, shared_sandbox):
    """A worker-backed runner for the reference of a part followed by ``extra`` code."""

    def make(part: str, extra: str = "") -> SubprocessRunner:
        files = {f"{part}.py": reference_source(part) + "\n\n" + extra}
        folder = write_submission(tmp_path / f"submission{len(list(tmp_path.iterdir()))}", files)
        return SubprocessRunner(shared_sandbox, load_submission(folder).parts)

    yield make
    shared_sandbox.end()


def _corpus(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(
    "part,function,kind,extra",
    [
        ("deep_sigmoid", "build_exploding_mlp", "exploding", ""),
        ("remedies", "build_healthy_mlp", "healthy", ""),
        ("remedies", "build_healthy_mlp", "healthy", "right/remedies__layernorm_healthy.py"),
    ],
    ids=["exploding-reference", "healthy-reference", "healthy-layernorm"],
)
def test_the_jailed_measurement_of_a_rebuildable_model_equals_the_graders(
    part, function, kind, extra, runner_for, rng
):
    """Measured in a fresh worker, does a model the grader can rebuild give the grader's figures?"""
    from grader.measuring.rebuild import rebuild_model

    runner = runner_for(part, _corpus(extra) if extra else "")
    depth, width, steps = 20, 32, 200 if kind == "healthy" else 0
    x, y = standard_normal_data(rng, 8)
    task_x, task_y = sine_task(rng, 8)
    outcome = runner.call(part, function, [8, depth, width], {"seed": 5}, build_dim=8, seed=11)
    model = rebuild_model(outcome.value)
    norms_here = measure.gradient_norms(model, x, y)
    data = [x, y, task_x, task_y] if kind == "healthy" else [x, y]
    measured = runner.measure(
        part,
        function,
        [8, depth, width],
        data,
        kwargs={"seed": 5},
        kind=kind,
        steps=steps,
        learning_rate=0.05,
        seed=11,
        timeout=180,
    )
    assert measured.ok, measured.error_sentence(function, full=True)
    read = read_measurement(measured.value, kind, 8, depth, width, steps)
    assert read["problems"] == []
    np.testing.assert_allclose(read["norms"], norms_here, rtol=NORMS_RTOL)
    if kind == "healthy":
        losses_here = measure.train_full_batch(model, task_x, task_y, steps, 0.05)
        assert read["losses"].shape == losses_here.shape == (steps,)
        np.testing.assert_allclose(read["losses"][:5], losses_here[:5], rtol=1e-5)
        np.testing.assert_allclose(read["losses"], losses_here, rtol=1e-4)


@pytest.mark.slow
def test_a_measurement_past_its_time_limit_is_stopped(runner_for):
    """Is a model whose own layer hangs stopped at the measurement's time limit?"""
    import time

    runner = runner_for(
        "remedies",
        "import time\n\n\ndef build_healthy_mlp(input_dim, depth, width, seed=None):\n"
        "    time.sleep(600)\n",
    )
    assert runner.load("remedies")["ok"]  # the worker is warm: what follows is the measuring
    started = time.monotonic()
    measured = runner.measure(
        "remedies", "build_healthy_mlp", [8, 20, 32], [], kwargs={"seed": 1}, timeout=3
    )
    assert measured.error_type == "timeout"
    # 3 s, then the worker killed and cleaned up (tens of seconds on a busy machine), far
    # below the 600 s the builder would have taken
    assert time.monotonic() - started < 120


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,full",
    [
        ("right/remedies__own_activation_function.py", True),
        ("right/remedies__custom_norm_layer.py", True),
        ("wrong/remedies__own_sigmoid_healthy.py", False),
    ],
    ids=["own-activation", "custom-layer", "own-sigmoid"],
)
def test_a_model_of_the_students_own_parts_is_measured_in_a_worker(name, full, runner_for):
    """Is a healthy MLP of the student's own parts judged as the contract says, and told where?"""
    from grader.assignment import function as contract_function
    from grader.checks.registry import run_check

    result = run_check("remedies.build_healthy_mlp", runner_for("remedies", _corpus(name)), 2)
    assert MEASURED_ELSEWHERE in result.notes
    points = contract_function("remedies.build_healthy_mlp").points
    if full:
        assert result.score == points, result.output
    else:
        assert result.score < points and "[sigmoid_healthy]" in result.output, result.output


@pytest.mark.slow
def test_a_rebuildable_model_is_measured_in_the_grader(runner_for):
    """Is the reference's model measured here, with no note about a worker?"""
    from grader.checks.registry import run_check

    result = run_check("remedies.build_healthy_mlp", runner_for("remedies"), 2)
    assert result.status == "passed", result.output
    assert MEASURED_ELSEWHERE not in result.notes


def _layout_key(kind, stack):
    activations, biases = stack.layout[:2]
    return (kind, activations, biases)


@pytest.fixture
def fresh_functions(monkeypatch):
    """No compiled function and no trace-ahead thread yet, as in a new process."""
    monkeypatch.setattr(measure, "_COMPILED", {})
    monkeypatch.setattr(measure, "_AHEAD", None)


def test_tracing_ahead_traces_each_layout_once_and_changes_no_figure(fresh_functions, rng):
    """The functions traced ahead (on placeholder weights) are the ones a check then uses:
    traced once, and giving bitwise the figures of a function traced on the spot."""
    from grader.checks.layouts import likely_layouts

    layouts = likely_layouts()
    measure.trace_ahead(layouts).join()
    assert set(measure._COMPILED) == {_layout_key(kind, stack) for kind, stack in layouts}
    assert measure.trace_ahead(layouts) is measure.trace_ahead([])  # once per process

    model = build_healthy_mlp(8, 20, 32, seed=3)
    stack = dense_stack(model)
    x, y = rng.standard_normal((64, 8)), rng.standard_normal((64, 1))
    norms = measure.gradient_norms(model, x, y)
    losses = measure.train_full_batch(model, x, y, 5, 0.01)
    for kind in ("norms", "training"):
        assert measure._COMPILED[_layout_key(kind, stack)].experimental_get_tracing_count() == 1
    measure._COMPILED.clear()  # traced on the spot this time
    assert np.array_equal(measure.gradient_norms(model, x, y), norms)
    assert np.array_equal(measure.train_full_batch(model, x, y, 5, 0.01), losses)


def test_a_layout_that_fails_to_trace_ahead_fails_where_it_is_measured(fresh_functions):
    """A failure in the thread is not lost nor raised there: measuring that layout in the
    main thread raises it."""

    def broken(h):
        raise ArithmeticError("this activation cannot be traced")

    stack = DenseStack(
        [np.ones((2, 3), np.float32), np.ones((3, 1), np.float32)],
        [np.zeros(3, np.float32), np.zeros(1, np.float32)],
        [broken, broken],
    )
    thread = measure.trace_ahead([("norms", stack), ("training", stack)])
    thread.join()
    assert not thread.is_alive()
    with pytest.raises(Exception, match="ArithmeticError: this activation cannot be traced"):
        measure.gradient_norms(stack, np.ones((4, 2)), np.ones((4, 1)))


@pytest.mark.slow
def test_grading_the_reference_traces_no_layout_beyond_the_likely_ones():
    """The layouts traced ahead are all the reference's grading measures, so a fresh
    process pays for no tracing on the critical path; if the reference's models change,
    this says to update grader.checks.layouts."""
    import subprocess
    import sys

    code = (
        "import json\n"
        "from grader.measuring import measure\n"
        "from grader.checks.layouts import likely_layouts\n"
        "from grader.grade import grade_submission\n"
        "report = grade_submission('examples/correct', seed=7)\n"
        "def key(kind, stack):\n"
        "    return repr((kind, [a.__name__ for a in stack.layout[0]], stack.layout[1]))\n"
        "likely = [key(kind, stack) for kind, stack in likely_layouts()]\n"
        "traced = {repr((k[0], [a.__name__ for a in k[1]], k[2])):\n"
        "          f.experimental_get_tracing_count() for k, f in measure._COMPILED.items()}\n"
        "print(json.dumps({'score': report.score, 'likely': likely, 'traced': traced}))\n"
    )
    root = ROOT
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["score"] == 100
    assert set(found["traced"]) <= set(found["likely"]), "update grader.checks.layouts"
    assert all(count == 1 for count in found["traced"].values())
