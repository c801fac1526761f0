"""The class report: what a class got wrong, on one self-contained page (``class.html``).

Built from the stored reports of a batch (plain data, see :mod:`grader.scale.batch`): the score
distribution, the pass rate of each function, the most frequent diagnosed mistakes of each
function with their counts and share of the class, and the submissions flagged (edited test
cells, library rules broken, time, memory or output limits hit, parts missing), each
linking to the student's page ``reports/<student>.html``. The plots use the student pages'
style (:mod:`grader.reports.figures`: Okabe-Ito colours, inline PNGs) and whole-number ticks for
counts of students. With the batch's similarity data (:mod:`grader.reports.similarity`), the
page also lists the most similar pairs of students of each part, each linked to their code
side by side: the instructor's, never a student's. A student's name is a folder name, which
the student may have chosen:
it is escaped in every text and attribute (:func:`grader.escaping.for_html`) and
percent-encoded in its link.
"""

from __future__ import annotations

import os
import statistics
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from grader.assignment import FUNCTIONS
from grader.checks.mistakes import MISTAKES
from grader.escaping import for_html
from grader.reports.figures import COLOURS, integer_locator, png_of, pyplot
from grader.reports.html import PAGE_SCRIPT, PAGE_STYLE
from grader.reports.similarity import (
    MAX_PART_CHARS,
    MIN_SHARED,
    UNIT_FLAG,
    page_link,
    shown,
    shown_threshold,
)
from grader.reports.store import read_report, write_atomically
from grader.results import points

#: Okabe-Ito colours besides those of :data:`grader.reports.figures.COLOURS`.
PASS_COLOUR = "#009E73"
MEDIAN_COLOUR = "#CC79A7"

#: Why a submission is flagged, and the phrases of the grader's feedback that say so (the
#: reports are plain data; these phrases come from grader.grade, grader.isolation.sandbox and
#: grader.worker.calls, and tests/grader/reports/test_class_report.py checks them on real reports).
FLAGS: dict[str, tuple[str, ...]] = {
    "edited test cells": ("Flagged: the autograded test cells",),
    "library rules broken": ("Scored 0: ",),
    "time limit hit": ("ran past the time limit", "used up its total time limit"),
    "memory limit hit": ("more memory than the limit",),
    "output limit hit": ("more than the output limit",),
    "part missing": ("was not found in the submission", "not handed in"),
    "code does not parse": (" does not parse: ",),
}


#: The flag of a submission with tests the grader's own code failed on, to be regraded.
GRADER_FAULT_FLAG = "grader fault: regrade"


def readable_score(score: float, maximum: float) -> str:
    """A score as a person reads it: ``71.03 / 100``, ``3.33 / 10``, ``28 / 28``.

    Args:
        score: points earned.
        maximum: points available.

    Returns:
        both rounded as everywhere else a person reads a score (:func:`grader.results.points`).
    """
    return f"{points(score)} / {points(maximum)}"


def _flags(report: dict[str, Any]) -> dict[str, list[str]]:
    """``{reason: [where]}``: the tests (or ``submission``) whose feedback flags the reason."""
    found: dict[str, list[str]] = {}
    places = [("submission", "\n".join(str(n) for n in report.get("notes", [])))]
    # The instructor's text: a hidden case's details (limits hit, exceptions) included.
    places += [
        (str(t.get("name")), str(t.get("details") or t.get("output", ""))) for t in report["tests"]
    ]
    # A grader fault is marked in the report's data by the grader, not found in its texts
    # (a student's exception text could quote any phrase).
    faults = [str(t.get("name")) for t in report["tests"] if t.get("grader_fault")]
    if faults:
        found[GRADER_FAULT_FLAG] = faults
    for reason, phrases in FLAGS.items():
        for where, text in places:
            if any(phrase in text for phrase in phrases):
                # a missing or unparsed part is named once, not once per function of it
                by_part = reason in ("part missing", "code does not parse")
                place = where.split(".")[0] if by_part else where
                if place not in found.get(reason, []):
                    found.setdefault(reason, []).append(place)
    return found


def summarise(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The class's figures, as plain data.

    Args:
        reports: ``{student: report}`` (as :meth:`grader.results.Report.to_dict` gives it).

    Returns:
        ``students`` (name, score, max), ``functions`` (pass counts), ``mistakes`` (per
        function: id, title, count, share of the class, most frequent first) and
        ``flagged`` (student and reasons).
    """
    size = len(reports)
    students = [
        {"name": n, "score": float(r["score"]), "max_score": float(r.get("max_score", 100))}
        for n, r in reports.items()
    ]
    functions, mistakes = [], {}
    for spec in FUNCTIONS:
        tests = [
            next((t for t in r["tests"] if t.get("name") == spec.test_name), None)
            for r in reports.values()
        ]
        passed = sum(1 for t in tests if t is not None and t.get("status") == "passed")
        functions.append(
            {"name": spec.test_name, "passed": passed, "rate": passed / size if size else 0.0}
        )
        counts = Counter(
            m for t in tests if t is not None for m in dict.fromkeys(t.get("mistakes") or [])
        )
        mistakes[spec.test_name] = [
            {
                "id": m,
                "title": MISTAKES[m].title if m in MISTAKES else m,
                "count": c,
                "share": c / size,
            }
            for m, c in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
    flagged = []
    for name, report in reports.items():
        reasons = _flags(report)
        if reasons:
            flagged.append({"name": name, "reasons": reasons})
    return {
        "size": size,
        "students": students,
        "functions": functions,
        "mistakes": mistakes,
        "flagged": flagged,
    }


# -- plots ---------------------------------------------------------------------------


def score_histogram(students: list[dict[str, Any]]) -> str:
    """The distribution of total scores, with the mean and the median (a PNG, base64)."""
    plt = pyplot()

    maximum = max((s["max_score"] for s in students), default=100.0) or 100.0
    scores = [s["score"] for s in students]
    figure, axes = plt.subplots(figsize=(6.4, 3.4))
    axes.hist(
        scores,
        bins=[maximum * i / 10 for i in range(11)],
        color=COLOURS["student"],
        edgecolor="#000000",
        linewidth=0.6,
    )
    if scores:
        axes.axvline(
            statistics.mean(scores),
            color=COLOURS["unclipped"],
            linestyle="--",
            label=f"mean {points(statistics.mean(scores))}",
        )
        axes.axvline(
            statistics.median(scores),
            color=MEDIAN_COLOUR,
            linestyle=":",
            linewidth=2,
            label=f"median {points(statistics.median(scores))}",
        )
        axes.legend(fontsize=8)
    axes.set_xlim(0, maximum)
    axes.yaxis.set_major_locator(integer_locator())
    axes.set_xlabel(f"total score (out of {points(maximum)})")
    axes.set_ylabel("students")
    axes.set_title("Score distribution", fontsize=10)
    axes.grid(alpha=0.3, axis="y")
    return png_of(figure)


def pass_rates(functions: list[dict[str, Any]], size: int) -> str:
    """The share of the class that passed each function (a PNG, base64)."""
    plt = pyplot()

    names = [f["name"] for f in functions][::-1]
    rates = [100 * f["rate"] for f in functions][::-1]
    figure, axes = plt.subplots(figsize=(6.4, 0.3 * len(names) + 1.2))
    bars = axes.barh(names, rates, color=PASS_COLOUR, edgecolor="#000000", linewidth=0.6)
    for bar, function in zip(bars, functions[::-1]):
        axes.text(
            min(bar.get_width() + 1, 88),
            bar.get_y() + bar.get_height() / 2,
            f"{function['passed']}/{size}",
            va="center",
            fontsize=7,
        )
    axes.set_xlim(0, 100)
    axes.set_xlabel("students who passed (%)")
    axes.set_title("Pass rate of each function", fontsize=10)
    axes.tick_params(axis="y", labelsize=7)
    axes.grid(alpha=0.3, axis="x")
    return png_of(figure)


# -- the page ------------------------------------------------------------------------


def _link(name: str) -> str:
    try:
        raw = os.fsencode(name)  # the page's file name, as its bytes on disk
    except UnicodeEncodeError:  # a name no folder can have: a link to no page
        raw = name.encode("utf-8", "backslashreplace")
    # every byte but letters, digits and "_.-~" percent-encoded: the link stays in reports/
    return f'<a href="reports/{quote(raw, safe="")}.html">{for_html(name)}</a>'


#: Records, once the page is drawn, the similarity section's height and how many of its
#: pairs' links are shown (what a browser test reads from the page).
SIMILARITY_SCRIPT = """
window.addEventListener("load", function () {
  var section = document.getElementById("similarity");
  var links = Array.prototype.slice.call(section.querySelectorAll("table.similar a"));
  section.setAttribute("data-height", Math.round(section.getBoundingClientRect().height));
  section.setAttribute("data-links-shown", links.filter(function (a) {
    return a.getClientRects().length > 0;
  }).length);
});
"""
#: A pair's row names the functions at least this similar.
UNIT_SHOWN = 0.5


def _pair_row(pair: dict[str, Any], linked: bool) -> str:
    """A row of the similarity table: the two students, the score, the fingerprints they
    share, the units that match."""
    units = ", ".join(
        f"{for_html(u['name'])} {shown(u['score'])}"
        + (f" (expected: {u['shared']} students)" if u["shared"] > 2 else "")
        + (" (copied whole)" if u["name"] == pair.get("copied_unit") else "")
        for u in sorted(pair["functions"], key=lambda u: -u["score"])
        if u["score"] >= UNIT_SHOWN
    )
    score = shown(pair["score"])
    if linked and pair.get("page"):
        score = f'<a href="{for_html(page_link(pair["page"]))}">{score}</a>'
    return (
        f'<tr data-pair="{for_html(pair["a"])}|{for_html(pair["b"])}"><td>{for_html(pair["a"])}'
        f'</td><td>{for_html(pair["b"])}</td><td class="num">{score}</td>'
        f'<td class="num">{shown(pair["raw"])}</td><td class="num">{pair.get("shared", 0)}</td>'
        f"<td>{units}</td></tr>"
    )


def _names(students: list[str]) -> str:
    return ", ".join(for_html(s) for s in students)


def similarity_section(similarity: dict[str, Any] | None) -> str:
    """The section of ``class.html`` that lists the most similar pairs of each part
    (:func:`grader.reports.similarity.write_similarity`'s data); empty without it. Data
    with an ``error`` (the comparison failed) gives a section that says so."""
    if not similarity:
        return ""
    if similarity.get("error"):
        return f"""<section id="similarity">
<h2>Similar code</h2>
<p class="instructor">Instructor's section: not for students.</p>
<p class="similarity-failed">No pair is listed: the students' code could not be compared
this time: {for_html(similarity["error"])}. The grades are not affected; run the batch again
to retry (nothing is regraded).</p>
</section>
"""
    threshold = similarity["threshold"]
    head = (
        "<tr><th>student</th><th>student</th><th>score</th><th>counting expected "
        "matches fully</th><th>fingerprints in common</th>"
        "<th>matching functions (similarity)</th></tr>"
    )
    blocks = []
    unread = similarity.get("not_compared") or []
    if unread:
        blocks.append(
            f'<p class="not-compared">Not compared ({len(unread)}): the files of '
            f"{_names(unread)} could not be read as a submission.</p>"
        )
    for part, found in similarity["parts"].items():
        flagged, expected = found["flagged"], found["expected"]
        text = [f'<h3 data-part="{for_html(part)}">{for_html(part)}</h3>']
        if flagged:
            more = found["flagged_count"] - len(flagged)
            text.append(
                f'<table class="similar">{head}\n'
                + "\n".join(_pair_row(p, linked=True) for p in flagged)
                + "\n</table>"
                + (f"<p>And {more} more pairs above the threshold.</p>" if more > 0 else "")
            )
        elif found["students"] < 2:
            who = "One student" if found["students"] else "No student"
            text.append(f"<p>{who} handed it in: no pair to compare.</p>")
        else:
            text.append(
                f"<p>No pair of the {found['students']} students who handed it in is above the "
                "threshold.</p>"
            )
        for group in found.get("groups", []):
            text.append(
                f'<p class="group">A group of {len(group)} students whose code is alike, '
                f"pair by pair: {_names(group)}.</p>"
            )
        if found.get("cut"):
            text.append(
                f'<p class="cut">Compared in part only (the code is longer than '
                f"{MAX_PART_CHARS:,} characters without comments and docstrings): "
                f"{_names(found['cut'])}.</p>"
            )
        if expected:
            more = found["expected_count"] - len(expected)
            text.append(
                "<details><summary>Expected similarity: "
                f"{found['expected_count']} pairs above the threshold only through functions "
                f"many students write the same way, or with fewer than {MIN_SHARED} "
                "fingerprints in common (a few lines, the rest left as the stubs)</summary>"
                f'<table class="expected">{head}\n'
                + "\n".join(_pair_row(p, linked=False) for p in expected)
                + "\n</table>"
                + (f"<p>And {more} more.</p>" if more > 0 else "")
                + "</details>"
            )
        blocks.append("\n".join(text))
    return f"""<section id="similarity">
<h2>Similar code</h2>
<p class="instructor">Instructor's section: not for students.</p>
<p>The pairs of students whose code of a part is most alike, highest first: the share of
their code's fingerprints they have in common, function by function and over the whole
part, with names, comments, layout and statements that do nothing ignored and the released
notebooks' and modules' code left out (threshold {shown_threshold(threshold)}; set it with
<code>--similarity-threshold</code>, switch the section off with
<code>--no-similarity</code>). A pair is listed when it reaches the threshold with at least
{MIN_SHARED} fingerprints in common (about four lines of code), or when one substantial
function matches at {shown(UNIT_FLAG)} or more. A short function many students write the
same way (a one-line formula) is expected to match and counts less. Each score links to the
two students' code side by side, the matching regions highlighted. Similarity is evidence
for a person to review, not a verdict.</p>
{chr(10).join(blocks)}
</section>
<script>{SIMILARITY_SCRIPT}</script>
"""


def render_class_html(summary: dict[str, Any], similarity: dict[str, Any] | None = None) -> str:
    """The class report page for :func:`summarise`'s data, with the similarity section
    when ``similarity`` is given (:func:`similarity_section`)."""
    size = summary["size"]
    students = summary["students"]
    scores = [s["score"] for s in students]
    maximum = max((s["max_score"] for s in students), default=100.0)
    headline = (
        f"{size} students; mean {readable_score(statistics.mean(scores), maximum)}, "
        f"median {readable_score(statistics.median(scores), maximum)}; "
        f"full marks: {sum(1 for s in students if s['score'] == s['max_score'])}"
        if students
        else "No student has a report yet."
    )
    images = ""
    if students:
        images = (
            f'<img alt="Score distribution" src="data:image/png;base64,{score_histogram(students)}">'
            f'\n<img alt="Pass rate of each function" '
            f'src="data:image/png;base64,{pass_rates(summary["functions"], size)}">'
        )
    rates = "\n".join(
        f'<tr><td>{for_html(f["name"])}</td><td class="num">{f["passed"]} / {size}</td>'
        f'<td class="num">{100 * f["rate"]:.0f}%</td></tr>'
        for f in summary["functions"]
    )
    mistake_rows = []
    for function, found in summary["mistakes"].items():
        for m in found[:5]:
            mistake_rows.append(
                f'<tr data-mistake="{for_html(function)}:{for_html(m["id"])}">'
                f"<td>{for_html(function)}</td><td>{for_html(m['title'])} "
                f"<code>[{for_html(m['id'])}]</code></td>"
                f'<td class="num count">{m["count"]}</td>'
                f'<td class="num">{100 * m["share"]:.0f}%</td></tr>'
            )
    mistakes = (
        "<table><tr><th>function</th><th>mistake</th><th>students</th><th>share</th></tr>\n"
        + "\n".join(mistake_rows)
        + "\n</table>"
        if mistake_rows
        else "<p>No known mistake was diagnosed.</p>"
    )
    flagged_rows = "\n".join(
        f'<tr data-flagged="{for_html(f["name"])}"><td>{_link(f["name"])}</td><td>'
        + "; ".join(
            f"{for_html(reason)} ({for_html(', '.join(where))})"
            for reason, where in f["reasons"].items()
        )
        + "</td></tr>"
        for f in summary["flagged"]
    )
    flagged = (
        f"<table><tr><th>student</th><th>why</th></tr>\n{flagged_rows}\n</table>"
        if flagged_rows
        else "<p>No submission was flagged.</p>"
    )
    everyone = "\n".join(
        f'<tr><td>{_link(s["name"])}</td><td class="num">'
        f"{readable_score(s['score'], s['max_score'])}</td></tr>"
        for s in sorted(students, key=lambda s: (s["score"], s["name"]))
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Exploding gradients: class report</title>
<style>{PAGE_STYLE}</style>
<script>{PAGE_SCRIPT}</script>
</head>
<body>
<h1>Exploding gradients: class report</h1>
<p id="headline">{headline}</p>
{images}
<h2>Pass rate of each function</h2>
<table><tr><th>function</th><th>passed</th><th>rate</th></tr>
{rates}
</table>
<h2>Most frequent diagnosed mistakes</h2>
<p>For each function, the known mistakes diagnosed in its failed cases, most frequent first
(at most five): students who made it, and their share of the class.</p>
{mistakes}
<h2>Flagged submissions</h2>
{flagged}
{similarity_section(similarity)}
<h2>Every student, lowest score first</h2>
<table><tr><th>student</th><th>score</th></tr>
{everyone}
</table>
</body>
</html>
"""


def write_class_report(
    out: Path, names: list[str], similarity: dict[str, Any] | None = None
) -> Path:
    """Write ``out/class.html`` from the stored reports of the students ``names``.

    Args:
        out: the batch's output folder.
        names: the students (those without a readable report are left out).
        similarity: the similarity section's data
            (:func:`grader.reports.similarity.write_similarity`), or None for no section.

    Returns:
        the page's path.
    """
    reports = {}
    for name in names:
        report = (read_report(Path(out) / "reports" / f"{name}.json") or {}).get("report")
        if isinstance(report, dict) and isinstance(report.get("tests"), list):
            reports[name] = report
    path = Path(out) / "class.html"
    write_atomically(path, render_class_html(summarise(reports), similarity))
    return path
