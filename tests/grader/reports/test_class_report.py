"""Does class.html tell an instructor what the class got wrong: scores, pass rates, the
frequent mistakes with their counts, the flagged submissions, in a real browser?"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from grader.assignment import FUNCTIONS, functions_of
from grader.course.sources import reference_source
from grader.grade import grade_submission
from grader.reports.class_report import (
    readable_score,
    render_class_html,
    summarise,
    write_class_report,
)
from grader.reports.store import store_report
from tests.browser import browser, chromium
from tests.grader.conftest import write_submission
from tests.paths import ROOT

PART_ONE = sum(f.points for f in functions_of("chain_rule"))
CORRECT = reference_source("chain_rule")
SIGN = "\n\ndef sgd_update(param, grad, learning_rate):\n    return param + learning_rate * grad\n"
DERIVATIVE = "\n\ndef sigmoid_derivative(z):\n    return sigmoid(z)\n"
POLICY = "\n\ndef sigmoid(z):\n    import tensorflow as tf\n    return tf.sigmoid(z).numpy()\n"
UNPARSED = (
    "\n\ndef sgd_update(param, grad, learning_rate):\n    return param - learning_rate * grad)\n"
)
MEMORY = "\n\ndef local_gains(x, w, b):\n    import numpy as np\n    return np.ones(10**10) + 1\n"


def _edited_notebook() -> str:
    notebook = nbformat.read(ROOT / "examples/correct/chain_rule.ipynb", 4)
    tests = [c for c in notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    tests[0].source = "4.0  # full marks, surely"
    return nbformat.writes(notebook)


def _test(name: str, score: float, passed: bool, mistakes=(), output: str = "") -> dict:
    spec = next(f for f in FUNCTIONS if f.test_name == name)
    return {
        "name": name,
        "score": score,
        "max_score": spec.points,
        "status": "passed" if passed else "failed",
        "output": output,
        "mistakes": list(mistakes),
        "figures": [],
    }


def _report(tests: list[dict], notes=()) -> dict:
    return {
        "submission": "x",
        "cases": "hidden",
        "score": round(sum(t["score"] for t in tests), 4),
        "max_score": 100,
        "notes": list(notes),
        "tests": tests,
    }


def test_scores_read_as_a_person_reads_them():
    """Are scores shown with at most two decimals and no trailing zeros?"""
    assert readable_score(71.0333, 100) == "71.03 / 100"
    assert readable_score(10 / 3, 10) == "3.33 / 10"
    assert readable_score(28, 28) == "28 / 28"
    assert readable_score(0.0, 100) == "0 / 100"
    assert readable_score(26.6667, 100) == "26.67 / 100"


def test_summary_counts_mistakes_per_function_and_flags_each_reason():
    """Are mistakes counted once per student per function, most frequent first, and every kind of flag found?"""
    sgd, sig = "chain_rule.sgd_update", "chain_rule.sigmoid"
    reports = {
        "a": _report([_test(sgd, 0, False, ["update_sign", "update_sign"])]),
        "b": _report([_test(sgd, 0, False, ["update_sign"]), _test(sig, 4, True)]),
        "c": _report([_test(sgd, 0, False, ["wrong_rate"])]),
        "d": _report(
            [
                _test(sgd, 0, False, output="x: it ran past the time limit of 30 s"),
                _test(sig, 0, False, output="Scored 0: sigmoid uses tensorflow"),
            ],
            notes=["Part clipping was not found in the submission: expected clipping.ipynb."],
        ),
    }
    summary = summarise(reports)
    found = summary["mistakes"][sgd]
    assert [(m["id"], m["count"], m["share"]) for m in found] == [
        ("update_sign", 2, 0.5),
        ("wrong_rate", 1, 0.25),
    ]
    rate = next(f for f in summary["functions"] if f["name"] == sig)
    assert (rate["passed"], rate["rate"]) == (1, 0.25)
    assert summary["flagged"] == [
        {
            "name": "d",
            "reasons": {
                "library rules broken": [sig],
                "time limit hit": [sgd],
                "part missing": ["submission"],
            },
        }
    ]
    page = render_class_html(summary)
    assert 'href="reports/d.html"' in page and "update_sign" in page
    assert "http://" not in page and "https://" not in page
    assert page.count('src="data:image/png;base64,') == 2


def test_an_empty_class_gives_a_page_without_plots():
    """Does a batch with no report yet still get a readable page?"""
    page = render_class_html(summarise({}))
    assert "No student has a report yet." in page and "<img" not in page


@pytest.fixture(scope="module")
def known_class(tmp_path_factory) -> tuple[Path, dict[str, tuple[str, ...]]]:
    """A class graded for real, with known mistakes and flags; returns its batch folder."""
    from grader.isolation.sandbox import Sandbox

    root = tmp_path_factory.mktemp("class")
    students = {
        "ada": {"chain_rule.py": CORRECT},
        "ben": {"chain_rule.py": CORRECT + SIGN},
        "cy": {"chain_rule.py": CORRECT + SIGN},
        "dee": {"chain_rule.py": CORRECT + SIGN},
        "eve": {"chain_rule.py": CORRECT + DERIVATIVE},
        "fay": {"chain_rule.py": CORRECT + DERIVATIVE + SIGN},
        "gus": {"chain_rule.ipynb": _edited_notebook()},
        "hal": {"chain_rule.py": CORRECT + POLICY},
        "ivy": {"chain_rule.py": CORRECT + MEMORY},
        "jo": {"notes.txt": "nothing handed in"},
        "kim": {"chain_rule.py": CORRECT + UNPARSED},
    }
    out = root / "out"
    with Sandbox(tensorflow=True, hide=[root / "submitted"]) as sandbox:
        (root / "submitted").mkdir()
        for name, files in students.items():
            folder = write_submission(root / "submitted" / name, files)
            report = grade_submission(folder, sandbox=sandbox).to_dict()
            store_report(out, name, "", report)
    write_class_report(out, list(students))
    return out


@pytest.mark.slow
def test_class_report_of_a_graded_class_has_the_known_counts_and_flags(known_class):
    """On real reports, are the mistakes counted right and every planted flag found?"""
    page = (known_class / "class.html").read_text()
    counts = dict(re.findall(r'data-mistake="([^"]+)">.*?class="num count">(\d+)<', page))
    assert counts["chain_rule.sgd_update:update_sign"] == "4"
    assert counts["chain_rule.sigmoid_derivative:derivative_is_sigmoid"] == "2"
    flagged = dict(re.findall(r'data-flagged="([^"]+)">(.*?)</tr>', page))
    assert set(flagged) == set("ada ben cy dee eve fay gus hal ivy jo kim".split())  # part 1 only
    assert flagged["ada"].endswith("part missing (deep_sigmoid, clipping, remedies)</td>")
    assert "edited test cells (chain_rule.sigmoid)" in flagged["gus"]
    assert "library rules broken (chain_rule.sigmoid" in flagged["hal"]
    assert "memory limit hit (chain_rule.local_gains)" in flagged["ivy"]
    assert "part missing (chain_rule, deep_sigmoid, clipping, remedies)" in flagged["jo"]
    # a file that does not parse is flagged as such, not only as a missing part
    assert "code does not parse (chain_rule)" in flagged["kim"]
    assert sum("edited" in f or "rules" in f or "limit" in f for f in flagged.values()) == 3
    assert '<a href="reports/gus.html">gus</a>' in flagged["gus"]
    assert "36%" in page  # update_sign: 4 of the 11 students


@pytest.mark.slow
def test_class_report_renders_in_a_realbrowser(known_class, tmp_path):
    """In headless Chromium, is class.html not blank, every image loaded, and the counts visible?"""
    binary = chromium()
    page = (known_class / "class.html").as_uri()
    dom = browser(binary, tmp_path / "profile1", "--dump-dom", page).stdout
    images = int(re.search(r'data-images="(\d+)"', dom).group(1))
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom).group(1))
    assert images == 2 and loaded == 2
    assert re.search(r'data-mistake="chain_rule.sgd_update:update_sign">.*?>4<', dom)
    assert "11 students; mean" in dom
    shot = tmp_path / "shot.png"
    browser(binary, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=1200,1600", page)
    from PIL import Image

    histogram = Image.open(shot).convert("L").histogram()
    dark = sum(histogram[:128]) / sum(histogram)
    assert 0.002 < dark < 0.5, f"the page looks blank or black ({dark:.4f} dark pixels)"
