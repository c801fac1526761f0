"""Does the jail start whatever folder TMPDIR names and wherever the interpreter lives, and
say why when it cannot?"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from grader.isolation import jail
from tests.paths import ROOT


@pytest.fixture
def private_tmpdir(tmp_path: Path) -> Path:
    """A TMPDIR inside a folder only its owner may enter (as a per-user TMPDIR is)."""
    private = tmp_path / "private"
    inner = private / "tmp"
    inner.mkdir(parents=True)
    os.chmod(private, 0o700)
    yield inner
    os.chmod(private, 0o755)


def test_a_folder_for_nobody_avoids_a_tmpdir_others_cannot_enter(private_tmpdir, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmpdir))
    assert not jail.readable_by_others(private_tmpdir)
    folder = jail.traversable_temporary_folder("grader-test-")
    try:
        assert private_tmpdir not in folder.parents
        assert jail.readable_by_others(folder.parent)
    finally:
        folder.rmdir()


def test_a_folder_for_nobody_goes_in_tmpdir_when_others_can_enter_it(monkeypatch):
    if not jail.readable_by_others(Path("/tmp")):
        pytest.skip("no temporary folder open to others here")
    shared = Path(tempfile.mkdtemp(prefix="shared-tmpdir-", dir="/tmp"))
    os.chmod(shared, 0o755)
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    try:
        folder = jail.traversable_temporary_folder("grader-test-")
        assert folder.parent == shared
    finally:
        shutil.rmtree(shared)


@pytest.mark.slow
def test_the_jail_starts_when_tmpdir_is_closed_to_others(private_tmpdir):
    """Before, the copy of bwrap and the staged folders went into TMPDIR, which nobody
    could not reach, and the worker ran as a plain process."""
    if not jail._jail_works():
        pytest.skip("this machine cannot make the jail at all")
    code = "from grader.isolation import jail; print(jail.mode())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "TMPDIR": str(private_tmpdir)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "namespace"


# -- wherever the interpreter lives ---------------------------------------------------

#: Run by the interpreter under test: a NumPy-only worker, and one call that tries to read
#: a file of the host and says which Python it runs in. Prints the mode, the reason for a
#: plain process, and the call's answer: 2 (prefix) + 1 (the host file was read).
_WORKER_VIEW = """
import json, sys
from grader.checks.runner import SubprocessRunner
from grader.isolation import jail
from grader.isolation.sandbox import Sandbox
from grader.submission import PartCode

host_file, prefix = sys.argv[1], sys.argv[2]
code = f'''
import sys
def sigmoid(z):
    try:
        with open({host_file!r}) as stream:
            stream.read()
        read = 1.0
    except OSError:
        read = 0.0
    return read + (2.0 if sys.prefix == {prefix!r} else 0.0)
'''
sandbox = Sandbox(tensorflow=False)
try:
    part = PartCode("chain_rule", path=None, kind="module", cells=[("chain_rule.py", code)])
    outcome = SubprocessRunner(sandbox, {"chain_rule": part}).call("chain_rule", "sigmoid", [0.0])
    answer = float(outcome.value) if outcome.ok else repr(outcome)
    print(json.dumps([sandbox.mode, jail.fallback_reason(), answer]))
finally:
    sandbox.close()
"""


@pytest.fixture(scope="module")
def venv_under_tmp(tmp_path_factory) -> Path:
    """A venv in the temporary folder, seeing this environment's packages (the grader)."""
    folder = tmp_path_factory.mktemp("interpreter") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)],
        check=True,
        timeout=300,
    )
    return folder


def worker_view(
    python: Path, tmp_path: Path, mode: str | None = None
) -> tuple[str, str, float | str]:
    """What :data:`_WORKER_VIEW` prints when ``python`` runs it (in ``mode`` when given)."""
    host_file = tmp_path / "host-only.txt"
    host_file.write_text("the grader's eyes only")
    prefix = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k != jail.MODE_VARIABLE}
    if mode:
        env[jail.MODE_VARIABLE] = mode
    result = subprocess.run(
        [str(python), "-c", _WORKER_VIEW, str(host_file), prefix],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return tuple(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
@pytest.mark.parametrize("reached", ["directly", "through-a-link"])
def test_the_worker_is_jailed_with_the_interpreter_in_a_venv_under_tmp(
    venv_under_tmp, tmp_path, reached
):
    """With the interpreter in a venv under the temporary folder, does the worker start in
    the jail, in that venv, unable to read the host's files?

    Before, bwrap bound the venv and then mounted the jail's private /tmp over it: the
    probe failed (``execvp .../bin/python: No such file or directory``) and every worker
    ran as a plain process. A venv reached through a linked folder must be found too.
    """
    if not jail._jail_works():
        pytest.skip("this machine cannot make the jail at all: " + jail.fallback_reason())
    assert Path(tempfile.gettempdir()).resolve() in venv_under_tmp.resolve().parents
    venv = venv_under_tmp
    if reached == "through-a-link":
        venv = tmp_path / "linked-venv"
        venv.symlink_to(venv_under_tmp, target_is_directory=True)
    mode, reason, answer = worker_view(venv / "bin" / "python", tmp_path)
    assert (mode, reason) == ("namespace", "")
    assert answer == 2.0  # in the venv (2), and the host's file unread (not + 1)


@pytest.mark.slow
def test_the_plain_process_worker_reads_the_host_file(venv_under_tmp, tmp_path):
    """The other way round: forced into a plain process, does the same view read the host's
    file (so that the jailed answer above is the jail's doing)?"""
    mode, reason, answer = worker_view(venv_under_tmp / "bin" / "python", tmp_path, "process")
    assert (mode, reason) == ("process", f"{jail.MODE_VARIABLE}=process")
    assert answer == 3.0  # in the venv (2), and the host's file read (+ 1)


# -- why a plain process --------------------------------------------------------------


@pytest.mark.parametrize(
    "status, stderr, expected",
    [
        (
            1,
            b"bwrap: execvp /x/venv/bin/python: No such file or directory\n",
            "bwrap failed (exit status 1): execvp /x/venv/bin/python: No such file or directory",
        ),
        (
            1,
            b"Traceback (most recent call last):\n  File x\nImportError: no module named json\n",
            "bwrap failed (exit status 1): ImportError: no module named json",
        ),
        (-9, b"", "bwrap failed (killed by signal 9): no message"),
        (
            1,
            b"bwrap: boom\x1b]0;owned\x07\n",
            "bwrap failed (exit status 1): boom\\x1b]0;owned\\x07",
        ),
    ],
    ids=["execvp", "traceback", "signal", "control-characters"],
)
def test_a_failed_probe_is_told_by_its_own_last_line(status, stderr, expected):
    """Is the reason the probe's own message (its last line), escaped for a terminal?"""
    assert jail.probe_failure(status, b"", stderr) == expected


def test_a_long_probe_message_is_bounded():
    """Does a probe that writes pages give a reason of bounded length, on one line?"""
    reason = jail.probe_failure(1, b"", b"bwrap: " + b"x" * 5000 + b"\r\n")
    assert len(reason) == jail.REASON_CHARACTERS and reason.endswith("...")
    assert "\n" not in reason and "\r" not in reason


def test_a_probe_that_runs_but_cannot_nest_says_so():
    """When bwrap started but the probe could not make a submission's namespaces inside it,
    is that the reason (from what the probe printed), not a bwrap failure?"""
    verdict = (
        b"a process in the jail may not make a submission's namespaces: Operation not permitted\n"
    )
    reason = jail.probe_failure(0, verdict, b"")
    assert reason.startswith("jail incomplete: a process in the jail may not make")
    assert "bwrap failed" not in reason


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the jail is Linux's")
def test_a_bwrap_that_fails_puts_its_reason_in_the_isolation_line(tmp_path):
    """With a bwrap that fails as a system's may (user namespaces refused), does the one
    isolation line say why, in bwrap's words, escaped?"""
    folder = jail.traversable_temporary_folder("failing-bwrap-")  # nobody runs it as root
    try:
        os.chmod(folder, 0o755)
        fake = folder / "bwrap"
        fake.write_text(
            "#!/bin/sh\n"
            "printf 'bwrap: setting up uid map: Permission denied\\033[2J\\n' >&2\nexit 1\n"
        )
        fake.chmod(0o755)
        code = "from grader.isolation import jail; print(jail.missing_protections())"
        env = {k: v for k, v in os.environ.items() if k != jail.MODE_VARIABLE}
        env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            env=env,
        )
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip()
    # As root, the dropped mode takes over where it can start (tests/grader/isolation/test_dropped.py).
    kind = "dropped privileges" if os.geteuid() == 0 and jail.dropped_works() else "plain process"
    assert line.startswith(
        f"Isolation: {kind} (bwrap failed (exit status 1): setting up uid map: "
        "Permission denied\\x1b[2J): "
    ), line
    assert "\x1b" not in line and len(line.splitlines()) == 1


def test_the_jail_says_nothing_and_a_forced_process_names_the_variable(monkeypatch):
    """Is the reason empty in the jail, and the variable named when it forces a process?"""
    monkeypatch.setenv(jail.MODE_VARIABLE, "process")
    assert jail.fallback_reason() == f"{jail.MODE_VARIABLE}=process"
    assert jail.missing_protections().startswith(
        f"Isolation: plain process ({jail.MODE_VARIABLE}=process): "
    )
    monkeypatch.delenv(jail.MODE_VARIABLE)
    if jail.mode() == "namespace":
        assert jail.fallback_reason() == ""
    else:
        assert jail.fallback_reason() and jail.fallback_reason() in jail.missing_protections()
