"""Checking a folder on the public cases in this process: the student kit's ``python -m grader``.

The student kit (:mod:`grader.course.kit`) holds neither the full command line nor the
hidden cases; there ``python -m grader`` runs :func:`run` (:mod:`grader.__main__`), whose one
verb is the full grader's ``check``, with the same report::

    python -m grader check PATH [--format text|html] [--output FILE] [--hint 2]

PATH is a folder of part files or one part file, read as the grader reads a submission
(:func:`grader.submission.load_submission`: where a folder holds both files of a part, the
one the student wrote counts, and the report says why). Each part's code runs into a module
of this process, as a notebook's kernel runs it, and each function is checked on the public
cases as ``check(...)`` checks it in a notebook (:func:`grader.notebook.check_result`): the
same verdicts, scores and feedback as the full grader's ``check``; ``--hint 2`` adds a
recipe for each function that failed (:mod:`grader.checks.recipes`). There is no jail: the
code is the student's own, run on the student's machine, as in the notebook. TensorFlow is
imported once, quietly, before any of the student's code, which then finds it loaded: one
import for the folder, and none of its start-up lines on the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from grader.assignment import NUMPY_ONLY_PARTS, PARTS, functions_of
from grader.checks.policy import forbidden_top_level_imports
from grader.checks.recipes import TIERS, apply_tier
from grader.escaping import for_terminal
from grader.locate import folders_with_parts, holds_parts
from grader.notebook import check_result
from grader.quiet import import_tensorflow
from grader.reports.formats import render
from grader.results import Report, TestResult, points
from grader.submission import (
    PartCode,
    SubmissionError,
    load_notes,
    load_submission,
    unusable_part,
)
from grader.worker.loading import Worker

#: The command, as messages name it.
COMMAND = "python -m grader check"
#: The formats a kit writes: the text report and the HTML page with the plots.
KIT_FORMATS = ("text", "html")
#: Said under every report of this check.
IN_THIS_PROCESS = (
    "Checked on the public cases, in this process, by the student kit; your instructor "
    "grades the hidden cases."
)


class KitUsageError(ValueError):
    """A PATH this check cannot use; the message says what to give instead."""


def check_part(part: str, code: PartCode | None) -> list[TestResult]:
    """Check every function of one part on the public cases, its code run in this process.

    Args:
        part: the part.
        code: its code, or None when the submission lacks it.

    Returns:
        one TestResult per contract function of the part.
    """
    functions = functions_of(part)
    unusable = unusable_part(part, code)
    if unusable is not None:
        return unusable
    worker = Worker()
    loaded = worker.load(part, [{"label": label, "source": text} for label, text in code.cells])
    # The policy reads the student's cells, as a notebook's check reads the kernel's history.
    namespace = {**worker.namespaces[part], "In": [text for _, text in code.cells]}
    results = [check_result(spec, None, namespace) for spec in functions]
    banned = forbidden_top_level_imports(part, namespace["In"])
    if banned:
        results[0].notes.append(
            f"Note: {part} imports {', '.join(banned)}, which part 1 may not use; no function "
            "uses it, so no points were taken."
        )
    module = code.kind == "module"
    notes = code.problems + load_notes(part, loaded.get("errors", []), module=module)
    results[0].notes.extend(n for n in notes if n not in results[0].notes)
    return results


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    """Work in the submission's folder, as a notebook's kernel does in the notebook's (the
    checks that measure models look there for the student's Part 2)."""
    saved = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(saved)


def check_submission(path: Path | str) -> Report:
    """Check a folder (or one part file) on the public cases in this process.

    Args:
        path: a folder of part files, or one part file.

    Returns:
        the Report, one test per contract function (per function of the part, for a file).

    Raises:
        grader.submission.SubmissionError: when the path is not a submission.
    """
    started = time.monotonic()
    path = Path(path)
    submission = load_submission(path)
    single = path.is_file()
    if any(part not in NUMPY_ONLY_PARTS for part in submission.parts):
        import_tensorflow()  # once, quietly: the student's own import then finds it loaded
    tests: list[TestResult] = []
    # What the student's code prints (while it loads, or when called) is not the report.
    said = io.StringIO()
    with (
        _in_folder(path.resolve().parent if single else path),
        contextlib.redirect_stdout(said),
        contextlib.redirect_stderr(said),
    ):
        for part in list(submission.parts) if single else PARTS:
            tests += check_part(part, submission.parts.get(part))
    notes = list(submission.notes)
    if single:
        others = [p for p in PARTS if p not in submission.parts]
        notes.append(
            f"Only {path.name} was checked; not handed in: {', '.join(others)}. "
            "Check the folder to check every part."
        )
    notes.append(IN_THIS_PROCESS)
    report = Report(str(path), tests, notes=notes, cases="public")
    report.execution_time = time.monotonic() - started
    return report


def resolve(path: Path) -> Path:
    """The submission PATH names: itself when it is a part file or holds one.

    Raises:
        KitUsageError: when it does not exist or holds no part file (the message names the
            folder below that does, with the command to run on it).
    """
    if not path.exists():
        raise KitUsageError(f"no such file or directory: {path}")
    if path.is_file() or holds_parts(path):
        return path
    below = folders_with_parts(path)
    if below:
        listed = " or ".join(f"{COMMAND} {folder}" for folder in below[:3])
        raise KitUsageError(f"{path} holds no part file, but a folder below it does: {listed}")
    raise KitUsageError(
        f"{path} holds no part file (chain_rule.ipynb, ..., or the same names ending in .py): "
        "give the folder that holds your notebooks or modules"
    )


def build_parser() -> argparse.ArgumentParser:
    """The kit's command line: the one verb ``check``."""
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="The student kit's self-check: your functions on the public cases, "
        "with the expected and received values. Your instructor grades the hidden cases.",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="check")
    check = verbs.add_parser("check", help="check a folder (or one part file) on the public cases")
    check.add_argument("path", type=Path, help="a folder of part notebooks/modules, or one file")
    check.add_argument(
        "--format",
        choices=KIT_FORMATS,
        default="text",
        help="report format (default: text); html draws the plots of your functions",
    )
    check.add_argument("--output", type=Path, help="write the report to this file instead")
    check.add_argument(
        "--hint",
        type=int,
        choices=TIERS,
        default=1,
        help="hint tier: 1 (default) gives each failure's principle; 2 adds a recipe for each "
        "function that failed",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the kit's command line.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``).

    Returns:
        the exit status: 0 when a report was produced, whatever the score; 2 for a PATH
        that is not a submission (one line on stderr).
    """
    args = build_parser().parse_args(argv)
    try:
        report = check_submission(resolve(args.path))
    except (KitUsageError, SubmissionError) as error:
        print(f"python -m grader: error: {for_terminal(error)}", file=sys.stderr)
        return 2
    text = render(apply_tier(report, args.hint), args.format)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"python -m grader: error: cannot write {args.output}: {error}", file=sys.stderr)
        return 2
    print(
        f"Report written: {for_terminal(args.output)} ({points(report.score)} / "
        f"{points(report.max_score)} on the public cases)"
    )
    return 0


def run() -> NoReturn:
    """The entry point of the kit's ``python -m grader``: :func:`main`, then exit without
    the interpreter's teardown of TensorFlow (about 2 s, after the report is out)."""
    status = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
