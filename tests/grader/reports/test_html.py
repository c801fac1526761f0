"""Is the HTML report self-contained and readable: failures first, plots inline, in a real browser?"""

from __future__ import annotations

import html
import re
import subprocess
import sys

import pytest

from grader.reports.html import render_html
from grader.results import CaseResult, Report, TestResult
from tests.browser import browser, chromium
from tests.paths import ROOT


def sample() -> dict:
    failed = TestResult(
        "deep_sigmoid.dense_grad_norms",
        8,
        cases=[
            CaseResult(
                "a 20-layer sigmoid MLP",
                False,
                "Expected: norms = [1e-13, 1]\nReceived: norms = [1, 1e-13]\nHint: input side first",
            ),
        ],
    )
    failed.figures.append(
        {
            "kind": "per_layer",
            "title": "Gradient norm per Dense layer",
            "student": [1.0, 1e-6, 1e-13],
            "reference": [1e-13, 1e-6, 1.0],
            "error": None,
        }
    )
    crashed = TestResult(
        "clipping.train_with_clipping", 5, verdict="train_with_clipping is not implemented yet."
    )
    crashed.figures.append(
        {
            "kind": "training",
            "title": "Loss per step",
            "student": None,
            "error": "train_with_clipping is not implemented yet (it raises NotImplementedError).",
            "reference": [3.0, 2.0],
            "unclipped": [3.0, float("nan")],
            "threshold": 1.0,
            "grad_norms": [],
            "clipped_norms": [],
        }
    )
    passed = TestResult("chain_rule.sigmoid", 4, cases=[CaseResult("sigmoid", True)])
    return Report("alice", [passed, failed, crashed], cases="hidden").to_dict()


def test_page_is_self_contained_with_failures_first_and_messages_for_failed_plots():
    """Does the page inline its images, list failures before passes, and explain a missing plot?"""
    data = sample()
    data["cases"] = "public"  # a public report: the student's page draws the plots
    page = render_html(data)
    assert "http://" not in page and "https://" not in page
    assert page.count('src="data:image/png;base64,') == 1
    assert page.index("deep_sigmoid.dense_grad_norms") < page.index("chain_rule.sigmoid")
    assert "no plot, because train_with_clipping is not implemented yet" in page
    assert 'id="score"' in page and "4 / 17" in page
    assert "Hint: input side first" in page


def test_a_students_page_of_hidden_cases_has_no_plot_and_says_where_they_are():
    """Does the student's page of a hidden report carry no figure at all (no image, no
    plot's message) and name the public check that draws them, while the instructor's
    page (details=True) has the plots?"""
    from grader.results import PLOTS_ON_PUBLIC

    data = sample()
    assert data["cases"] == "hidden" and any(t["figures"] for t in data["tests"])
    page = render_html(data)
    assert "<img" not in page and "data:image" not in page
    assert "no plot, because" not in page and "Gradient norm per Dense layer" not in page
    assert html.escape(PLOTS_ON_PUBLIC) in page
    assert "python -m grader check YOUR_FOLDER --format html" in PLOTS_ON_PUBLIC
    instructors = render_html(data, details=True)
    assert instructors.count('src="data:image/png;base64,') == 1
    assert "no plot, because train_with_clipping is not implemented yet" in instructors
    assert html.escape(PLOTS_ON_PUBLIC) not in instructors
    public = dict(data, cases="public")
    assert html.escape(PLOTS_ON_PUBLIC) not in render_html(public)


def _hands_back(cases: str) -> dict:
    """A report whose failed case raised its hidden input as text."""
    raised = CaseResult(
        "sgd_update on 5 weights (hidden case)",
        False,
        "Expected: a result\nReceived: sgd_update raised ValueError\nHint: a new array",
        category="raised ValueError",
        details="Expected: a result\nReceived: sgd_update raised ValueError: [0.5731]\n"
        "Hint: a new array",
    )
    test = TestResult("chain_rule.sgd_update", 1, cases=[raised], hidden=cases == "hidden")
    return Report("carol", [test], cases=cases).to_dict()


def test_a_students_page_of_hidden_cases_shows_the_category_and_the_instructors_the_details():
    """Does the student's page show what was checked, the category and the hint, but not the
    exception's text, and the instructor's page (details=True) show it under a warning?"""
    from grader.results import HIDDEN_VALUES_KEPT, INSTRUCTORS_VIEW

    data = _hands_back("hidden")
    page = render_html(data)
    assert "Checked: sgd_update on 5 weights (hidden case)" in page
    assert "Result: sgd_update raised ValueError." in page and "Hint: a new array" in page
    assert "0.5731" not in page and "Received" not in page and "Expected" not in page
    assert HIDDEN_VALUES_KEPT.replace("'", "&#x27;") in page
    assert INSTRUCTORS_VIEW.replace("'", "&#x27;") not in page
    instructors = render_html(data, details=True)
    assert "Received: sgd_update raised ValueError: [0.5731]" in instructors
    assert INSTRUCTORS_VIEW.replace("'", "&#x27;") in instructors
    assert "Exploding gradients: the instructor's view</h1>" in instructors


def test_a_page_of_public_cases_shows_expected_and_received():
    """On the public cases, does the page show Expected / Received, with no instructor's banner?"""
    page = render_html(_hands_back("public"))
    assert "Expected: a result" in page and "Received: sgd_update raised ValueError" in page
    assert "Instructor" not in page


def test_plots_are_visible_without_a_click_and_scores_are_rounded():
    """Is the box of a passed function that has a plot open, and a score of 3.3333 shown as 3.33?"""
    passed = TestResult(
        "chain_rule.chain_gradients",
        10,
        cases=[CaseResult("a", True), CaseResult("b", True), CaseResult("c", True)],
    )
    passed.figures.append(
        {"kind": "per_layer", "title": "|dL/dw_k|", "student": [1.0, 0.1], "reference": [1.0, 0.1]}
    )
    plain = TestResult("chain_rule.sgd_update", 2, cases=[CaseResult("a", True)])
    third = TestResult(
        "chain_rule.local_gains",
        5,
        cases=[CaseResult("a", True), CaseResult("b", False, "Hint: h"), CaseResult("c", False)],
    )
    page = render_html(Report("bob", [passed, plain, third], cases="public").to_dict())
    assert "<details open><summary>chain_rule.chain_gradients: 10 / 10" in page
    assert "<details><summary>chain_rule.sgd_update: 2 / 2" in page  # no plot: closed
    assert "chain_rule.local_gains: 1.67 / 5" in page and "1.6667" not in page
    # On hidden cases the student's page draws no plot, so a passed box stays closed;
    # the instructor's page opens it on its plot.
    hidden = Report("bob", [passed, plain, third], cases="hidden").to_dict()
    assert "<details><summary>chain_rule.chain_gradients: 10 / 10" in render_html(hidden)
    instructors = render_html(hidden, details=True)
    assert "<details open><summary>chain_rule.chain_gradients: 10 / 10" in instructors


def test_per_layer_plot_has_whole_number_ticks_and_names_the_output_layer(monkeypatch):
    """Are the layer ticks whole numbers, and is the last point labelled as the output layer?"""
    import grader.reports.figures as figures

    drawn = []
    monkeypatch.setattr(figures, "png_of", lambda figure: drawn.append(figure) or "")
    norms = [10.0**-k for k in range(21)][::-1]
    figures.per_layer(
        {
            "kind": "per_layer",
            "title": "20 hidden sigmoid layers, then the linear output layer (21 in all)",
            "student": norms,
            "reference": norms,
            "last": "output layer",
        }
    )
    axes = drawn[0].axes[0]
    ticks = [t for t in axes.get_xticks() if 1 <= t <= 21]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert "output layer" in axes.get_title()
    assert [a.get_text() for a in axes.texts] == ["output layer"]
    import matplotlib.pyplot as plt

    plt.close(drawn[0])


@pytest.mark.slow
def test_report_renders_in_a_realbrowser(tmp_path):
    """In headless Chromium, is the page not blank, every image loaded, and the score visible?"""
    binary = chromium()
    page = tmp_path / "report.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            str(ROOT / "examples/typical_mistakes"),
            "--format",
            "html",
            "--output",
            str(page),
            "--details",  # the instructor's page: a hidden report's plots are only there
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    dom = browser(binary, tmp_path / "profile1", "--dump-dom", page.as_uri()).stdout
    images = int(re.search(r'data-images="(\d+)"', dom).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom).group(1))
    assert images >= 3 and loaded == images
    assert re.search(r'id="score">[\d.]+ / 100<', dom)
    shot = tmp_path / "shot.png"
    browser(
        binary,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        "--window-size=1200,1600",
        page.as_uri(),
    )
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    histogram = pixels.histogram()
    dark = sum(histogram[:128]) / sum(histogram)
    assert 0.002 < dark < 0.5, f"the page looks blank or black ({dark:.4f} dark pixels)"


def test_a_part_not_handed_in_is_one_box_and_the_isolation_line_the_instructors():
    """Is a missing part named once (one box, its points and its tests), first, rather than
    once per function; and is the isolation line on the instructor's page only?"""
    from grader.assignment import functions_of

    reason = "Part clipping was not found in the submission: expected clipping.ipynb."
    tests = [TestResult("chain_rule.sigmoid", 4, cases=[CaseResult("one", True)])]
    tests += [
        TestResult(f.test_name, f.points, verdict=reason, handed_in=False)
        for f in functions_of("clipping")
    ]
    report = Report("/srv/course/submissions/student", tests)
    report.isolation = "Isolation: plain process (bwrap failed: no user namespaces)"
    page = render_html(report.to_dict())
    assert page.count("was not found in the submission") == 1
    clipping = sum(f.points for f in functions_of("clipping"))
    assert f"clipping: 0 / {clipping:g} (not handed in)" in page
    assert page.index("not handed in") < page.index("chain_rule.sigmoid: 4 / 4")
    assert "clip_by_value, clip_by_norm" in page
    assert "Isolation:" not in page
    # the page names the submission, not the folder it lies in on the grader's machine
    assert "student, graded on the hidden cases" in page and "/srv/course" not in page
    assert "Isolation: plain process" in render_html(report.to_dict(), details=True)
