"""The student kit, built once per test process for the kit's tests."""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest

from grader.course.kit import build_kit


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A kit built into a temporary folder: its folder, its wheel, how long it took, the
    progress lines it said and the warnings raised while it was built."""
    out = tmp_path_factory.mktemp("kit")
    said: list[str] = []
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wheel = build_kit(out, progress=said.append)
    return {
        "out": out,
        "wheel": wheel,
        "build_seconds": time.perf_counter() - start,
        "progress": said,
        "warnings": [
            f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
        ],
    }
