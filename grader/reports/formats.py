"""A report in each output format the command line offers: text, JSON, Gradescope, HTML.

To add a format, write the function that renders it and give it a name in
:data:`RENDERERS`; ``--format`` offers every name (:mod:`grader.cli`). The records and
their text, JSON and Gradescope forms are :mod:`grader.results`'; the HTML page is
:mod:`grader.reports.html`'.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from grader.reports.html import render_html
from grader.results import Report


def _text(report: Report, details: bool) -> str:
    return report.to_text(full=details)


def _json(report: Report, details: bool) -> str:
    # ensure_ascii (the default): every control and non-ASCII character is a \u escape,
    # so the instructor's file keeps the texts as they were and prints harmlessly
    return json.dumps(report.to_dict(), indent=2) + "\n"


def _gradescope(report: Report, details: bool) -> str:
    return json.dumps(report.to_gradescope(), indent=2) + "\n"


def _html(report: Report, details: bool) -> str:
    data = report.to_dict()
    if report.more_help and report.shows_values:  # how to ask for the recipes: public cases
        data["notes"] = [*data["notes"], report.more_help]
    return render_html(data, details=details)


#: Each format's name and its renderer, the default first.
RENDERERS: dict[str, Callable[[Report, bool], str]] = {
    "text": _text,
    "json": _json,
    "gradescope": _gradescope,
    "html": _html,
}
#: The names ``--format`` accepts.
FORMATS = tuple(RENDERERS)


def render(report: Report, form: str, details: bool = False) -> str:
    """The report in the requested format.

    Args:
        report: the report.
        form: one of :data:`FORMATS`.
        details: the instructor's view of the text and HTML reports (the hidden cases'
            values and texts); JSON holds them anyway, Gradescope shows them after the due
            date.

    Returns:
        the report's text.

    Raises:
        ValueError: for a format that is not one of :data:`FORMATS`.
    """
    if form not in RENDERERS:
        raise ValueError(f"Unknown report format. Expected: one of {FORMATS}. Received: {form!r}")
    return RENDERERS[form](report, details)
