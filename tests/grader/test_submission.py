"""Does loading a submission find the parts and the student's code, and say what it could not read?"""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from grader import submission as submission_module
from grader.assignment import functions_of
from grader.course.sources import reference_source
from grader.grade import grade_class_member, grade_submission
from grader.submission import (
    RELEASE_DIR,
    SubmissionError,
    choose_part_file,
    load_submission,
    released_fingerprints,
)
from tests.paths import ROOT


def notebook(*cells) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nbformat.writes(nb)


def code(source, **nbgrader):
    cell = nbformat.v4.new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def test_notebook_code_cells_are_taken_without_the_course_test_cells(tmp_path):
    """Are the solution cells taken and the autograded test cells, demos and self-checks left out?"""
    demo = code("print('demo')")
    demo.metadata["tags"] = ["demo"]
    (tmp_path / "chain_rule.ipynb").write_text(
        notebook(
            code("import numpy as np\nfrom grader.notebook import check, grade"),
            nbformat.v4.new_markdown_cell("# Title"),
            code("def sigmoid(z):\n    return z", solution=True, grade=False, grade_id="s"),
            code(
                "grade('chain_rule.sigmoid', sigmoid)",
                solution=False,
                grade=True,
                points=4,
                grade_id="t",
            ),
            demo,
        )
    )
    part = load_submission(tmp_path).parts["chain_rule"]
    assert [label for label, _ in part.cells] == ["chain_rule cell 1", "chain_rule cell 3"]
    assert "grade(" not in part.source and "demo" not in part.source


def test_modules_and_notebooks_are_found_by_part_name(tmp_path):
    """Are files found whatever their case, with spaces, and is a notebook preferred to a module?"""
    (tmp_path / "Chain Rule.py").write_text("x = 1\n")
    (tmp_path / "clipping.py").write_text("x = 1\n")
    (tmp_path / "clipping.ipynb").write_text(notebook(code("y = 2")))
    (tmp_path / "notes.txt").write_text("not code")
    same_time = os.stat(tmp_path / "clipping.py").st_mtime
    os.utime(tmp_path / "clipping.ipynb", (same_time, same_time))
    submission = load_submission(tmp_path)
    assert set(submission.parts) == {"chain_rule", "clipping"}
    assert submission.parts["clipping"].kind == "notebook"
    assert submission.notes == [
        "clipping.ipynb is graded: both clipping.ipynb and clipping.py differ from the "
        "released stub and were saved at the same time, so the notebook counts."
    ]


@pytest.mark.parametrize(
    "content, problem",
    [
        ('{"cells": [', "not a readable notebook"),
        ("", "is empty"),
        ("[1, 2]", "not a notebook"),
    ],
    ids=["truncated-json", "empty", "json-list"],
)
def test_unreadable_notebooks_are_reported(tmp_path, content, problem):
    """Does an unreadable notebook leave no code and a problem saying why?"""
    (tmp_path / "remedies.ipynb").write_text(content)
    part = load_submission(tmp_path).parts["remedies"]
    assert part.cells == []
    assert any(problem in p for p in part.problems)


def test_old_nbformat_3_notebooks_are_read(tmp_path):
    """Is a notebook in nbformat 3 (worksheets, input) read too?"""
    old = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {},
        "worksheets": [{"cells": [{"cell_type": "code", "input": "def f():\n    return 1\n"}]}],
    }
    (tmp_path / "deep_sigmoid.ipynb").write_text(json.dumps(old))
    assert "def f()" in load_submission(tmp_path).parts["deep_sigmoid"].source


@pytest.mark.parametrize(
    "shape",
    ["metadata-a-string", "tags-a-number", "worksheet-a-string"],
)
def test_malformed_notebooks_are_the_students_problem_not_a_grader_fault(tmp_path, shape):
    """Is a notebook whose cell metadata, tags or nbformat-3 worksheet has the wrong JSON
    type read as far as it can be (its code the student's), or refused with a problem
    saying why, rather than raising inside the grader?"""
    student = {"cell_type": "code", "source": "def f():\n    return 1\n", "metadata": {}}
    given = {"cell_type": "code", "source": "def g():\n    return 2\n", "metadata": {}}
    if shape == "metadata-a-string":
        given["metadata"] = "x"
        content = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [student, given]}
    elif shape == "tags-a-number":
        given["metadata"] = {"tags": 5, "nbgrader": "not an object"}
        content = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [student, given]}
    else:
        content = {"nbformat": 3, "metadata": {}, "worksheets": ["x", {"cells": [student]}]}
    (tmp_path / "remedies.ipynb").write_text(json.dumps(content))
    part = load_submission(tmp_path).parts["remedies"]
    if shape == "worksheet-a-string":
        assert part.cells == []
        assert part.problems == ["remedies.ipynb has a worksheet that is not a list of cells."]
    else:
        # the malformed cell's metadata says nothing: its code is the student's, as is f's
        assert "def f()" in part.source and "def g()" in part.source and not part.problems
    # a class's batch grades it as the student's: zeros that say why, never a grader fault
    report = grade_class_member(tmp_path, "student")
    assert report["tests"] and not any(t.get("grader_fault") for t in report["tests"])


def test_non_utf8_text_is_read_with_a_note(tmp_path):
    """Is a module in another encoding read, with a note?"""
    (tmp_path / "chain_rule.py").write_bytes("# café\nx = 1\n".encode("latin-1"))
    part = load_submission(tmp_path).parts["chain_rule"]
    assert "x = 1" in part.source and "not valid UTF-8" in part.problems[0]


def test_a_path_that_is_not_a_submission_is_refused(tmp_path):
    """Do a missing path and a file named after no part raise SubmissionError with the expected names?"""
    with pytest.raises(SubmissionError, match="No such file"):
        load_submission(tmp_path / "missing")
    other = tmp_path / "homework.py"
    other.write_text("x = 1\n")
    with pytest.raises(SubmissionError, match="chain_rule.ipynb"):
        load_submission(other)


def _fifo(path):
    os.mkfifo(path)


def _socket(path):
    import socket

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()


@pytest.mark.parametrize(
    "make, kind",
    [
        (lambda path, target: path.symlink_to(target), "a symbolic link"),
        (lambda path, target: os.link(target, path), "a hard link to another file"),
        (lambda path, target: _fifo(path), "a FIFO (named pipe)"),
        (lambda path, target: _socket(path), "a socket"),
    ],
    ids=["symlink", "hard-link", "fifo", "socket"],
)
def test_part_files_that_are_not_plain_files_are_refused_unread(tmp_path, make, kind):
    """Is a part file that is a link, a FIFO or a socket refused by name, its target never read?"""
    target = tmp_path / "reference.py"
    target.write_text("def sigmoid(z):\n    return 'the reference'\n")
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "remedies.py").write_text("X = 1\n")
    make(folder / "chain_rule.py", target)
    submission = load_submission(folder)
    refused = submission.parts["chain_rule"]
    assert refused.cells == []
    assert refused.problems == [
        f"chain_rule.py is {kind}, not a plain file; it was not opened and its part was "
        "not graded. Submit the file itself."
    ]
    assert submission.parts["remedies"].cells == [("remedies.py", "X = 1\n")]


def test_a_single_file_submission_that_is_a_symlink_is_refused(tmp_path):
    """Is a submission given as one file that links elsewhere refused too?"""
    target = tmp_path / "elsewhere.py"
    target.write_text("SECRET = 1\n")
    (tmp_path / "chain_rule.py").symlink_to(target)
    part = load_submission(tmp_path / "chain_rule.py").parts["chain_rule"]
    assert part.cells == [] and "is a symbolic link" in part.problems[0]


def test_a_plain_file_is_read_as_before(tmp_path):
    """Does the refusal leave an ordinary file alone (the check can pass)?"""
    (tmp_path / "chain_rule.py").write_text("X = 1\n")
    part = load_submission(tmp_path / "chain_rule.py").parts["chain_rule"]
    assert part.problems == [] and part.cells == [("chain_rule.py", "X = 1\n")]


# A folder with both files of a part (the kit's folder, a copy of exercises/): the file the
# student wrote counts, whichever it is.

#: Part 1's points: the part graded in these tests (cheap: NumPy only).
CHAIN_RULE_POINTS = sum(f.points for f in functions_of("chain_rule"))
#: Part 1 written in a complete notebook, right and with the typical mistakes (which score
#: less than the reference's .py: so the score shows which file was graded).
WRITTEN_NOTEBOOK = ROOT / "examples" / "correct" / "chain_rule.ipynb"
MISTAKEN_NOTEBOOK = ROOT / "examples" / "typical_mistakes" / "chain_rule.ipynb"
UNCHANGED = "chain_rule.{} is graded: chain_rule.{} is the released stub, unchanged."


def kit_folder(tmp_path, notebook=None, module=None, name="kit"):
    """A folder with both files of Part 1: each the released stub, or the text given."""
    folder = tmp_path / name
    folder.mkdir()
    for suffix, text in ((".ipynb", notebook), (".py", module)):
        target = folder / f"chain_rule{suffix}"
        if text is None:
            target.write_bytes((RELEASE_DIR / target.name).read_bytes())
        else:
            target.write_text(text, encoding="utf-8")
    return folder


def set_times(folder, notebook, module):
    """Give the part's two files these modification times (seconds since the epoch)."""
    os.utime(folder / "chain_rule.ipynb", (notebook, notebook))
    os.utime(folder / "chain_rule.py", (module, module))


def part_one(report):
    return sum(t.score for t in report.tests if t.name.startswith("chain_rule."))


@pytest.mark.parametrize("public", [False, True], ids=["grade", "check"])
def test_a_written_module_beside_the_released_notebook_is_graded_as_the_module_alone(
    tmp_path, public
):
    """Does the kit folder with chain_rule.py written score what chain_rule.py scores alone,
    in a grading and in a self-check?"""
    folder = kit_folder(tmp_path, module=reference_source("chain_rule"))
    set_times(folder, 2_000_000_000, 1_000_000_000)  # the notebook newer: the code decides
    both = grade_submission(folder, public=public)
    alone = grade_submission(folder / "chain_rule.py", public=public)
    assert part_one(both) == part_one(alone) == CHAIN_RULE_POINTS
    assert UNCHANGED.format("py", "ipynb") in both.notes
    assert not any("chain_rule.ipynb is graded" in note for note in both.notes)


def test_a_written_notebook_beside_the_released_module_is_graded(tmp_path):
    """With the notebook written and the .py as released, is the notebook graded, even older?"""
    folder = kit_folder(tmp_path, notebook=MISTAKEN_NOTEBOOK.read_text(encoding="utf-8"))
    set_times(folder, 1_000_000_000, 2_000_000_000)
    both = grade_submission(folder)
    alone = grade_submission(folder / "chain_rule.ipynb")
    assert 0 < part_one(both) == part_one(alone) < CHAIN_RULE_POINTS
    assert UNCHANGED.format("ipynb", "py") in both.notes


def test_both_untouched_grades_the_released_notebook_and_says_nothing_is_written(tmp_path):
    """With neither file written, is the stub graded (zero) with a note that says so?"""
    folder = kit_folder(tmp_path)
    report = grade_submission(folder)
    assert part_one(report) == 0
    assert (
        "chain_rule.ipynb is graded: neither it nor chain_rule.py differs from the released "
        "stub (nothing written yet)."
    ) in report.notes


BOTH = "chain_rule.{} is graded: both chain_rule.{} and chain_rule.{} differ from the released stub"
NEWER = BOTH + ", and chain_rule.{} is the newer."
SAME_TIME = BOTH.format("ipynb", "ipynb", "py") + (
    " and were saved at the same time, so the notebook counts."
)


@pytest.mark.parametrize(
    "notebook_time, module_time, graded, reason",
    [
        (1_000_000_000, 1_000_000_600, "py", NEWER.format("py", "py", "ipynb", "py")),
        (1_000_000_600, 1_000_000_000, "ipynb", NEWER.format("ipynb", "ipynb", "py", "ipynb")),
        (1_000_000_001, 1_000_000_000, "ipynb", SAME_TIME),
        (1_000_000_000, 1_000_000_001, "ipynb", SAME_TIME),
    ],
    ids=["module-newer", "notebook-newer", "same-time-notebook-a-second-later", "same-time"],
)
def test_when_both_are_written_the_newer_counts(
    tmp_path, notebook_time, module_time, graded, reason
):
    """With both files written, is the newer graded, a zip's or a copy's equal times the notebook?"""
    folder = kit_folder(
        tmp_path,
        notebook=MISTAKEN_NOTEBOOK.read_text(encoding="utf-8"),
        module=reference_source("chain_rule"),
    )
    set_times(folder, notebook_time, module_time)
    path = folder / f"chain_rule.{graded}"
    assert choose_part_file(folder, "chain_rule") == (path, reason)
    loaded = load_submission(folder)
    assert loaded.parts["chain_rule"].path == path and loaded.notes == [reason]


def test_the_stub_is_known_by_its_code_not_its_bytes(tmp_path):
    """Is a released notebook that was run and saved again (outputs, metadata, counts, trailing
    spaces, Windows line ends) still the stub, and one changed line of code a written file?"""
    import nbformat

    ran = nbformat.reads((RELEASE_DIR / "chain_rule.ipynb").read_text(encoding="utf-8"), 4)
    ran.metadata["widgets"] = {"state": {}}
    for count, cell in enumerate(c for c in ran.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [nbformat.v4.new_output("stream", text="ran\n")]
        cell.metadata["collapsed"] = False
        cell.source = cell.source.replace("\n", "  \r\n") + "\n\n"
    module = (RELEASE_DIR / "chain_rule.py").read_text(encoding="utf-8") + "\n\n  \n"
    folder = kit_folder(tmp_path, notebook=nbformat.writes(ran), module=module)
    set_times(folder, 1_000_000_600, 1_000_000_000)
    assert choose_part_file(folder, "chain_rule") == (
        folder / "chain_rule.ipynb",
        "chain_rule.ipynb is graded: neither it nor chain_rule.py differs from the released "
        "stub (nothing written yet).",
    )
    written = module.replace(
        "    raise NotImplementedError()", "    return 1 / (1 + np.exp(-z))", 1
    )
    (folder / "chain_rule.py").write_text(written, encoding="utf-8")
    set_times(folder, 1_000_000_600, 1_000_000_000)  # the notebook is newer, yet unchanged
    assert choose_part_file(folder, "chain_rule") == (
        folder / "chain_rule.py",
        UNCHANGED.format("py", "ipynb"),
    )


def test_an_empty_file_beside_a_written_one_does_not_count(tmp_path):
    """Is an empty chain_rule.py, newer than a written notebook, passed over with a note?"""
    folder = kit_folder(tmp_path, notebook=WRITTEN_NOTEBOOK.read_text(encoding="utf-8"), module="")
    set_times(folder, 1_000_000_000, 1_000_000_600)
    assert choose_part_file(folder, "chain_rule") == (
        folder / "chain_rule.ipynb",
        "chain_rule.ipynb is graded: chain_rule.py holds no code.",
    )


def test_one_file_of_a_part_needs_no_reason(tmp_path):
    """Is a part with one file graded from it without a note, and a part with none absent?"""
    (tmp_path / "chain_rule.py").write_text("x = 1\n")
    assert choose_part_file(tmp_path, "chain_rule") == (tmp_path / "chain_rule.py", None)
    assert choose_part_file(tmp_path, "remedies") == (None, None)
    assert load_submission(tmp_path).notes == []


def test_the_kit_knows_the_released_stubs_from_its_recorded_fingerprints(tmp_path, monkeypatch):
    """Without exercises/ (as in the kit), does the recorded file decide as exercises/ does,
    and without either, the newer file?"""
    folder = kit_folder(tmp_path, module=reference_source("chain_rule"))
    set_times(folder, 1_000_000_600, 1_000_000_000)  # the untouched notebook is newer
    recorded = tmp_path / "released_stubs.json"
    recorded.write_text(json.dumps(released_fingerprints()), encoding="utf-8")
    monkeypatch.setattr(submission_module, "RELEASE_DIR", tmp_path / "no-exercises")
    monkeypatch.setattr(submission_module, "RELEASED_STUBS", recorded)
    released_fingerprints.cache_clear()
    try:
        assert choose_part_file(folder, "chain_rule") == (
            folder / "chain_rule.py",
            UNCHANGED.format("py", "ipynb"),
        )
        recorded.unlink()
        released_fingerprints.cache_clear()
        assert released_fingerprints() == {}
        assert choose_part_file(folder, "chain_rule") == (
            folder / "chain_rule.ipynb",
            "chain_rule.ipynb is graded: there is no released stub to compare "
            "chain_rule.ipynb and chain_rule.py with, and chain_rule.ipynb is the newer.",
        )
    finally:
        monkeypatch.undo()
        released_fingerprints.cache_clear()


def test_the_release_folder_itself_is_judged_by_time(tmp_path, monkeypatch):
    """A self-learner writing in exercises/ itself: is the newer file graded there, its files
    being no stubs to compare with?"""
    folder = kit_folder(tmp_path, module=reference_source("chain_rule"))
    set_times(folder, 1_000_000_000, 1_000_000_600)
    monkeypatch.setattr(submission_module, "RELEASE_DIR", folder)
    released_fingerprints.cache_clear()
    try:
        path, reason = choose_part_file(folder, "chain_rule")
        assert path == folder / "chain_rule.py"
        assert reason.startswith("chain_rule.py is graded: there is no released stub")
    finally:
        monkeypatch.undo()
        released_fingerprints.cache_clear()


@pytest.mark.slow
def test_the_kit_wheel_ships_the_released_fingerprints(tmp_path):
    """Does the kit's wheel hold the released stubs' fingerprints that its check compares with?"""
    import zipfile

    from grader.course.kit import build_wheel

    wheel = build_wheel({"values": {}, "signatures": {}}, tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        shipped = json.loads(archive.read("grader/released_stubs.json"))
    assert shipped == released_fingerprints()
    assert set(shipped) == {"chain_rule", "deep_sigmoid", "clipping", "remedies"}
    assert all(set(kinds) == {"notebook", "module"} for kinds in shipped.values())
