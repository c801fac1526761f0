"""Fixtures for grading submissions written on the fly, with one shared worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.isolation.sandbox import Sandbox
from grader.results import Report


def write_submission(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``folder`` holding ``{file name: text or bytes}``; return it."""
    folder.mkdir()
    for name, content in files.items():
        if isinstance(content, bytes):
            (folder / name).write_bytes(content)
        else:
            (folder / name).write_text(content, encoding="utf-8")
    return folder


@pytest.fixture
def grade_sources(tmp_path: Path, shared_sandbox: Sandbox) -> Callable[..., Report]:
    """Write ``{file name: text}`` into a fresh directory and grade it."""

    def grade(files: dict[str, str], **kwargs) -> Report:
        folder = write_submission(tmp_path / f"submission{len(list(tmp_path.iterdir()))}", files)
        return grade_submission(folder, sandbox=shared_sandbox, **kwargs)

    return grade
