"""Does the jail start whatever folder TMPDIR names?"""

from __future__ import annotations

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
