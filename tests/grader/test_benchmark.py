"""Does the benchmark say what it measured in the right words, against the right aims?"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grader import benchmark


def test_workers_are_counted_in_good_grammar():
    """Is it "1 worker" and "2 workers"?"""
    assert benchmark.workers_phrase(1) == "1 worker"
    assert benchmark.workers_phrase(2) == "2 workers"


def test_help_keeps_the_description_s_lines(capsys):
    """Does --help print the description's bullet list line by line, not run into a paragraph?"""
    try:
        benchmark.main(["--help"])
    except SystemExit:
        pass
    text = capsys.readouterr().out
    assert '\n  - a bare ``python -c "import tensorflow"``' in text
    assert "\nwith ``--copies N`` (N >= 3):\n" in text


def test_the_interpreter_s_bin_folder_comes_first_on_path(monkeypatch):
    """Does nbgrader find alembic from a virtual environment that is not activated?"""
    monkeypatch.setenv("PATH", "/usr/bin")
    path = benchmark._environment()["PATH"].split(os.pathsep)
    assert path[0] == str(Path(sys.executable).parent)
    assert path[1:] == ["/usr/bin"]


def test_summary_marks_each_aim_met_or_not():
    """Is every figure of the issue's table printed with its aim, and judged the right way round?"""
    lines = benchmark.summary({"cli": 1.5, "marginal": 1.3, "nbgrader": 12.0, "memory": 800.0})
    assert len(lines) == 1 + len(benchmark.AIMS)
    by_label = {
        label: line
        for label, _, _ in benchmark.AIMS.values()
        for line in lines
        if line.startswith(label)
    }
    assert by_label[benchmark.AIMS["cli"][0]].endswith(" met")
    assert by_label[benchmark.AIMS["marginal"][0]].endswith("NOT met")
    assert by_label[benchmark.AIMS["nbgrader"][0]].endswith(" met")
    assert by_label[benchmark.AIMS["memory"][0]].endswith("NOT met")
    assert by_label[benchmark.AIMS["suite"][0]].endswith("not measured")


def test_isolation_overhead_is_a_ratio_of_the_same_run():
    """Is the overhead the jailed time over the plain time, with a note where there is no jail?"""
    line = benchmark.isolation_line({"process": 10.0, "namespace": 11.0})
    assert "+1.00 s" in line and "1.100 x" in line
    assert "not measured" in benchmark.isolation_line({"process": 10.0})


def test_the_suite_is_timed_with_ci_s_own_command():
    """Is the suite figure measured with the pytest command .ci/run runs?"""
    command = benchmark.ci_test_command()
    assert command[0] == sys.executable and command[1:3] == ["-m", "pytest"]
    ci = (benchmark.ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert " ".join(["python", *command[1:]]) in ci


def test_dask_figures_are_skipped_with_a_note_without_the_cluster_module(
    monkeypatch, capsys, tmp_path
):
    """Without grader.scale.cluster, does the benchmark say the Dask figures were skipped and go on?"""
    monkeypatch.setitem(sys.modules, "grader.scale.cluster", None)  # import fails
    figures = benchmark.dask_figures(tmp_path, tmp_path, 3, 1.0, benchmark.Phases())
    assert figures == {}
    assert "dask: skipped" in capsys.readouterr().out


def test_a_failing_suite_still_gives_its_time_summary_and_slowest_tests(tmp_path):
    """The suite phase reads pytest's own summary and --durations lines, and a failure
    is reported as a failure rather than ending the benchmark."""
    (tmp_path / "test_two.py").write_text(
        "import time\n\n"
        "def test_passes():\n    time.sleep(0.01)\n\n"
        "def test_fails():\n    assert 1 == 2\n"
    )
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--durations=5"]
    seconds, status, line, slowest = benchmark.suite_run([*command, str(tmp_path)])
    assert status == 1 and seconds > 0
    assert "1 failed, 1 passed" in line
    assert any("test_passes" in entry and entry.split()[1] == "call" for entry in slowest)

    (tmp_path / "test_two.py").write_text("def test_passes():\n    pass\n")
    _, status, line, _ = benchmark.suite_run([*command, str(tmp_path)])
    assert status == 0 and "1 passed" in line and "failed" not in line
