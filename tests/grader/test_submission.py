"""Does loading a submission find the parts and the student's code, and say what it could not read?"""

from __future__ import annotations

import json
import os

import nbformat
import pytest

from grader.submission import SubmissionError, load_submission


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
    submission = load_submission(tmp_path)
    assert set(submission.parts) == {"chain_rule", "clipping"}
    assert submission.parts["clipping"].kind == "notebook"
    assert any("clipping.py is ignored" in note for note in submission.notes)


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
