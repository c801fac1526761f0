"""The command line: a thin layer over one function per verb.

``python -m grader grade PATH [--format text|json|gradescope|html] [--output FILE] [--details]``
    Grade a submission on the hidden cases and print or write the report. The text and
    HTML reports are the student's: a failed hidden case shows what was checked, what went
    wrong (its category) and the hint, never what the code returned or raised. With
    ``--details`` they are the instructor's, with those values and texts: not for students.
    The JSON report always holds them (each test's ``details``).
``python -m grader check PATH [--format text|json|gradescope|html] [--output FILE] [--hint 2]``
    The same feedback on the public cases, for self-learners, with the values (``--hint 2``
    adds a recipe for each function that failed: :mod:`grader.checks.recipes`); its HTML page
    has the plots of the student's functions beside the reference's (the student's page of a
    hidden report has none: a hidden case's plot shows its values). The JSON report of hidden
    cases (``grade --format json``, batch's ``reports/<student>.json``) is the instructor's
    file, plots' data included; Gradescope gets ``--format gradescope``, which holds none.
``python -m grader batch SUBMISSIONS --out DIR [--workers N] [--gradebook DB] [--scheduler URL --certificates DIR] [--similarity-threshold SCORE | --no-similarity]``
    Grade a class, resumably, in parallel (:mod:`grader.scale.batch`), on this machine or on a
    ``dask.distributed`` cluster (:mod:`grader.scale.cluster`) that speaks mutual TLS
    (:mod:`grader.scale.cluster_access`). ``class.html`` lists the pairs of students whose
    code is most alike (:mod:`grader.reports.similarity`), for the instructor.
``python -m grader certificates --out DIR``
    Make a grading cluster's CA and certificates, and print the commands that start the
    cluster with them (:mod:`grader.scale.certificates`).
``python -m grader kit --out DIR``
    Build the student kit: notebooks, stubs and a wheel without the answers (:mod:`grader.course.kit`).
``python -m grader gradescope --out autograder.zip``
    Write Gradescope's autograder zip: setup.sh and run_autograder at its root, the package's
    wheel and the course's secret (:mod:`grader.course.gradescope`).

Exit status: 0 whenever a report was produced, whatever the score; with ``--strict`` (grade,
check, batch), 3 when the grader's own code failed on a test (a grader fault: the report
says so, the test is held for a regrade), so that CI notices; 2 for a usage error
(one line on stderr: a PATH without part files names the folder below that holds them);
130 when Ctrl-C interrupts (a batch keeps every finished report and ends within seconds).
The same verbs run as ``exploding-gradients-grader``, which calls itself so in messages.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from grader.course.gradescope import GradescopeError, build_autograder_zip
from grader.course.kit import build_kit
from grader.escaping import for_terminal
from grader.isolation.jail import MODE_VARIABLE, missing_protections, unsafe_refusal
from grader.locate import UsageError, check_class_folder, resolve_submission
from grader.reports.formats import FORMATS, render
from grader.reports.gradebook import check_gradebook
from grader.reports.similarity import DEFAULT_THRESHOLD
from grader.results import points
from grader.scale.batch import FAULTS_LOG, grade_class, gradebook_line
from grader.submission import SubmissionError

#: The isolation modes ``GRADER_ISOLATION`` may force (:func:`grader.isolation.jail.mode`).
MODES = ("namespace", "dropped", "process")
#: The exit status under ``--strict`` when the grader's own code failed on a test.
STRICT_FAILURE = 3


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def program_name() -> str:
    """How the user ran the CLI: ``python -m grader`` or the installed script's name."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "python -m grader" if name in ("", "__main__.py", "-c", "-m") else name


def _error(message: str) -> int:
    """Print a usage error as one line on stderr; return exit status 2.

    The message may name the student's files and folders: it is shown escaped, one line
    (:func:`grader.escaping.for_terminal`).
    """
    print(f"{program_name()}: error: {for_terminal(message)}", file=sys.stderr)
    return 2


def _unsafe_isolation_flag(verb: argparse.ArgumentParser) -> None:
    verb.add_argument(
        "--allow-unsafe-isolation",
        action="store_true",
        help="run student code as root in the plain-process mode all the same (it can then "
        "read the references and the secret, and write the results): refused without it",
    )


def _refuse_unsafe_isolation(args: argparse.Namespace) -> int:
    """Exit status 2 with one line when student code would run as root in ``process``
    mode without ``--allow-unsafe-isolation`` (:func:`unsafe_refusal`), or when
    ``GRADER_ISOLATION`` names no mode (a typo must not pick a mode silently); else 0."""
    wanted = os.environ.get(MODE_VARIABLE, "").strip().lower()
    if wanted not in ("", *MODES):
        return _error(
            f"{MODE_VARIABLE}={wanted} is not an isolation mode. Expected: one of "
            f"{', '.join(MODES)}, or unset (the strongest that starts). Received: {wanted!r}. "
            f"Hint: unset {MODE_VARIABLE} unless you must force a mode"
        )
    refusal = "" if args.allow_unsafe_isolation else unsafe_refusal()
    return _error(refusal) if refusal else 0


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = _Parser(prog=program_name(), description="Grade exploding_gradients submissions.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)
    grade = verbs.add_parser("grade", help="grade a submission on the hidden cases")
    grade.add_argument("path", type=Path, help="a directory of part notebooks/modules, or one file")
    grade.add_argument(
        "--format", choices=FORMATS, default="text", help="report format (default: text)"
    )
    grade.add_argument(
        "--output", type=Path, help="write the report to this file instead of stdout"
    )
    grade.add_argument(
        "--details",
        action="store_true",
        help="the instructor's view (text and html): also what the code returned or raised on "
        "the hidden cases, the reference's answers and (html) the plots. NOT for students: it "
        "shows the hidden cases' values. (The json format always holds them, under 'details' "
        "and 'figures': it is the instructor's file; Gradescope gets --format gradescope.)",
    )
    grade.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 3 when the grader's own code failed on a test (a grader "
        "fault, held at zero for a regrade), so that CI notices",
    )
    _unsafe_isolation_flag(grade)
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
    batch.add_argument(
        "--scheduler",
        metavar="URL",
        help="grade on this dask.distributed cluster, e.g. tls://10.0.0.1:8786 (--workers is "
        "then the cluster's)",
    )
    batch.add_argument(
        "--certificates",
        type=Path,
        metavar="DIR",
        help="the cluster's certificates, as `certificates --out DIR` wrote them (for tls://)",
    )
    batch.add_argument(
        "--insecure-local-cluster",
        action="store_true",
        help="allow an unencrypted, unauthenticated scheduler on this machine's loopback "
        "(tcp://127.0.0.1:PORT): every user of this machine can connect to it",
    )
    batch.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 3 when the grader's own code failed on a test (a grader "
        "fault, held at zero for a regrade), so that CI notices",
    )
    batch.add_argument(
        "--similarity-threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        metavar="SCORE",
        help="list in class.html the pairs of students whose code of a part is at least this "
        f"similar, 0 to 1 (default: {DEFAULT_THRESHOLD}); the instructor's, never the students'",
    )
    batch.add_argument(
        "--no-similarity",
        action="store_true",
        help="do not compare the students' code (no similarity section in class.html)",
    )
    _unsafe_isolation_flag(batch)
    check = verbs.add_parser("check", help="check a submission on the public cases")
    check.add_argument("path", type=Path, help="a directory of part notebooks/modules, or one file")
    check.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="report format (default: text); html draws the plots of your functions",
    )
    check.add_argument(
        "--output", type=Path, help="write the report to this file instead of stdout"
    )
    check.add_argument(
        "--hint",
        type=int,
        choices=(1, 2),
        default=1,
        help="hint tier: 1 (default) gives each failure's principle; 2 adds a recipe for each "
        "function that failed",
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 3 when the grader's own code failed on a test (a grader "
        "fault, held at zero for a regrade), so that CI notices",
    )
    _unsafe_isolation_flag(check)
    certificates = verbs.add_parser(
        "certificates", help="make a grading cluster's TLS certificates and print its commands"
    )
    certificates.add_argument(
        "--out", type=Path, required=True, help="a new folder for the CA, certificates and keys"
    )
    kit = verbs.add_parser("kit", help="build the student kit: notebooks and a wheel, no answers")
    kit.add_argument("--out", type=Path, required=True, help="the kit's folder")
    gradescope = verbs.add_parser(
        "gradescope", help="write Gradescope's autograder zip: setup.sh, run_autograder, a wheel"
    )
    gradescope.add_argument("--out", type=Path, required=True, help="the zip to write")
    return parser


def _certificates(args: argparse.Namespace) -> int:
    # lazy: cryptography loads only for this verb
    from grader.scale.certificates import VALID_DAYS, cluster_commands, write_certificates

    try:
        written = write_certificates(args.out)
    except FileExistsError as error:
        return _error(str(error))
    except OSError as error:
        return _error(
            f"cannot write the certificates into {args.out}. Expected: a folder this user can "
            f"make and write. Received: {error.strerror}. Hint: choose another --out folder"
        )
    print(
        f"Certificates written to {for_terminal(args.out)} (a new CA, valid {VALID_DAYS} days; "
        "keys readable by you only; the CA's key is not kept).\n" + cluster_commands(written)
    )
    return 0


def _kit(args: argparse.Namespace) -> int:
    print(f"Student kit written: {build_kit(args.out)}")
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    try:
        entries = build_autograder_zip(args.out)
    except GradescopeError as error:
        return _error(str(error))
    except OSError as error:
        return _error(
            f"cannot write the autograder zip {args.out}. Expected: a path this user can write. "
            f"Received: {error.strerror}. Hint: choose another --out path"
        )
    print(f"Gradescope autograder written: {for_terminal(args.out)} ({', '.join(entries)})")
    return 0


def _batch(args: argparse.Namespace) -> int:
    if args.workers < 1:
        return _error("--workers must be at least 1")
    if not 0 < args.similarity_threshold <= 1:
        return _error(
            "--similarity-threshold is a share of the code. Expected: a number above 0, at "
            f"most 1. Received: {args.similarity_threshold}. Hint: the default is "
            f"{DEFAULT_THRESHOLD}"
        )
    similarity = {
        "similarity": not args.no_similarity,
        "similarity_threshold": args.similarity_threshold,
    }
    if args.scheduler is None and (args.certificates or args.insecure_local_cluster):
        return _error(
            "--certificates and --insecure-local-cluster are options of a batch on a cluster. "
            "Expected: --scheduler ADDRESS with them. Received: no --scheduler"
        )
    access = None
    if args.scheduler is not None:
        # lazy: Dask is imported only for a run with --scheduler
        from grader.scale.cluster_access import AccessRefused, check_access

        try:
            access = check_access(args.scheduler, args.certificates, args.insecure_local_cluster)
        except AccessRefused as error:
            return _error(str(error))
    try:
        check_class_folder(args.submissions, f"{program_name()} grade")
    except UsageError as error:
        return _error(str(error))
    if args.gradebook is not None:
        if not args.gradebook.is_file():
            return _error(
                f"no such gradebook: {args.gradebook}. Make one in the course directory with: "
                "nbgrader generate_assignment exploding_gradients --force "
                "(it writes gradebook.db there)"
            )
        try:
            check_gradebook(args.gradebook)
        except ValueError as error:
            return _error(str(error))

    if refused := _refuse_unsafe_isolation(args):
        return refused
    if missing_protections():
        print(missing_protections(), file=sys.stderr)  # one line: what is unprotected
    interrupted = False
    try:
        if access is None:
            summary = grade_class(
                args.submissions,
                args.out,
                workers=args.workers,
                gradebook=args.gradebook,
                **similarity,
            )
        else:
            # lazy: Dask is imported only for a run with --scheduler
            from grader.scale.cluster import ClusterError

            try:
                summary = grade_class(
                    args.submissions,
                    args.out,
                    scheduler=access,
                    gradebook=args.gradebook,
                    **similarity,
                )
            except ClusterError as error:
                print(f"{program_name()}: error: {for_terminal(error)}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        _end_interrupted_batch(args.out)
    print(
        f"{summary['reported']} of {summary['students']} students reported "
        f"({summary['graded_this_run']} graded in this run); mean {_maybe_points(summary['mean'])}, "
        f"median {_maybe_points(summary['median'])}, full marks {summary['full_marks']}. "
        f"See {args.out / 'grades.csv'}."
    )
    if args.gradebook is not None:  # every up-to-date report, graded now or before
        print(gradebook_line(summary, args.gradebook))
    faults = summary.get("grader_faults") or {}
    if faults:
        print(
            f"The grader's own code failed on {len(faults)} student"
            f"{'s' if len(faults) > 1 else ''}' tests (held at zero for a regrade): see "
            f"{args.out / FAULTS_LOG}.",
            file=sys.stderr,
        )
    return STRICT_FAILURE if faults and args.strict else 0


def _end_interrupted_batch(out: Path) -> None:
    """Say what an interrupted batch kept, and end this process at once (status 130).

    The workers are ended and every finished report is on disk; what is left is the
    interpreter's teardown, which takes seconds on a busy machine (freeing NumPy's and
    matplotlib's state). The pool is released first, so its semaphores are removed.
    """
    print(
        f"{program_name()}: interrupted; the reports written so far are kept in "
        f"{out / 'reports'}: run the same command again to grade the others.",
        file=sys.stderr,
    )
    gc.collect()  # the pool's queues: their finalizers remove the semaphores
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _maybe_points(value: float | None) -> str:
    return "-" if value is None else points(value)


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
        print(f"{program_name()}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the promise is: no traceback of our own
        print(
            f"{program_name()}: internal error: {type(error).__name__}: {for_terminal(error)}",
            file=sys.stderr,
        )
        return 1


def run() -> NoReturn:
    """The entry point of ``python -m grader`` and the installed script: :func:`main`, then exit.

    Once TensorFlow is loaded, the interpreter's own teardown after the work is done
    (freeing every module's objects and TensorFlow's static state) takes about 2 s, which
    a student waits for after the report is printed. So the exit handlers run (the jail's
    scratch folders are removed by one, the logging and multiprocessing handlers flush),
    the streams are flushed, and the process ends without that teardown.

    SIGTERM (a scheduler's stop, ``kill``) ends a command as Ctrl-C does, through the same
    clean-up: workers stopped, scratch folders and TensorFlow's temporary files removed.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    status = main()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said there
            pass
    os._exit(status)


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
    if args.verb == "gradescope":
        return _gradescope(args)
    if args.verb == "certificates":
        return _certificates(args)
    # lazy: the checks and NumPy load only for grade and check, not for a batch's own process or --help
    from grader.checks.recipes import apply_tier
    from grader.grade import grade_submission

    if refused := _refuse_unsafe_isolation(args):  # grade and check alike
        return refused

    try:
        path = resolve_submission(args.path, f"{program_name()} {args.verb}")
        if sys.stderr.isatty():  # a person waiting at a terminal: say what is happening
            cases = "public" if args.verb == "check" else "hidden"
            print(
                for_terminal(
                    f"Grading {path} on the {cases} cases (about half a minute for every part; "
                    "part 1 alone takes seconds)..."
                ),
                file=sys.stderr,
            )
        report = grade_submission(path, public=args.verb == "check")
    except (UsageError, SubmissionError) as error:
        return _error(str(error))
    if args.verb == "check":  # the recipes when asked for, or how to ask (public cases only)
        apply_tier(report, args.hint)
    if report.isolation:  # the operator's business, on stderr: never in the student's report
        print(for_terminal(report.isolation), file=sys.stderr)
    text = render(report, args.format, details=getattr(args, "details", False))
    output = getattr(args, "output", None)
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            return _error(f"cannot write {output}: {error.strerror}")
    else:
        sys.stdout.write(text)
    if report.grader_faults:
        print(
            f"{program_name()}: the grader's own code failed on "
            f"{', '.join(report.grader_faults)} (held at zero for a regrade); the tracebacks "
            "are in the JSON report's grader_fault fields and in --details",
            file=sys.stderr,
        )
        if args.strict:
            return STRICT_FAILURE
    return 0
