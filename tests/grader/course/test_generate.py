"""Tests of the notebook and stub generator, ``grader.course.generate``.

The quick tests read the committed notebooks and stubs and build notebooks in memory;
the slow ones run nbgrader (the drift test, a full regeneration in a temporary copy).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator
from traitlets.config.loader import PyFileConfigLoader

from grader.assignment import ASSIGNMENT, FUNCTIONS, PARTS, functions_of
from grader.course import generate
from grader.course.generate import (
    ROOT,
    build_notebook,
    copy_sources,
    notebook_text,
    parse_lesson,
    release_path,
    source_notebook_path,
    validate_lesson,
)
from grader.course.sources import BEGIN, END, STUB, solution_source, split_module, stub_source

CONTRACT_IDS = [f.test_name for f in FUNCTIONS]


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def _cells_by_grade_id(nb: nbformat.NotebookNode) -> dict[str, list[nbformat.NotebookNode]]:
    found: dict[str, list[nbformat.NotebookNode]] = {}
    for cell in nb.cells:
        if "grade_id" in _nbgrader(cell):
            found.setdefault(_nbgrader(cell)["grade_id"], []).append(cell)
    return found


def _solution_lines(part: str) -> set[str]:
    """Every non-trivial line between the solution markers of a reference module."""
    regions = re.findall(
        rf"^[ \t]*{re.escape(BEGIN)}\n(.*?)^[ \t]*{re.escape(END)}",
        solution_source(part),
        re.DOTALL | re.MULTILINE,
    )
    lines = {line.strip() for region in regions for line in region.splitlines()}
    return {line for line in lines if line and not line.startswith("#") and len(line) > 3}


def _course_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    copy_sources(ROOT, course)
    return course


# --- the committed notebooks --------------------------------------------------------------


@pytest.mark.parametrize("part", PARTS)
def test_source_notebook_is_what_the_generator_builds(part: str) -> None:
    """Is the committed source notebook byte-identical to a fresh build?"""
    expected = notebook_text(build_notebook(part))
    assert source_notebook_path(part).read_text(encoding="utf-8") == expected


@pytest.mark.parametrize("part", PARTS)
def test_build_is_byte_stable(part: str) -> None:
    """Does building a notebook twice give the same text, ending in a newline?"""
    first, second = notebook_text(build_notebook(part)), notebook_text(build_notebook(part))
    assert first == second
    assert first.endswith("}\n")


@pytest.mark.parametrize("part", PARTS)
def test_source_notebook_format_is_fixed(part: str) -> None:
    """nbformat 4.5, cell ids from part and index, no outputs or execution counts?"""
    nb = _read(source_notebook_path(part))
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert [cell.id for cell in nb.cells] == [f"{part}-{i:03d}" for i in range(len(nb.cells))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("kind", ["source", "release"])
@pytest.mark.parametrize("part", PARTS)
def test_nbgrader_metadata_is_valid(part: str, kind: str) -> None:
    """Does nbgrader's own schema (v3) accept every cell's metadata?"""
    path = source_notebook_path(part) if kind == "source" else release_path(part, ".ipynb")
    nb = _read(path)
    MetadataValidator().validate_nb(nb)
    nbformat.validate(nb)


@pytest.mark.parametrize("test_name", CONTRACT_IDS)
def test_one_solution_cell_and_one_test_cell_per_function(test_name: str) -> None:
    """Has every contract function one solution cell and one test cell worth its points?"""
    part, name = test_name.split(".")
    spec = next(f for f in FUNCTIONS if f.test_name == test_name)
    for path in (source_notebook_path(part), release_path(part, ".ipynb")):
        cells = _cells_by_grade_id(_read(path))
        solutions = cells.get(f"{part}-{name}", [])
        tests = cells.get(f"{part}-{name}-tests", [])
        assert len(solutions) == 1 and len(tests) == 1, path
        assert _nbgrader(solutions[0])["solution"] and not _nbgrader(solutions[0])["grade"]
        meta = _nbgrader(tests[0])
        assert meta["grade"] and not meta["solution"] and meta["locked"]
        assert meta["points"] == spec.points
        unit = "point" if spec.points == 1 else "points"
        assert tests[0].source == (
            f"# Autograded test for {test_name} ({spec.points:g} {unit}). "
            f'Do not edit this cell.\ngrade("{test_name}", {name})'
        )


def test_points_add_up_to_100() -> None:
    """Do the autograded cells of the four notebooks carry 100 points in all?"""
    total = 0.0
    for part in PARTS:
        for cell in _read(release_path(part, ".ipynb")).cells:
            if _nbgrader(cell).get("grade"):
                total += _nbgrader(cell)["points"]
    assert total == 100


@pytest.mark.parametrize("part", PARTS)
def test_locked_cells_are_locked(part: str) -> None:
    """Are setup, demonstration and test cells read-only in the release?"""
    for cell in _read(release_path(part, ".ipynb")).cells:
        meta = _nbgrader(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            assert cell.metadata.get("editable", True) and not cell.metadata["deletable"]
        elif meta:
            assert meta["locked"], meta["grade_id"]
            assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False
        else:
            assert cell.metadata.get("tags") == ["self-check"]
            assert re.fullmatch(r"check\(\w+\)", cell.source)


@pytest.mark.parametrize("part", PARTS)
def test_solution_cells_hold_the_reference_functions(part: str) -> None:
    """Is each source solution cell the reference function, markers kept?"""
    functions = split_module(solution_source(part))[1]
    cells = _cells_by_grade_id(_read(source_notebook_path(part)))
    for f in functions_of(part):
        source = cells[f"{part}-{f.name}"][0].source
        assert source + "\n" == functions[f.name]
        assert BEGIN in source and END in source


@pytest.mark.parametrize("part", PARTS)
def test_released_solution_cells_are_the_stubs(part: str) -> None:
    """Is each released solution cell the stub function, and no solution line left?"""
    stub_functions = split_module(stub_source(part))[1]
    indented_stub = "".join(f"    {line}\n" for line in STUB.splitlines())
    cells = _cells_by_grade_id(_read(release_path(part, ".ipynb")))
    secret = _solution_lines(part)
    for f in functions_of(part):
        source = cells[f"{part}-{f.name}"][0].source
        assert source + "\n" == stub_functions[f.name]
        assert source.endswith(indented_stub.rstrip("\n"))
        assert not secret & {line.strip() for line in source.splitlines()}


@pytest.mark.parametrize("part", PARTS)
def test_cells_follow_the_lesson_format(part: str) -> None:
    """Is the setup cell first and locked, with the quiet TensorFlow import first?"""
    nb = _read(source_notebook_path(part))
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# Part ")
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    setup = code[0]
    assert _nbgrader(setup) == {
        "grade": False,
        "grade_id": f"{part}-setup",
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    assert "from grader.notebook import check, grade" in setup.source
    if part == "chain_rule":
        assert "np.random.default_rng(0)" in setup.source
    else:
        lines = [line for line in setup.source.splitlines() if line.strip()]
        assert lines[:2] == [
            "from grader.quiet import import_tensorflow",
            "tf = import_tensorflow()  # imports TensorFlow without its start-up log lines",
        ]
        assert "keras.utils.set_random_seed(0)" in setup.source
    demos = [cell for cell in code if cell.metadata.get("tags") == ["demo"]]
    assert [_nbgrader(c)["grade_id"] for c in demos] == [
        f"{part}-demo-{i}" for i in range(1, len(demos) + 1)
    ]
    assert all(_nbgrader(c)["locked"] for c in demos)


def test_chain_rule_notebook_imports_no_autodiff_library() -> None:
    """Does no cell of Part 1 import TensorFlow, Keras, JAX, PyTorch or autograd?"""
    banned = re.compile(r"^\s*(import|from)\s+(tensorflow|keras|jax|torch|autograd)\b", re.M)
    for path in (source_notebook_path("chain_rule"), release_path("chain_rule", ".ipynb")):
        for cell in _read(path).cells:
            if cell.cell_type == "code":
                assert not banned.search(cell.source), cell.source
                assert "import_tensorflow" not in cell.source


# --- the plain-module stubs -------------------------------------------------------------


@pytest.mark.parametrize("part", PARTS)
def test_stub_module_is_the_stub_source(part: str) -> None:
    """Is exercises/<assignment>/<part>.py exactly grader.course.sources.stub_source(part)?"""
    assert release_path(part, ".py").read_text(encoding="utf-8") == stub_source(part)


@pytest.mark.parametrize("part", PARTS)
def test_stub_module_contains_no_solution_code(part: str) -> None:
    """Is every contract function's body only its docstring and the stub?"""
    text = release_path(part, ".py").read_text(encoding="utf-8")
    assert BEGIN not in text and END not in text
    assert not _solution_lines(part) & {line.strip() for line in text.splitlines()}
    defs = {node.name: node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
    for f in functions_of(part):
        body = defs[f.name].body
        assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        assert len(body) == 2 and ast.unparse(body[1]) == "raise NotImplementedError()"


@pytest.mark.parametrize("part", PARTS)
def test_stub_functions_raise_not_implemented(part: str) -> None:
    """Does calling every stub function raise NotImplementedError?"""
    spec = importlib.util.spec_from_file_location(f"stub_{part}", release_path(part, ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for f in functions_of(part):
        function = getattr(module, f.name)
        required = [
            p
            for p in inspect.signature(function).parameters.values()
            if p.default is inspect.Parameter.empty
        ]
        with pytest.raises(NotImplementedError):
            function(*[None] * len(required))


# --- the lesson format ------------------------------------------------------------------


def test_plus_lines_split_markdown_cells() -> None:
    """Does a line +++ start a new markdown cell, and are other fences kept as text?"""
    blocks = parse_lesson("# Title\n\nOne.\n+++\nTwo.\n\n```\n+++\n```\n\n```python\nx = 1\n```\n")
    assert [(b.kind, b.text) for b in blocks] == [
        ("markdown", "# Title\n\nOne."),
        ("markdown", "Two.\n\n```\n+++\n```"),
        ("demo", "x = 1"),
    ]


@pytest.mark.parametrize(
    ("lesson", "message"),
    [
        ("```python setup\nx = 1\n", "never closed"),
        ("```python solve sigmoid\n```\n", "unknown code block kind"),
        ("```python solution\n```\n", "names exactly one function"),
        ("```python setup sigmoid\n```\n", "takes no function name"),
        ("```python solution sigmoid\nreturn 1\n```\n", "must be empty"),
    ],
)
def test_malformed_blocks_are_rejected(lesson: str, message: str) -> None:
    """Is a malformed code block rejected with a message naming the lesson and line?"""
    with pytest.raises(ValueError, match=message) as error:
        parse_lesson(lesson, "lessons/broken.md")
    assert "lessons/broken.md:1" in str(error.value)


def _lesson_blocks(part: str) -> list:
    return parse_lesson(generate.lesson_path(part).read_text(encoding="utf-8"), "lesson.md")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda text: text.replace("```python tests sigmoid_derivative\n```\n", ""),
            r"'sigmoid_derivative' must appear exactly once as ```python tests",
        ),
        (
            lambda text: text.replace("```python solution chain_forward\n```\n", ""),
            r"'chain_forward' must appear exactly once as ```python solution",
        ),
        (
            lambda text: text + "\n```python tests sgd_update\n```\n",
            r"'sgd_update' must appear exactly once as ```python tests.*2 such blocks",
        ),
        (
            lambda text: text + "\n```python solution sigmoid\n```\n",
            r"'sigmoid' must appear exactly once as ```python solution.*2 such blocks",
        ),
        (
            lambda text: text + "\n```python check softmax\n```\n",
            r"'softmax' is not in the contract of part 'chain_rule'",
        ),
        (
            lambda text: text.replace("```python setup\n", "```python\n", 1),
            r"first code block must be the only ```python setup block",
        ),
        (lambda text: text + "\nSee ### BEGIN SOLUTION.\n", r"delimiter 'BEGIN SOLUTION'"),
    ],
    ids=[
        "missing-tests",
        "missing-solution",
        "duplicate-tests",
        "duplicate-solution",
        "unknown-function",
        "no-setup",
        "delimiter-in-markdown",
    ],
)
def test_invalid_lesson_is_rejected(tmp_path: Path, edit, message: str) -> None:
    """Is a lesson with a missing, duplicate or unknown function rejected by name?"""
    course = _course_copy(tmp_path)
    lesson = generate.lesson_path("chain_rule", course)
    lesson.write_text(edit(lesson.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as error:
        build_notebook("chain_rule", course)
    assert "solutions/lessons/chain_rule.md" in str(error.value)


def test_check_before_solution_is_rejected() -> None:
    """Is a check cell placed before its function's solution cell rejected?"""
    blocks = _lesson_blocks("chain_rule")
    first_solution = next(i for i, b in enumerate(blocks) if b.kind == "solution")
    check = next(b for b in blocks if b.kind == "check" and b.function == "sgd_update")
    reordered = blocks[:first_solution] + [check] + blocks[first_solution:]
    with pytest.raises(ValueError, match="comes before ```python solution sgd_update"):
        validate_lesson(reordered, "chain_rule", "lesson.md")


def test_function_without_solution_region_is_rejected(tmp_path: Path) -> None:
    """Is a reference function without markers refused, so it is never released?"""
    course = _course_copy(tmp_path)
    module = course / "solutions" / "chain_rule.py"
    text = module.read_text(encoding="utf-8")
    module.write_text(text.replace(f"    {BEGIN}\n    s = sigmoid(z)", "    s = sigmoid(z)", 1))
    with pytest.raises(ValueError, match=r"\['sigmoid_derivative'\] do not have exactly one"):
        build_notebook("chain_rule", course)


def test_split_module_keeps_the_end_marker() -> None:
    """Does each function's text run to its closing END marker?"""
    for part in PARTS:
        for name, text in split_module(solution_source(part))[1].items():
            assert text.rstrip().endswith(END), (part, name)


# --- nbgrader configuration -------------------------------------------------------------


def test_nbgrader_config() -> None:
    """Does nbgrader_config.py set the course layout, the ignores and the code stub?"""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.CourseDirectory.root == str(ROOT)
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "exercises"
    assert "__pycache__" in config.CourseDirectory.ignore
    # A student's .py files must not be ignored when nbgrader collects submissions.
    assert "*.py" not in config.CourseDirectory.ignore
    assert config.ClearSolutions.code_stub == {"python": STUB}


# --- regeneration with nbgrader (slow) --------------------------------------------------


@pytest.mark.slow
def test_committed_files_match_a_regeneration() -> None:
    """Does `python -m grader.course.generate --check` pass on the committed tree?"""
    result = subprocess.run(
        [sys.executable, "-m", "grader.course.generate", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_check_reports_stale_and_extra_files(tmp_path: Path) -> None:
    """Does check() list a changed file and a file the generator does not make?"""
    course = _course_copy(tmp_path)
    generate.generate(course)
    assert generate.check(course) == []
    stub = release_path("clipping", ".py", course)
    stub.write_text(stub.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    (course / "exercises" / ASSIGNMENT / "notes.txt").write_text("x\n", encoding="utf-8")
    release_path("remedies", ".ipynb", course).unlink()
    assert generate.check(course) == [
        f"differs: exercises/{ASSIGNMENT}/clipping.py",
        f"not generated: exercises/{ASSIGNMENT}/notes.txt",
        f"missing: exercises/{ASSIGNMENT}/remedies.ipynb",
    ]


@pytest.mark.slow
def test_regeneration_is_byte_stable_and_leaves_no_database(tmp_path: Path) -> None:
    """Does regenerating give identical files, the release nothing else, and no gradebook?"""
    course = _course_copy(tmp_path)
    written = generate.generate(course)
    first = {path: path.read_bytes() for path in written}
    generate.generate(course)
    assert {path: path.read_bytes() for path in written} == first
    assert not list(course.rglob("gradebook.db")) and not list(course.rglob(".nbgrader.log"))
    released = sorted(p.name for p in (course / "exercises" / ASSIGNMENT).iterdir())
    assert released == sorted(f"{part}{suffix}" for part in PARTS for suffix in (".ipynb", ".py"))


# --- no released cell holds a graded function's solution ----------------------------------


def _solution_bodies() -> dict[str, list[str]]:
    """Each contract function's solution region as its non-trivial stripped lines."""
    bodies = {}
    for part in PARTS:
        _, functions = split_module(solution_source(part))
        for f in functions_of(part):
            region = functions[f.name].split(BEGIN, 1)[1].split(END, 1)[0]
            lines = [line.strip() for line in region.splitlines()]
            bodies[f.test_name] = [
                line for line in lines if line and not line.startswith("#") and len(line) > 3
            ]
    return bodies


def _complete_solutions_in(text: str, bodies: dict[str, list[str]]) -> list[str]:
    """The functions whose whole solution body appears, line by line, in ``text``."""
    present = {line.strip() for line in text.splitlines()}
    return [name for name, body in bodies.items() if body and set(body) <= present]


def test_solution_finder_finds_the_reference_bodies() -> None:
    """Does the finder flag every function in its own reference module, and none in a stub?"""
    bodies = _solution_bodies()
    found = {
        name for part in PARTS for name in _complete_solutions_in(solution_source(part), bodies)
    }
    assert found == set(bodies)
    stubs = "\n".join(release_path(part, ".py").read_text(encoding="utf-8") for part in PARTS)
    assert _complete_solutions_in(stubs, bodies) == []


@pytest.mark.parametrize("part", PARTS)
def test_student_notebook_holds_no_complete_solution(part: str) -> None:
    """Does no cell of the released notebook (code, demo or hint) hold a graded function's body?"""
    bodies = _solution_bodies()
    nb = _read(release_path(part, ".ipynb"))
    offending = {
        cell.get("id"): found
        for cell in nb.cells
        if (found := _complete_solutions_in(cell.source, bodies))
    }
    assert not offending, f"{part}: cells that hold a complete solution: {offending}"
