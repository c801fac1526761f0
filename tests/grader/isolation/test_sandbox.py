"""Does the worker process run student code apart, and survive what it does?"""

from __future__ import annotations

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


def test_secret_seed_is_not_in_the_worker_environment(monkeypatch):
    """Does the worker's environment leave out the instructor's seed?"""
    from grader.isolation.sandbox import worker_environment

    monkeypatch.setenv("GRADER_SEED", "secret")
    assert "GRADER_SEED" not in worker_environment()
