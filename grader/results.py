"""Results as data: one record per test, a report that renders itself.

The JSON form is a superset of Gradescope's ``results.json``: ``score``, ``max_score``,
``execution_time`` and ``tests`` with ``name``, ``score``, ``max_score``, ``status``
(``passed`` exactly when the score equals the maximum) and ``output`` (the feedback).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CaseResult:
    """One case of a test: what was checked, whether it held, and the feedback."""

    description: str
    passed: bool
    message: str = ""
    weight: float = 1.0
    mistake: str | None = None
    #: the message with what the student's code controls on a hidden case (exception
    #: text, exit status): for the instructor and after the due date only
    details: str = ""


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
    #: plain data for the HTML report's plots (see :mod:`grader.figures`)
    figures: list[dict[str, Any]] = field(default_factory=list)
    #: the verdict with the details of a hidden case (see ``CaseResult.details``)
    verdict_details: str | None = None

    @property
    def score(self) -> float:
        """Points earned: in proportion to the weight of the cases passed."""
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
        """The feedback text: verdict or failed cases, then notes."""
        return self._text(full=False)

    @property
    def full_output(self) -> str:
        """The feedback with the hidden cases' details, for the instructor and after the
        due date."""
        return self._text(full=True)

    def _text(self, full: bool) -> str:
        lines: list[str] = []
        if self.verdict is not None:
            lines.append(self.verdict_details if full and self.verdict_details else self.verdict)
        else:
            passed = sum(1 for c in self.cases if c.passed)
            lines.append(f"{passed} of {len(self.cases)} cases passed.")
            failed = [c for c in self.cases if not c.passed]
            for case in failed[:3]:
                lines.append("")
                lines.append(f"Checked: {case.description}")
                text = case.details if full and case.details else case.message
                if text:
                    lines.append(text)
            if len(failed) > 3:
                lines.append("")
                lines.append(f"({len(failed) - 3} more failed cases not shown.)")
        for note in self.notes:
            lines.append("")
            lines.append(note)
        return "\n".join(lines).strip()

    def to_dict(self) -> dict[str, Any]:
        """The test as JSON-ready data."""
        return {
            "name": self.name,
            "score": self.score,
            "max_score": self.max_score,
            "status": self.status,
            "output": self.output,
            "details": self.full_output,
            "mistakes": self.mistakes,
            "figures": self.figures,
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

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (a superset of Gradescope's results.json)."""
        return {
            "submission": self.submission,
            "cases": self.cases,
            "score": self.score,
            "max_score": self.max_score,
            "execution_time": round(self.execution_time, 3),
            "notes": list(self.notes),
            "tests": [t.to_dict() for t in self.tests],
        }

    def to_gradescope(self) -> dict[str, Any]:
        """The report in Gradescope's results.json schema.

        Each test shows its score and a one-line summary at once; on hidden cases, the full
        feedback (which shows the hidden cases' values) is a second, zero-point entry that
        Gradescope shows only after the due date.
        """
        tests = []
        for t in self.tests:
            hidden_details = self.cases == "hidden" and (
                (t.status != "passed" and t.verdict is None) or t.full_output != t.output
            )
            summary = t.output.splitlines()[0] if hidden_details else t.output
            if hidden_details:
                summary += " The details of the hidden cases are shown after the due date."
            tests.append(
                {
                    "name": t.name,
                    "score": t.score,
                    "max_score": t.max_score,
                    "status": t.status,
                    "output": summary,
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
                        "output": t.full_output,
                        "visibility": "after_due_date",
                    }
                )
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": "\n".join(self.notes) or f"{self.score:g} of {self.max_score:g} points.",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
        }

    def to_text(self) -> str:
        """A readable table with totals, then the feedback of every failed test."""
        width = max([len(t.name) for t in self.tests] + [20])
        lines = [f"Grading {self.submission} on the {self.cases} cases", ""]
        lines.append(f"{'test':<{width}}  {'score':>13}  status")
        lines.append("-" * (width + 24))
        part = None
        for t in self.tests:
            this_part = t.name.split(".")[0]
            if part is not None and this_part != part:
                lines.append("")
            part = this_part
            lines.append(
                f"{t.name:<{width}}  {_points(t.score):>6} / {_points(t.max_score):<4}  {t.status}"
            )
        lines.append("-" * (width + 24))
        lines.append(f"{'total':<{width}}  {_points(self.score):>6} / {_points(self.max_score):<4}")
        for note in self.notes:
            lines.append(note)
        failed = [t for t in self.tests if t.status != "passed"]
        if failed:
            lines.append("")
            lines.append("Feedback")
            lines.append("=" * 8)
            for t in failed:
                lines.append("")
                lines.append(f"{t.name}  ({_points(t.score)} / {_points(t.max_score)})")
                lines.extend("  " + line if line else "" for line in t.output.splitlines())
        return "\n".join(lines) + "\n"


def _points(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
