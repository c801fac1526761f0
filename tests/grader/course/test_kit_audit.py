"""Can any code in the student kit compute a contract function's answer?

The kit's wheel is unzipped and audited in a fresh interpreter cut off from the course
(``wheel_audit.py``): every function, class and method of every module it ships is called
with each contract function's cases (in order and by name, under every combination of its
switches), and no result may be the reference's answer under the grader's own comparison.
The cases are what the checks pass the functions on the public cases, and on the cases of
another seed, which the kit did not record: a function that looks a recorded public value up
could match the first, only one that computes could match the second. Their expected values
are the reference's answers, as the kit records them.

The audit is shown to find what it looks for: a module planted in the audited copy holds
functions that compute answers behind switches at their defaults (as the kit's known
mistakes' simulators once did), and it must find exactly those.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.assignment import FUNCTIONS
from grader.checks.registry import PUBLIC_SEED, run_check
from grader.checks.runner import InProcessRunner
from grader.isolation.protocol import ModelSpec, OptimizerSpec, encode
from grader.quiet import quiet_environment
from tests.grader.course.wheel_audit import flat_numbers

pytestmark = pytest.mark.slow

AUDIT = Path(__file__).with_name("wheel_audit.py")
#: A seed whose cases the kit did not record.
FRESH_SEED = 987_654
#: Cases per contract function: public ones, and from the fresh seed.
PUBLIC_CASES, FRESH_CASES = 2, 1
#: The tolerance each test's answers are compared with (as its check compares them).
TOLERANCE_OF = {
    "clipping.clipped_train_step": "clipping.training",
    "clipping.train_with_clipping": "clipping.training",
    "remedies.rnn_jacobian_norms": "remedies.rnn",
}

#: Planted in the audited copy: answers behind switches at their defaults (and the sigmoid
#: they use). The audit must find these four, and nothing else.
PLANTED = """
import numpy as np


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def backprop(x, y, w, b, *, mean=True, reverse=False):
    outs = [np.asarray(x, dtype=float)]
    for w_k, b_k in zip(w, b):
        outs.append(_sigmoid(w_k * outs[-1] + b_k))
    n, m = len(w), np.size(x)
    dw, db = np.zeros(n), np.zeros(n)
    upstream = 2 * (outs[n] - np.asarray(y, dtype=float)) / (m if mean else 1)
    for k in range(n, 0, -1):
        delta = upstream * outs[k] * (1 - outs[k])
        dw[k - 1], db[k - 1] = np.sum(delta * outs[k - 1]), np.sum(delta)
        upstream = delta * w[k - 1]
    return (dw[::-1], db[::-1]) if reverse else (dw, db)


def products(w_rec, w_in, b, xs, h0, derivative=True, shift=0):
    h, steps = h0, []
    for x_t in xs:
        h = np.tanh(w_rec @ h + w_in @ x_t + b)
        steps.append(((1 - h**2)[:, None] if derivative else 1.0) * w_rec)
    out, product = np.zeros(len(steps)), np.eye(len(h0))
    for t in range(len(steps), 0, -1):
        product = product @ steps[t - 1]
        out[t - 1] = np.linalg.norm(product, 2)
    return out


class Measure:
    @staticmethod
    def norms(model, x, y, spectral: bool = False):
        from grader.quiet import import_tensorflow

        tf = import_tensorflow()
        kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]

        @tf.function
        def compiled(x, y):
            with tf.GradientTape() as tape:
                prediction = model(x)
                loss = tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))
            return [tf.norm(g) for g in tape.gradient(loss, kernels)]

        return [float(n) for n in compiled(tf.constant(x, tf.float32), tf.constant(y, tf.float32))]
"""
PLANTED_FOUND = {
    ("grader.planted_answers._sigmoid", "chain_rule.sigmoid"),
    ("grader.planted_answers.backprop", "chain_rule.chain_gradients"),
    ("grader.planted_answers.products", "remedies.rnn_jacobian_norms"),
    ("grader.planted_answers.Measure.norms", "deep_sigmoid.dense_grad_norms"),
}


class Capturing(InProcessRunner):
    """Calls the reference as the student, keeping every call's arguments and answer."""

    def __init__(self, functions: dict[str, Any]) -> None:
        super().__init__(functions)
        self.calls: list[tuple[list[Any], dict[str, Any], Any]] = []

    def call(self, part: str, function: str, args: list[Any], kwargs: Any = None, **options: Any):
        outcome = super().call(part, function, args, kwargs, **options)
        if outcome.ok:
            self.calls.append((list(args), dict(kwargs or {}), outcome.value))
        return outcome


def _worth_auditing(value: Any) -> bool:
    """Whether an answer is specific enough that a match is no coincidence: a model, an
    optimizer, a name, a non-integral number, or numbers with three distinct values."""
    if isinstance(value, (ModelSpec, OptimizerSpec, str)):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    try:
        flat = flat_numbers(value)
    except (TypeError, ValueError):
        return False
    flat = flat[np.isfinite(flat)]
    if flat.size == 1:
        return float(flat[0]) not in (0.0, 1.0, -1.0, 0.5, 2.0)
    return np.unique(flat).size >= 3


def contract_cases(seed: int, public: bool, per_test: int, label: str) -> list[dict[str, Any]]:
    """The cases the checks pass each contract function, with the reference's answers."""
    cases = []
    for spec in FUNCTIONS:
        module = importlib.import_module(f"solutions.{spec.part}")
        runner = Capturing(dict(vars(module)))
        run_check(spec.test_name, runner, seed, public=public)
        names = list(inspect.signature(getattr(module, spec.name)).parameters)
        chosen = [call for call in runner.calls if _worth_auditing(call[2])][:per_test]
        for index, (args, kwargs, answer) in enumerate(chosen):
            cases.append(
                {
                    "test": spec.test_name,
                    "label": f"{label} {index + 1}",
                    "names": names,
                    "args": args,
                    "kwargs": kwargs,
                    "expected": answer,
                    "tolerance": TOLERANCE_OF.get(spec.test_name, spec.part),
                }
            )
    return cases


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    public = contract_cases(PUBLIC_SEED, True, PUBLIC_CASES, "public case")
    fresh = contract_cases(FRESH_SEED, True, FRESH_CASES, "unrecorded case")
    return public + fresh


def audit(kit_dir: Path, cases: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    """Run ``wheel_audit.py`` on an unzipped kit in a fresh interpreter; its report."""
    cases_path, out_path = work / "cases.json", work / "audit.json"
    cases_path.write_text(json.dumps(encode(cases)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    process = subprocess.Popen(
        [sys.executable, "-I", str(AUDIT), str(kit_dir), str(cases_path), str(out_path)],
        cwd=work,
        env={**env, **quiet_environment()},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: ended whole if it hangs
    )
    try:
        _, stderr = process.communicate(timeout=3600)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, stderr[-4000:]
    return json.loads(out_path.read_text(encoding="utf-8"))


def test_no_code_of_the_kit_computes_an_answer(
    kit: dict[str, Any], cases: list[dict[str, Any]], tmp_path: Path
) -> None:
    """Called every way a case fits it, under every combination of its switches, does no
    function, class or method of the wheel give a reference answer, while the planted
    ones do?"""
    assert {case["test"] for case in cases} == {spec.test_name for spec in FUNCTIONS}
    assert any(case["label"].startswith("unrecorded") for case in cases)
    unzipped = tmp_path / "kit"
    with zipfile.ZipFile(kit["wheel"]) as wheel:
        wheel.extractall(unzipped)
    shipped = sorted(str(p.relative_to(unzipped)) for p in (unzipped / "grader").rglob("*.py"))
    (unzipped / "grader" / "planted_answers.py").write_text(PLANTED, encoding="utf-8")
    report = audit(unzipped, cases, tmp_path)
    print(
        f"\naudit: {report['callables']} callables, {report['calls']} calls, "
        f"{len(report['findings'])} findings"
    )
    assert report["import_errors"] == {}
    assert report["unfinished"] == []  # every planned call was made
    assert len(report["imported"]) == len(shipped) + 1
    assert report["calls"] > 1000  # the audit reached the kit's code, not only the plant
    found = {(f["callable"], f["contract"]) for f in report["findings"]}
    unplanted = [f for f in report["findings"] if "planted_answers" not in f["callable"]]
    assert not unplanted, json.dumps(unplanted, indent=1)
    assert found == PLANTED_FOUND
    # the planted answers are found on the unrecorded cases too: computed, not looked up
    computed = {
        (f["callable"], f["contract"]) for f in report["findings"] if "unrecorded" in f["case"]
    }
    assert computed == PLANTED_FOUND


def test_the_wheel_ships_no_simulator_measuring_or_trusted_step(kit: dict[str, Any]) -> None:
    """Are the modules that compute answers absent from the wheel (not edited, left out)?"""
    with zipfile.ZipFile(kit["wheel"]) as wheel:
        names = set(wheel.namelist())
    absent = [
        "grader/checks/simulators/__init__.py",
        "grader/measuring/measure.py",
        "grader/measuring/in_worker.py",
        "grader/worker/trusted_step.py",
    ]
    assert not set(absent) & names
    assert "grader/checks/measurer.py" in names
    assert not [n for n in names if n.startswith("grader/checks/simulators")]
