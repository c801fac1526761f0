"""The secret the hidden cases are drawn from.

The hidden cases must not be reproducible from the repository, so there is no public
default: the secret is the instructor's ``GRADER_SEED`` (at least 128 bits: e.g. 32 random
hex digits), or else a random 256-bit secret kept in a file of the course folder
(``.grader-secret`` beside the ``grader`` package, ignored by git), made on first use with
a one-line notice on stderr. Gradescope's ``setup.sh`` makes it when the autograder image is
built, so that every submission of an assignment meets the same hidden cases.

Only a fingerprint of the secret is ever recorded (:func:`secret_fingerprint`); the worker
never sees the secret (:func:`grader.isolation.sandbox.worker_environment` drops the variable, and the
jail hides the course folder).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

from grader.paths import ROOT

#: Environment variable holding the instructor's secret for the hidden cases.
SEED_VARIABLE = "GRADER_SEED"
#: Environment variable naming another secret file (default: :func:`secret_path`).
FILE_VARIABLE = "GRADER_SECRET_FILE"
#: The secret file's name in the course folder.
SECRET_NAME = ".grader-secret"
#: Fewest characters of a GRADER_SEED taken without a warning (16 hex digits = 64 bits;
#: the documentation asks for 32).
_SHORT = 16


def secret_path() -> Path:
    """Where the course's secret file is: ``GRADER_SECRET_FILE``, or the course folder's."""
    named = os.environ.get(FILE_VARIABLE, "").strip()
    if named:
        return Path(named)
    return ROOT / SECRET_NAME


def _in_notebook() -> bool:
    """Whether this runs in a notebook's kernel (not merely a process that imported it)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def load_secret(notice: bool | None = None) -> str:
    """The secret text: ``GRADER_SEED``, else the course's secret file (made if missing).

    Args:
        notice: print a one-line notice on stderr when the file is made (default: yes,
            except inside a notebook's kernel).

    Returns:
        the secret, never empty.

    Raises:
        OSError: when the secret file can be neither read nor made.
    """
    text = os.environ.get(SEED_VARIABLE, "").strip()
    if text:
        if len(text) < _SHORT:
            print(
                f"Warning: {SEED_VARIABLE} has {len(text)} characters; use at least 32 random "
                "hex digits so that the hidden cases cannot be guessed.",
                file=sys.stderr,
            )
        return text
    path = secret_path()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if text:
        return text
    text = secrets.token_hex(32)  # 256 bits
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made by a parallel process meanwhile: use theirs
        return path.read_text(encoding="utf-8").strip() or load_secret(notice)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text + "\n")
    if notice if notice is not None else not _in_notebook():
        print(
            f"Made a new secret for the hidden cases in {path} (keep it with the course; "
            f"or set {SEED_VARIABLE}).",
            file=sys.stderr,
        )
    return text


def seed_from_secret(text: str) -> int:
    """The 256-bit seed of the hidden cases derived from a secret text."""
    return int.from_bytes(hashlib.sha256(b"hidden cases\0" + text.encode()).digest(), "big")


def hidden_seed(notice: bool | None = None) -> int:
    """The seed of the hidden cases, from :func:`load_secret`.

    Args:
        notice: passed to :func:`load_secret`.

    Returns:
        a non-negative integer of up to 256 bits.
    """
    return seed_from_secret(load_secret(notice))


def secret_fingerprint(seed: int | None = None) -> str:
    """A short digest that tells two secrets apart and reveals nothing of either.

    Args:
        seed: the seed (default: :func:`hidden_seed`).

    Returns:
        16 hex digits.
    """
    value = hidden_seed() if seed is None else seed
    return hashlib.sha256(b"fingerprint\0" + str(value).encode()).hexdigest()[:16]


if __name__ == "__main__":  # setup.sh: make the course's secret now, if there is none
    load_secret()
