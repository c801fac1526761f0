"""The student kit: what an instructor hands to students, without the answers.

``python -m grader kit --out DIR`` writes:

- ``DIR/exploding_gradients/``: the released notebooks and ``.py`` stubs;
- ``DIR/wheels/exploding_gradients_kit-<version>-py3-none-any.whl``: an installable
  ``grader`` package with what ``check(...)`` needs and nothing more: the checks, the
  comparison, diagnosis and feedback code, the measuring code of the training checks, and
  the public cases' expected values recorded from the reference now (JSON, arrays as raw
  bytes, never pickle; :mod:`grader.checks.expected` reads them);
- ``DIR/README.md``: how a student installs and uses it.

The wheel holds no reference solution (no ``solutions`` package, no module that imports
it), no hidden case (only the public seed's cases are recorded) and not the hidden
cases' default seed (``grader/grade.py`` stays out). It is built by ``pip wheel`` from a
generated project with its own ``pyproject.toml``.
"""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from grader.assignment import ASSIGNMENT, FUNCTIONS
from grader.paths import PACKAGE, ROOT

RELEASE = ROOT / "exercises" / ASSIGNMENT
KIT_NAME = "exploding-gradients-kit"
KIT_VERSION = "0.1.0"

#: The modules of ``grader`` the kit ships: what ``grader.notebook.check`` imports. Left out:
#: grading on hidden cases (``grade.py`` holds the default hidden seed), the CLI, batches,
#: reports, the generators (they read the reference) and this module.
KIT_MODULES = (
    "__init__.py",
    "assignment.py",
    "demos.py",
    "notebook.py",
    "paths.py",
    "quiet.py",
    "results.py",
    "submission.py",
    "checks/__init__.py",
    "checks/compare.py",
    "checks/expected.py",
    "checks/mistakes.py",
    "checks/oracle.py",
    "checks/policy.py",
    "checks/registry.py",
    "checks/runner.py",
    "checks/parts/__init__.py",
    "checks/parts/chain_rule.py",
    "checks/parts/clipping.py",
    "checks/parts/deep_sigmoid.py",
    "checks/parts/remedies.py",
    "isolation/__init__.py",
    "isolation/jail.py",
    "isolation/libraries.py",
    "isolation/protocol.py",
    "isolation/sandbox.py",
    "measuring/__init__.py",
    "measuring/data.py",
    "measuring/in_worker.py",
    "measuring/layout.py",
    "measuring/measure.py",
    "measuring/optimizers.py",
    "measuring/plain.py",
    "measuring/reading.py",
    "measuring/rebuild.py",
    "measuring/stack.py",
    "measuring/vetting.py",
    "worker/__init__.py",
    "worker/__main__.py",
    "worker/calls.py",
    "worker/confine.py",
    "worker/guards.py",
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


#: Functions whose code the kit leaves out of a module it ships, by module: the worker's
#: trusted clipped step is a full answer to ``clipped_train_step``; in a kit its steps are
#: replayed from the recorded values (:func:`grader.checks.expected.trusted_steps`).
#: The lessons' demonstrations (:mod:`grader.demos`) ship whole: in a kit they build with
#: the student's own Part 2 code and measure with :mod:`grader.measuring.measure`, never the reference.
WITHHELD = {
    "worker/calls.py": ("trusted_train_step",),
}
#: What a withheld function says when called, per module (default: "withheld from the
#: student kit").
WITHHELD_REASON: dict[str, str] = {}


class KitError(RuntimeError):
    """The kit could not be built (the reference fails its own public checks, pip failed)."""


def record_public_values(seed: int | None = None, tests: list[str] | None = None) -> dict[str, Any]:
    """Run every check on the public cases with the reference as the student, recording
    every expected value the checks ask for.

    Known mistakes' answers are computed too (:func:`grader.checks.registry.compare_case` computes
    them all while recording), and the helpers a function calls are answered and recorded
    as the reference calls them.

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


def withhold(
    source: str, names: tuple[str, ...], reason: str = "withheld from the student kit"
) -> str:
    """``source`` with the bodies of the functions ``names`` replaced by a ``raise``.

    Args:
        source: a module's source.
        names: top-level functions to empty.
        reason: the message of the ``NotImplementedError`` they raise.

    Returns:
        the source, the functions' signatures kept.

    Raises:
        KitError: when a function is not in the module.
    """
    lines = source.splitlines(keepends=True)
    found = {
        node.name: node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name in names
    }
    if set(found) != set(names):
        raise KitError(f"not found, cannot withhold: {sorted(set(names) - set(found))}")
    for node in sorted(found.values(), key=lambda n: n.lineno, reverse=True):
        indent = " " * node.body[0].col_offset
        stub = (
            f'{indent}"""Withheld from the student kit (see grader.course.kit)."""\n'
            f"{indent}raise NotImplementedError({reason!r})\n"
        )
        lines[node.body[0].lineno - 1 : node.end_lineno] = [stub]
    return "".join(lines)


def _pyproject() -> str:
    dependencies = ", ".join(json.dumps(d) for d in KIT_DEPENDENCIES)
    packages = ", ".join(json.dumps(p) for p in KIT_PACKAGES)
    return f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{KIT_NAME}"
version = "{KIT_VERSION}"
description = "Self-checks for the exploding_gradients assignment (public cases only)."
requires-python = ">=3.10"
dependencies = [{dependencies}]

[tool.setuptools]
packages = [{packages}]

[tool.setuptools.package-data]
grader = ["recorded_values.json"]
"""


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
            source = (PACKAGE / module).read_text(encoding="utf-8")
            if module in WITHHELD:
                reason = WITHHELD_REASON.get(module, "withheld from the student kit")
                source = withhold(source, WITHHELD[module], reason)
            target.write_text(source, encoding="utf-8")
        (project / "grader" / "recorded_values.json").write_text(
            json.dumps(recorded, separators=(",", ":")), encoding="utf-8"
        )
        (project / "pyproject.toml").write_text(_pyproject(), encoding="utf-8")
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        command += ["--quiet", "--wheel-dir", str(wheels), str(project)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise KitError(f"pip wheel failed:\n{done.stdout}\n{done.stderr}")
    name = KIT_NAME.replace("-", "_")
    return wheels / f"{name}-{KIT_VERSION}-py3-none-any.whl"


README = """# exploding_gradients: your kit

1. Install the self-checks (Python 3.10 or newer; this installs TensorFlow and Keras too):

       python -m pip install wheels/{wheel}

2. Open the notebooks in `exploding_gradients/` (or the `.py` stubs next to them) and
   replace each `raise NotImplementedError()` with your code.
3. Run the `check(...)` cell under each function: it runs the public cases and prints what
   is wrong and a hint. The autograded cells print your points on the public cases; your
   instructor grades the hidden cases. Working in the `.py` stubs instead, check a function
   from the folder that holds them:

       python -c "import chain_rule; from grader.notebook import check; check(chain_rule.sigmoid)"

Keep the notebooks in one folder: the lessons of Parts 3 and 4 build some of their
demonstrations with your own Part 2 (`build_exploding_mlp`, `build_mlp` from
`deep_sigmoid.ipynb`, or `deep_sigmoid.py`), so those cells run once Part 2 is written.
Hand in the notebooks (or the modules) as your instructor says.
"""


def build_kit(out: Path) -> Path:
    """Write the student kit into ``out``.

    Args:
        out: the kit's folder (created; files of an earlier kit are replaced).

    Returns:
        the wheel's path.

    Raises:
        KitError: when the kit cannot be built.
    """
    out.mkdir(parents=True, exist_ok=True)
    notebooks = out / ASSIGNMENT
    shutil.rmtree(notebooks, ignore_errors=True)
    notebooks.mkdir()
    for path in sorted(RELEASE.iterdir()):
        if path.suffix in (".ipynb", ".py"):
            shutil.copyfile(path, notebooks / path.name)
    shutil.rmtree(out / "wheels", ignore_errors=True)
    wheel = build_wheel(record_public_values(), out / "wheels")
    (out / "README.md").write_text(README.format(wheel=wheel.name), encoding="utf-8")
    return wheel
