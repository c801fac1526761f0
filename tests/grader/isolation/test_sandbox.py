"""Does the worker process run student code apart, and survive what it does?"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from grader.checks.runner import SubprocessRunner
from grader.isolation.sandbox import Sandbox
from grader.submission import PartCode

pytestmark = pytest.mark.slow

CODE = """
import numpy as np, os, time, sys

def sigmoid(z):
    print("lots of output " * 1000)
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))

def sigmoid_derivative(z):
    while True:
        time.sleep(0.01)

def chain_forward(x, w, b):
    os._exit(3)

def local_gains(x, w, b):
    raise ValueError("shapes do not match")

def sgd_update(param, grad, learning_rate):
    param -= learning_rate * grad
    return param

def chain_gradients(x, y, w, b):
    import solutions
    return solutions

def held_sockets():
    held = []
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            continue
        if target.startswith('socket:'):
            held.append(target)
    return held

def oom_score_adj():
    with open('/proc/self/oom_score_adj') as stream:
        return int(stream.read())

FORGED = [
    {"op": "ended", "status": 0, "leftovers": 0},
    {"op": "forked", "pid": 1},
    {"ok": True, "pid": 1, "autodiff": []},
    {"ok": True, "result": "forged"},
]

def _forge_for(seconds):
    import json, struct
    frames = b"".join(
        struct.pack(">Q", len(body)) + body
        for body in (json.dumps(m).encode() for m in FORGED)
    )
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for fd in range(256):
            try:
                os.write(fd, frames)
            except OSError:
                pass
        time.sleep(0.01)

def flood_and_stop_reading():
    # Asks the grader for helpers with long names, many times, and never reads a reply:
    # the grader's replies fill the channel, and a write that waited for room would wait
    # for ever.
    import json, struct, socket
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'):
                channel = int(fd)
        except OSError:
            pass
    body = json.dumps({"op": "callback", "function": "x" * 900_000, "args": [], "kwargs": {}})
    frame = struct.pack(">Q", len(body)) + body.encode()
    for _ in range(8):
        os.write(channel, frame)
    time.sleep(600)

def forge_and_linger():
    # A process of the submission writes forged messages of every kind on every
    # descriptor it holds, and outlives the call (in a new session), as an attacker would
    # to pass for the worker's zygote.
    if os.fork() == 0:
        os.setsid()
        import ctypes
        ctypes.CDLL(None).prctl(15, b"forger-5551")  # PR_SET_NAME: seen in /proc/PID/comm
        try:
            _forge_for(20)
        finally:
            os._exit(0)
    _forge_for(0.3)
    return "done"
"""


@pytest.fixture(scope="module")
def runner():
    sandbox = Sandbox(tensorflow=False)
    part = PartCode("chain_rule", path=None, kind="module", cells=[("chain_rule.py", CODE)])
    yield SubprocessRunner(sandbox, {"chain_rule": part})
    sandbox.close()


def test_prints_do_not_disturb_the_answer(runner):
    """Does a function that prints still return its value through the channel?"""
    outcome = runner.call("chain_rule", "sigmoid", [np.zeros(3)])
    assert outcome.ok
    np.testing.assert_allclose(outcome.value, 0.5)


def test_an_endless_loop_costs_only_its_call(runner):
    """Is an endless loop stopped at the time limit, and does the next call still work, in
    a fresh process of the same worker (the worker reaped the killed process: it was not
    given up on and restarted, which used to take a 30-s wait per time-out)?"""
    worker = runner.sandbox.for_part("chain_rule")
    worker.ensure_child()
    before = worker.process.pid
    outcome = runner.call("chain_rule", "sigmoid_derivative", [np.zeros(3)], timeout=2)
    assert outcome.error_type == "timeout"
    assert "time limit of 2 s" in outcome.error_sentence("sigmoid_derivative")
    assert runner.call("chain_rule", "sigmoid", [np.zeros(1)]).ok
    assert worker.process is not None and worker.process.pid == before


def test_a_process_exit_is_reported_and_survived(runner):
    """Is os._exit reported with its status, and is the worker restarted for the next call?"""
    outcome = runner.call("chain_rule", "chain_forward", [np.zeros(1), np.ones(1), np.ones(1)])
    assert outcome.error_type == "died"
    assert "exited with status 3" in outcome.error_message
    assert runner.call("chain_rule", "sigmoid", [np.zeros(1)]).ok


def test_exceptions_come_back_with_type_message_and_place(runner):
    """Does an exception arrive as its type, message and the student's line?"""
    outcome = runner.call("chain_rule", "local_gains", [np.zeros(1), np.ones(1), np.ones(1)])
    assert outcome.error_type == "ValueError"
    assert "shapes do not match" in outcome.error_message
    assert "<submission chain_rule.py>" in outcome.where


def test_changed_inputs_are_noticed(runner):
    """Is an in-place update of an argument reported?"""
    outcome = runner.call("chain_rule", "sgd_update", [np.ones(3), np.ones(3), 0.1])
    assert outcome.ok and outcome.mutated == [0]


def test_reference_solutions_cannot_be_imported(runner):
    """Is `import solutions` refused inside the worker?"""
    outcome = runner.call("chain_rule", "chain_gradients", [1, 1, 1, 1])
    assert outcome.error_type == "ImportError"


def test_missing_function_is_named(runner):
    """Is a function the code does not define reported as missing?"""
    outcome = runner.call("chain_rule", "no_such_function", [])
    assert outcome.error_type == "MissingFunction"
    assert "is not defined" in outcome.error_sentence("no_such_function")


def lingering(name: str) -> list[int]:
    """Processes named ``name`` that are still running (after a second's grace)."""
    deadline = time.monotonic() + 1
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_submission_holds_no_channel_but_its_own(runner):
    """Does the submission's process hold one socket (its own channel) and not the zygote's
    control channel, so that nothing it writes can pass for the zygote's word?"""
    outcome = runner.call("chain_rule", "held_sockets", [])
    assert outcome.ok, outcome.error_message
    assert len(outcome.value) == 1, outcome.value


def test_a_submission_is_the_out_of_memory_killers_first_choice(runner):
    """Do the submission's processes carry oom_score_adj 1000, so that the kernel kills them,
    not the grader, when memory runs out?"""
    outcome = runner.call("chain_rule", "oom_score_adj", [])
    assert outcome.ok and outcome.value == 1000, outcome


def test_forged_protocol_messages_change_nothing_for_the_next_submission(runner):
    """A submission writes forged ``ended``, ``forked``, ready and answer messages on every
    descriptor and leaves a process writing them: is its end still the kernel's word (the
    zygote's report), is the lingering process gone, and does the next submission's process
    answer its own calls?"""
    worker = runner.sandbox.for_part("chain_rule")
    worker.begin()
    first = worker.generation
    # What this call returns is the forger's own business (its forged frames on its own
    # channel may be read as its answer): only what follows for others is checked.
    runner.call("chain_rule", "forge_and_linger", [])
    report = worker.end()
    assert report is not None and report["op"] == "ended"
    assert lingering("forger-5551") == []
    worker.begin()
    assert worker.generation > first
    for _ in range(20):
        value = runner.call("chain_rule", "sigmoid", [np.zeros(2)])
        assert value.ok, value.error_message
        np.testing.assert_allclose(value.value, 0.5)
    assert runner.call("chain_rule", "held_sockets", []).value != "forged"


def test_a_submission_that_stops_reading_cannot_hold_the_grader(runner):
    """A submission floods the grader with requests and stops reading the replies: is the
    call stopped at its time limit (the grader's writes give up too), and does the next
    call get its answer?"""
    started = time.monotonic()
    outcome = runner.call("chain_rule", "flood_and_stop_reading", [], timeout=3)
    assert outcome.error_type == "timeout", outcome
    assert time.monotonic() - started < 3 + 20
    value = runner.call("chain_rule", "sigmoid", [np.zeros(2)])
    assert value.ok, value.error_message


def test_the_grader_is_not_dumpable_once_it_runs_workers(runner):
    """Is the grading process out of reach of processes of its own user (no ``/proc``
    ``mem``, ``environ`` or ``pidfd_getfd``), as student code in ``process`` mode is?"""
    import ctypes

    runner.sandbox.for_part("chain_rule").ensure_child()
    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE


def test_secret_seed_is_not_in_the_worker_environment(monkeypatch):
    """Does the worker's environment leave out the instructor's seed?"""
    from grader.isolation.sandbox import worker_environment

    monkeypatch.setenv("GRADER_SEED", "secret")
    assert "GRADER_SEED" not in worker_environment()


class _FakeGroup:
    """A cgroup that records which processes joined it, and when it was removed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, pid: int) -> None:
        (self.folder / f"joined-{pid}").write_text("")

    def oom_kills(self) -> int:
        return 0

    def remove(self) -> bool:
        (self.folder / "removed").write_text("")
        return True


def test_the_worker_joins_its_memory_cgroup_before_it_runs(tmp_path, monkeypatch):
    """Does the worker's first process join the memory cgroup before it runs anything (so
    every process of every submission is born in it), and is the group removed with it?"""
    from grader.isolation import sandbox as module

    group = _FakeGroup(tmp_path)
    monkeypatch.setattr(
        module.WorkerCgroup, "create", classmethod(lambda cls, *a, **k: (group, ""))
    )
    worker = Sandbox(tensorflow=False)
    try:
        worker.begin()
        joined = [int(p.name.split("-")[1]) for p in tmp_path.glob("joined-*")]
        assert joined == [worker.process.pid]
        assert worker.memory_reason == ""
    finally:
        worker.close()
    assert (tmp_path / "removed").exists()


def test_without_a_memory_cgroup_the_reason_is_kept_for_the_isolation_line(monkeypatch):
    """Where no cgroup can be made, is the reason kept, and does the one isolation line say
    it (in the jail too), while a jail with its cgroup says nothing?"""
    from grader.isolation import jail
    from grader.isolation import sandbox as module

    monkeypatch.setattr(
        module.WorkerCgroup, "create", classmethod(lambda cls, *a, **k: (None, "not delegated"))
    )
    worker = Sandbox(tensorflow=False)
    try:
        worker.begin()
        assert worker.memory_reason == "not delegated"
    finally:
        worker.close()
    line = jail.missing_protections("namespace", "not delegated")
    assert line.startswith("Isolation: jail, but no memory limit") and "not delegated" in line
    assert "\n" not in line
    assert jail.missing_protections("namespace", "") == ""
    assert "not delegated" in jail.missing_protections("process", "not delegated")
