"""A report as one self-contained HTML page: scores, feedback and plots, no network needed.

Failures come first, each with what was checked, what went wrong and the hint; every
plot is an inline PNG (:mod:`grader.reports.figures`), in a box that is open (the plots of passed
functions too, so nothing needs a click); a function that failed to run shows its message
instead of its plot. Only outputs are plotted, never a hidden case's inputs. Scores are
rounded as everywhere a person reads them (:func:`grader.results.points`).

The page is the student's: it shows each test's ``output``, in which a failed hidden case
shows its category, never what the student's code returned or raised, nor the reference's
answer (public cases show Expected / Received). Its plots are drawn on public cases only:
a plot of a hidden case shows what the student's code returned and the reference's answer
on a hidden input, so the student's page of a hidden report has no plot and says in one
line that ``python -m grader check DIR --format html`` draws them on the public cases.
``details=True`` makes the instructor's page from each test's ``details`` instead, with
the plots, under a banner saying it is not for students.

Every text on the page goes through :func:`grader.escaping.for_html` (markup escaped,
quotes included; control and bidi characters shown as escapes): what the student's code
wrote is text on the page, never a tag or an attribute. The page holds no script but its
own constant one, and no JSON.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from grader.escaping import for_html
from grader.reports.figures import render
from grader.results import HIDDEN_VALUES_KEPT, INSTRUCTORS_VIEW, PLOTS_ON_PUBLIC, points

#: The style of every page the grader writes (the student's page, the class report).
PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #111; background: #fff; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.score { font-size: 2.2rem; font-weight: 700; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid #ccc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { color: #a00; font-weight: 600; } .passed { color: #05601f; }
details { border: 1px solid #ccc; border-radius: 4px; padding: .5rem .75rem; margin: .75rem 0; }
summary { cursor: pointer; font-weight: 600; }
.instructor { border: 2px solid #a00; padding: .5rem .75rem; color: #a00; font-weight: 600; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .5rem; border-radius: 4px; font-size: .85rem; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
@media print { details { break-inside: avoid; } }
"""
#: Marks the page once every image has loaded (read by the browser test).
PAGE_SCRIPT = """
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute("data-images", images.length);
  document.body.setAttribute("data-images-loaded", loaded);
});
"""


def _part_totals(tests: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    totals: dict[str, list[float]] = {}
    for test in tests:
        entry = totals.setdefault(test["name"].split(".")[0], [0.0, 0.0])
        entry[0] += test["score"]
        entry[1] += test["max_score"]
    return [(part, round(score, 4), total) for part, (score, total) in totals.items()]


def _figures(test: dict[str, Any]) -> str:
    blocks = []
    for figure in test.get("figures", []):
        title = for_html(figure.get("title", ""))
        if figure.get("student") is None and figure.get("error"):
            blocks.append(f"<p><em>{title}:</em> no plot, because {for_html(figure['error'])}</p>")
        else:
            blocks.append(f'<img alt="{title}" src="data:image/png;base64,{render(figure)}">')
    return "\n".join(blocks)


def render_html(report: dict[str, Any], details: bool = False) -> str:
    """The report (as :meth:`grader.results.Report.to_dict` gives it) as an HTML page.

    Args:
        report: the report's data.
        details: the instructor's page: each test's ``details`` (a hidden case's values and
            the texts the code wrote) in place of its ``output``, and the plots of hidden
            cases. Not for students.

    Returns:
        the page.
    """
    tests = report["tests"]
    hidden = report.get("cases", "hidden") == "hidden"
    plots = details or not hidden  # a hidden case's plot is the instructor's only
    ordered = sorted(tests, key=lambda t: t["status"] == "passed")  # failures first, stable
    rows = "\n".join(
        f'<tr><td>{for_html(t["name"])}</td><td class="num">{points(t["score"])} / {points(t["max_score"])}</td>'
        f'<td class="{for_html(t["status"])}">{for_html(t["status"])}</td></tr>'
        for t in ordered
    )
    parts = "\n".join(
        f'<tr><td>{for_html(part)}</td><td class="num">{points(score)} / {points(total)}</td></tr>'
        for part, score, total in _part_totals(tests)
    )
    boxes = []
    missing: dict[str, list[dict[str, Any]]] = {}  # a part not handed in: one box, not one per test
    for t in ordered:
        if t.get("handed_in") is False:
            missing.setdefault(str(t["name"]).split(".")[0], []).append(t)
            continue
        text = (t.get("details") or t["output"]) if details else t["output"]
        figures = _figures(t) if plots else ""
        body = f"<pre>{for_html(text)}</pre>\n{figures}"
        # Failures and plots are open: nothing the student should see needs a click.
        opened = " open" if t["status"] != "passed" or figures else ""
        boxes.append(
            f"<details{opened}><summary>{for_html(t['name'])}: {points(t['score'])} / "
            f"{points(t['max_score'])}</summary>\n{body}\n</details>"
        )
    for part, absent in reversed(missing.items()):  # first, as failures are, in part order
        total = sum(float(t["max_score"]) for t in absent)
        names = ", ".join(str(t["name"]).split(".", 1)[-1] for t in absent)
        boxes.insert(
            0,
            f"<details open><summary>{for_html(part)}: 0 / {points(total)} (not handed in)"
            f"</summary>\n<pre>{for_html(absent[0]['output'])}\nIts tests: {for_html(names)}."
            "</pre>\n</details>",
        )
    notes = "".join(f"<p>{for_html(n)}</p>" for n in report.get("notes", []))
    if details and report.get("isolation"):  # the instructor's business, not the student's
        notes += f"<p>{for_html(report['isolation'])}</p>"
    if details and hidden:
        notes = f'<p class="instructor">{for_html(INSTRUCTORS_VIEW)}</p>' + notes
    elif hidden and any(t.get("details", t["output"]) != t["output"] for t in tests):
        notes += f"<p>{for_html(HIDDEN_VALUES_KEPT)}</p>"
    if not plots:
        notes += f"<p>{for_html(PLOTS_ON_PUBLIC)}</p>"
    heading = "the instructor's view" if details and hidden else "your feedback"
    # The submission's name, not where it lies on the grader's machine (a student's page).
    shown_name = PurePath(str(report.get("submission", ""))).name or str(
        report.get("submission", "")
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feedback: {for_html(shown_name)}</title>
<style>{PAGE_STYLE}</style>
<script>{PAGE_SCRIPT}</script>
</head>
<body>
<h1>Exploding gradients: {heading}</h1>
<p>{for_html(shown_name)}, graded on the {for_html(report.get("cases", "hidden"))} cases</p>
<p class="score" id="score">{points(report["score"])} / {points(report["max_score"])}</p>
{notes}
<h2>By part</h2>
<table><tr><th>part</th><th>score</th></tr>
{parts}
</table>
<h2>By function (failures first)</h2>
<table><tr><th>test</th><th>score</th><th>status</th></tr>
{rows}
</table>
<h2>Feedback</h2>
{"".join(boxes)}
</body>
</html>
"""
