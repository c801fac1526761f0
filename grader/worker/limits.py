"""The resource limits the grader asked this worker to keep.

The grader passes them in the environment (:mod:`grader.isolation.sandbox`); the worker sets
them on its processes (:func:`grader.worker.confine.apply_limits`) and names them when code
runs past one (:func:`grader.worker.calls.describe_error`).
"""

from __future__ import annotations

import os

#: Each limit and the environment variable that holds it.
VARIABLES = (
    ("memory_mb", "GRADER_MEMORY_MB"),
    ("output_mb", "GRADER_OUTPUT_MB"),
    ("processes", "GRADER_PROCESSES"),
    ("scratch_mb", "GRADER_SCRATCH_MB"),
)

#: The limits in force in this worker, in MB or counts (0 where there is none): filled by
#: :func:`grader.worker.serve.main`, empty elsewhere (a notebook's kernel).
LIMITS: dict[str, int] = {}


def requested() -> dict[str, int]:
    """The limits the grader asked for in the environment, in MB or counts (0 where there
    is none)."""
    return {key: int(os.environ.get(variable, "0") or 0) for key, variable in VARIABLES}
