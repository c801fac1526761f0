"""The command line: a thin layer over one function per verb.

``python -m grader grade PATH [--format text|json|gradescope] [--output FILE]``
    Grade a submission on the hidden cases and print or write the report.
``python -m grader check PATH``
    The same feedback on the public cases, for self-learners.
``python -m grader batch SUBMISSIONS --out DIR [--workers N] [--gradebook DB]``
    Grade a class, resumably, in parallel (:mod:`grader.batch`).
``python -m grader kit --out DIR``
    Build the student kit: notebooks, stubs and a wheel without the answers (:mod:`grader.kit`).

Exit status: 0 whenever a report was produced, whatever the score; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from grader.results import Report

FORMATS = ("text", "json", "gradescope", "html")


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = _Parser(prog="python -m grader", description="Grade exploding_gradients submissions.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    grade = verbs.add_parser("grade", help="grade a submission on the hidden cases")
    grade.add_argument("path", type=Path, help="a directory of part notebooks/modules, or one file")
    grade.add_argument(
        "--format", choices=FORMATS, default="text", help="report format (default: text)"
    )
    grade.add_argument(
        "--output", type=Path, help="write the report to this file instead of stdout"
    )
    batch = verbs.add_parser("batch", help="grade a class: one folder per student")
    batch.add_argument(
        "submissions", type=Path, help="one folder per student (or nbgrader's submitted/)"
    )
    batch.add_argument(
        "--out", type=Path, required=True, help="folder for reports, grades.csv, summary"
    )
    batch.add_argument(
        "--workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) // 2),
        help="grading processes in parallel (default: half the cores)",
    )
    batch.add_argument(
        "--gradebook", type=Path, help="also write the scores into this nbgrader gradebook.db"
    )
    check = verbs.add_parser("check", help="check a submission on the public cases")
    check.add_argument("path", type=Path, help="a directory of part notebooks/modules, or one file")
    check.add_argument(
        "--format", choices=FORMATS, default="text", help="report format (default: text)"
    )
    kit = verbs.add_parser("kit", help="build the student kit: notebooks and a wheel, no answers")
    kit.add_argument("--out", type=Path, required=True, help="the kit's folder")
    return parser


def _kit(args: argparse.Namespace) -> int:
    from grader.kit import build_kit

    print(f"Student kit written: {build_kit(args.out)}")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from grader.batch import grade_class

    if not args.submissions.is_dir():
        print(f"python -m grader: error: no such folder: {args.submissions}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("python -m grader: error: --workers must be at least 1", file=sys.stderr)
        return 2
    on_report = None
    if args.gradebook is not None:
        if not args.gradebook.is_file():
            print(f"python -m grader: error: no such gradebook: {args.gradebook}", file=sys.stderr)
            return 2
        from grader.gradebook import write_report

        def on_report(student: str, report: dict) -> None:
            write_report(args.gradebook, student, report)

    summary = grade_class(args.submissions, args.out, workers=args.workers, on_report=on_report)
    print(
        f"{summary['reported']} of {summary['students']} students reported "
        f"({summary['graded_this_run']} graded in this run); mean {summary['mean']}, "
        f"median {summary['median']}, full marks {summary['full_marks']}. "
        f"See {args.out / 'grades.csv'}."
    )
    return 0


def render(report: Report, form: str) -> str:
    """The report in the requested format."""
    if form == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if form == "gradescope":
        return json.dumps(report.to_gradescope(), indent=2) + "\n"
    if form == "html":
        from grader.report_html import render_html

        return render_html(report.to_dict())
    return report.to_text()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; an unexpected failure is one line on stderr and status 1, never a traceback.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        the exit status.
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("python -m grader: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the promise is: no traceback of our own
        print(f"python -m grader: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


def _main(argv: list[str] | None = None) -> int:
    """Run the CLI.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        the exit status.
    """
    args = build_parser().parse_args(argv)
    if args.verb == "batch":
        return _batch(args)
    if args.verb == "kit":
        return _kit(args)
    if not args.path.exists():
        print(f"python -m grader: error: no such file or directory: {args.path}", file=sys.stderr)
        return 2
    from grader.grade import grade_submission
    from grader.submission import SubmissionError

    try:
        report = grade_submission(args.path, public=args.verb == "check")
    except SubmissionError as error:
        print(f"python -m grader: error: {error}", file=sys.stderr)
        return 2
    text = render(report, args.format)
    output = getattr(args, "output", None)
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            print(
                f"python -m grader: error: cannot write {output}: {error.strerror}", file=sys.stderr
            )
            return 2
    else:
        sys.stdout.write(text)
    return 0
