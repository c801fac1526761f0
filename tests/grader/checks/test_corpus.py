"""Does every realistic wrong submission lose points on exactly its function, with the right hint,
and does every correct one written differently score full marks?

Each corpus file redefines one or more functions of one part; the submission graded is the
reference module of that part followed by the corpus file (see tests/corpus/README.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from grader.assignment import functions_of
from grader.checks.mistakes import MISTAKES
from grader.course.sources import reference_source
from tests.paths import CORPUS

WRONG = sorted((CORPUS / "wrong").glob("*.py"))
#: Right submissions: fragments (.py) and whole notebooks (.ipynb, graded as they are).
RIGHT = sorted([*(CORPUS / "right").glob("*.py"), *(CORPUS / "right").glob("*.ipynb")])


def _text(path: Path) -> str:
    """A corpus file's text; a notebook's is its first cell's source (where its header is)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        source = json.loads(text)["cells"][0]["source"]
        return "".join(source) if isinstance(source, list) else source
    return text


def header(path: Path) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a corpus file."""
    fields = {}
    for line in _text(path).splitlines():
        match = re.match(r"#\s*(\w+):\s*(.*)", line)
        if not match:
            break
        fields[match.group(1)] = match.group(2).strip()
    return fields


def submission_for(path: Path, part: str) -> dict[str, str]:
    if path.suffix == ".ipynb":  # a whole notebook, graded as it is
        return {f"{part}.ipynb": path.read_text(encoding="utf-8")}
    return {f"{part}.py": reference_source(part) + "\n\n" + path.read_text(encoding="utf-8")}


def test_the_corpus_is_large_enough_and_well_formed():
    """Does the corpus hold at least 30 wrong and 10 right submissions, each with a valid header?"""
    assert len(WRONG) >= 30 and len(RIGHT) >= 10
    for path in WRONG:
        fields = header(path)
        assert fields.get("corpus") == "wrong", path.name
        part, name = fields["function"].split(".")
        assert name in [f.name for f in functions_of(part)], path.name
        assert fields["mistake"] == "none" or fields["mistake"] in MISTAKES, path.name
    for path in RIGHT:
        assert header(path).get("corpus") == "right", path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", WRONG, ids=[p.stem for p in WRONG])
def test_wrong_submission_loses_points_on_its_function_only(path, grade_sources):
    """Does this mistake cost points on its own function, none elsewhere in the part, with its hint?"""
    fields = header(path)
    part, name = fields["function"].split(".")
    report = grade_sources(submission_for(path, part))
    target = report.test(fields["function"])
    assert target.score < target.max_score, f"{path.name} was not caught:\n{target.output}"
    for spec in functions_of(part):
        if spec.name != name:
            other = report.test(spec.test_name)
            assert other.status == "passed", f"{spec.test_name} lost points:\n{other.output}"
    if fields["mistake"] != "none":
        assert f"[{fields['mistake']}]" in target.output, target.output


@pytest.mark.slow
@pytest.mark.parametrize("path", RIGHT, ids=[p.stem for p in RIGHT])
def test_correct_submission_written_differently_scores_full_marks(path, grade_sources):
    """Does this correct but differently written implementation score full marks on its part?"""
    part = path.stem.split("__")[0]
    report = grade_sources(submission_for(path, part))
    for spec in functions_of(part):
        result = report.test(spec.test_name)
        assert result.status == "passed", f"{spec.test_name}:\n{result.output}"
