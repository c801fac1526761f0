"""The Gradescope autograder: the zip an instructor uploads.

``python -m grader gradescope --out autograder.zip`` writes a zip laid out as Gradescope's
autograder specification asks: Gradescope unpacks it in ``/autograder/source``, runs
``setup.sh`` there once when it builds the image, copies ``run_autograder`` to
``/autograder/run_autograder`` and runs it for each submission. The zip holds, and only:

- ``setup.sh``: installs the wheel below with pip (its dependencies, TensorFlow among them,
  from PyPI at image build), and the jail's tools with apt-get; makes the secret readable by
  its owner only, and the source folder too;
- ``run_autograder``: grades ``/autograder/submission`` into
  ``/autograder/results/results.json`` (``grader/gradescope/run_autograder``);
- ``.grader-secret``: the course's secret of the hidden cases (:func:`grader.secret.load_secret`:
  ``GRADER_SEED``, else the course folder's file), so that Gradescope's students meet the
  cases a local batch of the same course meets; ``run_autograder`` names it to the grader
  with ``GRADER_SECRET_FILE``;
- ``wheels/exploding_gradients_course-<version>-py3-none-any.whl``: the package as
  ``pip install`` installs it (not an editable checkout of the repository): ``grader``, the
  reference ``solutions`` modules it grades against, and the released notebooks and stubs
  as package data (``grader/release/``), which tell a stub left as released from the file a
  student wrote and a notebook's edited test cells. Not in it: the tests, the lessons, the
  nbgrader source notebooks, the examples, the documentation.

The student's code never sees this folder: the jail shows it only the submission (see
``SECURITY.md``).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from grader.assignment import ASSIGNMENT
from grader.course.kit import pip_wheel
from grader.paths import PACKAGE, ROOT
from grader.secret import SECRET_NAME, load_secret

#: Gradescope's two scripts, in the repository.
SCRIPTS = PACKAGE / "gradescope"
#: The folder of the zip that holds the wheel.
WHEELS = "wheels"
#: The released notebooks and stubs, in the wheel (``grader.submission.RELEASE_DIR`` there).
RELEASE_IN_PACKAGE = "release"
#: The package data the wheel adds to the repository's ``pyproject.toml``.
PACKAGE_DATA = f'\n[tool.setuptools.package-data]\ngrader = ["{RELEASE_IN_PACKAGE}/*"]\n'
#: A fixed time for every entry, so that the same course gives the same zip.
ZIP_TIME = (2020, 1, 1, 0, 0, 0)


class GradescopeError(RuntimeError):
    """The autograder zip could not be built (pip failed)."""


def _stage_project(project: Path) -> None:
    """Copy what the wheel is built from into ``project``: no tests, lessons or notebooks."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (project / "pyproject.toml").write_text(text + PACKAGE_DATA, encoding="utf-8")
    shutil.copy(ROOT / "README.md", project / "README.md")
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "gradescope")
    shutil.copytree(PACKAGE, project / "grader", ignore=junk)
    (project / "solutions").mkdir()
    for module in sorted((ROOT / "solutions").glob("*.py")):
        shutil.copy(module, project / "solutions" / module.name)
    release = project / "grader" / RELEASE_IN_PACKAGE
    release.mkdir()
    for stub in sorted((ROOT / "exercises" / ASSIGNMENT).glob("*")):
        if stub.suffix in (".ipynb", ".py"):
            shutil.copy(stub, release / stub.name)


def build_wheel(wheels: Path) -> Path:
    """Build the course package's wheel into ``wheels`` with ``pip wheel``.

    It is built from a copy of the package (in a temporary folder), so nothing is written
    in the repository (:func:`grader.course.kit.pip_wheel`, as the kit's is built).

    Args:
        wheels: the folder to write the wheel into.

    Returns:
        the wheel's path.

    Raises:
        GradescopeError: when pip fails.
    """
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        project.mkdir()
        _stage_project(project)
        if failure := pip_wheel(project, wheels):
            raise GradescopeError(failure)
    found = sorted(wheels.glob("exploding_gradients_course-*.whl"))
    if len(found) != 1:
        raise GradescopeError(f"pip wheel wrote {len(found)} course wheels in {wheels}")
    return found[0]


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    entry = zipfile.ZipInfo(name, ZIP_TIME)
    entry.external_attr = (0o100000 | mode) << 16  # a regular file with these permissions
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, data)


def build_autograder_zip(out: Path) -> list[str]:
    """Write Gradescope's autograder zip (see the module's docstring for what it holds).

    Args:
        out: the zip's path (replaced if it exists).

    Returns:
        the zip's entries, in order.

    Raises:
        GradescopeError: when the wheel cannot be built.
        OSError: when ``out`` cannot be written (a folder that cannot be made: before the
            wheel is built).
    """
    secret = load_secret()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = build_wheel(Path(scratch))
        with zipfile.ZipFile(out, "w") as archive:
            for script in ("setup.sh", "run_autograder"):
                _add(archive, script, (SCRIPTS / script).read_bytes(), 0o755)
            _add(archive, SECRET_NAME, (secret + "\n").encode(), 0o600)
            _add(archive, f"{WHEELS}/{wheel.name}", wheel.read_bytes(), 0o644)
            return archive.namelist()
