"""Do the README's commands, CI and the code's style agree with what the repository holds?"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.paths import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_readme_starts_with_the_run_and_test_commands():
    """Are the README's first two code blocks one install-and-grade and one install-and-test command?"""
    run, test = readme_commands()[:2]
    assert "\n" not in run and "\n" not in test
    assert run.startswith("python -m pip install -e .") and "python -m grader grade" in run
    for path in re.findall(r"grade (\S+)", run):
        assert (ROOT / path).is_dir(), path
    assert test.startswith("python -m pip install -e")
    assert test.split(" && ")[-1].startswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    """Does .ci/run run exactly the README's test command?"""
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed")
def test_ruff_finds_nothing():
    """Does ruff's lint pass on the whole repository?"""
    result = subprocess.run(["ruff", "check", "--quiet", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_links_point_to_files_that_exist():
    """Does every relative link in the README lead to a file of the repository?"""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = [link for link in re.findall(r"\]\(([^)#]+)\)", text) if "://" not in link]
    assert links
    for link in links:
        assert (ROOT / link).exists(), link
