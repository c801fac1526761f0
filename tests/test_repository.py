"""Do the README's commands, CI, the documents' links and the code's style agree with what the
repository holds?"""

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


#: The documents people read: the README, CONTRIBUTING.md and the guides.
DOCUMENTS = ("README.md", "CONTRIBUTING.md", "SECURITY.md", "docs/*.md")


def test_readme_is_short():
    """Does the README stay at 120 lines at most, leaving the rest to the guides?"""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 120, len(lines)


def _anchors(path):
    """The anchors of a Markdown file's headings, as GitHub makes them."""
    prose = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    headings = re.findall(r"^#+ (.+)$", prose, re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_document_links_point_to_files_that_exist():
    """Does every relative link of the README, CONTRIBUTING.md and docs/ lead to a file of the
    repository (and to a heading of it, for a link to a section)?"""
    documents = sorted(path for pattern in DOCUMENTS for path in ROOT.glob(pattern))
    assert len(documents) >= 7
    checked = 0
    for document in documents:
        text = document.read_text(encoding="utf-8")
        links = [link for link in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in link]
        checked += len(links)
        for link in links:
            target, _, anchor = link.partition("#")
            path = (document.parent / target).resolve() if target else document
            assert path.exists() and path.is_relative_to(ROOT), f"{document.name}: {link}"
            if anchor and path.suffix == ".md":
                assert anchor in _anchors(path), f"{document.name}: {link}"
    assert checked >= 20


def test_the_slowest_first_list_names_tests_that_exist():
    """Does every entry of the suite's slowest-first order still name a test file (and, where
    given, a test function of it), so that a moved test is not silently scheduled last?"""
    from tests.conftest import SLOWEST_FIRST

    for entry in SLOWEST_FIRST:
        path, _, function = entry.partition("::")
        assert (ROOT / path).is_file(), entry
        if function:
            assert f"def {function}(" in (ROOT / path).read_text(encoding="utf-8"), entry


def test_readme_points_table_follows_the_contract() -> None:
    """Does the README's table give every function's points and mark the printed ones, and do
    the functions whose answer the lesson prints carry at most the cap?"""
    from grader.assignment import FUNCTIONS, PARTS, PRINTED_POINTS_CAP

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for part in PARTS:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{part}` |"))
        functions = [f for f in FUNCTIONS if f.part == part]
        shown = re.findall(r"`(\w+)` ([0-9.]+)(\\\*)?", row)
        assert [(name, float(p), bool(star)) for name, p, star in shown] == [
            (f.name, float(f.points), f.printed) for f in functions
        ], row
        assert row.rstrip(" |").endswith(f"{sum(f.points for f in functions):g}"), row
    printed = sum(f.points for f in FUNCTIONS if f.printed)
    assert sum(f.points for f in FUNCTIONS) == 100
    assert printed <= PRINTED_POINTS_CAP, printed
    assert f"carry {printed:g} points in all (at most {PRINTED_POINTS_CAP})" in " ".join(
        text.split()
    )
