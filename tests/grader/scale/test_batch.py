"""Does batch grading survive interruption, give the same grades with any number of workers,
and write a CSV an instructor can use?"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.assignment import FUNCTIONS
from grader.course.sources import reference_source
from tests.paths import ROOT

pytestmark = pytest.mark.slow
PART_ONE = sum(f.points for f in FUNCTIONS if f.part == "chain_rule")
SGD_POINTS = next(f.points for f in FUNCTIONS if f.test_name == "chain_rule.sgd_update")


def make_class(root: Path, size: int) -> dict[str, float]:
    """Students with part 1 only: correct, one mistake, or garbage; returns expected totals."""
    expected = {}
    correct = reference_source("chain_rule")
    for index in range(size):
        name = f"student{index:02d}"
        folder = root / name / "exploding_gradients"  # nbgrader's layout
        folder.mkdir(parents=True)
        kind = index % 3
        if kind == 0:
            (folder / "chain_rule.py").write_text(correct)
            expected[name] = PART_ONE
        elif kind == 1:
            wrong = "\n\ndef sgd_update(param, grad, learning_rate):\n    return param + learning_rate * grad\n"
            (folder / "chain_rule.py").write_text(correct + wrong)
            # the rate-0 case still passes: 1 of 3 cases
            expected[name] = round(PART_ONE - SGD_POINTS * 2 / 3, 4)
        else:
            (folder / "chain_rule.ipynb").write_bytes(b"\x00garbage")
            expected[name] = 0
    return expected


def batch(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", "batch", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        **kwargs,
    )


def grades(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def class_of_six(tmp_path_factory) -> dict:
    """A class of six graded twice, with 1 and with 2 workers, each run with a temporary
    folder of its own (TMPDIR) to see what it leaves there."""
    root = tmp_path_factory.mktemp("class")
    expected = make_class(root / "submitted", 6)
    runs = {}
    for workers in (1, 2):
        out, temporary = root / f"out{workers}", root / f"tmp{workers}"
        temporary.mkdir()
        result = batch(
            str(root / "submitted"),
            "--out",
            str(out),
            "--workers",
            str(workers),
            env={**os.environ, "TMPDIR": str(temporary)},
        )
        assert result.returncode == 0, result.stderr
        runs[workers] = {"out": out, "tmp": temporary, "stderr": result.stderr}
    return {"submitted": root / "submitted", "expected": expected, "runs": runs}


def test_batch_writes_reports_csv_and_summary_with_the_same_grades_for_any_worker_count(
    class_of_six,
):
    """Do 1 and 2 workers give identical grades.csv files, with a row per student and a column per test?"""
    runs = class_of_six["runs"]
    outputs = {workers: (run["out"] / "grades.csv").read_text() for workers, run in runs.items()}
    assert outputs[1] == outputs[2]
    table = grades(runs[2]["out"])
    assert {name: float(row["total"]) for name, row in table.items()} == class_of_six["expected"]
    assert list(next(iter(table.values()))) == [
        "student",
        *[f.test_name for f in FUNCTIONS],
        "total",
    ]
    assert float(table["student01"]["chain_rule.sgd_update"]) == round(SGD_POINTS / 3, 4)
    summary = json.loads((runs[2]["out"] / "summary.json").read_text())
    assert summary["students"] == 6 and summary["graded_this_run"] == 6
    report = json.loads((runs[2]["out"] / "reports" / "student02.json").read_text())
    assert "not a readable notebook" in report["tests"][0]["output"]


def test_a_second_run_grades_nothing_and_a_changed_submission_again(class_of_six, tmp_path):
    """Is an up-to-date report kept, and only the changed student regraded?

    A copy of the graded class: the reports know their students by the files' contents,
    wherever the folders are.
    """
    submitted, out = tmp_path / "submitted", tmp_path / "out"
    shutil.copytree(class_of_six["submitted"], submitted)
    shutil.copytree(class_of_six["runs"][1]["out"], out)
    again = batch(str(submitted), "--out", str(out))
    assert json.loads((out / "summary.json").read_text())["graded_this_run"] == 0, again.stdout
    (submitted / "student01" / "exploding_gradients" / "chain_rule.py").write_text(
        reference_source("chain_rule")
    )
    assert batch(str(submitted), "--out", str(out)).returncode == 0
    assert json.loads((out / "summary.json").read_text())["graded_this_run"] == 1
    assert float(grades(out)["student01"]["total"]) == PART_ONE


def test_kill_9_then_resume_loses_nothing_and_grades_nobody_twice(tmp_path):
    """After kill -9 in the middle, are the finished reports whole and kept, and the rest graded on resume?"""
    expected = make_class(tmp_path / "submitted", 6)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader",
            "batch",
            str(tmp_path / "submitted"),
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list((out / "reports").glob("*.json"))) < 2:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = {p.name: p.stat().st_mtime_ns for p in (out / "reports").glob("*.json")}
    assert 2 <= len(first) < 6
    for path in (out / "reports").glob("*.json"):
        json.loads(path.read_text())  # every report on disk is whole
    result = batch(str(tmp_path / "submitted"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["graded_this_run"] == 6 - len(first)
    assert {
        p.name: p.stat().st_mtime_ns for p in (out / "reports").glob("*.json") if p.name in first
    } == first
    assert {name: float(row["total"]) for name, row in grades(out).items()} == expected
    assert list((out / "reports").glob(".*.tmp")) == []


def test_usage_errors(tmp_path):
    """Are a missing folder and a bad worker count usage errors?"""
    assert batch(str(tmp_path / "missing"), "--out", str(tmp_path / "o")).returncode == 2
    (tmp_path / "s").mkdir()
    result = batch(str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--workers", "0")
    assert result.returncode == 2 and "--workers" in result.stderr


def semaphores_of(pid: int) -> set[int]:
    """The inodes of the named semaphores a process has open.

    A named semaphore is a file /dev/shm/sem.<name> that the process maps; its maps line
    shows the file's inode (the path shown is glibc's temporary name for the same file).
    """
    inodes = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(None, 5)
        if len(fields) == 6 and fields[5].startswith("/dev/shm/sem."):
            inodes.add(int(fields[4]))
    return inodes


def semaphores_left(inodes: set[int]) -> list[str]:
    """The semaphore files in /dev/shm that still have one of these inodes."""
    left = []
    for path in Path("/dev/shm").glob("sem.*"):
        try:
            if path.stat().st_ino in inodes:
                left.append(path.name)
        except FileNotFoundError:
            pass
    return left


def start_batch(tmp_path: Path, size: int) -> tuple[subprocess.Popen, Path, Path]:
    """A batch of ``size`` students in its own temporary folder; returns (process, out, tmp)."""
    make_class(tmp_path / "submitted", size)
    out, temporary = tmp_path / "out", tmp_path / "tmp"
    temporary.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(tmp_path / "submitted"), "--out", str(out)]
        + ["--workers", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    return process, out, temporary


def wait_for(condition, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def reports(out: Path) -> list[Path]:
    return sorted((out / "reports").glob("*.json")) if (out / "reports").is_dir() else []


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("when", ["during the first student", "after a report"])
def test_ctrl_c_ends_the_batch_within_2_s_keeping_reports_and_leaving_nothing(tmp_path, when):
    """Does SIGINT end a batch within 2 s, keep every finished report, and leave no temporary
    folder, worker or semaphore behind?"""
    process, out, temporary = start_batch(tmp_path, 4)
    if when == "after a report":
        wait_for(lambda: len(reports(out)) >= 1)
    else:  # the worker is up (its folder exists) and grading the first student
        wait_for(lambda: any(temporary.glob("grading-*")))
        time.sleep(5)
    kept = {p.name: p.read_bytes() for p in reports(out)}
    semaphores = semaphores_of(process.pid)
    assert semaphores_left(semaphores), "no semaphore found: the test would prove nothing"
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    elapsed = time.monotonic() - started
    print(f"SIGINT {when}: the batch ended in {elapsed:.2f} s")
    assert elapsed < 2, f"took {elapsed:.1f} s"
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert "leaked" not in stderr
    if when == "after a report":
        assert kept
    assert {p.name: p.read_bytes() for p in reports(out)} == kept
    wait_for(lambda: not any(temporary.iterdir()), timeout=10)
    assert semaphores_left(semaphores) == []


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc (Linux)")
def test_kill_9_of_the_batch_process_leaves_no_folder_worker_or_semaphore(tmp_path):
    """When only the batch process is killed (kill -9), do its workers end and clean up, and
    are its semaphores removed?"""
    process, out, temporary = start_batch(tmp_path, 4)
    wait_for(lambda: len(reports(out)) >= 1)
    semaphores = semaphores_of(process.pid)
    assert semaphores_left(semaphores), "no semaphore found: the test would prove nothing"
    process.kill()
    _, stderr = process.communicate(timeout=60)  # the resource tracker's lines too
    assert "leaked" not in stderr
    try:
        wait_for(lambda: not any(temporary.iterdir()), timeout=30)
    except AssertionError:
        left = [str(p.relative_to(temporary)) for p in temporary.rglob("*")]
        raise AssertionError(f"left in the temporary folder: {left}\n{stderr[-2000:]}") from None
    wait_for(lambda: semaphores_left(semaphores) == [], timeout=30)
    assert json.loads(reports(out)[0].read_text())["score"] >= 0


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_batch_leaves_no_tensorflow_file_in_the_temporary_folder(tmp_path, stop):
    """Does a batch stopped while TensorFlow has written its temporary files (autograph's
    ``__autograph_generated_file*.py``, removed only at a normal exit) leave none of them
    in the temporary folder?

    Before, a worker ended by the interruption left them in TMPDIR for good. Part 2 only:
    its measurements are TensorFlow functions, which autograph converts.
    """
    submitted, out, temporary = tmp_path / "submitted", tmp_path / "out", tmp_path / "tmp"
    for name in ("student00", "student01", "student02"):
        (submitted / name).mkdir(parents=True)
        (submitted / name / "deep_sigmoid.py").write_text(reference_source("deep_sigmoid"))
    temporary.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(submitted), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    try:
        wait_for(lambda: any(temporary.rglob("__autograph_generated_file*")))
    finally:
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    wait_for(lambda: not any(temporary.iterdir()), timeout=10)


def test_an_empty_folder_is_a_usage_error_not_a_summary_of_nothing(tmp_path):
    """Is a batch over a folder without student folders refused with one line and status 2?"""
    (tmp_path / "empty").mkdir()
    result = batch(str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "holds no student folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_a_normal_end_leaves_no_temporary_folder_or_semaphore(class_of_six):
    """After a batch that ends normally, is its workers' temporary folder gone?"""
    for run in class_of_six["runs"].values():
        assert len(reports(run["out"])) == 6
        assert list(run["tmp"].iterdir()) == []
        assert "leaked" not in run["stderr"] and "Traceback" not in run["stderr"]


def test_the_progress_line_starts_at_once_and_estimates_from_the_pace_after_the_first():
    """Does the progress line show at once (before any student is done), say it is estimating
    after the first student (whose time includes the workers' start), and estimate from the
    pace after it?"""
    import io

    from grader.scale.batch import Progress

    stream = io.StringIO()
    progress = Progress(5, stream=stream, workers=2)
    assert stream.getvalue().startswith("[........................] 0/5 starting 2 grading")
    progress.started -= 30  # the first student took 30 s (the workers' start)
    progress.update("ada", 26)
    assert "estimating the time left" in stream.getvalue().splitlines()[-1]
    progress.first -= 2  # the next took 2 s
    progress.update("ben", 26)
    assert "about 6s left" in stream.getvalue().splitlines()[-1]  # 3 more at 2 s each
