"""The hidden cases come from a secret of at least 128 bits, never from a public default."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from grader import secret
from tests.paths import ROOT


@pytest.fixture
def course(tmp_path, monkeypatch) -> Path:
    """A course folder without GRADER_SEED and without a secret yet."""
    monkeypatch.delenv(secret.SEED_VARIABLE, raising=False)
    path = tmp_path / secret.SECRET_NAME
    monkeypatch.setenv(secret.FILE_VARIABLE, str(path))
    return path


def test_the_secret_file_is_made_once_with_one_line_of_notice(course, capsys):
    """Is a 256-bit secret made on first use, said in one stderr line, and reused after?"""
    first = secret.hidden_seed()
    notice = capsys.readouterr().err
    assert len(notice.strip().splitlines()) == 1 and "secret" in notice
    text = course.read_text().strip()
    assert len(text) == 64 and int(text, 16) >= 0  # 32 random bytes
    assert course.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert secret.hidden_seed() == first and capsys.readouterr().err == ""
    assert first.bit_length() > 128


def test_no_public_default_two_courses_draw_different_cases(course, tmp_path, monkeypatch):
    """Do two course folders without GRADER_SEED get different seeds (no fixed default)?"""
    first = secret.hidden_seed(notice=False)
    monkeypatch.setenv(secret.FILE_VARIABLE, str(tmp_path / "other" / secret.SECRET_NAME))
    assert secret.hidden_seed(notice=False) != first
    assert 7_345_123 not in (first, secret.hidden_seed(notice=False))


def test_grader_seed_wins_and_only_its_fingerprint_is_shown(course, monkeypatch, capsys):
    """Does GRADER_SEED set the seed (no file made), and does the fingerprint reveal neither?"""
    monkeypatch.setenv(secret.SEED_VARIABLE, "0123456789abcdef0123456789abcdef")
    seed = secret.hidden_seed()
    assert not course.exists() and capsys.readouterr().err == ""
    fingerprint = secret.secret_fingerprint()
    assert "0123456789abcdef" not in fingerprint and str(seed) not in fingerprint
    monkeypatch.setenv(secret.SEED_VARIABLE, "fedcba9876543210fedcba9876543210")
    assert secret.hidden_seed() != seed and secret.secret_fingerprint() != fingerprint
    monkeypatch.setenv(secret.SEED_VARIABLE, "1234")
    secret.hidden_seed()
    assert "Warning: GRADER_SEED has 4 characters" in capsys.readouterr().err


def test_no_notice_inside_a_notebook(course, monkeypatch, capsys):
    """Is the secret made silently in a notebook's kernel (and only there: a process that
    merely imported ipykernel is not one)?"""
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    secret.hidden_seed()
    assert course.exists() and "secret" in capsys.readouterr().err
    course.unlink()

    class ZMQInteractiveShell:  # the kernel's shell, as IPython.get_ipython() returns it
        pass

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = ZMQInteractiveShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    secret.hidden_seed()
    assert course.exists() and capsys.readouterr().err == ""


def test_the_secret_file_is_ignored_by_git_and_made_by_setup(course):
    """Is .grader-secret ignored by git, and does `python -m grader.secret` make it?"""
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", secret.SECRET_NAME], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0
    subprocess.run([sys.executable, "-m", "grader.secret"], check=True, timeout=60)
    assert len(course.read_text().strip()) == 64
