"""Keep TensorFlow's log noise off stderr.

nbgrader scores a test cell that writes to stderr as failed, and a student should not
have to read C++ start-up logs. Call :func:`silence_tensorflow` before TensorFlow is
imported.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType

_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",  # C++ INFO, WARNING and ERROR logs
    "TF_ENABLE_ONEDNN_OPTS": "0",  # the oneDNN notice, and bitwise-repeatable kernels
    "GRPC_VERBOSITY": "ERROR",
    "ABSL_MIN_LOG_LEVEL": "3",
    "KERAS_BACKEND": "tensorflow",
    "CUDA_VISIBLE_DEVICES": "-1",
}


def quiet_environment() -> dict[str, str]:
    """Return the environment variables that keep TensorFlow quiet."""
    return dict(_ENVIRONMENT)


def silence_tensorflow() -> None:
    """Set the quiet environment and Python-level log filters for TensorFlow."""
    for key, value in _ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


@contextlib.contextmanager
def stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration of the block.

    TensorFlow's native code logs a few lines at import time before its own log level
    is read; only closing the descriptor keeps them off stderr.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


_INITIALISED = False


def import_tensorflow(initialise: bool = True) -> ModuleType:
    """Import TensorFlow (and Keras) with every start-up log line suppressed.

    Args:
        initialise: also set up TensorFlow's runtime (its devices), whose log lines come
            then. A process that will fork must not: TensorFlow's runtime does not survive
            a fork, while a bare import does.

    Returns:
        the ``tensorflow`` module.
    """
    global _INITIALISED
    silence_tensorflow()
    with stderr_silenced():
        # lazy: importing TensorFlow is this function's job, with its log lines silenced
        import keras  # noqa: F401
        import tensorflow

        tensorflow.get_logger().setLevel(logging.ERROR)
        if initialise and not _INITIALISED:
            tensorflow.config.list_logical_devices()  # device set-up logs now, silenced
            _INITIALISED = True
    return tensorflow
