"""Do the instructors' guide's nbgrader steps work as written in a fresh clone, and keep the
.py stubs?

A newcomer clones the repository and runs the nbgrader block of docs/instructors.md from its
root:
``nbgrader generate_assignment ... --force`` must release the assignment (not skip it),
keep the plain-module stubs, and make the gradebook that ``batch --gradebook`` fills,
with no warning on stderr.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from grader.assignment import ASSIGNMENT, FUNCTIONS, PARTS
from grader.course.sources import reference_source
from tests.paths import ROOT

pytestmark = pytest.mark.slow


#: The guide that holds the nbgrader steps.
GUIDE = ROOT / "docs" / "instructors.md"


def nbgrader_block() -> list[str]:
    """The commands of the instructors' guide's nbgrader block, comments removed."""
    text = GUIDE.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", text, re.S) if "generate_assignment" in b]
    assert len(blocks) == 1, f"{GUIDE.name} must have one block with the nbgrader steps"
    return [line.split("  #")[0].strip() for line in blocks[0].splitlines() if line.strip()]


@pytest.mark.skipif(
    shutil.which("git") is None or shutil.which("nbgrader") is None,
    reason="needs git and the nbgrader command",
)
def test_nbgrader_steps_work_in_a_fresh_clone_and_keep_the_stubs(tmp_path):
    """Run as written in a clone: is the assignment released, are the stubs kept, is the
    gradebook made and filled, and is stderr free of warnings?"""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=300)
    stubs = {p: (clone / "exercises" / ASSIGNMENT / f"{p}.py").read_bytes() for p in PARTS}
    student = clone / "submitted" / "alice" / ASSIGNMENT
    student.mkdir(parents=True)
    (student / "chain_rule.py").write_text(reference_source("chain_rule"), encoding="utf-8")
    commands = nbgrader_block()
    assert commands[0] == f"nbgrader generate_assignment {ASSIGNMENT} --force"
    for command in commands:
        result = subprocess.run(
            command,
            shell=True,
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "PYTHONWARNINGS": "default"},
        )
        assert result.returncode == 0, command + "\n" + result.stdout + result.stderr
        assert "Skipping existing assignment" not in result.stdout + result.stderr, command
        assert "Warning" not in result.stderr, command + "\n" + result.stderr
        for part, stub in stubs.items():
            assert (clone / "exercises" / ASSIGNMENT / f"{part}.py").read_bytes() == stub, command
    for part in PARTS:
        assert (clone / "exercises" / ASSIGNMENT / f"{part}.ipynb").is_file()
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{clone / 'gradebook.db'}") as gradebook:
        scores = {
            f.test_name: gradebook.find_grade(
                f"{f.part}-{f.name}-tests", f.part, ASSIGNMENT, "alice"
            ).score
            for f in FUNCTIONS
            if f.part == "chain_rule"
        }
    assert scores == {f.test_name: f.points for f in FUNCTIONS if f.part == "chain_rule"}
