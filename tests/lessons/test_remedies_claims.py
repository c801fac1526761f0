"""What Part 4's lesson says (remedies) against what its instructor notebook prints.

Every claim is checked with oneDNN's kernels on and off (see conftest.py); the last test
checks what the lesson says about how the grader measures ``build_healthy_mlp``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from grader.measuring.measure import gradient_norms, train_full_batch
from grader.quiet import import_tensorflow
from tests.lessons.conftest import NUMBER, ONEDNN, Lesson, find, number, printed

pytestmark = pytest.mark.slow
per_onednn = pytest.mark.parametrize("onednn", list(ONEDNN))

PART = "remedies"


@per_onednn
def test_remedies_demo_claims(lesson: Lesson, onednn: str) -> None:
    """Residual within 10x where plain is beyond 1e3; BatchNorm at inference changes nothing;
    the residual sum flattens the later blocks' sigmoids and pre-norm does not; the LSTM's
    forget gates start near sigmoid(1) and its Jacobian norms decay more slowly than the
    vanilla RNN's."""
    out = printed(lesson(PART, onednn))
    ratio = {
        kind: find(rf"\n{kind} +first/last " + NUMBER, out, kind)
        for kind in ["plain", "residual", "layernorm", "batchnorm", "prenorm"]
    }
    assert ratio["plain"] < 1e-3 or ratio["plain"] > 1e3, ratio
    assert 0.1 <= ratio["prenorm"] <= 10, ratio
    # BatchNormalization at inference divides by sqrt(1 + epsilon) in each of 20 layers, and
    # the ratios are printed to two digits: "the same" is within 20%.
    assert abs(ratio["batchnorm"] / ratio["plain"] - 1) < 0.2, ratio
    assert abs(np.log10(ratio["residual"] / ratio["plain"])) > 3, ratio
    # The residual sum saturates the later blocks; pre-norm keeps their slope at block 1's.
    slopes = {}
    for kind in ["residual", "prenorm"]:
        match = re.search(
            rf"\n{kind} +mean sigmoid slope: block 1 {NUMBER}, blocks 16-20 {NUMBER}", out
        )
        assert match, f"no slopes for {kind} in:\n{out[-3000:]}"
        slopes[kind] = tuple(map(number, match.groups()))
    first, last = slopes["residual"]
    assert 0 < last <= 0.5 * first, slopes  # "a fraction of block 1's"
    first, last = slopes["prenorm"]
    assert abs(last / first - 1) <= 0.2, slopes  # "stays close to block 1's"
    rnn = find(r"vanilla RNN \|\|dh_T/ds_t\|\|.*decay over the 59 steps: " + NUMBER, out, "rnn")
    lstm = find(r"LSTM +\|\|dh_T/ds_t\|\|.*decay over the 59 steps: " + NUMBER, out, "lstm")
    assert lstm < rnn, (lstm, rnn)
    # "f_t starts near sigma(1) = 0.73": Keras's forget bias is 1 and the gates' mean is near.
    gate = re.search(
        rf"LSTM forget gate at initialisation: bias {NUMBER} to {NUMBER}, f_t mean {NUMBER} "
        rf"\(90% within {NUMBER} to {NUMBER}\); sigmoid\(1\) = {NUMBER}",
        out,
    )
    assert gate, out[-3000:]
    low_bias, high_bias, mean, low, high, sigmoid_1 = map(number, gate.groups())
    assert low_bias == high_bias == 1, gate.group(0)
    assert sigmoid_1 == pytest.approx(1 / (1 + np.exp(-1)), abs=1e-3)
    assert abs(mean - sigmoid_1) <= 0.03 and low < sigmoid_1 < high, gate.group(0)
    difference = find(
        r"against rnn_jacobian_norms: largest relative difference " + NUMBER, out, "rnn"
    )
    assert difference < 1e-4


@per_onednn
def test_fan_in_against_fan_out(lesson: Lesson, onednn: str) -> None:
    """fan_in keeps the forward mean square and shrinks the backward one by n_out/n_in = 1/4;
    fan_out the reverse; Glorot's average is within 2.5x of 1 both ways; the quotient is
    n_out/n_in under every mode; each measured ratio matches its formula."""
    out = printed(lesson(PART, onednn))
    rows = {}
    for mode in ["fan_in", "fan_out", "fan_avg"]:
        match = re.search(
            rf"mode {mode} +n_in\*Var\(w\) = {NUMBER}, n_out\*Var\(w\) = {NUMBER}; measured "
            rf"mean-square ratio forward {NUMBER}, backward {NUMBER}",
            out,
        )
        assert match, f"no line for {mode} in:\n{out[-3000:]}"
        formula_forward, formula_backward, forward, backward = map(number, match.groups())
        assert forward == pytest.approx(formula_forward, rel=0.03), (mode, match.group(0))
        assert backward == pytest.approx(formula_backward, rel=0.03), (mode, match.group(0))
        rows[mode] = forward, backward
    assert rows["fan_in"][0] == pytest.approx(1, abs=0.05), rows
    assert rows["fan_in"][1] == pytest.approx(0.25, rel=0.05), rows
    assert rows["fan_out"][0] == pytest.approx(4, rel=0.05), rows
    assert rows["fan_out"][1] == pytest.approx(1, abs=0.05), rows
    assert rows["fan_avg"][0] == pytest.approx(1.6, rel=0.05), rows
    assert rows["fan_avg"][1] == pytest.approx(0.4, rel=0.05), rows
    assert all(1 / 2.5 <= value <= 2.5 for value in rows["fan_avg"]), rows
    quotients = re.search(
        r"backward/forward ratio under each mode: (.*) \(n_out/n_in = (.*)\)", out
    )
    assert quotients, out[-3000:]
    target = number(quotients.group(2))
    assert target == 0.25
    values = [number(v) for v in quotients.group(1).split(", ")]
    assert len(values) == 3 and all(v == pytest.approx(target, rel=0.01) for v in values), values


@per_onednn
def test_residual_scaling(lesson: Lesson, onednn: str) -> None:
    """Unscaled residual stacks grow roughly like sqrt(2)^L both ways; 1/sqrt(L) keeps both
    near sqrt(e) at either depth; zero-initialised branch ends give exactly 1."""
    out = printed(lesson(PART, onednn))
    for depth in (10, 50):
        growth = find(rf"L = {depth}: sqrt\(2\)\^L = " + NUMBER, out, "sqrt(2)^L")
        assert growth == pytest.approx(np.sqrt(2) ** depth, rel=0.01)
        sqrt_e = find(rf"L = {depth}: .*sqrt\(e\) = " + NUMBER, out, "sqrt(e)")
        for branch, low, high in [
            ("unscaled", growth / 3, growth * 3),  # "roughly like sqrt(2)^L"
            (r"alpha = 1/sqrt\(L\)", sqrt_e / 1.4, sqrt_e * 1.4),  # "near sqrt(e)"
            ("zero last layer", 1, 1),  # "exactly 1"
        ]:
            prefix = rf"L = {depth} blocks, {branch} *: "
            forward = find(prefix + "forward RMS ratio " + NUMBER, out, branch)
            backward = find(
                prefix + r"forward RMS ratio \S+ backward gradient ratio " + NUMBER, out, branch
            )
            assert low <= forward <= high, (depth, branch, forward)
            assert low <= backward <= high, (depth, branch, backward)


@per_onednn
def test_batchnorm_training_against_inference(lesson: Lesson, onednn: str) -> None:
    """In inference mode BatchNormalization's network falls off as the plain one does; in
    training mode its gradient norms span well under the grader's 100; the network fixed in
    training mode computes what model(x, training=True) computes."""
    out = printed(lesson(PART, onednn))
    plain = find(r"\nplain +first/last " + NUMBER, out, "plain")
    plain_span = find(r"\nplain +first/last \S+ largest/smallest " + NUMBER, out, "plain")
    inference = find(r"BN inference mode +first/last " + NUMBER, out, "inference")
    inference_span = find(r"BN inference mode .*largest/smallest " + NUMBER, out, "inference")
    training = find(r"BN training mode +first/last " + NUMBER, out, "training")
    training_span = find(r"BN training mode .*largest/smallest " + NUMBER, out, "training")
    assert abs(inference / plain - 1) < 0.2, (inference, plain)
    # "more than 10^10 in inference mode, the plain network's"
    assert inference_span > 1e10, inference_span
    assert abs(inference_span / plain_span - 1) < 0.2, (inference_span, plain_span)
    assert 0.1 <= training <= 10, training
    assert training_span <= 100, training_span
    difference = find(r"model\(x, training=True\): largest difference " + NUMBER, out, "fixed")
    assert difference < 1e-6, difference


@per_onednn
def test_orthogonal_singular_values(lesson: Lesson, onednn: str) -> None:
    """An orthogonal kernel and a product of 20 have every singular value 1; a Glorot kernel
    of the same mean square per entry spreads them, and the product of 20 shrinks the
    typical one by thousands and all but erases about a third of them."""
    out = printed(lesson(PART, onednn))
    pattern = (
        r"{name} +n \* mean\(w\^2\) {n}; one kernel: singular values {n} to {n}; product of 20: "
        r"largest {n}, largest/median {n}, {n} of 64 below 1e-6 of the largest"
    )
    rows = {}
    for name in ["Orthogonal", "GlorotNormal"]:
        match = re.search(pattern.format(name=name, n=NUMBER), out)
        assert match, f"no line for {name} in:\n{out[-3000:]}"
        rows[name] = [number(v) for v in match.groups()]
    mean_square, low, high, largest, spread, erased = rows["Orthogonal"]
    assert (mean_square, low, high, largest, spread, erased) == (1, 1, 1, 1, 1, 0), rows
    mean_square, low, high, largest, spread, erased = rows["GlorotNormal"]
    assert mean_square == pytest.approx(1, abs=0.05), rows
    assert low < 0.1 and high > 1.5, rows
    assert 1e3 <= spread < 1e5, rows
    assert 0.2 * 64 <= erased <= 0.45 * 64, rows


@per_onednn
def test_rnn_reading(lesson: Lesson, onednn: str) -> None:
    """0.5 and 1.0 shrink going back in time, 3.0 grows, more slowly than 3^T; the printed
    bound puts the one that grows above it and the ones that shrink not above it."""
    out = printed(lesson(PART, onednn))
    for scale, grows in [("0.5", False), ("1.0", False), ("3.0", True)]:
        match = re.search(
            rf"spectral norm {scale} \((above|not above) 1/gamma = {NUMBER}\): "
            rf"\|\|dh_T/dh_0\|\| = {NUMBER}, \|\|dh_T/dh_\(T-1\)\|\| = {NUMBER}; "
            rf"largest norm / dashed line over t: {NUMBER}",
            out,
        )
        assert match, f"no line for {scale} in:\n{out[-3000:]}"
        side, _, first, last, over_dashed = match.group(1), *map(number, match.groups()[1:])
        assert over_dashed <= 1, (scale, over_dashed)  # "at or below its dashed line"
        assert (first > last) is grows, (scale, first, last)
        assert (side == "above") is grows, (scale, side)
        assert first <= float(scale) ** 40, (scale, first)
        if scale == "1.0":
            assert first < 1, first
        if grows:
            assert first < float(scale) ** 40 / 10, first


def test_grader_measures_norms_in_inference_mode_and_trains_in_training_mode() -> None:
    """The lesson says the grader takes build_healthy_mlp's norms with the model in inference
    mode and makes its training steps in training mode: on a model with BatchNormalization,
    whose two modes differ, the grader's norms are the inference-mode ones and its first
    training loss the training-mode one."""
    tf = import_tensorflow()
    # lazy: Keras loads through import_tensorflow (quietly), only for this test
    import keras

    rng = np.random.default_rng(0)
    x = (3 + 5 * rng.normal(size=(64, 8))).astype("float32")  # far from BN's moving 0 and 1
    y = rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(16, kernel_initializer=keras.initializers.GlorotUniform(seed=0)),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("sigmoid"),
            keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=1)),
        ]
    )

    def measured(training: bool) -> tuple[np.ndarray, float]:
        kernels = [layer.kernel for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=training) - y))
        grads = tape.gradient(loss, kernels)
        return np.array([float(tf.norm(g)) for g in grads]), float(loss)

    inference_norms, inference_loss = measured(False)
    training_norms, training_loss = measured(True)  # moves the moving averages a little
    assert not np.allclose(inference_norms, training_norms, rtol=0.1)
    assert abs(training_loss - inference_loss) > 0.1 * training_loss
    # The measured call above moved the moving averages: measure inference mode again.
    inference_norms, _ = measured(False)
    np.testing.assert_allclose(gradient_norms(model, x, y), inference_norms, rtol=1e-5)
    losses = train_full_batch(model, x, y, 1, 0.05)
    assert losses[0] == pytest.approx(training_loss, rel=1e-5)
