"""Do the verdicts stay the same whatever oneDNN and TensorFlow's thread count are?

TensorFlow's oneDNN kernels (on by default on x86) and its number of intra-op threads
change the order in which float32 sums are added, so the figures TensorFlow computes differ
in their last bits from one machine or setting to another. A verdict must not: a check
compares one step from the same weights, or a run that clipping keeps well conditioned,
with tolerances far above those differences, and the builders' thresholds leave margins
far wider (each check's docstring says which; ``docs/verdicts.md`` how verdicts are decided).

Where each environment reaches:

- the grader's own process (the reference's values, the measuring of a student's models)
  takes ``TF_ENABLE_ONEDNN_OPTS`` from its environment when it is set
  (:func:`grader.quiet.silence_tensorflow` only sets ``0`` by default) and TensorFlow's
  ``TF_NUM_INTRAOP_THREADS``;
- the workers that run the student's code always get oneDNN off and one thread
  (:func:`grader.isolation.sandbox.worker_environment`);
- a student's kit runs in the student's kernel: where TensorFlow was imported first, with
  TensorFlow's defaults, oneDNN on.

The first test checks the first two points; the slow tests grade the same submissions in
a fresh process per environment of {oneDNN on, off} x {1, 2 intra-op threads} and compare
the scores, and run the kit's checks in a process that imported TensorFlow first with
oneDNN on, against the grader's verdicts on the public cases. Each process also reports a
fingerprint of one float32 sum whose last bits depend on oneDNN and on the threads: it
shows that the environment reached TensorFlow, so that equal scores mean something.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader.assignment import functions_of
from grader.course.sources import reference_source
from grader.isolation.sandbox import worker_environment
from grader.quiet import silence_tensorflow
from tests.grader.checks.test_corpus import submission_for
from tests.paths import CORPUS, ROOT

#: The parts whose checks run TensorFlow (Part 1 is float64 NumPy).
PARTS = ("deep_sigmoid", "clipping", "remedies")
#: (oneDNN, intra-op threads) of each grading process.
MATRIX = [(onednn, threads) for onednn in ("1", "0") for threads in ("1", "2")]
#: The variables this module sets in each process (and clears from the inherited ones).
VARIABLES = ("TF_ENABLE_ONEDNN_OPTS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")

#: The submissions graded in every environment, by name: the corpus files whose figures
#: sit nearest their thresholds (the chaotic tanh model of Part 2, the clipped loop compiled
#: by the student, the healthy models with the least margin) and two wrong answers whose
#: verdicts rest on the same kind of figures (tanh with Glorot weights, whose gradients do
#: not explode; a clipped step made after the update; a ReLU model that sometimes diverges).
SUBMISSIONS: dict[str, dict[str, str | None]] = {
    "reference": {part: None for part in PARTS},
    "right": {
        "deep_sigmoid": "right/deep_sigmoid__exploding_tanh_fixed_std.py",
        "clipping": "right/clipping__compiled_training_loop.py",
        "remedies": "right/remedies__tanh_orthogonal_gain.py",
    },
    "wrong": {
        "deep_sigmoid": "wrong/deep_sigmoid__tanh_default_init.py",
        "clipping": "wrong/clipping__clip_after_update.py",
        "remedies": "wrong/remedies__relu_he_diverges.py",
    },
}
#: The tests whose verdicts rest on TensorFlow's figures: the kit's checks run these.
FIGURES = (
    "deep_sigmoid.dense_grad_norms",
    "deep_sigmoid.build_exploding_mlp",
    "clipping.clipped_train_step",
    "clipping.train_with_clipping",
    "remedies.build_healthy_mlp",
)

#: A float32 dot product of a million terms: Eigen splits it between threads, oneDNN adds
#: it in its own order, so its last bits tell the environments apart.
FINGERPRINT = """
def fingerprint():
    import hashlib
    import numpy as np
    import tensorflow as tf
    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((2, 1_000_000)).astype(np.float32))
    b = tf.constant(rng.standard_normal((1_000_000, 2)).astype(np.float32))
    return hashlib.sha256(np.asarray(tf.matmul(a, b)).tobytes()).hexdigest()[:16]
"""

#: Grades each folder of ``argv[1]`` (a JSON list) on the hidden cases in one process, then,
#: when ``argv[2]`` names a file, on the public cases too, and records the public cases'
#: values of the tests ``argv[3]`` into that file as ``python -m grader kit`` does. Prints
#: the scores (each test's status, score and cases passed) and the fingerprint.
GRADE = (
    FINGERPRINT
    + """
import json, sys
from grader.course.kit import record_public_values
from grader.grade import grade_submission
from grader.isolation.sandbox import PartSandboxes

folders = json.loads(sys.argv[1])
kit = sys.argv[2] if len(sys.argv) > 2 else ""
scores = {"hidden": {}, "public": {}}
sandbox = PartSandboxes()
try:
    for public in ([False, True] if kit else [False]):
        for folder in folders:
            report = grade_submission(folder, sandbox=sandbox, public=public)
            scores["public" if public else "hidden"][folder] = {
                t.name: [t.status, t.score, [c.passed for c in t.cases]]
                for t in report.tests
                if t.handed_in
            }
finally:
    sandbox.close()
if kit:
    with open(kit, "w", encoding="utf-8") as file:
        json.dump(record_public_values(tests=sys.argv[3].split(",")), file)
print(json.dumps({"scores": scores, "fingerprint": fingerprint()}))
"""
)

#: The kit's checks, in a process that imported TensorFlow first (oneDNN as the
#: environment says): argv[1] the recorded values, argv[2] the folders, argv[3] the tests.
KIT = (
    FINGERPRINT
    + """
import tensorflow  # first, as in a student's kernel: TensorFlow's own defaults hold
import contextlib, io, json, os, sys
from pathlib import Path
from grader.assignment import function as contract_function
from grader.checks import expected
from grader.notebook import _run

expected.use(expected.RecordedValues(Path(sys.argv[1])))
assert not expected.has_hidden_cases()
verdicts = {}
for folder in json.loads(sys.argv[2]):
    os.chdir(folder)  # Part 2 beside the others: the kit measures with its dense_grad_norms
    verdicts[folder] = {}
    for name in sys.argv[3].split(","):
        spec = contract_function(name)
        source = Path(folder, f"{spec.part}.py").read_text(encoding="utf-8")
        namespace = {"__name__": "__main__", "In": [source]}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, f"{spec.part}.py", "exec"), namespace)
            result = _run(spec, namespace[spec.name], namespace)
        verdicts[folder][name] = [result.status, result.score, [c.passed for c in result.cases]]
print(json.dumps({"verdicts": verdicts, "fingerprint": fingerprint()}))
"""
)


def test_an_explicit_onednn_setting_reaches_the_grader_and_never_its_workers(monkeypatch):
    """Does the grader keep an explicit TF_ENABLE_ONEDNN_OPTS=1 (and set 0 only by default),
    while its workers always get oneDNN off and one thread?"""
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "1")
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    silence_tensorflow()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"
    worker = worker_environment()
    assert worker["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert worker["TF_NUM_INTRAOP_THREADS"] == "1"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    silence_tensorflow()
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "0"


def _environment(onednn: str | None, threads: str | None = None) -> dict[str, str]:
    """This process's environment with oneDNN and the threads as given (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env["PYTHONPATH"] = str(ROOT)
    if onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    if threads is not None:
        env["TF_NUM_INTRAOP_THREADS"] = threads
    return env


def _python(code: str, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh Python process; its last line of output, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def _write_submissions(root: Path) -> dict[str, str]:
    """Write :data:`SUBMISSIONS` as folders of part modules; their folders by name."""
    folders = {}
    for name, parts in SUBMISSIONS.items():
        folder = root / name
        folder.mkdir()
        for part, corpus in parts.items():
            if corpus is None:
                text = reference_source(part)
            else:
                (text,) = submission_for(CORPUS / corpus, part).values()
            (folder / f"{part}.py").write_text(text, encoding="utf-8")
        folders[name] = str(folder)
    return folders


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _write_submissions(tmp_path_factory.mktemp("environments"))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the oneDNN-off process records the public cases' values, as a kit's."""
    return tmp_path_factory.mktemp("kit") / "recorded_values.json"


@pytest.fixture(scope="module")
def matrix(folders: dict[str, str], recorded: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The scores of every submission on the hidden cases, graded once per environment; the
    oneDNN-off, one-thread process also grades the public cases and records their values."""
    listed = json.dumps(list(folders.values()))
    results = {}
    for onednn, threads in MATRIX:
        kit = [str(recorded), ",".join(FIGURES)] if (onednn, threads) == ("0", "1") else []
        results[onednn, threads] = _python(GRADE, _environment(onednn, threads), listed, *kit)
    return results


@pytest.mark.slow
def test_each_environment_reached_tensorflow(matrix):
    """Does each grading process compute with the oneDNN and threads it was given (one sum's
    last bits differ), so that equal scores below are not one environment four times?"""
    prints = {environment: result["fingerprint"] for environment, result in matrix.items()}
    assert prints[("1", "1")] != prints[("0", "1")]
    assert prints[("1", "2")] != prints[("0", "2")]
    assert prints[("0", "1")] != prints[("0", "2")]


@pytest.mark.slow
def test_scores_are_the_same_in_every_environment(matrix, folders):
    """Does every test of every submission score the same with oneDNN on or off and one or
    two intra-op threads, right answers full marks and wrong ones not?"""
    first, *others = matrix.values()
    for other in others:
        assert other["scores"]["hidden"] == first["scores"]["hidden"]
    scores = first["scores"]["hidden"]
    for name in ("reference", "right"):
        for test, (status, *_) in scores[folders[name]].items():
            assert status == "passed", (name, test)
    wrong = scores[folders["wrong"]]
    for test in ("deep_sigmoid.build_exploding_mlp", "clipping.clipped_train_step"):
        assert wrong[test][0] != "passed", test
    relu = wrong["remedies.build_healthy_mlp"]
    assert relu[0] != "passed", relu  # it diverges on at least one case of four


@pytest.mark.slow
def test_the_kit_in_a_kernel_with_onednn_on_gives_the_graders_verdicts(matrix, folders, recorded):
    """Does check(...) of a kit, run where TensorFlow was imported first with oneDNN on, give
    the grader's verdicts on the public cases (values recorded with oneDNN off, as
    ``python -m grader kit`` records them)?"""
    grader = matrix["0", "1"]
    listed = json.dumps(list(folders.values()))
    kit = _python(KIT, _environment("1"), str(recorded), listed, ",".join(FIGURES))
    assert kit["fingerprint"] != grader["fingerprint"]  # oneDNN on in the kit's process
    for folder, verdicts in kit["verdicts"].items():
        wanted = {test: grader["scores"]["public"][folder][test] for test in FIGURES}
        assert verdicts == wanted, folder
    reference = kit["verdicts"][folders["reference"]]
    assert all(verdict[0] == "passed" for verdict in reference.values()), reference
    wrong = kit["verdicts"][folders["wrong"]]
    assert wrong["clipping.clipped_train_step"][0] != "passed"
    assert wrong["deep_sigmoid.build_exploding_mlp"][0] != "passed"


def test_the_submissions_cover_every_part_with_tensorflow():
    """Does each submission of the matrix hand in every TensorFlow part, and is every test
    whose verdict rests on TensorFlow's figures one of the kit's?"""
    for parts in SUBMISSIONS.values():
        assert set(parts) == set(PARTS)
    for test in FIGURES:
        part, name = test.split(".")
        assert name in [spec.name for spec in functions_of(part)]
