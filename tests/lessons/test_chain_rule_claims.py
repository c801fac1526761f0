"""What Part 1's lesson says (chain_rule) against what its instructor notebook prints.

Every claim is checked with oneDNN's kernels on and off (see conftest.py). Part 1 is NumPy
only, so the two runs should print the same figures; the fixture runs both all the same.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.lessons.conftest import NUMBER, ONEDNN, Lesson, find, markdown, number, printed

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("onednn", list(ONEDNN))]

PART = "chain_rule"

#: A row of the gradient-check table: dtype, h, then each error with its verdict in brackets.
ROW = re.compile(
    r"^(float64|float32) +(\S+) +(\S+) \(([a-z ]+)\) +(\S+) \(([a-z ]+)\) +(\S+)$", re.MULTILINE
)


def array(pattern: str, text: str, where: str) -> np.ndarray:
    """The numbers of the bracketed array printed after ``pattern``."""
    match = re.search(pattern + r"\s*\[([^\]]*)\]", text)
    assert match, f"{where}: no match for {pattern!r} in:\n{text[-3000:]}"
    return np.array([number(token) for token in match.group(1).split()])


def check_table(out: str) -> dict[tuple[str, float], dict[str, float | str]]:
    """The gradient-check table's rows, keyed by (dtype, h)."""
    rows = {}
    for dtype, h, each, each_verdict, whole, whole_verdict, one_sided in ROW.findall(out):
        rows[dtype, number(h)] = {
            "elementwise": number(each),
            "elementwise verdict": each_verdict,
            "norm": number(whole),
            "norm verdict": whole_verdict,
            "one-sided norm": number(one_sided),
        }
    assert set(rows) == {
        ("float64", 1e-5),
        ("float64", 1e-6),
        ("float32", 1e-5),
        ("float32", 1e-2),
    }, out
    return rows


def test_gain_at_zero_figure(lesson: Lesson, onednn: str) -> None:
    """Does the "x125" figure the prose corrects match the one the cell prints?"""
    nb = lesson(PART, onednn)
    said = find(r"= " + NUMBER + r"\$\. That holds", markdown(nb), "prose")
    shown = find(r"gain at z = 0: +500 \* sigma'\(0\) = " + NUMBER, printed(nb), "output")
    assert said == shown, (said, shown)


def test_product_of_local_derivatives_matches_the_finite_difference(
    lesson: Lesson, onednn: str
) -> None:
    """Does section 3's product agree with its finite difference to the printed digits?"""
    out = printed(lesson(PART, onednn))
    product = find(r"product of local derivatives: dL/dw1 = " + NUMBER, out, "product")
    numeric = find(r"finite difference: +dL/dw1 = " + NUMBER, out, "difference")
    assert product == numeric != 0, (product, numeric)


def test_a_weight_of_500_does_not_amplify(lesson: Lesson, onednn: str) -> None:
    """Is every printed gain for a realistic O far below 1, as the prose says?"""
    out = printed(lesson(PART, onednn))
    gains = [number(g) for g in re.findall(r"gain 500 \* sigma'\(z\) = " + NUMBER, out)]
    assert len(gains) == 5 and max(gains) < 1e-10, gains


def test_plain_formulas_at_large_z(lesson: Lesson, onednn: str) -> None:
    """Plain sigmoid: right values after an overflow; plain derivative: nan; yours: clean."""
    out = printed(lesson(PART, onednn))
    plain = re.search(r"plain 1/\(1\+exp\(-z\)\) +\[0\. +0\.5 1\. *\] +warnings: \[(.*)\]", out)
    assert plain and "overflow" in plain.group(1), out
    derivative = re.search(r"plain exp\(-z\)/\(1\+exp\(-z\)\)\*\*2 +\[ *nan .*\] +warnings", out)
    assert derivative, out
    assert re.search(r"your sigmoid +\[0\. +0\.5 1\. *\] +warnings: \[\]", out), out
    assert re.search(r"your sigmoid_derivative +\[.*\] +warnings: \[\]", out), out


def test_the_verdicts_follow_the_guide_in_the_prose(lesson: Lesson, onednn: str) -> None:
    """Does every verdict the table prints follow the thresholds the prose states?"""
    nb = lesson(PART, onednn)
    guide = re.search(
        r"above\s+\$10\^\{(-\d+)\}\$ the gradient is probably wrong, \$10\^\{(-\d+)\}\$ to"
        r"\s+\$10\^\{(-\d+)\}\$ is suspicious, below\s+\$10\^\{(-\d+)\}\$ it is right",
        markdown(nb),
    )
    assert guide, "the rough guide's thresholds are not in the prose"
    wrong, suspicious, suspicious_top, right = (10.0 ** int(g) for g in guide.groups())
    assert suspicious_top == wrong

    def expected(error: float) -> str:
        if error > wrong:
            return "probably wrong"
        if error > suspicious:
            return "suspicious"
        return "look closer" if error >= right else "right"

    out = printed(nb)
    pairs = [
        (number(value), verdict)
        for row in ROW.findall(out)
        for value, verdict in ((row[2], row[3]), (row[4], row[5]))
    ]
    flipped = re.search(r"norm-based error " + NUMBER + r" \(([a-z ]+)\)", out)
    assert flipped, out
    pairs.append((number(flipped.group(1)), flipped.group(2)))
    assert len(pairs) == 9, pairs
    for value, verdict in pairs:
        assert verdict == expected(value), (value, verdict)


def test_norm_based_against_elementwise_errors(lesson: Lesson, onednn: str) -> None:
    """Float64: norm-based far below 1e-7; elementwise orders higher, higher at smaller h."""
    rows = check_table(printed(lesson(PART, onednn)))
    for h in (1e-5, 1e-6):
        row = rows["float64", h]
        assert row["norm"] < 1e-7 and row["norm verdict"] == "right", row
        assert row["elementwise"] >= 100 * row["norm"], row
        assert row["elementwise verdict"] != "right", row
    assert rows["float64", 1e-6]["elementwise"] > rows["float64", 1e-5]["elementwise"], rows


def test_one_sided_is_worse_than_central(lesson: Lesson, onednn: str) -> None:
    """Is the one-sided norm-based error orders of magnitude above the central one at 1e-5?"""
    row = check_table(printed(lesson(PART, onednn)))["float64", 1e-5]
    assert row["one-sided norm"] >= 100 * row["norm"], row


def test_rounding_step_explains_the_errors(lesson: Lesson, onednn: str) -> None:
    """Float64: every absolute error within about the rounding step of L over 2h.

    Float32: that step exceeds most components, and the float32 rows are of order 1 wrong.
    """
    out = printed(lesson(PART, onednn))
    rows = check_table(out)
    gradient = np.abs(array(r"dL/dw, yours:", out, "gradient"))
    float64 = out[out.index("L in float64, h = 1e-06") :]
    step64 = find(r"moves in steps of \S+ / 2h = " + NUMBER, float64, "float64 step")
    errors64 = array(r"\|yours - central\| per weight:", float64, "float64 errors")
    assert np.all(errors64 <= 2 * step64), (errors64, step64)
    assert np.min(gradient) / np.max(gradient) < 1e-3, gradient  # "several orders"

    float32 = out[out.index("L in float32, h = 1e-05") :]
    step32 = find(r"moves in steps of \S+ / 2h = " + NUMBER, float32, "float32 step")
    assert np.sum(gradient < step32) >= 3, (gradient, step32)  # "most components"
    assert rows["float32", 1e-5]["elementwise"] >= 0.5, rows
    assert rows["float32", 1e-5]["norm"] >= 1e-2, rows
    for h in (1e-5, 1e-2):
        row = rows["float32", h]
        assert row["norm verdict"] != "right", row
        assert row["norm"] >= 100 * rows["float64", 1e-5]["norm"], row
    assert rows["float32", 1e-2]["norm"] < rows["float32", 1e-5]["norm"], rows


def test_a_mistake_in_the_smallest_component(lesson: Lesson, onednn: str) -> None:
    """Far above the correct gradient's error, about 2|a_1|/||a||, and not judged right."""
    out = printed(lesson(PART, onednn))
    correct = check_table(out)["float64", 1e-5]["norm"]
    flipped = find(r"norm-based error " + NUMBER, out, "flipped")
    share = find(r"2 \|dL/dw_1\| / \|\|dL/dw\|\| = " + NUMBER, out, "share")
    assert flipped >= 100 * correct, (flipped, correct)
    assert abs(flipped - share) <= 0.1 * share, (flipped, share)
    assert flipped >= 1e-7, flipped


def test_local_gains_claims(lesson: Lesson, onednn: str) -> None:
    """Is each link's largest gain within |w_k|/4, and the product over ten links tiny?"""
    out = printed(lesson(PART, onednn))
    largest = array(r"largest \|gain\| per link:", out, "gains")
    bound = array(r"bound \|w_k\| / 4:", out, "bound")
    assert largest.shape == bound.shape == (10,)
    assert np.all(largest <= bound + 1e-4), (largest, bound)  # printed to 4 decimals
    assert np.max(array(r"\|dO_10/dx\| per sample:", out, "product")) < 1e-6


def test_six_neurons_stall_where_three_improve(lesson: Lesson, onednn: str) -> None:
    """First weights' gradients orders below the last; six neurons stall, three improve."""
    out = printed(lesson(PART, onednn))
    start = np.abs(array(r"6 neurons: \|dL/dw_k\| at the start, k = 1\.\.6:", out, "six"))
    assert np.all(start[:2] <= 1e-2 * start[-1]), start

    def losses(n: int) -> tuple[float, float]:
        pattern = rf"{n} neurons: loss \S+ at step 0, {NUMBER} at step 100, {NUMBER} at step"
        match = re.search(pattern, out)
        assert match, out
        return number(match.group(1)), number(match.group(2))

    at_100, at_end = losses(6)
    assert at_end >= 0.95 * at_100, (at_100, at_end)
    at_100, at_end = losses(3)
    assert at_end <= 0.1 * at_100, (at_100, at_end)


def test_adam_control(lesson: Lesson, onednn: str) -> None:
    """From the same start, does Adam end orders below the stalled SGD and move further?

    The two single-ingredient controls (momentum alone, beta1 = 0 alone) end above or below
    the stall depending on the start, so only their printed sentences are checked: each
    must follow from the printed losses.
    """
    out = printed(lesson(PART, onednn))
    names = [
        "gradient descent, rate 5.0",
        "gradient descent with momentum 0.9, rate 5.0",
        "Adam with beta1 = 0, rate 0.03",
        "Adam, rate 0.03",
    ]
    first, final = {}, {}
    for name in names:
        match = re.search(rf"  {re.escape(name)}: +loss {NUMBER} -> {NUMBER}", out)
        assert match, (name, out)
        first[name], final[name] = number(match.group(1)), number(match.group(2))
    assert len(set(first.values())) == 1, first  # the same start
    sgd, momentum, rescaled, adam = (final[name] for name in names)
    stalled = find(r"6 neurons: loss .* " + NUMBER + r" at step 499", out, "stall")
    assert sgd == stalled, (sgd, stalled)
    assert adam <= sgd / 100, final  # "orders of magnitude below"
    assert "Adam ends more than 100 times below gradient descent: a setting" in out, out

    for name in names[1:]:
        ratio = find(re.escape(name) + r" ends at " + NUMBER + " times", out, name)
        assert abs(ratio - final[name] / sgd) <= 0.05 * ratio + 0.01, (name, ratio, final)
    escaped = "The rescaling alone (beta1 = 0) ends more than 10 times below the stall"
    stayed = "The rescaling alone (beta1 = 0) ends within a factor of 10 of the stall"
    assert (escaped in out) == (rescaled < sgd / 10) != (stayed in out), (final, out)
    escaped = "Momentum alone also ends more than 10 times below the stall"
    stayed = "Momentum alone ends within a factor of 10 of the stall"
    assert (escaped in out) == (momentum < sgd / 10) != (stayed in out), (final, out)

    moved_sgd = array(r"  gradient descent, rate 5\.0:", out, "SGD moves")
    moved_adam = array(r"  Adam, rate 0\.03:", out, "Adam moves")
    assert moved_sgd.shape == moved_adam.shape == (6,)
    distance = find(r"distance moved, .*Adam, rate 0\.03 " + NUMBER, out, "Adam distance")
    sgd_distance = find(r"distance moved, .*?gradient descent, rate 5\.0 " + NUMBER, out, "SGD")
    # Printed to 3 digits, the norms agree with the per-weight moves to about 5%.
    assert abs(distance - np.linalg.norm(moved_adam)) <= 0.05 * distance, (distance, moved_adam)
    assert abs(sgd_distance - np.linalg.norm(moved_sgd)) <= 0.05 * sgd_distance
    assert distance >= 10 * sgd_distance, (distance, sgd_distance)  # "far further in total"
    times = find(r"Adam moves the weights " + NUMBER + r" times as far", out, "distance ratio")
    assert abs(times - distance / sgd_distance) <= 0.02 * times + 1, (times, distance)
