"""The resource limits the grader asked this worker to keep.

The grader passes them in the environment (:mod:`grader.isolation.sandbox`); the worker sets
them on its processes (:func:`apply_limits`) and names them when code runs past one
(:func:`grader.worker.calls.describe_error`).
"""

from __future__ import annotations

import json
import os
import signal

from grader.worker import landlock

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
#: What Landlock holds in this worker (``files``, ``tcp``, ``signals``): filled by
#: :func:`apply_limits` in ``dropped`` mode, empty elsewhere.
RESTRICTED: list[str] = []


def requested() -> dict[str, int]:
    """The limits the grader asked for in the environment, in MB or counts (0 where there
    is none)."""
    return {key: int(os.environ.get(variable, "0") or 0) for key, variable in VARIABLES}


def apply_limits() -> dict[str, int]:
    """Set the memory and file-size limits the grader asked for (in the environment).

    In ``dropped`` mode (:data:`grader.worker.landlock.VARIABLE` set) it also restricts the
    worker's file access to the grader's allow-list with Landlock, where the kernel has it.

    Returns:
        the limits, in MB or counts (0 where there is none); the per-submission ones
        (``processes``, ``scratch_mb``) are set by :func:`grader.worker.confine.isolate_submission`.
    """
    # lazy: resource is Unix-only; the notebook's runner imports this module on any system
    import resource

    wanted = requested()
    if wanted["memory_mb"]:
        size = wanted["memory_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if wanted["output_mb"]:
        size = wanted["output_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    allowed = os.environ.get(landlock.VARIABLE)
    if allowed:  # dropped mode: the grader's allow-list, before any student code
        paths = json.loads(allowed)
        RESTRICTED[:] = landlock.restrict(paths["read"], paths["write"])
    return wanted
