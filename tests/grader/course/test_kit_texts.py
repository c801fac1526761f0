"""Do the kit's texts name the kit's own commands (its notebooks' first cell, its README)?

Quick: no kit is built here; ``test_kit.py`` runs the commands from a kit installed in a
fresh environment.
"""

from __future__ import annotations

import json

import pytest

from grader.assignment import PARTS
from grader.course.kit import README, RELEASE, KitError, kit_notebook
from grader.results import PLOTS_ON_PUBLIC

WHEEL = "exploding_gradients_kit-9.9.9-py3-none-any.whl"
KIT_INSTALL = f'python -m pip install "wheels/{WHEEL}[jupyter]"'


@pytest.mark.parametrize("part", PARTS)
def test_a_kit_notebook_names_the_kit_install_and_keeps_its_code(part: str) -> None:
    """Does the kit's notebook's first cell give the kit's install command instead of the
    course's, with every other cell (the code the grader reads) as released?"""
    released = json.loads((RELEASE / f"{part}.ipynb").read_text(encoding="utf-8"))
    assert "pip install -e ." in "".join(released["cells"][0]["source"])
    kit = json.loads(kit_notebook((RELEASE / f"{part}.ipynb").read_text(encoding="utf-8"), WHEEL))
    first = "".join(kit["cells"][0]["source"])
    assert KIT_INSTALL in first
    assert "pip install -e ." not in first
    assert kit["cells"][1:] == released["cells"][1:]
    assert kit["metadata"] == released["metadata"]


def test_a_notebook_without_the_install_sentence_is_refused() -> None:
    """Does a released notebook whose first cell changed its install sentence stop the
    build, rather than reach students with the course's command?"""
    notebook = json.loads((RELEASE / "chain_rule.ipynb").read_text(encoding="utf-8"))
    notebook["cells"][0]["source"] = ["Run the setup cell first (`pip install -e .`)."]
    with pytest.raises(KitError, match="COURSE_INSTALL"):
        kit_notebook(json.dumps(notebook), WHEEL)


def test_the_readme_says_how_to_install_open_and_check() -> None:
    """Does the kit's README give the install command with Jupyter, how to open the
    notebooks, and the folder check the student's page names, with the kit's folder?"""
    text = README.format(wheel=WHEEL)
    assert KIT_INSTALL in text
    assert "jupyter lab exploding_gradients" in text
    page_command = PLOTS_ON_PUBLIC.rsplit("run ", 1)[1]
    assert page_command.startswith("python -m grader check YOUR_FOLDER")
    assert page_command.replace("YOUR_FOLDER", "exploding_gradients") in text
    assert "pip install -e" not in text
