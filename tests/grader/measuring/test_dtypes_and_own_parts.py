"""Are models of any dtype measured, and models of the student's own parts judged by what
they compute?

Float64 and mixed-precision models are measured as they are, the loss in float32 for a
16-bit model as Keras computes it; build_mlp's model of the student's own activation is laid
out in a worker with each activation's values at the probe points; the grader's own
activation reaches the student's dense_grad_norms.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from grader.checks.parts.deep_sigmoid import MEASURED_ELSEWHERE, narrow_dtype_note
from grader.checks.runner import CallOutcome, InProcessRunner, Runner
from grader.isolation.protocol import decode, encode
from grader.measuring import measure
from grader.measuring.activations import scaled_tanh
from grader.measuring.data import sine_task, standard_normal_data
from grader.measuring.in_worker import ACTIVATION_PROBE, measure_in_worker
from grader.measuring.layout import compute_dtype, layout_problems
from grader.measuring.plain import ModelRebuildError
from grader.measuring.reading import acts_as, named_by_values, read_measurement
from grader.measuring.rebuild import describe_model, rebuild_model
from solutions.deep_sigmoid import build_mlp, dense_grad_norms
from tests.paths import CORPUS


def _healthy(policy: str | None, depth: int = 20, width: int = 32, seed: int = 1):
    """The reference's healthy layout (tanh, orthogonal weights) in the given dtype policy."""
    import keras

    def orthogonal(index):
        return keras.initializers.Orthogonal(seed=seed + index)

    dtype = {} if policy is None else {"dtype": policy}
    return keras.Sequential(
        [
            keras.Input(shape=(8,)),
            *[
                keras.layers.Dense(width, "tanh", kernel_initializer=orthogonal(i), **dtype)
                for i in range(depth)
            ],
            keras.layers.Dense(1, kernel_initializer=orthogonal(depth), **dtype),
        ]
    )


def _exploding(policy: str, depth: int = 20, width: int = 32, seed: int = 1):
    """The reference's exploding layout (tanh, gain 8) in the given dtype policy."""
    import keras

    def spread(index):
        return keras.initializers.VarianceScaling(
            64.0, "fan_in", "untruncated_normal", seed + index
        )

    return keras.Sequential(
        [
            keras.Input(shape=(8,)),
            *[
                keras.layers.Dense(width, "tanh", kernel_initializer=spread(i), dtype=policy)
                for i in range(depth)
            ],
            keras.layers.Dense(1, kernel_initializer=spread(depth), dtype=policy),
        ]
    )


@pytest.mark.parametrize(
    "policy,rtol",
    [("float64", 1e-4), ("mixed_float16", 0.1), ("mixed_bfloat16", 0.1)],
)
def test_a_model_of_any_float_dtype_is_measured_as_it_computes(policy, rtol, rng):
    """Are a float64 or mixed-precision model's norms and training run those of its float32
    twin (the same weights), to its precision, all finite?"""
    x, y = standard_normal_data(rng, 8)
    task_x, task_y = sine_task(rng, 8)
    source, built = _healthy(None), _healthy(policy)
    built.set_weights(source.get_weights())  # the same numbers, held in the policy's dtype
    twin = rebuild_model(describe_model(source))
    model = measure.rebuild_for_measuring(describe_model(built))
    assert compute_dtype(model) == policy.removeprefix("mixed_")
    expected = measure.gradient_norms(twin, x, y)
    norms = measure.gradient_norms(model, x, y)
    np.testing.assert_allclose(norms, expected, rtol=rtol)
    losses = measure.train_full_batch(model, task_x, task_y, 50, 0.05)
    expected_losses = measure.train_full_batch(twin, task_x, task_y, 50, 0.05)
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0] / 2
    np.testing.assert_allclose(losses, expected_losses, rtol=10 * rtol)


def test_a_mixed_precision_loss_is_computed_in_float32_and_a_float64_one_in_float64():
    """Is the loss of a 16-bit prediction taken in float32 (as Keras's losses do), and a
    float64 prediction's in float64, not rounded to float32?"""
    from grader.quiet import import_tensorflow

    tf = import_tensorflow()
    targets = tf.constant([[1.0], [2.0]])
    for dtype, wanted in [
        (tf.float16, tf.float32),
        (tf.bfloat16, tf.float32),
        (tf.float64, tf.float64),
    ]:
        prediction = tf.constant([[1.5], [2.5]], dtype=dtype)
        loss = measure.mean_squared_error(tf, prediction, targets)
        assert loss.dtype == wanted and float(loss) == 0.25
    # 1 + 1e-12 is 1 in float32: a float64 model's loss keeps it
    tiny = measure.mean_squared_error(
        tf, tf.constant([[1.0 + 1e-12]], dtype=tf.float64), tf.constant([[1.0]])
    )
    assert 0 < float(tiny) < 1e-20


def test_a_global_mixed_policy_is_measured_too(rng):
    """Is a model built under a global mixed_float16 policy rebuilt and measured, finite?"""
    import keras

    x, y = standard_normal_data(rng, 8)
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        spec = describe_model(_healthy(None))
    finally:
        keras.config.set_dtype_policy(before)
    model = measure.rebuild_for_measuring(spec)
    assert compute_dtype(model) == "float16"
    norms = measure.gradient_norms(model, x, y)
    assert norms.shape == (21,) and np.all(np.isfinite(norms)) and norms.max() / norms.min() < 100


class _OneModelRunner(Runner):
    """Returns the same received model for every call of the builder."""

    def __init__(self, spec) -> None:
        self.spec = spec

    def _send(self, part, message, timeout):
        return CallOutcome(ok=True, value=self.spec)


def test_a_float16_model_whose_gradients_overflow_is_told_why():
    """Does a mixed_float16 exploding model whose gradients pass float16's range fail its case
    with the sentence on float16, not crash or read as a wrong form?"""
    from grader.checks.registry import run_check

    result = run_check(
        "deep_sigmoid.build_exploding_mlp",
        _OneModelRunner(describe_model(_exploding("mixed_float16"))),
        3,
    )
    first = result.cases[0]  # depth 20, width 32: the model's own size
    assert not first.passed
    assert "non-finite gradient norms" in first.message
    assert "computes in float16" in first.message
    assert narrow_dtype_note("float32") == narrow_dtype_note("float64") == ""
    # the same model in float32 passes that case
    result = run_check(
        "deep_sigmoid.build_exploding_mlp",
        _OneModelRunner(describe_model(_exploding("float32"))),
        3,
    )
    assert result.cases[0].passed, result.cases[0].message


def _own(name: str, formula):
    """A Python activation of the test's own, named ``name``."""
    formula.__name__ = formula.__qualname__ = name
    formula.__module__ = "deep_sigmoid"  # as a function of a student's module is
    return formula


def _mlp(activation, input_dim=5, depth=4, width=7):
    import keras

    return keras.Sequential(
        [
            keras.Input(shape=(input_dim,)),
            *[keras.layers.Dense(width, activation=activation) for _ in range(depth)],
            keras.layers.Dense(1),
        ]
    )


def _layout_answer(model, input_dim=5, depth=4, width=7) -> dict:
    """What measure_in_worker answers for ``layout``, through the wire's encoding."""
    answer = measure_in_worker(model, input_dim, depth, width, kind="layout")
    return decode(json.loads(json.dumps(encode(answer))))


def _named_problems(model, hidden: str) -> list[str]:
    read = read_measurement(_layout_answer(model), "layout", 5, 4, 7)
    return layout_problems(
        named_by_values(read["layout"], read["layer_values"], hidden), 5, 4, 7, hidden
    )


def test_an_own_activation_is_judged_by_its_values_in_the_layout():
    """Is a student's own sigmoid, tanh or ReLU laid out as the built-in it computes, and a
    wrong own sigmoid (named sigmoid) refused with its values?"""
    import keras

    own_sigmoid = _own("my_sigmoid", lambda z: 1 / (1 + keras.ops.exp(-z)))
    own_tanh = _own("my_tanh", lambda z: 2 / (1 + keras.ops.exp(-2 * z)) - 1)
    own_relu = _own("my_relu", lambda z: keras.ops.maximum(z, 0.0))
    assert _named_problems(_mlp(own_sigmoid), "sigmoid") == []
    assert _named_problems(_mlp(own_tanh), "tanh") == []
    assert _named_problems(_mlp(own_relu), "relu") == []
    assert _named_problems(_mlp(own_tanh), "sigmoid") != []  # tanh is not sigmoid
    wrong = _own("sigmoid", lambda z: 1 / (1 + keras.ops.exp(z)))
    (problem,) = _named_problems(_mlp(wrong), "sigmoid")
    assert "hidden activations are ['sigmoid (your own function: at z = " in problem
    assert "where sigmoid gives" in problem
    failing = _own("broken", lambda z: z[None] * 0)  # gives values of another shape
    read = read_measurement(_layout_answer(_mlp(failing)), "layout", 5, 4, 7)
    assert not acts_as(read["layer_values"][0], "sigmoid")


def test_a_layout_answer_of_another_form_is_refused():
    """Are layer values that do not match the layers, or are not numbers, refused?"""
    import keras

    from grader.measuring.reading import UnreadableMeasurement

    answer = _layout_answer(_mlp(_own("own", lambda z: keras.ops.tanh(z))))
    read_measurement(answer, "layout", 5, 4, 7)
    for forged in (
        {**answer, "layer_values": answer["layer_values"][:-1]},
        {**answer, "layer_values": [["0.5"] * len(ACTIVATION_PROBE)] * 5},
        {**answer, "layer_values": [[0.5] * 100] * 5},
    ):
        with pytest.raises(UnreadableMeasurement):
            read_measurement(forged, "layout", 5, 4, 7)


def test_an_activation_named_as_keras_but_computing_otherwise_is_not_rebuilt_as_keras():
    """Is a student's own function named sigmoid that is not sigmoid refused (so measured where
    it runs), while one that computes sigmoid, keras.ops.sin and the grader's own are rebuilt?"""
    import keras

    wrong = _own("sigmoid", lambda z: 1 / (1 + keras.ops.exp(z)))
    with pytest.raises(ModelRebuildError, match="not an allowed activation"):
        rebuild_model(describe_model(_mlp(wrong)))
    right = _own("sigmoid", lambda z: 1 / (1 + keras.ops.exp(-z)))
    assert (
        rebuild_model(describe_model(_mlp(right))).layers[0].activation is keras.activations.sigmoid
    )
    assert rebuild_model(describe_model(_mlp(keras.ops.sin))).layers[0].activation is keras.ops.sin
    assert rebuild_model(describe_model(_mlp(scaled_tanh))).layers[0].activation is scaled_tanh
    impostor = _own("scaled_tanh", lambda z: keras.ops.tanh(z))
    with pytest.raises(ModelRebuildError, match="not an allowed activation"):
        rebuild_model(describe_model(_mlp(impostor)))


def _by_name_norms(model, x, y):
    """A dense_grad_norms that looks each activation up by its name (the wrong corpus file's)."""
    namespace: dict = {}
    source = (CORPUS / "wrong" / "deep_sigmoid__activation_by_name.py").read_text()
    exec(compile(source, "by_name", "exec"), namespace)  # noqa: S102 - the test's own corpus file
    return namespace["dense_grad_norms"](model, x, y)


def test_the_graders_own_activation_tells_a_name_lookup_from_a_tape(rng):
    """Does the dense_grad_norms case with the grader's scaled tanh pass the reference and fail
    a function that looks the activation up by name (which passes on built-in activations)?"""
    from grader.checks.registry import run_check

    model = build_mlp(4, 3, 8, activation=scaled_tanh, seed=2)
    x = rng.standard_normal((12, 4)).astype(np.float32)
    y = rng.standard_normal((12, 1)).astype(np.float32)
    rebuilt = rebuild_model(describe_model(model))
    np.testing.assert_allclose(
        dense_grad_norms(rebuilt, x, y), measure.gradient_norms(rebuilt, x, y), rtol=1e-5
    )
    assert not np.allclose(
        _by_name_norms(rebuilt, x, y), dense_grad_norms(rebuilt, x, y), rtol=1e-2
    )

    reference = run_check(
        "deep_sigmoid.dense_grad_norms", InProcessRunner({"dense_grad_norms": dense_grad_norms}), 4
    )
    assert reference.status == "passed", reference.output
    by_name = run_check(
        "deep_sigmoid.dense_grad_norms", InProcessRunner({"dense_grad_norms": _by_name_norms}), 4
    )
    assert [case.passed for case in by_name.cases] == [True, True, True, True, False], (
        by_name.output
    )
    assert "scaled tanh" in by_name.cases[-1].description


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,full",
    [
        ("right/deep_sigmoid__own_activation_in_build_mlp.py", True),
        ("wrong/deep_sigmoid__own_sigmoid_sign_error.py", False),
    ],
    ids=["own-activations", "own-sigmoid-wrong"],
)
def test_build_mlp_of_own_activations_is_laid_out_in_a_worker(name, full, tmp_path, shared_sandbox):
    """Is build_mlp's model of the student's own activations judged in a worker by what it
    computes, and told where?"""
    from grader.assignment import function as contract_function
    from grader.checks.registry import run_check
    from grader.checks.runner import SubprocessRunner
    from grader.course.sources import reference_source
    from grader.submission import load_submission
    from tests.grader.conftest import write_submission

    source = reference_source("deep_sigmoid") + "\n\n" + (CORPUS / name).read_text()
    folder = write_submission(tmp_path / "submission", {"deep_sigmoid.py": source})
    runner = SubprocessRunner(shared_sandbox, load_submission(folder).parts)
    try:
        result = run_check("deep_sigmoid.build_mlp", runner, 2)
    finally:
        shared_sandbox.end()
    assert MEASURED_ELSEWHERE in result.notes
    points = contract_function("deep_sigmoid.build_mlp").points
    if full:
        assert result.score == points, result.output
    else:
        assert result.score < points, result.output
        assert any("your own function" in case.message for case in result.cases), result.output
