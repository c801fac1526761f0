"""What Part 2's lesson says (deep_sigmoid) against what its instructor notebook prints.

Every claim is checked with oneDNN's kernels on and off (see conftest.py).
"""

from __future__ import annotations

import re

import pytest

from tests.lessons.conftest import NUMBER, ONEDNN, Lesson, find, markdown, printed

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("onednn", list(ONEDNN))]

PART = "deep_sigmoid"

#: The rates of the training demo, in the order the cell prints them.
SMALL_RATES = ("0.003", "0.01", "0.03")
LARGE_RATE = "0.15"


@pytest.mark.parametrize(
    ("prose", "shown", "tolerance", "scale"),
    [
        (r"true values, about " + NUMBER, r"n = 16:.*1\.5\^n = +" + NUMBER, 0.01, 1.0),
        (r"and \$" + NUMBER + r" \\times 10\^8\$", r"n = 50:.*1\.5\^n = +" + NUMBER, 0.01, 1e8),
        (r"\(" + NUMBER + r" is\s+roughly", r"1\.5\^10 = " + NUMBER, 0.02, 1.0),
        (
            r"where \$\\chi = " + NUMBER + r"\$, the measured",
            r"sigmoid +chi and measured .*s = 100: " + NUMBER + " /",
            0.0,
            1.0,
        ),
        (
            r"ratio is still \$" + NUMBER + r" \\times 10\^\{-2\}\$",
            r"sigmoid +chi and measured .*s = 100: [0-9.]+ / " + NUMBER,
            0.02,
            1e-2,
        ),
        (
            r"passes 1 only between \$s = " + NUMBER,
            r"sigmoid +measured ratio passes 1 between s = " + NUMBER,
            0.0,
            1.0,
        ),
        (
            r"only between \$s = 100\$ and \$s = " + NUMBER,
            r"sigmoid +measured ratio passes 1 between .* and s = " + NUMBER,
            0.0,
            1.0,
        ),
        (
            r"at \$s = 1000\$ the measured ratio is\s+\$" + NUMBER + r" \\times 10\^3\$",
            r"sigmoid +chi and measured .*s = 1000: [0-9.]+ / " + NUMBER,
            0.02,
            1e3,
        ),
        (
            r"the printed\s+factor, about " + NUMBER,
            r"relu +measured ratio never passes 1 .*?, a factor " + NUMBER,
            0.05,
            1.0,
        ),
        (
            r"against \$\\chi\$'s \$10\^" + NUMBER,
            r"relu +measured ratio never .*chi grows by a factor 1e\+0?" + NUMBER,
            0.0,
            1.0,
        ),
    ],
)
def test_prose_figures_match_the_printed_ones(
    lesson: Lesson, onednn: str, prose: str, shown: str, tolerance: float, scale: float
) -> None:
    """Does each figure the lesson's text names match what its cell prints, within rounding?"""
    nb = lesson(PART, onednn)
    said = find(prose, markdown(nb), "prose") * scale
    value = find(shown, printed(nb), "output")
    assert abs(said - value) <= tolerance * abs(value), (said, value)


def test_chi_section_claims(lesson: Lesson, onednn: str) -> None:
    """Chi = 1 at Glorot's tanh and He's ReLU, sigmoid at about 100; where the ratios pass 1."""
    out = printed(lesson(PART, onednn))
    assert abs(find(r"tanh: chi at s = 1 is " + NUMBER, out, "tanh") - 1) < 0.05
    assert abs(find(r"relu: chi at s = 2 is " + NUMBER, out, "relu") - 1) < 0.01
    crossing = find(r"sigmoid: chi = 1 at s = " + NUMBER, out, "sigmoid")
    assert 50 <= crossing <= 200, crossing  # the prose: "about a hundred times Glorot's"
    assert find(r"largest relative difference " + NUMBER, out, "NumPy against TF") < 1e-4
    # "For sigmoid and tanh the measured ratio grows by many orders of magnitude".
    for name in ("sigmoid", "tanh"):
        small = find(name + r" +chi and measured .*s = 0\.1: [0-9.]+ / " + NUMBER, out, name)
        large = find(name + r" +chi and measured .*s = 1000: [0-9.]+ / " + NUMBER, out, name)
        assert large > 1e6 * small, (name, small, large)
    # "For tanh that is within a grid step of its chi crossing".
    tanh_chi = find(r"tanh: chi = 1 at s = " + NUMBER, out, "tanh crossing")
    low = find(r"tanh +measured ratio passes 1 between s = " + NUMBER, out, "tanh low")
    high = find(r"tanh +measured ratio passes 1 between .* and s = " + NUMBER, out, "tanh high")
    assert high >= tanh_chi and low <= 4 * tanh_chi, (tanh_chi, low, high)
    # "For sigmoid it is well above": the ratio is still below 1 at the chi crossing.
    sigmoid_low = find(r"sigmoid +measured ratio passes 1 between s = " + NUMBER, out, "sig")
    assert sigmoid_low >= 0.9 * crossing, (sigmoid_low, crossing)
    # "ReLU's measured ratio never passes 1, and it moves far less than chi does."
    factor = find(r"relu +measured ratio never passes 1 .*?, a factor " + NUMBER, out, "relu")
    chi_factor = find(r"relu +measured ratio never .*chi grows by a factor " + NUMBER, out, "chi")
    assert factor < 100 < chi_factor, (factor, chi_factor)


def test_ratio_grows_with_depth(lesson: Lesson, onednn: str) -> None:
    """Section 3: the deeper the sigmoid MLP, the larger last/first, by orders of magnitude."""
    out = printed(lesson(PART, onednn))
    ratios = [
        find(r"depth +" + str(depth) + r": .*ratio last/first " + NUMBER, out, str(depth))
        for depth in (5, 10, 20)
    ]
    assert 100 * ratios[0] < ratios[1] and 100 * ratios[1] < ratios[2], ratios


def test_saturation_section(lesson: Lesson, onednn: str) -> None:
    """Section 5: small weights bunch up near sigma' = 1/4; larger ones saturate more."""
    out = printed(lesson(PART, onednn))
    rows = re.findall(
        r"s = +([0-9.]+): std of the activations at layers 1, 5, 20: ([0-9.]+), ([0-9.]+), "
        r"([0-9.]+); at layer 20 ([0-9]+)% saturated .*mean sigma' ([0-9.]+)",
        out,
    )
    assert [float(r[0]) for r in rows] == [1.0, 16.0, 256.0], out[-3000:]
    spreads = [[float(v) for v in r[1:4]] for r in rows]
    saturated = [float(r[4]) for r in rows]
    slopes = [float(r[5]) for r in rows]
    assert all(spreads[0][k] < min(spreads[1][k], spreads[2][k]) for k in range(3)), spreads
    assert slopes[0] > 0.2 and slopes[0] > slopes[1] > slopes[2], slopes  # "near 1/4", falls
    assert saturated[0] < saturated[1] < saturated[2], saturated  # "rises with s"


def rate_block(out: str, rate: str) -> str:
    """The lines the training demo prints for one learning rate."""
    match = re.search(r"\nrate " + re.escape(rate) + r": (.*?)(?=\n\nrate |\n\nlargest)", out, re.S)
    assert match, f"no block for rate {rate} in:\n{out[-3000:]}"
    return match.group(0)


def control(block: str, trained: str) -> str:
    """One control's line ("output", "hidden" or "all") in a rate's block."""
    match = re.search(r"train " + trained + r" *: .*", block)
    assert match, f"no line for {trained} in:\n{block}"
    return match.group(0)


def test_training_demo_first_step_moves_the_early_layers_far(lesson: Lesson, onednn: str) -> None:
    """At every rate step 0 moves the first kernel by many times its norm and saturates it."""
    out = printed(lesson(PART, onednn))
    assert find(r"NumPy SGD step against Keras's, .* kernel " + NUMBER, out, "check") < 1e-8
    assert find(r"fixed model, step 0: .* ratio " + NUMBER, out, "ratio") > 1e3  # "thousands"
    before = find(r"\|z\| > 3 before training: " + NUMBER + "%", out, "before") / 100
    assert 0.3 <= before <= 0.7, before  # "about half"
    for rate in (*SMALL_RATES, LARGE_RATE):
        block = rate_block(out, rate)
        assert find(r"moves the first kernel by " + NUMBER, block, rate) > 10, block
        assert find(r"after step 0: " + NUMBER + "%", block, rate) / 100 >= 0.9, block


def loss_change(line: str) -> tuple[float, float] | None:
    """A finite run's first and last loss, or None for a run that diverged or overflowed."""
    match = re.search(r"no non-finite loss in 100 steps, loss " + NUMBER + " -> " + NUMBER, line)
    return (float(match[1]), float(match[2])) if match else None


def test_training_demo_controls_follow_their_curvature(lesson: Lesson, onednn: str) -> None:
    """Output alone: fixed curvature, loss falls iff eta*lambda < 2; hidden alone: bounded."""
    out = printed(lesson(PART, onednn))
    bound = find(r"the loss cannot exceed " + NUMBER, out, "bound")
    for rate in (*SMALL_RATES, LARGE_RATE):
        block = rate_block(out, rate)
        output, hidden = control(block, "output"), control(block, "hidden")
        sharpness = find(r"eta\*lambda_max " + NUMBER + " at step 0", output, "output")
        assert find(r"largest " + NUMBER, output, "output") == sharpness, output
        change = loss_change(output)
        if sharpness < 2:  # "where it is below 2 the loss falls"
            assert change and change[1] < change[0], output
        else:  # "where it is above 2 the loss grows"
            assert not change or change[1] > change[0], output
        change = loss_change(hidden)  # "cannot make the loss overflow": below the bound
        assert change and max(change) <= bound, (hidden, bound)
    # The bound says something: the hidden layers' own eta*lambda passes 2 at the largest rate.
    hidden = control(rate_block(out, LARGE_RATE), "hidden")
    assert find(r"largest " + NUMBER, hidden, "hidden") > 2, hidden


def test_training_demo_whole_network(lesson: Lesson, onednn: str) -> None:
    """A diverged run passed eta*lambda = 2 first; small rates train; largest moves curvature."""
    out = printed(lesson(PART, onednn))
    for rate in (*SMALL_RATES, LARGE_RATE):
        block = rate_block(out, rate)
        whole = control(block, "all")
        if "diverged" in whole:  # "it also says at which step eta*lambda_max first passed 2"
            above = find(r"first above 2 at step " + NUMBER, whole, "whole")
            assert above < find(r"from step " + NUMBER, whole, "whole"), whole
        elif "non-finite loss at step" in whole:  # a float64 overflow: passed 2 before it
            above = find(r"first above 2 at step " + NUMBER, whole, "whole")
            assert above < find(r"non-finite loss at step " + NUMBER, whole, "whole"), whole
        elif rate in SMALL_RATES and "first above 2" not in whole:  # "shows the loss falling"
            change = loss_change(whole)
            assert change and change[1] < change[0], whole
    block = rate_block(out, LARGE_RATE)  # "can pass 2 where the output layer's alone stays below"
    largest = {t: find(r"largest " + NUMBER, control(block, t), t) for t in ("output", "all")}
    assert largest["all"] > 2 and largest["all"] > largest["output"], block
    assert re.search(r"the whole network at rate \S+ (passes it at step|stays below it)", out)


def test_float32_digits(lesson: Lesson, onednn: str) -> None:
    """Float64 agrees with itself; float32 is within a fraction of a percent at layer 21 only."""
    out = printed(lesson(PART, onednn))
    errors = {}
    for layer in ("1", "11", "21"):
        line = re.search(r"layer +" + layer + r": .*", out)
        assert line, out[-3000:]
        numpy64, keras64, keras32, numpy32 = re.findall(r"float\d+ \w+ ([0-9.e+-]+)", line[0])
        assert numpy64 == keras64, line[0]  # "agree to every printed digit"
        errors[layer] = [abs(float(v) / float(numpy64) - 1) for v in (keras32, numpy32)]
        if layer == "1":
            assert keras32 != numpy32, line[0]  # "the two float32 computations disagree"
    assert all(e < 0.005 for e in errors["21"]), errors  # "within a fraction of a percent"
    for keras_or_numpy in (0, 1):  # "further back the printed errors are several times larger"
        back = max(errors["1"][keras_or_numpy], errors["11"][keras_or_numpy])
        assert back > 3 * errors["21"][keras_or_numpy], errors
    # "can differ ... for another seed": the other seeds' layer-1 errors spread widely.
    low = find(r"seeds 1 to 4: errors from " + NUMBER + "%", out, "low")
    high = find(r"seeds 1 to 4: errors from .* to " + NUMBER + "%", out, "high")
    assert high > 3 * low, (low, high)


def test_mixed_precision_section(lesson: Lesson, onednn: str) -> None:
    """Float16's limits, overflow of the exploding gradient, underflow undone by loss scaling."""
    nb = lesson(PART, onednn)
    out, prose = printed(nb), markdown(nb)
    assert find(r"float16: largest " + NUMBER, out, "max") == 65504
    assert "65504" in prose
    subnormal = find(r"smallest subnormal " + NUMBER, out, "subnormal")
    assert abs(subnormal - 2.0**-24) < 1e-10
    assert "7e4 -> inf, 2e-8 -> 0.0" in out
    tanh = re.search(r"exploding network: .*?(?=vanishing network)", out, re.S)
    assert tanh, out[-3000:]
    tanh = tanh[0]
    assert find(r"largest entry " + NUMBER, tanh, "tanh") > 65504
    assert find(r"no scaling: " + NUMBER + "% of the entries not finite", tanh, "tanh") > 0
    assert find(NUMBER + r" step\(s\) skipped", tanh, "tanh") >= 1
    assert find(r"applied at scale " + NUMBER, tanh, "tanh") < 1  # "a scale below 1"
    assert find(r"relative error against float32 " + NUMBER, tanh, "tanh") > 0.5  # "far from"
    sigmoid = re.search(r"vanishing network: .*?relative error against float32 \S+", out, re.S)
    assert sigmoid, out[-3000:]
    sigmoid = sigmoid[0]
    assert find(r"largest entry " + NUMBER, sigmoid, "sigmoid") < subnormal / 10  # "far below"
    assert find(r"no scaling: .* " + NUMBER + "% exactly zero", sigmoid, "sigmoid") == 100
    # "can itself be too large ... halves the scale": each skipped step halved 2^15 once.
    skipped = find(NUMBER + r" step\(s\) skipped", sigmoid, "sigmoid")
    assert find(r"applied at scale " + NUMBER, sigmoid, "sigmoid") == 2.0 ** (15 - skipped)
    assert skipped <= 5, sigmoid  # the scale still lifts the gradient
    assert find(r"its gradient: " + NUMBER + "% exactly zero", sigmoid, "sigmoid") < 10
    error = find(r"relative error against float32 " + NUMBER, sigmoid, "sigmoid")
    assert 1e-4 < error < 0.2, error  # "far above float32's 1e-7", yet the size is restored
