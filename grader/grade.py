"""Grading one submission: load it, read its code, run every check, report.

The student's code runs in a worker process (:mod:`grader.isolation.sandbox`); this process
makes the hidden inputs, computes the references and decides the scores.
"""

from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Any

from grader.assignment import FUNCTIONS, NUMPY_ONLY_PARTS, PARTS
from grader.checks.grader_state import run_keeping_state
from grader.checks.layouts import likely_layouts
from grader.checks.mistakes import describe
from grader.checks.policy import find_violations, forbidden_top_level_imports
from grader.checks.registry import PUBLIC_SEED, run_check
from grader.checks.runner import SubprocessRunner
from grader.isolation import jail
from grader.isolation.sandbox import PartSandboxes, Sandbox
from grader.measuring.measure import release_models, trace_ahead
from grader.quiet import import_tensorflow
from grader.results import Report, TestResult, failed_grader_report, ungraded_report
from grader.secret import SEED_VARIABLE, hidden_seed  # noqa: F401 - re-exported
from grader.submission import (
    PartCode,
    SubmissionError,
    load_notes,
    load_submission,
    unusable_part,
)

#: Seconds one submission may take in all; the functions not started by then score 0.
SUBMISSION_TIME_LIMIT = float(os.environ.get("GRADER_SUBMISSION_TIME_LIMIT", "900"))


def _edited_test_notes(code: PartCode) -> list[str]:
    if not code.edited_tests:
        return []
    return [
        "Flagged: the autograded test cells "
        + ", ".join(code.edited_tests)
        + " were edited or deleted in this notebook. They were not used: the grader runs the "
        "assignment's own tests."
    ]


def _load_notes(part: str, loaded: dict, module: bool = False) -> list[str]:
    """What loading the part's code said (:func:`grader.submission.load_notes`), after why
    the load itself failed, if it did."""
    failed = (
        [f"Loading {part} failed: {loaded.get('message', 'the worker did not answer')}."]
        if not loaded.get("ok")
        else []
    )
    return failed + load_notes(part, loaded.get("errors", []), module)


def grade_part(
    part: str,
    code: PartCode | None,
    runner: SubprocessRunner | None,
    seed: int,
    public: bool,
    deadline: float | None = None,
) -> list[TestResult]:
    """Grade every function of one part.

    Args:
        part: the part.
        code: its code, or None when the submission lacks it.
        runner: runs the code.
        seed: the cases' seed.
        public: whether these are the public cases.
        deadline: ``time.monotonic()`` after which no further function is started.

    Returns:
        one TestResult per contract function of the part.
    """
    functions = [f for f in FUNCTIONS if f.part == part]
    unusable = unusable_part(part, code if runner is not None else None)
    if unusable is not None:
        return unusable
    loaded = runner.load(part)
    if not loaded.get("ok"):
        reason = (
            f"Loading the code of {part} stopped the grading process "
            f"({loaded.get('message', 'no answer')}), so no function of this part could be "
            "graded. Look for code outside functions that exits, loops or crashes."
        )
        return [TestResult(f.test_name, f.points, verdict=reason) for f in functions]
    load_notes = _load_notes(part, runner.first_load(part), module=code.kind == "module")
    notes = code.problems + load_notes + _edited_test_notes(code)
    cells = [source for _, source in code.cells]  # each cell read on its own
    violations = find_violations(part, cells)
    banned = forbidden_top_level_imports(part, cells)
    results = []
    for spec in functions:
        if deadline is not None and time.monotonic() > deadline:
            results.append(
                TestResult(
                    spec.test_name,
                    spec.points,
                    verdict=(
                        f"Not graded: the submission used up its total time limit of "
                        f"{SUBMISSION_TIME_LIMIT:g} s before this function's turn."
                    ),
                )
            )
            continue
        if spec.name in violations:
            mistake = (
                "policy_forbidden_import" if part in NUMPY_ONLY_PARTS else "policy_forbidden_call"
            )
            result = TestResult(
                spec.test_name,
                spec.points,
                verdict=f"Scored 0: {violations[spec.name]}\nHint: {describe(mistake)}",
                hidden=not public,
            )
        else:
            result = run_keeping_state(  # a test that changes the grader's settings fails
                spec.test_name,
                spec.points,
                lambda spec=spec: run_check(spec.test_name, runner, seed, public=public),
            )
        if result.verdict is not None and "not defined" in result.verdict and load_notes:
            # why it is missing: in full on the first such test, named on the others
            first = next((r for r in results if r.notes and r.notes[0] == load_notes[0]), None)
            if first is None:
                result.notes.extend(load_notes)
            else:
                result.notes.append(f"Why: see the note on loading {part} under {first.name}.")
        results.append(result)
    if banned and results:
        results[0].notes.append(
            f"Note: {part} imports {', '.join(banned)}, which part 1 may not use; no function "
            "uses it, so no points were taken."
        )
    if notes and results:
        shown = (
            any(r.notes and r.notes[0] == load_notes[0] for r in results) if load_notes else False
        )
        results[0].notes.extend(
            n for n in notes if n not in results[0].notes and not (shown and n in load_notes)
        )
    return results


def grade_submission(
    path: Path | str,
    *,
    seed: int | None = None,
    public: bool = False,
    sandbox: Sandbox | PartSandboxes | None = None,
) -> Report:
    """Grade a submission directory or file.

    Args:
        path: a directory of part files or one part file.
        seed: the seed of the cases (default: :func:`hidden_seed`, or the public seed
            when ``public``).
        public: grade on the public cases (self-check).
        sandbox: the workers to reuse (new ones, closed afterwards, when None); one
            Sandbox serves the parts of its kind and its companion the others.

    Returns:
        the Report, one test per contract function.

    Raises:
        grader.submission.SubmissionError: when the path is not a submission.
    """
    started = time.monotonic()
    submission = load_submission(path)
    if seed is None:
        seed = PUBLIC_SEED if public else hidden_seed()
    needs_tensorflow = any(p not in NUMPY_ONLY_PARTS for p in submission.parts)
    own_sandbox = sandbox is None
    if sandbox is None:
        # Hide the folder of submissions this one sits in (other students' work).
        sandbox = PartSandboxes(hide=[Path(path).resolve().parent])
    # Part 1 runs in the worker without TensorFlow, the other parts in the other one.
    sandbox = PartSandboxes.around(sandbox)
    try:
        if submission.parts:
            # Only the workers the parts need: the TensorFlow one imports it meanwhile.
            sandbox.start(submission.parts)
        if needs_tensorflow:
            import_tensorflow()
            # The last submission's models go. (The remembered reference runs,
            # grader.checks.registry.remembered, are keyed without the models' names, so they are
            # reused whatever Keras names the models of this submission.)
            release_models()
            # The first submission of a process: trace the measuring functions while
            # the student's process answers (later ones find them traced).
            trace_ahead(likely_layouts())
        if submission.parts:
            sandbox.begin(submission.parts)  # fresh processes for this submission
        runner = SubprocessRunner(sandbox, submission.parts)
        # Every part is loaded before any case runs, so that what its cells' errors say
        # (shown in the report) cannot carry what the code saw of a hidden case.
        runner.load_all()
        deadline = started + SUBMISSION_TIME_LIMIT
        tests: list[TestResult] = []
        # One file is one part handed in: the others are named once, not graded.
        parts = list(submission.parts) if Path(path).is_file() else PARTS
        for part in parts:
            code = submission.parts.get(part)
            tests += grade_part(part, code, runner if code else None, seed, public, deadline)
    finally:
        if own_sandbox:
            sandbox.close()
        else:
            sandbox.end()  # kills what the submission left running
    notes = list(submission.notes)
    if Path(path).is_file():
        others = [p for p in PARTS if p not in submission.parts]
        notes.append(
            f"Only {Path(path).name} was graded; not handed in: {', '.join(others)}. "
            "Grade the folder to grade every part."
        )
    faults = [t.name for t in tests if t.grader_fault]
    if faults:
        notes.append(
            f"The grader failed on {len(faults)} test{'s' if len(faults) > 1 else ''} "
            f"({', '.join(faults)}); this is not a mistake in your code: the cases it could "
            "not judge are held at zero until your instructor regrades them."
        )
    isolation = jail.missing_protections(sandbox.mode, sandbox.memory_reason)
    report = Report(str(path), tests, notes=notes, cases="public" if public else "hidden")
    # One line, what is unprotected: the instructor's, never in what the student reads.
    report.isolation = isolation if submission.parts else ""
    report.execution_time = time.monotonic() - started
    return report


def failure_report(submission: str, error: BaseException) -> dict[str, Any]:
    """The report of a submission the grader failed on: every test at zero, flagged as a
    grader fault for a regrade, the traceback for the instructor only
    (:func:`grader.results.failed_grader_report`).

    Args:
        submission: the submission's name in the report.
        error: what the grader raised.

    Returns:
        the report's data.
    """
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return failed_grader_report(submission, trace)


def grade_class_member(
    path: Path | str, label: str | None = None, **options: Any
) -> dict[str, Any]:
    """Grade one student of a class as plain data; one student never stops the class.

    A folder that is not a submission gets a report of zeros that says why
    (:class:`~grader.submission.SubmissionError`), and so does a failure of the grader
    on it (:func:`failure_report`).

    Args:
        path: the student's folder.
        label: the submission's name in the report (default: the path).
        **options: passed to :func:`grade_submission` (``seed``, ``sandbox``).

    Returns:
        the report's data.
    """
    name = str(path) if label is None else label
    try:
        report = grade_submission(path, **options).to_dict()
    except SubmissionError as error:
        return ungraded_report(name, str(error))
    except Exception as error:  # noqa: BLE001 - one student must never stop the class
        return failure_report(name, error)
    if label is not None:
        report["submission"] = label
    return report
