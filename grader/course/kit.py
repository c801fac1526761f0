"""The student kit: what an instructor hands to students, without the answers.

``python -m grader kit --out DIR`` writes:

- ``DIR/exploding_gradients/``: the released notebooks and ``.py`` stubs (the notebooks'
  first cell names the kit's install command, not the course's: :func:`kit_notebook`);
- ``DIR/wheels/exploding_gradients_kit-<version>-py3-none-any.whl``: an installable
  ``grader`` package with what ``check(...)`` and the kit's ``python -m grader check FOLDER``
  (:mod:`grader.self_check`, with its HTML page) need and nothing more: the checks, the
  comparison, diagnosis and feedback code, and data recorded from the full package now
  (JSON, arrays as raw bytes, never pickle; :mod:`grader.checks.expected` reads them): the
  public cases' expected values, and what each known mistake gives on each public case;
  and the released stubs' fingerprints, which tell the file a student wrote from the one
  left as released (:func:`grader.submission.choose_part_file`). Its extra ``[jupyter]``
  installs JupyterLab with it;
- ``DIR/README.md``: how a student installs it, opens the notebooks and checks a folder.

The wheel holds no code that computes a contract function's answer: no reference solution
(no ``solutions`` package, no module that imports it), no simulator of a known mistake
(:mod:`grader.checks.simulators`: one with its switches at their defaults is an answer; the
kit diagnoses from the recorded values instead), no gradient measuring
(:mod:`grader.measuring.measure` and :mod:`grader.measuring.in_worker` compute
``dense_grad_norms``' answer; a kit measures with the student's own, once it passes, and
trains with Keras's ``model.fit``: :mod:`grader.checks.measurer`) and no trusted clipped step
(:mod:`grader.worker.trusted_step`, an answer to ``clipped_train_step``; a kit replays the
recorded steps). Those modules are left out whole, not edited: the kit's modules reach them
only through imports marked "full package only", which the kit does without
(``tests/grader/test_layout.py`` checks both; ``tests/grader/course/test_kit_audit.py`` calls
every function of the wheel on the public cases and finds none that gives an answer). Nor
does the wheel hold a hidden case (only the public seed's cases are recorded) or the hidden
cases' default seed (``grader/grade.py`` stays out). It is built by ``pip wheel`` from a
generated project with its own ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grader.assignment import ASSIGNMENT, FUNCTIONS
from grader.paths import PACKAGE, ROOT
from grader.submission import RELEASED_STUBS, released_fingerprints

RELEASE = ROOT / "exercises" / ASSIGNMENT
KIT_NAME = "exploding-gradients-kit"
KIT_VERSION = "0.1.0"

#: The modules of ``grader`` the kit ships: what ``grader.notebook.check`` and the kit's
#: ``python -m grader`` (:mod:`grader.self_check`, with the student's HTML page) import. Left
#: out: grading on hidden cases (``grade.py`` holds the default hidden seed), the full CLI,
#: batches, the class report and the gradebook, the generators (they read the reference),
#: this module, and the code that computes answers (the simulators of known mistakes, the
#: grader's gradient measuring and its trusted clipped step: see the module's docstring).
KIT_MODULES = (
    "__init__.py",
    "__main__.py",
    "assignment.py",
    "demos.py",
    "escaping.py",
    "locate.py",
    "notebook.py",
    "paths.py",
    "quiet.py",
    "results.py",
    "self_check.py",
    "submission.py",
    "checks/__init__.py",
    "checks/compare.py",
    "checks/expected.py",
    "checks/measurer.py",
    "checks/mistakes.py",
    "checks/oracle.py",
    "checks/policy.py",
    "checks/recipes.py",
    "checks/registry.py",
    "checks/runner.py",
    "checks/shown_inputs.py",
    "checks/parts/__init__.py",
    "checks/parts/chain_rule.py",
    "checks/parts/clipping.py",
    "checks/parts/deep_sigmoid.py",
    "checks/parts/remedies.py",
    "isolation/__init__.py",
    "isolation/cgroups.py",
    "isolation/jail.py",
    "isolation/libraries.py",
    "isolation/protocol.py",
    "isolation/sandbox.py",
    "measuring/__init__.py",
    "measuring/activations.py",
    "measuring/bounds.py",
    "measuring/data.py",
    "measuring/layout.py",
    "measuring/live.py",
    "measuring/optimizers.py",
    "measuring/plain.py",
    "measuring/reading.py",
    "measuring/rebuild.py",
    "measuring/stack.py",
    "measuring/vetting.py",
    "reports/__init__.py",
    "reports/figures.py",
    "reports/formats.py",
    "reports/html.py",
    "worker/__init__.py",
    "worker/__main__.py",
    "worker/calls.py",
    "worker/confine.py",
    "worker/clip_watch.py",
    "worker/guards.py",
    "worker/landlock.py",
    "worker/limits.py",
    "worker/loading.py",
    "worker/reaping.py",
    "worker/serve.py",
)
#: The kit's packages: the folders of :data:`KIT_MODULES`.
KIT_PACKAGES = tuple(
    sorted(
        {
            "grader",
            *("grader." + m.rpartition("/")[0].replace("/", ".") for m in KIT_MODULES if "/" in m),
        }
    )
)

#: What the kit installs with it; the notebooks plot with matplotlib.
KIT_DEPENDENCIES = ("tensorflow>=2.16", "keras>=3", "numpy>=1.26", "matplotlib>=3.8")
#: The kit's extras: ``[jupyter]`` installs what opens and runs the notebooks.
KIT_EXTRAS = {"jupyter": ("jupyterlab>=4", "ipykernel>=6")}
#: The sentence of each released notebook's first cell that says how to install the course
#: package (``solutions/lessons/<part>.md``), and what a kit's notebook says instead.
COURSE_INSTALL = re.compile(
    r"the course package must be installed: `pip install -e \.` in the\s+course folder\)"
)
KIT_INSTALL = (
    'the kit must be installed: `python -m pip install "wheels/{wheel}[jupyter]"` in the\n'
    "kit's folder, the one above this notebook's, as the kit's README.md says)"
)


class KitError(RuntimeError):
    """The kit could not be built (the reference fails its own public checks, pip failed)."""


def record_public_values(seed: int | None = None, tests: list[str] | None = None) -> dict[str, Any]:
    """Run every check on the public cases with the reference as the student, recording
    every expected value the checks ask for.

    Known mistakes' answers are computed too (:func:`grader.checks.registry.compare_case` runs
    every simulation of a case while recording), and the helpers a function calls are
    answered and recorded as the reference calls them.

    Args:
        seed: the cases' seed (default: the public one; the tests record hidden cases to
            show that none of their values reaches the kit).
        tests: the tests to run (default: all).

    Returns:
        ``{"values": {call key: plain data}, "signatures": {test name: "(args)"}}``.

    Raises:
        KitError: when the reference does not pass its own checks.
    """
    # lazy: the command line imports this module; the checks and NumPy load only when a kit is built
    from grader.checks import expected
    from grader.checks.registry import PUBLIC_SEED, import_checks, run_check
    from grader.checks.runner import InProcessRunner

    import_checks()
    public = seed is None
    signatures: dict[str, str] = {}
    with expected.recording() as values:
        for spec in FUNCTIONS:
            if tests is not None and spec.test_name not in tests:
                continue
            signatures[f"{spec.part}.{spec.name}"] = expected.signature(spec.part, spec.name)
            student = dict(vars(importlib.import_module(f"solutions.{spec.part}")))
            result = run_check(
                spec.test_name,
                InProcessRunner(student),
                PUBLIC_SEED if public else seed,
                public=public,
            )
            if result.status != "passed":
                raise KitError(f"the reference fails {spec.test_name}:\n{result.output}")
    return {"values": dict(sorted(values.items())), "signatures": signatures}


def _pyproject() -> str:
    dependencies = ", ".join(json.dumps(d) for d in KIT_DEPENDENCIES)
    packages = ", ".join(json.dumps(p) for p in KIT_PACKAGES)
    extras = "\n".join(
        f"{name} = [{', '.join(json.dumps(d) for d in needs)}]"
        for name, needs in KIT_EXTRAS.items()
    )
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{KIT_NAME}"
version = "{KIT_VERSION}"
description = "Self-checks for the exploding_gradients assignment (public cases only)."
requires-python = ">=3.10"
dependencies = [{dependencies}]

[project.optional-dependencies]
{extras}

[tool.setuptools]
packages = [{packages}]

[tool.setuptools.package-data]
grader = ["recorded_values.json", "{RELEASED_STUBS.name}"]
"""


def pip_wheel(project: Path, wheels: Path) -> str:
    """Build ``project``'s wheel into ``wheels`` with ``pip wheel``: no dependencies, no
    build isolation (this environment's setuptools builds it, offline).

    Returns:
        pip's output when it failed; empty when the wheel was built.
    """
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--quiet", "--wheel-dir", str(wheels), str(project)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return f"pip wheel failed:\n{done.stdout}\n{done.stderr}" if done.returncode else ""


def build_wheel(recorded: dict[str, Any], wheels: Path) -> Path:
    """Build the kit's wheel into ``wheels`` with ``pip wheel`` from a generated project.

    Args:
        recorded: what :func:`record_public_values` returned.
        wheels: the folder to write the wheel into.

    Returns:
        the wheel's path.

    Raises:
        KitError: when pip fails.
    """
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kit-project-") as scratch:
        project = Path(scratch) / "project"
        for module in KIT_MODULES:
            target = project / "grader" / module
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(PACKAGE / module, target)  # as it is: nothing edited out
        (project / "grader" / "recorded_values.json").write_text(
            json.dumps(recorded, separators=(",", ":")), encoding="utf-8"
        )
        # The released stubs' fingerprints: which of a part's two files the student wrote.
        (project / "grader" / RELEASED_STUBS.name).write_text(
            json.dumps(released_fingerprints(), sort_keys=True), encoding="utf-8"
        )
        (project / "pyproject.toml").write_text(_pyproject(), encoding="utf-8")
        if failure := pip_wheel(project, wheels):
            raise KitError(failure)
    name = KIT_NAME.replace("-", "_")
    return wheels / f"{name}-{KIT_VERSION}-py3-none-any.whl"


README = """# exploding_gradients: your kit

1. Install the self-checks and JupyterLab, from this folder (Python 3.10 or newer; this
   installs TensorFlow and Keras too):

       python -m pip install "wheels/{wheel}[jupyter]"

   Without `[jupyter]`, only the self-checks are installed: enough for the `.py` stubs, or
   for an editor of your own that runs notebooks with this Python (it needs `ipykernel`).
2. Open the notebooks, in order (`chain_rule`, `deep_sigmoid`, `clipping`, `remedies`):

       jupyter lab exploding_gradients

   and replace each `raise NotImplementedError()` with your code (or work in the `.py`
   stubs next to them, in any editor).
3. Run the `check(...)` cell under each function: it runs the public cases and prints what
   is wrong and a hint, the principle to look at. `hint(sigmoid)` prints a recipe when you
   want one (`--hint 2` on the commands below does the same). The autograded cells print your points on the public cases; your
   instructor grades the hidden cases. To check the whole folder at once (the `.py` stubs
   too: of a part's notebook and `.py`, the one you wrote counts), from this folder:

       python -m grader check exploding_gradients

   and the same report as a page, with plots of your functions beside the reference's:

       python -m grader check exploding_gradients --format html --output check.html

   A check of one file (`python -m grader check exploding_gradients/clipping.py`) checks
   that part only. A check of Parts 2-4 loads TensorFlow first, once: several seconds.

Keep the notebooks in one folder: the lessons of Parts 3 and 4 build some of their
demonstrations with your own Part 2 (`build_exploding_mlp`, `build_mlp` from
`deep_sigmoid.ipynb`, or `deep_sigmoid.py`), so those cells run once Part 2 is written.
The kit holds no gradient code of its own: the demonstrations, and the checks of
`build_exploding_mlp` and `build_healthy_mlp`, measure models with your own
`dense_grad_norms` once it passes its check, and say so until it does.
Hand in the notebooks (or the modules) as your instructor says.
"""


def kit_notebook(text: str, wheel: str) -> str:
    """A released notebook as the kit holds it: its first cell's install sentence names the
    kit's install command instead of the course's (the code cells are untouched).

    Args:
        text: the released notebook's JSON text.
        wheel: the kit wheel's file name.

    Returns:
        the notebook's JSON text, formatted as nbformat writes it.

    Raises:
        KitError: when the first cell holds no install sentence to replace (the lesson's
            text changed: :data:`COURSE_INSTALL` must follow it).
    """
    notebook = json.loads(text)
    first = notebook["cells"][0]
    source = "".join(first["source"])
    replaced, found = COURSE_INSTALL.subn(KIT_INSTALL.format(wheel=wheel), source)
    if first["cell_type"] != "markdown" or found != 1:
        raise KitError(
            "the released notebook's first cell does not say how to install the course "
            f"package as the kit expects. Expected: one match of {COURSE_INSTALL.pattern!r}. "
            f"Received: {found}. Hint: update COURSE_INSTALL in grader/course/kit.py."
        )
    first["source"] = replaced.splitlines(keepends=True)
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _say(line: str) -> None:
    print(line, flush=True)


def build_kit(out: Path, progress: Callable[[str], None] = _say) -> Path:
    """Write the student kit into ``out``.

    Args:
        out: the kit's folder (created; files of an earlier kit are replaced).
        progress: says what is being done, a line per step (default: printed).

    Returns:
        the wheel's path.

    Raises:
        KitError: when the kit cannot be built.
    """
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "wheels", ignore_errors=True)
    progress("Recording the reference's answers on the public cases (about 20 s)...")
    recorded = record_public_values()
    progress("Building the kit's wheel...")
    wheel = build_wheel(recorded, out / "wheels")
    notebooks = out / ASSIGNMENT
    shutil.rmtree(notebooks, ignore_errors=True)
    notebooks.mkdir()
    for path in sorted(RELEASE.iterdir()):
        if path.suffix == ".ipynb":
            text = kit_notebook(path.read_text(encoding="utf-8"), wheel.name)
            (notebooks / path.name).write_text(text, encoding="utf-8")
        elif path.suffix == ".py":
            shutil.copyfile(path, notebooks / path.name)
    (out / "README.md").write_text(README.format(wheel=wheel.name), encoding="utf-8")
    return wheel
