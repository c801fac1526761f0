"""Whether a stored report is up to date: the digest of what it was made from.

A report is up to date while the student's part files, the grader's and the reference's
code and the hidden cases' seed are those it was made from; :func:`fingerprint` digests the
three, so a batch run again regrades exactly the changed submissions, and a Dask worker
with another version of the grader (:func:`grader_version`) is given no student.
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from grader.paths import PACKAGE, ROOT
from grader.scale.students import PART_SUFFIXES, Student


def _digest_files(paths: list[Path], base: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(base)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def grader_version() -> str:
    """A digest of the grader's and the reference's code: a change means regrading."""
    files = [*PACKAGE.rglob("*.py"), *(ROOT / "solutions").glob("*.py")]
    return _digest_files([f for f in files if f.is_file()], ROOT)


def fingerprint(student: Student, version: str, seed: int) -> str:
    """What a report was made from: the student's files, the grader and the seed."""
    # lstat, not is_file(): a link or a FIFO named like a part file is never followed or
    # read here (it could point at /dev/zero); its name alone goes into the digest, and
    # grading refuses it with a message.
    named = [p for p in student.folder.iterdir() if p.suffix.lower() in PART_SUFFIXES]
    files = [p for p in named if stat.S_ISREG(p.lstat().st_mode)]
    others = sorted(p.name for p in named if p not in files)
    seed_digest = hashlib.sha256(str(seed).encode()).hexdigest()
    return hashlib.sha256(
        (_digest_files(files, student.folder) + repr(others) + version + seed_digest).encode()
    ).hexdigest()
