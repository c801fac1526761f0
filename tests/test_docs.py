"""Is every command of the README, CONTRIBUTING.md and the guides in docs/ run by a test?

A command is a line of a ```bash block, with ``\\`` continuations joined and a comment after
two spaces removed; a line that joins commands with ``&&`` is one command per part. Each is
either run here as written (:data:`RUN`), its documented placeholders made or replaced as
:data:`PLACEHOLDERS` says, in a temporary folder, a temporary copy of the repository or,
when it writes nothing, the repository itself; or named in :data:`RUN_ELSEWHERE` with the
test that already runs it and why it is not run again here. A command in neither table fails
:func:`test_every_documented_command_is_run_by_a_test`, so a new command in a guide needs a
test.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from grader.course.sources import reference_source
from tests.paths import ROOT

#: The documents whose commands are tested.
DOCUMENTS = ("README.md", "CONTRIBUTING.md", "SECURITY.md", "docs/*.md")
#: A correct Part 1, the only part handed in: it grades in seconds (NumPy only).
ONE_PART = {"chain_rule.py": reference_source("chain_rule")}
#: The test's own secret, 32 hex digits as the guides ask.
SECRET = "5eb1d0c5a1e2f3a4b5c6d7e8f9a0b1c2"

#: Every placeholder of the documented commands, and what it is when a command is run here:
#: files made under that name in the command's folder (the command is run unchanged), or the
#: text that replaces it in the command.
PLACEHOLDERS: dict[str, dict[str, str] | str] = {
    "path/to/submission": ONE_PART,
    "path/to/your/folder": ONE_PART,
    # a class of two students, as nbgrader's submitted/ folder holds them
    "submitted": {
        f"{student}/chain_rule.py": ONE_PART["chain_rule.py"] for student in ("alice", "bob")
    },
    "<example>": "typical_mistakes",
    "your-secret": SECRET,
    "SCHEDULER-HOST": "127.0.0.1",
}


@dataclass(frozen=True)
class Run:
    """How a documented command is run here, and what shows that it worked.

    ``where`` is ``temp`` (an empty temporary folder), ``copy`` (a temporary copy of the
    repository, for commands that write into it) or ``root`` (the repository itself, for
    commands that write nothing there). Expected files are removed first if present, so the
    command must write them.
    """

    name: str
    where: str
    files: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    #: words each expected file must hold
    holds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: files made in the folder before the command runs
    before: dict[str, str] = field(default_factory=dict)
    #: text the same command prints when run a second time
    again: str | None = None


#: Commands run here as written (after :data:`PLACEHOLDERS`).
RUN: dict[str, Run] = {
    # README.md (after its install command)
    "python -m grader grade examples/correct": Run(
        "readme-grade-correct", "root", text=("on the hidden cases", "100 / 100")
    ),
    "python -m grader grade examples/typical_mistakes": Run(
        "readme-grade-typical-mistakes", "root", text=("on the hidden cases", "total")
    ),
    # docs/students.md: its commands run from the kit (RUN_ELSEWHERE)
    # docs/self-learners.md
    "python -m grader check path/to/your/folder": Run(
        "self-learners-check", "temp", text=("on the public cases",)
    ),
    "python -m grader check path/to/your/folder --format html --output check.html": Run(
        "self-learners-check-html",
        "temp",
        files=("check.html",),
        holds={"check.html": ("data:image/png;base64,",)},
    ),
    "python -m grader grade path/to/your/folder": Run(
        "self-learners-grade", "temp", text=("on the hidden cases",)
    ),
    # docs/instructors.md
    "python -m grader grade path/to/submission": Run(
        "instructors-grade-text", "temp", text=("on the hidden cases", "total")
    ),
    "python -m grader grade path/to/submission --format json": Run(
        "instructors-grade-json", "temp", text=('"tests"', '"details"')
    ),
    "python -m grader grade path/to/submission --format gradescope --output results.json": Run(
        "instructors-grade-gradescope", "temp", files=("results.json",)
    ),
    "python -m grader grade path/to/submission --format html --output feedback.html": Run(
        "instructors-grade-html", "temp", files=("feedback.html",)
    ),
    "python -m grader grade path/to/submission --details": Run(
        "instructors-grade-details", "temp", text=("Instructor's view", "Not for students")
    ),
    "python -m grader batch submitted --out grading-output --workers 2": Run(
        "instructors-batch",
        "temp",
        text=("2 of 2 students reported (2 graded in this run)",),
        files=tuple(
            f"grading-output/{name}"
            for name in ("grades.csv", "summary.json", "class.html")
            + tuple(f"reports/{s}.{x}" for s in ("alice", "bob") for x in ("json", "html"))
        ),
        again="2 of 2 students reported (0 graded in this run)",
    ),
    "python -m grader certificates --out cluster-certificates": Run(
        "instructors-cluster-certificates",
        "temp",
        files=tuple(
            f"cluster-certificates/{name}.pem"
            for name in ("ca", "scheduler", "scheduler-key", "worker", "worker-key")
            + ("client", "client-key")
        ),
        text=("dask scheduler --port 8786", "dask worker tls://", "--certificates"),
        holds={"cluster-certificates/worker-key.pem": ("PRIVATE KEY",)},
    ),
    # the zip's contents, unpacked and graded as on Gradescope: tests/grader/test_gradescope.py
    "python -m grader gradescope --out autograder.zip": Run(
        "instructors-gradescope-zip",
        "temp",
        files=("autograder.zip",),
        text=(
            "Gradescope autograder written: autograder.zip (setup.sh, run_autograder, "
            ".grader-secret, wheels/exploding_gradients_course-0.1.0-py3-none-any.whl)",
        ),
    ),
    # docs/verdicts.md
    "python -m grader grade path/to/submission --format json --output report.json": Run(
        "verdicts-json-fields",
        "temp",
        files=("report.json",),
        holds={
            "report.json": tuple(
                f'"{key}"'
                for key in "score execution_time output visibility stdout_visibility submission "
                "cases max_score notes name status details mistakes figures handed_in "
                "comparisons".split()
            )
        },
    ),
    # SECURITY.md
    "GRADER_ISOLATION=process python -m grader grade path/to/submission "
    "--allow-unsafe-isolation": Run(
        "security-plain-process", "temp", text=("Isolation: plain process",)
    ),
    # CONTRIBUTING.md
    "python -m pytest --collect-only -q -k chain_rule": Run(
        "contributing-one-part-selection",
        "copy",
        text=("tests/solutions/test_chain_rule.py::", "deselected"),
    ),
    "python -m grader.course.generate": Run(
        "contributing-generate",
        "copy",
        files=(
            "exercises/exploding_gradients/chain_rule.py",
            "solutions/exploding_gradients/chain_rule.ipynb",
        ),
    ),
    "python -m grader.course.examples": Run(
        "contributing-examples", "copy", files=("examples/correct/chain_rule.ipynb",)
    ),
    "python -m grader grade examples/<example> --format html --output examples/reports/<example>.html": Run(
        "contributing-example-report", "copy", files=("examples/reports/typical_mistakes.html",)
    ),
    "python -m grader.course.examples --check": Run("contributing-examples-check", "root"),
    "ruff check .": Run("contributing-ruff-check", "copy"),
    "ruff format .": Run("contributing-ruff-format", "copy"),
}

_CI = "tests/test_repository.py::test_ci_runs_the_readme_test_command"
_SUITE = (
    ".ci/run runs the whole suite, which holds this selection; running pytest here would run "
    "the suite inside itself"
)
_CLUSTER = (
    "tests/grader/scale/test_cluster.py::test_a_class_graded_on_a_dask_cluster_equals_the_local_run"
)
_KIT = "tests/grader/course/test_kit.py::test_venv_has_the_kit_and_no_reference"
_KIT_CHECK = (
    "tests/grader/course/test_kit.py::"
    "test_a_kit_student_who_writes_py_files_gets_full_marks_from_the_kit_and_the_grader"
)
_NBGRADER = (
    "tests/test_fresh_clone.py::test_nbgrader_steps_work_in_a_fresh_clone_and_keep_the_stubs"
)

#: Commands not run here: the test that runs them (a node id), and why not again here.
RUN_ELSEWHERE: dict[str, tuple[str, str]] = {
    "python -m pip install -e .": (
        _CI,
        '.ci/run installs the package on every CI run (with the test extra, `-e ".[test]"`); '
        "installing here would change the environment the suite runs in",
    ),
    'python -m pip install -e ".[test]"': (_CI, ".ci/run runs this install on every CI run"),
    "python -m pytest -n 2 --durations=10": (_CI, ".ci/run runs it: it is the whole suite"),
    'python -m pytest -m "not slow" -n 2': (_CI, _SUITE),
    "python -m pytest tests/grader/isolation -n 2": (_CI, _SUITE),
    "python -m pytest -k chain_rule -n 2": (
        _CI,
        _SUITE + "; its selection is collected here (`--collect-only -q -k chain_rule`)",
    ),
    "python -m pytest tests/grader/checks/test_goldens.py --update-goldens": (
        "tests/grader/checks/test_goldens.py::test_feedback_matches_its_golden_text",
        "the suite runs these tests comparing with the goldens; the switch makes the same tests "
        "rewrite tests/goldens instead, a deliberate change a person reviews",
    ),
    "python -m grader.course.generate --check": (
        "tests/grader/course/test_generate.py::test_committed_files_match_a_regeneration",
        "that test runs exactly this command from the repository root",
    ),
    "nbgrader generate_assignment exploding_gradients --force": (
        _NBGRADER,
        "it runs the guide's nbgrader block, read from docs/instructors.md, in a fresh clone "
        "(minutes: nbgrader releases the four notebooks)",
    ),
    "python -m grader batch submitted --out grading-output --gradebook gradebook.db": (
        _NBGRADER,
        "it runs this line of the guide's nbgrader block after generate_assignment made "
        "gradebook.db, and reads the scores back from the gradebook",
    ),
    "python -m grader kit --out student-kit": (
        _KIT,
        "its kit fixture builds the kit with grader.course.kit.build_kit, the one function this "
        "command calls (the command adds only its argument and a printed line); building the "
        "kit builds a wheel, too slow to do twice",
    ),
    "python -m grader check exploding_gradients": (
        _KIT_CHECK,
        "it runs this command, from a fresh environment with the kit installed, on a kit's "
        "folder with two parts written as .py files, and grades the same folder with the "
        "full grader",
    ),
    "python -m grader check exploding_gradients --format html --output check.html": (
        _KIT_CHECK,
        "it runs the command the student's page names (grader.results.PLOTS_ON_PUBLIC), this "
        "one, from the kit's environment, and reads the page's score and plots",
    ),
    "python -m pip install wheels/exploding_gradients_kit-*.whl": (
        _KIT,
        "its venv fixture installs the kit's wheel with pip into a fresh virtual environment "
        "(with --no-index: TensorFlow is linked from this environment, not downloaded)",
    ),
    "dask scheduler --port 8786 --dashboard-address 127.0.0.1:8787 --tls-ca-file cluster-certificates/ca.pem --tls-cert cluster-certificates/scheduler.pem --tls-key cluster-certificates/scheduler-key.pem": (
        _CLUSTER,
        "grader.scale.cluster.local_cluster starts `dask scheduler --port PORT` with the "
        "--tls-* options and files of `python -m grader certificates` (on the loopback, with "
        "ALLOWED_FAILURES=1, no dashboard); a daemon that runs until it is stopped. "
        "tests/grader/scale/test_certificates.py checks every option against `--help`",
    ),
    "dask worker tls://SCHEDULER-HOST:8786 --nworkers 4 --nthreads 1 --no-dashboard --tls-ca-file cluster-certificates/ca.pem --tls-cert cluster-certificates/worker.pem --tls-key cluster-certificates/worker-key.pem": (
        _CLUSTER,
        "local_cluster starts `dask worker tls://ADDRESS --nthreads 1` with the worker's "
        "--tls-* files, one process per worker (--no-nanny) where the guide asks for four; a "
        "daemon that runs until it is stopped",
    ),
    "GRADER_SEED=your-secret python -m grader batch submitted --out grading-output --scheduler tls://SCHEDULER-HOST:8786 --certificates cluster-certificates": (
        _CLUSTER,
        "it runs this batch with --scheduler and --certificates on the cluster local_cluster "
        "started, GRADER_SEED in its environment, and compares it with the local run",
    ),
}


# --- reading the documents ------------------------------------------------------------------


def documents() -> list[Path]:
    """The README, CONTRIBUTING.md and the guides."""
    return sorted(path for pattern in DOCUMENTS for path in ROOT.glob(pattern))


def commands_of(text: str) -> list[str]:
    """The commands of a Markdown text's ```bash blocks.

    Args:
        text: the Markdown.

    Returns:
        each command once, in order: continuations joined, comments after two spaces and
        comment lines removed, and a line split at ``&&``.
    """
    found: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", "", block)
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if not line or line.startswith("#"):
                continue
            for command in line.split(" && "):
                if command.strip() not in found:
                    found.append(command.strip())
    return found


def documented_commands() -> dict[str, list[str]]:
    """Every documented command, with the documents that hold it."""
    where: dict[str, list[str]] = {}
    for path in documents():
        for command in commands_of(path.read_text(encoding="utf-8")):
            where.setdefault(command, []).append(path.relative_to(ROOT).as_posix())
    return where


# --- the tables' coverage (quick) -----------------------------------------------------------


def test_the_documents_have_commands():
    """Are the README, CONTRIBUTING.md, SECURITY.md and each of the four guides there, with
    commands?"""
    names = [path.relative_to(ROOT).as_posix() for path in documents()]
    for guide in ("students", "instructors", "self-learners", "verdicts"):
        assert f"docs/{guide}.md" in names
    assert {"README.md", "CONTRIBUTING.md", "SECURITY.md"} <= set(names)
    assert len(documented_commands()) >= 20


def test_every_documented_command_is_run_by_a_test():
    """Is each command in RUN or in RUN_ELSEWHERE, and not in both?"""
    untested = {c: docs for c, docs in documented_commands().items() if c not in RUN_ELSEWHERE}
    untested = {c: docs for c, docs in untested.items() if c not in RUN}
    assert not untested, f"commands no test runs (add them to RUN or RUN_ELSEWHERE): {untested}"
    assert not set(RUN) & set(RUN_ELSEWHERE)


def test_every_table_entry_is_still_documented():
    """Does every command of RUN and RUN_ELSEWHERE still appear in a document?"""
    documented = documented_commands()
    assert [c for c in [*RUN, *RUN_ELSEWHERE] if c not in documented] == []


def test_every_placeholder_is_used_and_every_run_named_once():
    """Is each placeholder in some command, each run's name unique, and nothing made or
    written in the repository itself?"""
    commands = " ".join(documented_commands())
    assert [p for p in PLACEHOLDERS if p not in commands] == []
    names = [run.name for run in RUN.values()]
    assert len(names) == len(set(names))
    assert all(run.where in ("temp", "copy", "root") for run in RUN.values())
    in_root = [c for c, run in RUN.items() if run.where == "root"]
    made = [p for p, meaning in PLACEHOLDERS.items() if not isinstance(meaning, str)]
    assert [c for c in in_root if any(p in c for p in made)] == [], "nothing is made in the root"
    assert [c for c in in_root if RUN[c].before or RUN[c].files] == []


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


@pytest.mark.parametrize("node", sorted({node for node, _ in RUN_ELSEWHERE.values()}))
def test_each_test_named_in_run_elsewhere_exists(node):
    """Does the node id of RUN_ELSEWHERE name a test function of an existing test file?"""
    file, function = node.split("::")
    assert (ROOT / file).is_file(), file
    assert function in _test_functions(ROOT / file), node


def test_the_test_paths_in_documented_commands_exist():
    """Does every tests/ path that a documented command names exist?"""
    for command in documented_commands():
        for path in re.findall(r"\btests/\S+", command):
            assert (ROOT / path.split("::")[0]).exists(), command


# --- running the commands (slow) ------------------------------------------------------------


@dataclass
class Outcome:
    folder: Path
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess | None


def _copy_of_the_repository(target: Path) -> Path:
    ignored = (".git", "__pycache__", "*.egg-info", ".pytest_cache", ".ruff_cache")
    ignored += (".grader-secret", "gradebook.db", "submitted", "grading-output", "build", "dist")
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*ignored), symlinks=True)
    return target


def _make(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _prepare(command: str, run: Run, scratch: Path) -> tuple[str, Path]:
    """The command with its placeholders replaced, and the folder it runs in (made ready)."""
    folder = {"root": ROOT, "temp": scratch, "copy": scratch / "repository"}[run.where]
    if run.where == "copy":
        _copy_of_the_repository(folder)
    _make(folder, run.before)
    for placeholder, meaning in PLACEHOLDERS.items():
        if placeholder not in command:
            continue
        if isinstance(meaning, str):
            command = command.replace(placeholder, meaning)
        else:
            _make(folder / placeholder, meaning)
    if run.where != "root":
        for name in run.files:
            (folder / name).unlink(missing_ok=True)
    return command, folder


def _execute(command: str, run: Run, scratch: Path) -> Outcome:
    command, folder = _prepare(command, run, scratch)
    # in a copy, `python -m` imports the copy's own package: no PYTHONPATH to the repository,
    # and no variable of this pytest run for the pytest that a command starts
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}
    env["GRADER_SEED"] = SECRET

    def once() -> subprocess.CompletedProcess:
        return subprocess.run(
            command, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=600
        )

    first = once()
    second = once() if run.again is not None and first.returncode == 0 else None
    return Outcome(folder, first, second)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Future]:
    """Every command of :data:`RUN`, run two at a time (both cores), longest first."""
    slow_first = sorted(RUN, key=lambda c: not re.search(r"examples/|batch|collect-only", c))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            command: pool.submit(
                _execute, command, RUN[command], tmp_path_factory.mktemp(RUN[command].name)
            )
            for command in slow_first
        }
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.slow
@pytest.mark.parametrize("command", list(RUN), ids=[run.name for run in RUN.values()])
def test_documented_command_runs_as_written(command: str, outcomes: dict[str, Future]):
    """Does the command exit with status 0 and write or print what the documents say?"""
    run = RUN[command]
    outcome = outcomes[command].result()
    result = outcome.first
    said = result.stdout + result.stderr
    assert result.returncode == 0, f"{command}\n{said}"
    for text in run.text:
        assert text in said, f"{command}: {text!r} not in\n{said}"
    for name in run.files:
        assert (outcome.folder / name).is_file(), f"{command}: wrote no {name}\n{said}"
    for name, words in run.holds.items():
        written = (outcome.folder / name).read_text(encoding="utf-8")
        assert [w for w in words if w not in written] == [], f"{command}: {name}"
    if name := next((n for n in run.files if n.endswith(".json")), None):
        json.loads((outcome.folder / name).read_text(encoding="utf-8"))
    if run.again is not None:
        assert outcome.second is not None and outcome.second.returncode == 0
        assert run.again in outcome.second.stdout, outcome.second.stdout + outcome.second.stderr
