"""Does part 1 run where no autodiff library can be reached, by any route?

Part 1 (the NumPy-only parts) runs in a worker that never imported TensorFlow; in the jail
its file system does not hold tensorflow, keras, jax, torch or autograd at all, and in
every mode an audit hook refuses the routes around the import hook. The hostile
submissions below know the grader: each obtains TensorFlow by another route and lets
``GradientTape`` compute ``chain_gradients``; none may score its points.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grader.assignment import function, functions_of
from grader.checks.runner import SubprocessRunner
from grader.course.sources import reference_source
from grader.grade import grade_submission
from grader.isolation import jail
from grader.isolation.libraries import AUTODIFF_MODULES, autodiff_entry
from grader.isolation.sandbox import PartSandboxes, Sandbox
from grader.submission import PartCode
from tests.grader.conftest import write_submission
from tests.paths import ROOT

JAILED = jail.mode() == "namespace"

# -- what the worker of part 1 holds ------------------------------------------------------


def test_autodiff_entries_are_the_libraries_and_their_metadata():
    """Are the libraries' packages, metadata and native folders named, and nothing else?"""
    for name in (
        "tensorflow",
        "tensorflow-2.21.0.dist-info",
        "tensorflow_cpu-2.21.0.dist-info",
        "keras",
        "tf_keras",
        "jax",
        "jaxlib",
        "torch",
        "torch.libs",
        "functorch",
        "autograd",
        "autograd-1.7.0.dist-info",
    ):
        assert autodiff_entry(name), name
    for name in (
        "numpy",
        "numpy.libs",
        "tensorboard",
        "scipy",
        "ml_dtypes",
        "jinja2",
        "matplotlib",
    ):
        assert not autodiff_entry(name), name


def test_the_grader_modules_of_a_worker_import_no_autodiff_library():
    """After importing every grader module a worker uses, is no autodiff library loaded?"""
    modules = ", ".join(name for name in jail.WORKER_MODULES if name != "grader")
    code = f"import {modules}\nfrom grader.worker.guards import autodiff_loaded\nprint(autodiff_loaded())"
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_the_jail_of_part_1_covers_the_autodiff_libraries():
    """Does the NumPy-only worker's jail cover TensorFlow's and Keras's folders, the other not?"""
    import keras
    import tensorflow

    bound = jail.python_paths()
    covered = jail.autodiff_paths(bound)
    for module in (tensorflow, keras):
        folder = str(Path(module.__file__).resolve().parent)
        assert folder in covered, covered
    assert any(path.endswith(".dist-info") for path in covered), covered
    numpy_only, _ = jail.worker_command(numpy_only=True)
    others, _ = jail.worker_command()
    tensorflow_folder = str(Path(tensorflow.__file__).resolve().parent)
    assert tensorflow_folder in numpy_only
    assert tensorflow_folder not in others


def test_a_plain_process_says_what_part_1_is_not_protected_from():
    """Does the one-line note of a plain process say that part 1's guarantee differs?"""
    assert "part 1" in jail.missing_protections("process")
    assert jail.missing_protections("namespace") == ""


PROBE = """
import gc, os, sys, types

import numpy as np


def reachable_libraries():
    '''The autodiff modules reachable through the object graph, without an import.'''
    found = set()
    for item in gc.get_objects():
        if isinstance(item, types.ModuleType):
            root = str(getattr(item, "__name__", "")).split(".")[0]
            if root in LIBRARIES:
                found.add(root)
    return sorted(found)


def library_files():
    '''Which of the libraries' files the process can see, found from NumPy's folder.'''
    site = os.path.dirname(os.path.dirname(np.__file__))
    return [
        name for name in LIBRARIES
        if os.path.exists(os.path.join(site, name, "__init__.py"))
    ]
"""


@pytest.fixture(scope="module")
def workers():
    """Both workers: part 1's and the other parts'."""
    sandboxes = PartSandboxes()
    yield sandboxes
    sandboxes.close()


def _probe_runner(sandbox: Sandbox | PartSandboxes) -> SubprocessRunner:
    source = f"LIBRARIES = {AUTODIFF_MODULES!r}\n" + PROBE
    parts = {
        part: PartCode(part, path=None, kind="module", cells=[(f"{part}.py", source)])
        for part in ("chain_rule", "clipping")
    }
    return SubprocessRunner(sandbox, parts)


@pytest.mark.slow
@pytest.mark.parametrize("holder", ["PartSandboxes", "one TensorFlow Sandbox"])
def test_part_1_runs_where_no_autodiff_module_is_reachable(holder, workers, shared_sandbox):
    """Does part 1 reach no autodiff module through the object graph, while part 3 does?"""
    runner = _probe_runner(workers if holder == "PartSandboxes" else shared_sandbox)
    numpy_only = runner.call("chain_rule", "reachable_libraries", [])
    assert numpy_only.ok and numpy_only.value == [], numpy_only
    other = runner.call("clipping", "reachable_libraries", [])
    assert other.ok and "tensorflow" in other.value, other  # the probe can see them
    numpy_worker = runner.sandbox.for_part("chain_rule")
    assert numpy_worker.autodiff_loaded == []  # after warm-up, and in the submission's process
    assert "tensorflow" in runner.sandbox.for_part("clipping").autodiff_loaded


@pytest.mark.slow
@pytest.mark.skipif(not JAILED, reason="the file system is the jail's")
def test_part_1_sees_no_file_of_an_autodiff_library_in_the_jail(workers):
    """In the jail, are TensorFlow's and Keras's files absent for part 1, present for part 3?"""
    runner = _probe_runner(workers)
    numpy_only = runner.call("chain_rule", "library_files", [])
    assert numpy_only.ok and numpy_only.value == [], numpy_only
    other = runner.call("clipping", "library_files", [])
    assert other.ok and {"tensorflow", "keras"} <= set(other.value), other


# -- hostile part 1 submissions ------------------------------------------------------------

#: ``chain_gradients`` by GradientTape, given the library however it was obtained.
TAPE = """

def _tape_gradients(lib, x, y, w, b):
    x = lib.constant(np.asarray(x, dtype=np.float64))
    y = lib.constant(np.asarray(y, dtype=np.float64))
    w_var = lib.Variable(np.asarray(w, dtype=np.float64))
    b_var = lib.Variable(np.asarray(b, dtype=np.float64))
    with lib.GradientTape() as tape:
        out = x
        for k in range(w_var.shape[0]):
            out = lib.sigmoid(w_var[k] * out + b_var[k])
        loss = lib.reduce_mean(lib.square(out - y))
    dw, db = tape.gradient(loss, [w_var, b_var])
    return dw.numpy(), db.numpy()


def chain_gradients(x, y, w, b):
    return _tape_gradients(_library(), x, y, w, b)
"""

ATTACKS = [
    (
        "object-graph",
        # gc.get_objects reaches the modules the process loaded, without any import: the
        # library's own table of them goes back into sys.modules while the tape runs
        """
import gc, sys, types

def _library():
    name = "tensor" + "flow"
    loaded = vars(sys)["mod" + "ules"]
    for item in gc.get_objects():
        if type(item) is dict and isinstance(item.get(name), types.ModuleType):
            _restore.update({k: v for k, v in item.items() if k not in loaded})
    loaded.update(_restore)
    for item in gc.get_objects():
        if isinstance(item, types.ModuleType) and item.__name__ == name:
            return item
    raise LookupError("no TensorFlow module is reachable")

_restore = {}

def chain_gradients(x, y, w, b):
    try:
        return _tape_gradients(_library(), x, y, w, b)
    finally:
        for key in _restore:
            vars(sys)["mod" + "ules"].pop(key, None)
""",
        "raised LookupError",
    ),
    (
        "finder-removed",
        # the import hook taken out of sys.meta_path, then a plain import (at load time)
        """
import sys

_found = {}
for _finder in list(sys.meta_path):
    if type(_finder).__name__ == "_BlockAutodiff":
        sys.meta_path.remove(_finder)
try:
    import tensorflow
    _found["lib"] = tensorflow
except Exception:
    pass

def _library():
    return _found["lib"]
""",
        "reached tensorflow while its part's code loaded",
    ),
    (
        "file-path",
        # the package loaded from its file, found through numpy.__file__
        """
import os
_tools = {"util": __import__("importlib.util").util}

def _library():
    util = _tools["util"]
    site = os.path.dirname(os.path.dirname(np.__file__))
    name = "tensor" + "flow"
    spec = util.spec_from_file_location(name, os.path.join(site, name, "__init__.py"))
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
""",
        "reached tensorflow while it ran",
    ),
    (
        "built-names",
        # sys.modules and __import__ reached through a table, the name built from pieces
        """
def _library():
    table = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
    load = table["__imp" + "ort__"]
    name = "tensor" + "flow"
    return vars(load("sys"))["mod" + "ules"].get(name) or load(name)
""",
        "reached tensorflow while it ran",
    ),
]


def _grade(workers: PartSandboxes, folder: Path, files: dict[str, str], monkeypatch) -> dict:
    monkeypatch.setenv("GRADER_TIMEOUT_SCALE", "0.5")
    return grade_submission(write_submission(folder, files), sandbox=workers).to_dict()


def _tests(report: dict) -> dict[str, dict]:
    return {t["name"]: t for t in report["tests"] if t["name"].startswith("chain_rule.")}


@pytest.mark.slow
@pytest.mark.parametrize("attack, code, sentence", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_a_route_to_tensorflow_in_part_1_scores_nothing(
    attack, code, sentence, workers, tmp_path, monkeypatch
):
    """Does chain_gradients by GradientTape, however TensorFlow was reached, lose its points?"""
    from grader.checks.policy import find_violations

    source = reference_source("chain_rule") + TAPE + "\n" + code
    assert "chain_gradients" not in find_violations("chain_rule", source)  # unseen by syntax
    report = _grade(workers, tmp_path / attack, {"chain_rule.py": source}, monkeypatch)
    tests = _tests(report)
    target = tests["chain_rule.chain_gradients"]
    assert target["score"] == 0, target["details"]
    assert sentence in target["details"], target["details"]
    if sentence.startswith("reached"):  # the library rule, in one sentence, shown at once
        assert "part 1 derives gradients by hand with NumPy only" in target["output"]
    for name, test in tests.items():
        if name != "chain_rule.chain_gradients":
            assert test["score"] == function(name).points, (name, test["output"])


@pytest.mark.slow
def test_a_correct_part_1_still_scores_full(workers, tmp_path, monkeypatch):
    """Does the reference's part 1 keep every point in its own worker?"""
    report = _grade(
        workers,
        tmp_path / "correct",
        {"chain_rule.py": reference_source("chain_rule")},
        monkeypatch,
    )
    tests = _tests(report)
    assert set(tests) == {spec.test_name for spec in functions_of("chain_rule")}
    for name, test in tests.items():
        assert test["score"] == function(name).points, (name, test["output"])


@pytest.mark.slow
def test_part_1_guard_holds_in_a_plain_process_too(tmp_path, monkeypatch):
    """Without the jail, are the finder's removal and a file-path import refused as well?"""
    monkeypatch.setenv(jail.MODE_VARIABLE, "process")
    sandboxes = PartSandboxes()
    try:
        assert sandboxes.mode == "process"
        for attack, code, sentence in ATTACKS[1:3]:
            source = reference_source("chain_rule") + TAPE + "\n" + code
            report = _grade(sandboxes, tmp_path / attack, {"chain_rule.py": source}, monkeypatch)
            target = _tests(report)["chain_rule.chain_gradients"]
            assert target["score"] == 0 and sentence in target["details"], target["details"]
    finally:
        sandboxes.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    "files, started",
    [
        ({"chain_rule.py": "import numpy as np\n"}, {"numpy"}),
        ({"clipping.py": "import numpy as np\n"}, {"tensorflow"}),
    ],
    ids=["part-1-only", "no-part-1"],
)
def test_only_the_workers_a_submission_needs_are_started(files, started, tmp_path):
    """Is part 1's worker started only for part 1, the TensorFlow one only for the others?"""
    folder = write_submission(tmp_path / "student", files)
    sandboxes = PartSandboxes()
    try:
        grade_submission(folder, sandbox=sandboxes)
        running = {kind for kind, worker in sandboxes.workers.items() if worker.process}
        assert running == started
    finally:
        sandboxes.close()
