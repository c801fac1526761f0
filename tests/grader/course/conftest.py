"""The student kit, built once per test process for the kit's tests."""

from __future__ import annotations

import time
from typing import Any

import pytest

from grader.course.kit import build_kit


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A kit built into a temporary folder: its folder, its wheel and how long it took."""
    out = tmp_path_factory.mktemp("kit")
    start = time.perf_counter()
    wheel = build_kit(out)
    return {"out": out, "wheel": wheel, "build_seconds": time.perf_counter() - start}
