"""The grader's background thread: cases judged there come out in order, and none
outlives its check."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future

import pytest

from grader.checks import registry as checks
from grader.checks.registry import REGISTRY, Check, StopCheck, in_background, in_order, run_check
from grader.checks.runner import CallOutcome
from grader.results import CaseResult


def _case(name: str, passed: bool = True) -> CaseResult:
    return CaseResult(name, passed)


def _slow(name: str, seconds: float = 0.05) -> CaseResult:
    time.sleep(seconds)
    return _case(name)


def test_cases_judged_in_the_background_come_out_in_their_order():
    cases = [_case("1"), in_background(_slow, "2", 0.2), _case("3"), in_background(_slow, "4")]
    assert [c.description for c in in_order(iter(cases))] == ["1", "2", "3", "4"]


def test_the_next_call_is_made_while_a_case_is_judged_in_the_background():
    """The generator runs on (the next call to the student's process) before the case
    judged in the background is waited for."""
    started = threading.Event()

    def judge() -> CaseResult:
        assert started.wait(5), "the next case did not start while this one was judged"
        return _case("1")

    def check():
        yield in_background(judge)
        started.set()  # where the check calls the student's function for the next case
        yield _case("2")

    assert [c.description for c in in_order(check())] == ["1", "2"]


def test_a_stop_after_a_case_judged_in_the_background_comes_after_that_case():
    def check():
        yield in_background(_slow, "1")
        raise StopCheck(CallOutcome(ok=False, error_type="timeout"))

    seen = []
    with pytest.raises(StopCheck):
        for case in in_order(check()):
            seen.append(case.description)
    assert seen == ["1"]


def test_a_case_that_could_not_be_judged_raises_before_a_later_stop():
    """As when everything ran in turn: the grader's failure on case 1 ends the check, not
    the stop met on case 2."""

    def broken() -> CaseResult:
        raise ZeroDivisionError("the grader's own failure")

    def check():
        yield in_background(broken)
        raise StopCheck(CallOutcome(ok=False, error_type="timeout"))

    with pytest.raises(ZeroDivisionError):
        list(in_order(check()))


def test_no_background_work_outlives_its_check(monkeypatch):
    """A check that stopped early (its function timed out) leaves work it started in the
    background: run_check waits for it before it returns."""
    finished = threading.Event()

    def reference_run() -> None:
        time.sleep(0.3)
        finished.set()

    def check(ctx):
        in_background(reference_run)  # a reference started before the student's call
        raise StopCheck(CallOutcome(ok=False, error_type="timeout", error_message="30 s"))
        yield  # a generator

    name = "chain_rule.sigmoid"
    monkeypatch.setitem(REGISTRY, name, Check(name, check, 1.0, cases=3))
    monkeypatch.setattr(checks, "import_checks", lambda part=None: None)
    result = run_check(name, runner=None, seed=1)
    assert finished.is_set()
    assert result.score == 0 and "was stopped" in result.output


def test_background_work_runs_in_one_thread_in_the_order_started():
    order: list[int] = []
    futures: list[Future] = [in_background(order.append, i) for i in range(20)]
    for future in futures:
        future.result()
    assert order == list(range(20))
