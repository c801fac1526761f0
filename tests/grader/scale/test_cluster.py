"""Does a class graded on a Dask cluster get exactly the local run's grades and reports, even
when a worker is killed in the middle, and is a worker without a sandbox left out by name?

A scheduler and workers are started as separate processes with the ``dask`` command line, on
the loopback interface only, with mutual TLS and new certificates as the guide's commands,
and stopped at the end of each test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.course.sources import reference_source
from grader.scale.cluster import _free_port, local_cluster, parse_answer, read_files
from tests.paths import ROOT

SEED = "91827364509182736450918273645091"  # 32 characters: no warning
CORRECT = reference_source("chain_rule")
# Looks for the seed wherever a process could find it: its environment, its parent's, the
# command lines of every process it can see.
HOSTILE_ENVIRONMENT = f"""

def sigmoid_derivative(z):
    import os
    seen = repr(dict(os.environ))
    for pid in os.listdir("/proc"):
        for name in ("environ", "cmdline"):
            try:
                seen += open(f"/proc/{{pid}}/{{name}}", "rb").read().decode("latin-1")
            except OSError:
                pass
    raise RuntimeError(f"saw the seed: {{'{SEED}' in seen or 'GRADER_SEED' in seen}}")
"""
CLASS = {
    "s00-correct": {"chain_rule.py": CORRECT},
    "s01-correct": {"chain_rule.py": CORRECT},
    "s02-sign": {
        "chain_rule.py": CORRECT
        + "\n\ndef sgd_update(param, grad, learning_rate):\n    return param + learning_rate * grad\n"
    },
    "s03-derivative": {"chain_rule.py": CORRECT + "\n\ndef sigmoid_derivative(z):\n    return z\n"},
    "s04-garbage": {"chain_rule.ipynb": b"\x00garbage"},
    "s05-environment": {"chain_rule.py": CORRECT + HOSTILE_ENVIRONMENT},
    "s06-exits": {
        "chain_rule.py": CORRECT
        + "\n\ndef sgd_update(param, grad, learning_rate):\n    import os\n    os._exit(3)\n"
    },
    "s07-tensorflow": {
        "chain_rule.py": CORRECT
        + "\n\ndef sigmoid(z):\n    import tensorflow as tf\n    return tf.sigmoid(z).numpy()\n"
    },
    "s08-nothing": {"readme.txt": "I did not hand anything in."},
}


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_SEED"}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


def batch(submitted: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(submitted), "--out", str(out), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        env=_environment(GRADER_SEED=SEED),
    )


@pytest.fixture(scope="module")
def graded_locally(tmp_path_factory) -> tuple[Path, Path]:
    """The class, and the folder of its local batch run."""
    root = tmp_path_factory.mktemp("class")
    for name, files in CLASS.items():
        folder = root / "submitted" / name
        folder.mkdir(parents=True)
        for file, content in files.items():
            path = folder / file
            path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    result = batch(root / "submitted", root / "local", "--workers", "1")
    assert result.returncode == 0, result.stderr
    return root / "submitted", root / "local"


def _reports(out: Path) -> dict[str, dict]:
    found = {}
    for path in sorted((out / "reports").glob("*.json")):
        record = json.loads(path.read_text())
        record.pop("execution_time")
        found[path.name] = record
    return found


def assert_same_as_local(local: Path, out: Path) -> None:
    assert (out / "grades.csv").read_bytes() == (local / "grades.csv").read_bytes()
    assert _reports(out) == _reports(local)
    assert len(_reports(out)) == len(CLASS)
    for page in (local / "reports").glob("*.html"):
        assert (out / "reports" / page.name).read_bytes() == page.read_bytes(), page.name
    assert (out / "class.html").read_bytes() == (local / "class.html").read_bytes()
    assert list((out / "reports").glob(".*.tmp")) == []
    everything = "".join(p.read_text() for p in (out / "reports").glob("*.json"))
    assert SEED not in everything  # the hostile student never saw the seed
    assert "raised RuntimeError: saw the seed: False" in everything  # ... though it looked


def _started(log: str) -> list[str]:
    return re.findall(r"grading started: (\S+)", log)


def _interrupted(log: str) -> list[str]:
    """The students a worker's log shows started and not ended."""
    ended = re.findall(r"grading ended: (\S+)", log)
    return [s for s in _started(log) if s not in ended]


def on(access) -> tuple[str, ...]:
    """The batch's options for the cluster :func:`local_cluster` started."""
    return ("--scheduler", access.address, "--certificates", str(access.certificates.folder))


def _progress(stderr: str) -> list[str]:
    return re.findall(r"\] \d+/\d+ .*\((\S+): [\d.]+\)", stderr)


@pytest.mark.slow
def test_a_class_graded_on_a_dask_cluster_equals_the_local_run(graded_locally, tmp_path):
    """Through --scheduler, are grades.csv and every report the local run's, the broken
    worker named and left out, and a run again (local or on the cluster) grading nobody?"""
    submitted, local = graded_locally
    out = tmp_path / "out"
    workers = {"one": {}, "two": {}, "broken": {"GRADER_MEMORY_MB": "64"}}
    with local_cluster(workers, tmp_path / "cluster") as (access, _):
        result = batch(submitted, out, *on(access))
        assert result.returncode == 0, result.stderr
        assert re.search(
            r"worker broken \(tls://127\.0\.0\.1:\d+\) could not start its grading sandbox "
            r"and takes no students",
            result.stderr,
        ), result.stderr
        assert "worker one" not in result.stderr and "worker two" not in result.stderr
        assert sorted(_progress(result.stderr)) == sorted(CLASS)
        assert_same_as_local(local, out)
        again = batch(submitted, out, *on(access))
        assert json.loads((out / "summary.json").read_text())["graded_this_run"] == 0, again
    assert batch(submitted, out).returncode == 0  # the local batch resumes it too
    assert json.loads((out / "summary.json").read_text())["graded_this_run"] == 0


@pytest.mark.slow
def test_a_worker_killed_in_the_middle_loses_no_student_and_grades_none_twice(
    graded_locally, tmp_path
):
    """After SIGKILL to a worker mid-batch, is every student reported once, as in the local run?"""
    submitted, local = graded_locally
    out = tmp_path / "out"
    with local_cluster({"one": {}, "two": {}}, tmp_path / "cluster") as (access, processes):
        client = subprocess.Popen(
            [sys.executable, "-m", "grader", "batch", str(submitted), "--out", str(out)]
            + list(on(access)),
            cwd=ROOT,
            env=_environment(GRADER_SEED=SEED),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        one_log, two_log = tmp_path / "cluster" / "one.log", tmp_path / "cluster" / "two.log"
        deadline = time.monotonic() + 600
        while not (  # worker one is in the middle of its second student
            len(_started(one_log.read_text())) >= 2 and _interrupted(one_log.read_text())
        ):
            assert time.monotonic() < deadline and client.poll() is None
            time.sleep(0.02)
        os.killpg(processes["one"].pid, signal.SIGKILL)
        stdout, stderr = client.communicate(timeout=600)
        interrupted = _interrupted(one_log.read_text())
        assert len(interrupted) == 1
        assert _started(two_log.read_text()).count(interrupted[0]) == 1  # graded again, once
    assert client.returncode == 0, stderr
    assert sorted(_progress(stderr)) == sorted(CLASS)  # each student stored exactly once
    assert_same_as_local(local, out)


def test_a_report_from_a_worker_is_read_as_data_only():
    """Is anything but a JSON report of the submission with its page refused?"""

    def answer(report, page="<p>page</p>") -> str:
        return json.dumps({"report": report, "html": page})

    good = {"submission": "a", "score": 1.5, "tests": [{"name": "t"}]}
    assert parse_answer(answer(good), "a") == (good, "<p>page</p>")
    for bad in (
        b"not text",
        {"report": good, "html": ""},
        "[1, 2]",
        json.dumps(good),
        answer(good, page=None),
        answer({**good, "submission": "b"}),
        answer({**good, "score": "1"}),
        answer({**good, "score": float("nan")}),
        answer({**good, "tests": ["x"]}),
    ):
        with pytest.raises(ValueError):
            parse_answer(bad, "a")


def test_only_part_files_are_sent(tmp_path):
    """Are only .py and .ipynb files of the student's folder read for sending?"""
    (tmp_path / "chain_rule.py").write_text("x = 1\n")
    (tmp_path / "Clipping.IPYNB").write_text("{}")
    (tmp_path / "secret.txt").write_text("no")
    (tmp_path / "sub").mkdir()
    assert read_files(tmp_path) == {"Clipping.IPYNB": b"{}", "chain_rule.py": b"x = 1\n"}


@pytest.mark.slow
def test_an_unreachable_scheduler_is_one_line_and_no_report(tmp_path):
    """Is a scheduler nobody listens on an error of one line, status 1, with nothing written?"""
    (tmp_path / "submitted" / "a").mkdir(parents=True)
    (tmp_path / "submitted" / "a" / "chain_rule.py").write_text(CORRECT)
    address = f"tcp://127.0.0.1:{_free_port()}"
    result = batch(
        tmp_path / "submitted", tmp_path / "out", "--scheduler", address, "--insecure-local-cluster"
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"python -m grader: error: cannot reach the scheduler at {address}"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "reports").exists()
