"""Does the kit's folder check (``grader.self_check``) give the full grader's public verdicts?

Run here in the full package, on Part 1 only (NumPy: no TensorFlow to import), the in-process
check is compared with the jailed grader's ``check`` on the same folder; the kit's own run,
from a fresh environment with the kit installed, is ``tests/grader/course/test_kit.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from grader.assignment import PARTS, functions_of
from grader.course.sources import reference_source
from grader.grade import grade_submission
from grader.self_check import COMMAND, KitUsageError, check_submission, main, resolve
from tests.paths import ROOT

RELEASE = ROOT / "exercises" / "exploding_gradients"
WRONG = ROOT / "tests" / "corpus" / "wrong"


def _folder(tmp_path: Path, module: str) -> Path:
    """The released Part 1 notebook beside a written ``chain_rule.py``, as in the kit."""
    folder = tmp_path / "exploding_gradients"
    folder.mkdir()
    shutil.copyfile(RELEASE / "chain_rule.ipynb", folder / "chain_rule.ipynb")
    (folder / "chain_rule.py").write_text(module, encoding="utf-8")
    return folder


def _verdicts(tests: list[Any]) -> dict[str, tuple[str, float, str]]:
    return {t.name: (t.status, t.score, t.output) for t in tests if t.handed_in}


def test_a_written_module_beside_the_released_notebook_is_checked(tmp_path: Path) -> None:
    """Is the written ``.py`` checked (full marks on Part 1), and are the other parts named
    as not handed in, with the reason for the file in the notes?"""
    report = check_submission(_folder(tmp_path, reference_source("chain_rule")))
    part1 = [t for t in report.tests if t.name.startswith("chain_rule.")]
    assert [t.name for t in part1] == [f.test_name for f in functions_of("chain_rule")]
    assert all(t.status == "passed" and t.score == t.max_score for t in part1)
    assert {t.name.split(".")[0] for t in report.tests if not t.handed_in} == set(PARTS[1:])
    assert report.cases == "public"
    assert any(n.startswith("chain_rule.py is graded") for n in report.notes), report.notes


@pytest.mark.parametrize(
    "mistake", ["chain_rule__gradients_reversed", "chain_rule__policy_forbidden_import"]
)
def test_a_wrong_module_gets_the_full_graders_public_verdicts(
    tmp_path: Path, mistake: str, shared_sandbox: Any
) -> None:
    """Does a realistic wrong Part 1 (a wrong answer; a forbidden import) get the same
    statuses, scores and feedback as from the full grader's ``check`` of the same folder?"""
    folder = _folder(tmp_path, (WRONG / f"{mistake}.py").read_text(encoding="utf-8"))
    mine = _verdicts(check_submission(folder).tests)
    full = _verdicts(grade_submission(folder, public=True, sandbox=shared_sandbox).tests)
    assert mine == full
    failed = [name for name, (status, _, _) in mine.items() if status != "passed"]
    assert failed
    status, score, output = mine["chain_rule.chain_gradients"]  # the function each file writes
    assert (status, score) == ("failed", 0)
    wanted = "Scored 0: chain_gradients uses tensorflow" if "policy" in mistake else "Expected:"
    assert wanted in output


def test_a_folder_above_the_submission_names_the_one_to_check(tmp_path: Path) -> None:
    """Does PATH one level too high give the command to run on the folder below, and a
    missing PATH say so?"""
    folder = _folder(tmp_path, reference_source("chain_rule"))
    with pytest.raises(KitUsageError, match=f"{COMMAND} {folder}$"):
        resolve(tmp_path)
    with pytest.raises(KitUsageError, match="no such file"):
        resolve(tmp_path / "nowhere")
    assert resolve(folder) == folder
    assert resolve(folder / "chain_rule.py") == folder / "chain_rule.py"


def test_the_command_writes_the_html_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does ``check FOLDER --format html --output FILE`` write the page and say its score in
    one line, and a folder without parts exit 2 with one line on stderr?"""
    folder = _folder(tmp_path, reference_source("chain_rule"))
    page = tmp_path / "out" / "check.html"
    assert main(["check", str(folder), "--format", "html", "--output", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    part_one = sum(f.points for f in functions_of("chain_rule"))
    assert f'id="score">{part_one:g} / 100<' in text
    assert capsys.readouterr().out == (
        f"Report written: {page} ({part_one:g} / 100 on the public cases)\n"
    )
    assert main(["check", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("python -m grader: error: ")
