"""Where the jail cannot be made: root is refused in ``process`` mode, and ``dropped`` holds.

The machine that runs the tests may have the jail, so the modes are forced with
``GRADER_ISOLATION`` (as a host without user namespaces would pick them). The attacks are
the attack suite's file and cross-student ones (:mod:`tests.grader.test_attacks`), run
through ``grade`` in ``dropped`` mode and, to show that they are real, in ``process`` mode.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from grader.course.sources import reference_source
from grader.grade import grade_submission
from grader.isolation import jail
from grader.isolation.sandbox import Sandbox
from tests.grader.conftest import write_submission
from tests.paths import ROOT

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0, reason="the refusal is of root only")
NEEDS_DROPPED = pytest.mark.skipif(
    os.geteuid() != 0 or not jail.dropped_works(),
    reason="dropped mode needs root and setpriv: " + (jail._DROPPED or [(0, "not probed")])[0][1]
    if os.geteuid() == 0
    else "not root",
)
#: The file and network attacks are stopped by Landlock (the targets are readable by all);
#: without it the mode promises less, and its isolation line says so.
NEEDS_LANDLOCK = pytest.mark.skipif(
    os.geteuid() != 0 or not jail.dropped_works() or "files" not in jail.landlock_held(),
    reason="the kernel gives the dropped worker no Landlock (or dropped mode cannot start)",
)
NOTHING = "raised PermissionError: nothing reachable"

# Reads the references, the course checkout, the secret and a classmate's submission;
# writes into the output folder; connects to a TCP port of the host. Every one that
# succeeds is named in what the function returns (in a few words: a report shortens it).
_ATTACK = """
import os, socket
def sgd_update(param, grad, learning_rate):
    reached = []
    places = {{'ref': {reference!r}, 'course': {course!r}, 'secret': {secret!r},
              'victim': {victim!r}}}
    for tag, path in places.items():
        try:
            with open(path, 'rb') as stream:
                stream.read(1)
            reached.append(tag)
        except OSError:
            pass
    try:
        with open(os.path.join({out!r}, 'results.json'), 'w') as stream:
            stream.write('{{"score": 100}}')
        reached.append('out')
    except OSError:
        pass
    try:
        socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
        reached.append('tcp')
    except OSError:
        pass
    if reached:
        return 'reached ' + ' '.join(reached)
    raise PermissionError('nothing reachable')
"""


def _grade_cli(
    path: Path, mode: str, *flags: str, verb: str = "grade"
) -> subprocess.CompletedProcess:
    env = {**os.environ, jail.MODE_VARIABLE: mode}
    command = [sys.executable, "-m", "grader", verb, str(path), *flags]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@AS_ROOT
def test_root_in_process_mode_is_refused_unless_allowed(tmp_path):
    """As root in ``process`` mode, ``grade`` says why in one line (status 2); with the
    flag it grades."""
    folder = write_submission(tmp_path / "s", {"chain_rule.py": reference_source("chain_rule")})
    refused = _grade_cli(folder, "process")
    assert refused.returncode == 2, refused.stderr
    assert refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "refusing to run student code as root in process mode" in lines[0]
    assert "GRADER_ISOLATION=process" in lines[0] and "--allow-unsafe-isolation" in lines[0]
    allowed = _grade_cli(folder, "process", "--allow-unsafe-isolation")
    assert allowed.returncode == 0, allowed.stderr
    assert "chain_rule.sgd_update                   1 / 1     passed" in allowed.stdout
    assert "Isolation: plain process" in allowed.stderr


@AS_ROOT
def test_batch_as_root_in_process_mode_is_refused(tmp_path):
    """``batch`` refuses as ``grade`` does, before it grades anyone or writes anything."""
    (tmp_path / "class").mkdir()
    write_submission(tmp_path / "class" / "ada", {"chain_rule.py": "x = 1\n"})
    out = tmp_path / "out"
    refused = _grade_cli(tmp_path / "class", "process", "--out", str(out), verb="batch")
    assert refused.returncode == 2, refused.stderr
    assert "--allow-unsafe-isolation" in refused.stderr
    assert not out.exists()


@AS_ROOT
def test_check_refuses_as_grade_does_and_a_mistyped_mode_is_refused(tmp_path):
    """``check`` runs student code too: as root in ``process`` mode it is refused as
    ``grade`` is; and a ``GRADER_ISOLATION`` that names no mode is refused, never read as
    "the strongest that starts" without a word."""
    folder = write_submission(tmp_path / "s", {"chain_rule.py": reference_source("chain_rule")})
    refused = _grade_cli(folder, "process", verb="check")
    assert refused.returncode == 2 and "--allow-unsafe-isolation" in refused.stderr
    typo = _grade_cli(folder, "droped")
    assert typo.returncode == 2 and typo.stdout == ""
    assert "GRADER_ISOLATION=droped is not an isolation mode" in typo.stderr


def test_only_root_in_process_mode_is_refused(monkeypatch):
    """The refusal is for root in ``process`` mode only: not another user, not another mode."""
    monkeypatch.setattr(jail, "fallback_reason", lambda: "no bwrap")
    monkeypatch.setattr(jail.os, "geteuid", lambda: 0)
    assert "refusing to run student code as root" in jail.unsafe_refusal("process")
    assert jail.unsafe_refusal("dropped") == ""
    assert jail.unsafe_refusal("namespace") == ""
    monkeypatch.setattr(jail.os, "geteuid", lambda: 1000)
    assert jail.unsafe_refusal("process") == ""


@pytest.fixture
def places(tmp_path):
    """Host files a student must not reach, where modes alone would not stop them: in a
    folder every user may pass through, readable (the output folder writable) by all."""
    base = jail.traversable_temporary_folder("grader-attacked-")
    os.chmod(base, 0o755)
    (base / "out").mkdir(mode=0o777)
    os.chmod(base / "out", 0o777)
    secret = base / ".grader-secret"
    secret.write_text("the course's secret")
    os.chmod(secret, 0o644)
    classmate = write_submission(base / "classmate", {"chain_rule.py": "x = 1\n"})
    os.chmod(classmate, 0o755)
    os.chmod(classmate / "chain_rule.py", 0o644)
    listener = socket.create_server(("127.0.0.1", 0))
    yield {
        "reference": str(ROOT / "solutions" / "chain_rule.py"),
        "course": str(ROOT / "pyproject.toml"),
        "secret": str(secret),
        "victim": str(classmate / "chain_rule.py"),
        "out": str(base / "out"),
        "port": str(listener.getsockname()[1]),
    }
    listener.close()
    shutil.rmtree(base, ignore_errors=True)


def _attack_report(folder: Path, places: dict[str, str], monkeypatch, mode: str) -> dict:
    code = _ATTACK
    for key, value in places.items():
        code = code.replace("{" + key + "!r}", repr(value)).replace("{" + key + "}", value)
    source = reference_source("chain_rule") + "\n\n" + code.replace("{{", "{").replace("}}", "}")
    submission = write_submission(folder, {"chain_rule.py": source})
    monkeypatch.setenv(jail.MODE_VARIABLE, mode)
    with Sandbox(tensorflow=False) as sandbox:
        assert sandbox.mode == mode
        report = grade_submission(submission, sandbox=sandbox).to_dict()
    return {t["name"]: t for t in report["tests"]}


@NEEDS_DROPPED
@NEEDS_LANDLOCK
def test_dropped_mode_stops_the_file_network_and_cross_student_attacks(
    tmp_path, places, monkeypatch
):
    """In ``dropped`` mode the attack reaches nothing; in ``process`` mode (as root) it
    reaches every place, so the places are really there to reach."""
    plain = _attack_report(tmp_path / "plain", places, monkeypatch, "process")
    reached = plain["chain_rule.sgd_update"]["details"]
    assert "reached ref course secret victim out tcp" in reached, reached
    os.remove(Path(places["out"]) / "results.json")

    dropped = _attack_report(tmp_path / "dropped", places, monkeypatch, "dropped")
    target = dropped["chain_rule.sgd_update"]
    assert target["score"] == 0 and NOTHING in target["details"], target["details"]
    assert not (Path(places["out"]) / "results.json").exists()
    others = [
        t for name, t in dropped.items() if name.startswith("chain_rule.") and t is not target
    ]
    assert others and all(t["score"] == t["max_score"] for t in others)


@NEEDS_DROPPED
def test_dropped_isolation_line_names_what_holds(monkeypatch):
    """The instructor's line names the dropped user and what Landlock holds here."""
    monkeypatch.setenv(jail.MODE_VARIABLE, "dropped")
    line = jail.missing_protections()
    assert line.startswith("Isolation: dropped privileges (GRADER_ISOLATION=dropped): ")
    assert "no capabilities, no_new_privs" in line and "no seccomp filter" in line
    held = jail.landlock_held()
    assert ("Landlock limits files" in line) == ("files" in held)
    assert ("refuses TCP" in line) == ("tcp" in held)


# The first classmate plants a file in its HOME and next to its own folder; the second,
# graded next by the same worker (same uid), looks for them. Its sgd_update is right only
# when it finds nothing.
_PLANT = """
import os
def sgd_update(param, grad, learning_rate):
    for folder in (os.path.expanduser('~'), os.path.dirname(os.getcwd())):
        try:
            with open(os.path.join(folder, 'planted.txt'), 'w') as stream:
                stream.write('the first classmate was here')
        except OSError:
            pass
    return param - learning_rate * grad
"""
_LOOK = """
import os
def sgd_update(param, grad, learning_rate):
    found = []
    for folder in (os.path.expanduser('~'), os.path.dirname(os.getcwd())):
        try:
            found += [name for name in os.listdir(folder) if name == 'planted.txt']
        except OSError:
            pass
    if found:
        raise PermissionError('found ' + ' '.join(found))
    return param - learning_rate * grad
"""


@NEEDS_DROPPED
@NEEDS_LANDLOCK
def test_dropped_classmates_graded_by_one_worker_share_no_folder(tmp_path, monkeypatch):
    """In ``dropped`` mode every submission a worker grades runs as the same uid: does each
    write only its own folder (removed when it ends), so that nothing one leaves in HOME or
    beside its folder reaches the next?"""
    monkeypatch.setenv(jail.MODE_VARIABLE, "dropped")
    first = write_submission(
        tmp_path / "first", {"chain_rule.py": reference_source("chain_rule") + _PLANT}
    )
    second = write_submission(
        tmp_path / "second", {"chain_rule.py": reference_source("chain_rule") + _LOOK}
    )
    with Sandbox(tensorflow=False) as sandbox:
        assert sandbox.mode == "dropped"
        grade_submission(first, sandbox=sandbox)
        report = grade_submission(second, sandbox=sandbox).to_dict()
    looked = next(t for t in report["tests"] if t["name"] == "chain_rule.sgd_update")
    assert looked["score"] == looked["max_score"], looked["details"]
