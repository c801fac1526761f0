"""Does every output format render a report, and does the command line offer each one?"""

from __future__ import annotations

import json

import pytest

from grader.cli import build_parser
from grader.reports.formats import FORMATS, render
from grader.results import CaseResult, Report, TestResult


def _report() -> Report:
    case = CaseResult(
        "a 3-neuron chain",
        False,
        "Expected: [1.0]\nReceived: [5.0]",
        category="returned values that differ from the reference",
    )
    return Report("alice", [TestResult("chain_rule.sigmoid", 4, [case])], cases="public")


def test_each_format_renders_the_same_report():
    """Are text, JSON, Gradescope and HTML each made from the report, with its score?"""
    report = _report()
    texts = {form: render(report, form) for form in FORMATS}
    assert set(texts) == {"text", "json", "gradescope", "html"}
    assert json.loads(texts["json"])["tests"][0]["name"] == "chain_rule.sigmoid"
    assert json.loads(texts["gradescope"])["score"] == 0
    assert texts["html"].startswith("<!DOCTYPE html>")
    assert "chain_rule.sigmoid" in texts["text"]


def test_an_unknown_format_is_refused_with_the_formats_named():
    """Does a format that does not exist raise ValueError naming the ones that do?"""
    with pytest.raises(ValueError, match=r"Expected: one of .*Received: 'pdf'"):
        render(_report(), "pdf")


def test_the_command_line_offers_every_format():
    """Does --format accept exactly the formats that render?"""
    parser = build_parser()
    for form in FORMATS:
        assert parser.parse_args(["grade", "x", "--format", form]).format == form
    with pytest.raises(SystemExit):
        parser.parse_args(["grade", "x", "--format", "pdf"])
