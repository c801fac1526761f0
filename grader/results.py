"""Results as data: one record per test, a report that renders itself.

The JSON form is a superset of Gradescope's ``results.json``: every field Gradescope reads
(``score``, ``execution_time``, ``output``, ``visibility``, ``stdout_visibility`` and
``tests`` with ``name``, ``score``, ``max_score``, ``status``, ``output`` and
``visibility``), valid against the same schema, plus the grader's own fields
(``submission``, ``cases``, ``max_score``, ``notes``; per test ``mistakes``, ``figures``,
``handed_in`` and ``comparisons``, numpy.testing's raw report for the instructor).
The full JSON is the instructor's file: on hidden cases its ``details`` (with the notes of
``TestResult.notes_details``), ``comparisons`` and ``figures`` (the student's and the reference's series) are not for
students. What goes to Gradescope is :meth:`Report.to_gradescope`, which holds no figure
and shows a hidden case's values only after the due date.

Scores are exact (to 1e-4) in the machine formats (JSON, Gradescope); everywhere a person
reads them they go through :func:`points`: two decimals at most, no trailing zeros.

The feedback a student reads is rendered by small functions (:func:`render_feedback`,
:func:`render_case`) that the text, HTML, notebook and Gradescope outputs share.

What a student reads at once about a failed HIDDEN case holds nothing the student's code
controls, and no reference answer either: what was checked (written by the grader), the
case's category (``CaseResult.category``, e.g. "raised ValueError", "returned the wrong
shape"), the diagnosed mistake and the hint. The values, sizes and exception texts go to
the instructor (JSON ``details`` and ``comparisons``, ``grade --details``) and, on
Gradescope, to the entry shown after the due date. Public cases (the self-check) show
Expected / Received in full. The same holds for the notes (``TestResult.notes_details``
keeps those with hidden-case numbers for the instructor) and the plots (the student's page
of a hidden report has none; ``python -m grader check DIR --format html`` draws them on the
public cases).

Hints come in two tiers (:mod:`grader.checks.recipes`): every failure's hint gives the
principle; the recipe (``TestResult.recipes``) is shown only when the student asked for it
on public cases, never for hidden ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.assignment import FUNCTIONS
from grader.escaping import for_terminal


@dataclass
class CaseResult:
    """One case of a test: what was checked, whether it held, and the feedback."""

    description: str
    passed: bool
    #: Expected / Received and the hint, as a public case shows them
    message: str = ""
    weight: float = 1.0
    mistake: str | None = None
    #: what went wrong, as a verb phrase that holds nothing the student's code controls
    #: and no reference answer ("returned the wrong shape", "raised ValueError"): all a
    #: failed hidden case shows at once besides its description and hint. Every check sets
    #: it on a failed case.
    category: str = ""
    #: the message with what the student's code controls on a hidden case (exception
    #: text, exit status): for the instructor and after the due date only
    details: str = ""
    #: numpy.testing's raw report of a failed comparison (instructor's JSON only)
    numpy_report: str = ""


@dataclass
class TestResult:
    """The result of one contract function's test."""

    __test__ = False  # not a pytest test class, despite its name

    name: str
    max_score: float
    cases: list[CaseResult] = field(default_factory=list)
    #: a whole-test verdict that replaces the cases (missing, not implemented, policy)
    verdict: str | None = None
    notes: list[str] = field(default_factory=list)
    #: notes with numbers of hidden cases (e.g. the reference's run on a hidden input): for
    #: the instructor and after the due date only, shown after :attr:`notes`
    notes_details: list[str] = field(default_factory=list)
    #: plain data for the HTML report's plots (see :mod:`grader.reports.figures`); on hidden cases
    #: the instructor's only (the student's page of a hidden report draws none)
    figures: list[dict[str, Any]] = field(default_factory=list)
    #: False when the submission holds no file of this test's part
    handed_in: bool = True
    #: the verdict with the details of a hidden case (see ``CaseResult.details``)
    verdict_details: str | None = None
    #: whether the cases are hidden ones: then :attr:`output` shows each failed case's
    #: category, never its values (True unless the check ran on the public cases)
    hidden: bool = True
    #: the traceback of an exception raised by the grader's own code while it judged this
    #: test (a grader fault, not the student's mistake; see :data:`GRADER_FAULT_NOTE`); for
    #: the instructor only: in the JSON (``grader_fault`` and ``details``) and ``--details``,
    #: never on a student's page or in Gradescope's entries. Empty when there was none.
    grader_fault: str = ""
    #: the second tier of hints, the recipes (:mod:`grader.checks.recipes`): given only when
    #: the student asks, on public cases; never shown for hidden cases, whatever it holds
    recipes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Points earned: in proportion to the weight of the cases passed.

        A test the grader failed on (:attr:`grader_fault`) keeps the points of the cases it
        judged before the fault; the cases it could not judge are held at zero and the test
        is flagged for a regrade (:attr:`Report.grader_faults`)."""
        if self.verdict is not None or not self.cases:
            return 0.0
        total = sum(c.weight for c in self.cases)
        passed = sum(c.weight for c in self.cases if c.passed)
        return round(self.max_score * passed / total, 4) if total else 0.0

    @property
    def status(self) -> str:
        """``passed`` exactly when the score equals the maximum."""
        return "passed" if self.score == self.max_score else "failed"

    @property
    def mistakes(self) -> list[str]:
        """Ids of the known mistakes diagnosed in failed cases."""
        return list(dict.fromkeys(c.mistake for c in self.cases if c.mistake))

    @property
    def output(self) -> str:
        """The feedback a student reads at once: verdict or failed cases, one hint each,
        then notes.

        On hidden cases it holds no value, size or text the student's code controls, and
        no reference answer: each failed case's category only (see ``CaseResult.category``)."""
        return render_feedback(self)

    @property
    def full_output(self) -> str:
        """The feedback with the hidden cases' values and details, for the instructor and
        after the due date."""
        return render_feedback(self, full=True)

    @property
    def comparisons(self) -> list[dict[str, str]]:
        """numpy.testing's own report of each failed comparison, for the instructor's JSON."""
        return [
            {"case": c.description, "numpy": c.numpy_report}
            for c in self.cases
            if not c.passed and c.numpy_report
        ]

    def to_dict(self, values: bool | None = None) -> dict[str, Any]:
        """The test as JSON-ready data.

        Args:
            values: whether ``output`` shows the failed cases' values (default: on public
                cases only); ``details`` always holds them, for the instructor.
        """
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "output": render_feedback(self, values=values),
            "visibility": "visible",
            "details": render_feedback(self, full=True, instructor=True),
            "mistakes": self.mistakes,
            "figures": self.figures,
            "handed_in": self.handed_in,
            "comparisons": self.comparisons,
            "grader_fault": self.grader_fault or None,
        }


@dataclass
class Report:
    """Every test of one submission."""

    submission: str
    tests: list[TestResult]
    execution_time: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: ``hidden`` (graded) or ``public`` (self-check)
    cases: str = "hidden"
    #: one line naming the protections the grading lacked (:func:`grader.isolation.jail.missing_protections`),
    #: or empty: the instructor's business, never in what a student reads (the JSON's
    #: ``isolation``, the instructor's text and HTML views, the CLI's stderr)
    isolation: str = ""
    #: the line that ends a report of public cases with a failed test: how to ask for the
    #: recipes (:data:`grader.checks.recipes.COMMAND_MORE_HELP`); never on hidden cases
    more_help: str = ""

    @property
    def score(self) -> float:
        """Total points earned."""
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        """Total points available."""
        return round(sum(t.max_score for t in self.tests), 4)

    def test(self, name: str) -> TestResult:
        """The result of the test called ``name``.

        Raises:
            KeyError: when there is no such test.
        """
        for result in self.tests:
            if result.name == name:
                return result
        raise KeyError(name)

    @property
    def grader_faults(self) -> list[str]:
        """The tests the grader failed on (a fault of its own code), to be regraded."""
        return [t.name for t in self.tests if t.grader_fault]

    @property
    def missing_parts(self) -> list[str]:
        """The parts of which the submission holds no file, in order."""
        missing = [t.name.split(".")[0] for t in self.tests if not t.handed_in]
        return list(dict.fromkeys(missing))

    @property
    def shows_values(self) -> bool:
        """Whether what a student reads at once shows the failed cases' values: on public
        cases only. The report's cases decide: a report of hidden cases never shows them,
        whatever its tests say."""
        return self.cases != "hidden"

    def summary(self) -> str:
        """The report's one-paragraph summary: the notes, or the points."""
        return "\n".join(self.notes) or f"{points(self.score)} of {points(self.max_score)} points."

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (a superset of Gradescope's results.json).

        The instructor's file: on hidden cases it holds the values a student must not read
        at once (each test's ``details``, ``comparisons`` and ``figures``).
        Upload :meth:`to_gradescope` to Gradescope, never this.
        """
        return {
            "submission": self.submission,
            "cases": self.cases,
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.execution_time, 3),
            "output": self.summary(),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "notes": list(self.notes),
            "isolation": self.isolation,
            "grader_faults": self.grader_faults,
            "tests": [t.to_dict(values=self.shows_values) for t in self.tests],
        }

    def to_gradescope(self) -> dict[str, Any]:
        """The report in Gradescope's results.json schema.

        Every text is declared plain ``text`` (Gradescope reads no markup in it, neither
        HTML nor Markdown) and holds no control character but the newline
        (:func:`grader.escaping.for_terminal`). Each test shows at once its score, which
        cases failed, what went wrong (each case's category), the mistake and the hint; on
        hidden cases, the expected and received values, the exception texts and the notes
        with hidden-case numbers are a second, zero-point entry that Gradescope shows only
        after the due date. It holds no plot data (``figures``): that stays in the
        instructor's JSON (:meth:`to_dict`).
        """
        tests = []
        for t in self.tests:
            summary = render_feedback(t, values=self.shows_values)
            hidden_details = not self.shows_values and t.full_output != summary
            if hidden_details:
                summary += (
                    "\n\nThe expected and received values of the hidden cases are shown "
                    "after the due date."
                )
            tests.append(
                {
                    "name": t.name,
                    "score": t.score,
                    "max_score": t.max_score,
                    "status": t.status,
                    "output": for_terminal(summary, lines=True),
                    "visibility": "visible",
                }
            )
            if hidden_details:
                tests.append(
                    {
                        "name": f"{t.name} (details)",
                        "score": 0.0,
                        "max_score": 0.0,
                        "status": t.status,
                        "output": for_terminal(t.full_output, lines=True),
                        "visibility": "after_due_date",
                    }
                )
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": for_terminal(self.summary(), lines=True),
            "output_format": "text",
            "test_output_format": "text",
            "test_name_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
        }

    def to_text(self, full: bool = False) -> str:
        """A readable table with totals, then the feedback of every failed test.

        Args:
            full: show the hidden cases' values and details (the instructor's view, not
                for students).
        """
        return render_text(self, full=full)


def ungraded_report(submission: str, reason: str) -> dict[str, Any]:
    """The report of a submission that could not be graded: every test at zero, and why.

    Args:
        submission: the submission's name in the report.
        reason: one sentence, the verdict of every test and the report's note.

    Returns:
        the report's data, as :meth:`Report.to_dict` gives it.
    """
    tests = [TestResult(f.test_name, f.points, verdict=reason) for f in FUNCTIONS]
    return Report(submission, tests, notes=[reason]).to_dict()


#: What a student reads of a test the grader failed on: the fault is the grader's.
GRADER_FAULT_NOTE = (
    "The grader failed on this check; this is not a mistake in your code; your instructor "
    "has the details. The cases it could not judge are held at zero until the test is regraded."
)
#: A failed case's category when the grader's own code failed while judging it.
GRADER_FAULT = "was not judged: the grader failed on this case (not a mistake in the code)"
#: The report's note when the grader failed on a whole submission.
GRADER_FAILED_SUBMISSION = (
    "The grader failed on this submission; this is not a mistake in your code; your "
    "instructor has the details. Every test is held at zero until it is regraded."
)


def failed_grader_report(submission: str, trace: str) -> dict[str, Any]:
    """The report of a submission the grader's own code failed on: every test at zero,
    flagged as a grader fault, the traceback for the instructor only.

    Args:
        submission: the submission's name in the report.
        trace: the traceback of the grader's exception.

    Returns:
        the report's data, as :meth:`Report.to_dict` gives it.
    """
    tests = [
        TestResult(f.test_name, f.points, verdict=GRADER_FAILED_SUBMISSION, grader_fault=trace)
        for f in FUNCTIONS
    ]
    return Report(submission, tests, notes=[GRADER_FAILED_SUBMISSION]).to_dict()


def points(value: float) -> str:
    """A score as a person reads it: two decimals at most, no trailing zeros.

    Args:
        value: the points.

    Returns:
        e.g. ``"71.03"`` for 71.0333, ``"2.5"`` for 2.5, ``"100"`` for 100.0.
    """
    text = f"{round(float(value), 2):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


#: Failed cases shown in full (values, or category), per function; the others are named
#: in one line.
SHOWN_CASES = 1
#: Further failed cases named by their description, per function.
NAMED_CASES = 3


def _split_message(message: str) -> tuple[list[str], list[str]]:
    """A case's message as (values lines, hint lines): the hint starts at ``Hint:``."""
    lines = message.strip().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Hint:"):
            return lines[:index], lines[index:]
    return lines, []


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


#: A failed case's category when its check gave none (every check should: a test says so).
UNSPECIFIED_CATEGORY = "did not give the expected result"
#: The first line of the instructor's view of a report of hidden cases.
INSTRUCTORS_VIEW = (
    "Instructor's view: the hidden cases' values and the texts the code wrote are shown. "
    "Not for students."
)
#: Said once under the text report's feedback, and on the HTML page, on hidden cases.
HIDDEN_VALUES_KEPT = (
    "On the hidden cases you read what was checked, what went wrong and a hint; what your "
    "code returned or raised there, and the reference's answers, are kept for your instructor."
)
#: Said on the student's HTML page of a hidden report, which draws no plot (a hidden case's
#: plot shows what the code returned there and the reference's answer).
PLOTS_ON_PUBLIC = (
    "Plots of your functions beside the reference's are drawn on the public cases: run "
    "python -m grader check YOUR_FOLDER --format html --output check.html"
)


def render_case(
    case: CaseResult, values: bool = True, full: bool = False, function: str = ""
) -> list[str]:
    """A failed case's lines without its hint: what was checked, then what went wrong.

    Args:
        case: the case.
        values: show Expected / Received (a public case); False shows the case's category
            only (a hidden case as the student reads it at once: nothing the student's code
            controls, no reference answer).
        full: show everything, the case's ``details`` (what the student's code controls on
            a hidden case) in place of its message: for the instructor, after the due date.
        function: the function's name, the subject of the category's sentence.

    Returns:
        the lines.
    """
    lines = [f"Checked: {case.description}"]
    if full:
        lines.extend(_split_message(case.details or case.message)[0])
    elif values:
        lines.extend(_split_message(case.message)[0])
    else:
        subject = f"{function} " if function else "The function "
        lines.append(f"Result: {subject}{case.category or UNSPECIFIED_CATEGORY}.")
    return lines


def render_feedback(
    test: TestResult, values: bool | None = None, full: bool = False, instructor: bool = False
) -> str:
    """The feedback of one test.

    The verdict, or how many cases passed; the first failed case with each distinct hint
    in full and the other failed cases named in one line each; every distinct hint once
    (the first tier: the principle); the recipes when the student asked for them
    (:attr:`TestResult.recipes`, on public cases only); then the notes (and, when ``full``, the instructor's ``notes_details``), each one
    paragraph whose further lines are indented.

    Args:
        test: the test.
        values: show the failed cases' Expected / Received (default: on public cases only,
            ``not test.hidden``); False shows each failed case's category instead (see
            :func:`render_case`).
        full: show the values and the hidden cases' details whatever ``values`` says (for
            the instructor, after the due date).
        instructor: also the traceback of a grader fault (:attr:`TestResult.grader_fault`):
            the instructor's view only (the JSON's ``details``, ``grade --details``), never
            what Gradescope shows a student after the due date.

    Returns:
        the text, without a trailing newline.
    """
    if values is None:
        values = not test.hidden
    function = test.name.split(".")[-1]
    lines: list[str] = []
    if test.verdict is not None:
        lines.append(test.verdict_details if full and test.verdict_details else test.verdict)
    else:
        passed = sum(1 for c in test.cases if c.passed)
        lines.append(f"{passed} of {_plural(len(test.cases), 'case')} passed.")
        failed = [c for c in test.cases if not c.passed]
        hints: list[str] = []
        shown: list[CaseResult] = []
        others: list[CaseResult] = []
        for case in failed:
            hint = "\n".join(_split_message(case.message)[1])
            new_hint = bool(hint) and hint not in hints
            if hint and new_hint:
                hints.append(hint)
            if len(shown) < SHOWN_CASES or new_hint:
                shown.append(case)
            else:
                others.append(case)
        for index, case in enumerate(shown):
            if index:
                lines.append("")
            lines.extend(render_case(case, values, full, function))
        if others:
            lines.extend(f"Also failed: {case.description}" for case in others[:NAMED_CASES])
            if len(others) > NAMED_CASES:
                more = len(others) - NAMED_CASES
                lines.append(f"({_plural(more, 'more failed case')} not shown.)")
        for hint in hints:
            lines.append("")
            lines.append(hint)
    if test.recipes and not test.hidden:  # the second tier, asked for: never a hidden case's
        lines.append("")
        lines.extend(test.recipes)
    if test.grader_fault and test.verdict is None:
        lines.append("")
        lines.append(GRADER_FAULT_NOTE)
    for note in test.notes + (test.notes_details if full else []):
        lines.append("")
        # A note is one paragraph: a newline in it (a student's text) starts an indented line.
        lines.append(note.replace("\n", "\n  "))
    if instructor and test.grader_fault:
        lines.append("")
        lines.append("Grader fault (the grader's own code raised; for the instructor):")
        lines.extend("  " + line for line in test.grader_fault.rstrip().splitlines())
    return "\n".join(lines).strip()


def render_text(report: Report, full: bool = False) -> str:
    """The text report: a table with totals, then the feedback of every failed test.

    A part the submission does not hold is named once, as not handed in. On hidden cases
    the feedback shows each failed case's category, not its values (see
    :func:`render_case`), unless ``full``.

    What the student's code controls (its exception texts, file names, the submission's
    name) is text, never a command to the terminal: every control character but the
    newline is shown escaped (:func:`grader.escaping.for_terminal`; the submission's name
    is one line). Every line at the margin is the grader's own (the table, the totals, the
    headings): the feedback is indented and a note's further lines too, so a newline in a
    student's text starts an indented line, never a score line of its own.

    Args:
        report: the report.
        full: the instructor's view: the hidden cases' values and details too, under a
            first line saying the text is not for students.

    Returns:
        the text, ending with a newline.
    """
    width = max([len(t.name) for t in report.tests] + [20])
    lines = [f"Grading {for_terminal(report.submission)} on the {report.cases} cases", ""]
    if full and report.cases == "hidden":
        lines.insert(1, INSTRUCTORS_VIEW)
    lines.append(f"{'test':<{width}}  {'score':>13}  status")
    lines.append("-" * (width + 24))
    part = None
    for t in report.tests:
        this_part = t.name.split(".")[0]
        if part is not None and this_part != part:
            lines.append("")
        part = this_part
        status = t.status if t.handed_in else "not handed in"
        lines.append(
            f"{t.name:<{width}}  {points(t.score):>6} / {points(t.max_score):<4}  {status}"
        )
    lines.append("-" * (width + 24))
    lines.append(f"{'total':<{width}}  {points(report.score):>6} / {points(report.max_score):<4}")
    missing = report.missing_parts
    if missing:
        files = ", ".join(f"{p}.ipynb" for p in missing)
        lines.append(
            f"Not handed in: {', '.join(missing)} (expected {files} or the same names "
            "ending in .py)."
        )
    for note in report.notes:
        lines.append(note.replace("\n", "\n  "))  # further lines indented
    if full and report.isolation:  # the instructor's business, not the student's
        lines.append(report.isolation)
    failed = [t for t in report.tests if t.status != "passed" and t.handed_in]
    if failed:
        lines.append("")
        lines.append("Feedback")
        lines.append("=" * 8)
        if not (full or report.shows_values) and any(t.verdict is None for t in failed):
            lines.append(HIDDEN_VALUES_KEPT)
        for t in failed:
            lines.append("")
            lines.append(f"{t.name}  ({points(t.score)} / {points(t.max_score)})")
            text = render_feedback(t, values=report.shows_values, full=full, instructor=full)
            lines.extend("  " + line if line else "" for line in text.split("\n"))
        if report.more_help and report.shows_values:
            lines.append("")
            lines.append(report.more_help)
    return for_terminal("\n".join(lines), lines=True) + "\n"
