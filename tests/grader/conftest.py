"""Fixtures for grading submissions written on the fly, with one shared worker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from grader.grade import grade_submission
from grader.results import Report
from grader.sandbox import Sandbox


@pytest.fixture(scope="session")
def shared_sandbox():
    """One worker for the whole session: TensorFlow is imported in it once."""
    sandbox = Sandbox(tensorflow=True)
    yield sandbox
    sandbox.close()


@pytest.fixture
def grade_sources(tmp_path: Path, shared_sandbox: Sandbox) -> Callable[..., Report]:
    """Write ``{file name: text}`` into a fresh directory and grade it."""

    def grade(files: dict[str, str], **kwargs) -> Report:
        folder = tmp_path / f"submission{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return grade_submission(folder, sandbox=shared_sandbox, **kwargs)

    return grade
