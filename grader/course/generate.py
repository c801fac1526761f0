"""Generate the assignment's notebooks and stubs from the single source of truth.

The sources are ``solutions/<part>.py`` (the reference functions, with nbgrader's
``### BEGIN SOLUTION`` / ``### END SOLUTION`` regions) and ``solutions/lessons/<part>.md``
(the teaching text). From them this module writes, in order:

1. ``solutions/exploding_gradients/<part>.ipynb``: the nbgrader source notebooks;
2. ``solutions/exploding_gradients/<part>.py`` and ``exercises/exploding_gradients/<part>.py``:
   the plain-module student stubs (in the source folder too, so that nbgrader's own
   ``generate_assignment --force`` copies them into the release instead of deleting them);
3. ``exercises/exploding_gradients/<part>.ipynb``: the student release, made by
   nbgrader's ``generate_assignment`` (configured by ``nbgrader_config.py``, without a
   gradebook database).

Lesson format: markdown becomes markdown cells, and a line ``+++`` starts a new cell.
Fenced code blocks whose info string starts with ``python`` become code cells::

    ```python setup               the first code cell, locked
    ```python solution <function> empty body: the function from solutions/<part>.py
    ```python check <function>    check(<function>), a self-check that is not graded
    ```python tests <function>    the autograded, locked test cell
    ```python                     a locked demonstration cell

Every contract function of the part appears exactly once as ``solution`` and once as
``tests``. Output is byte-stable: regenerating gives identical files.

Usage::

    python -m grader.course.generate          # regenerate everything
    python -m grader.course.generate --check  # exit 1 listing generated files that are stale
"""

from __future__ import annotations

import argparse
import filecmp
import logging
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

from grader.assignment import ASSIGNMENT, PARTS, function, functions_of
from grader.course.sources import BEGIN, END, split_module, stub_out
from grader.paths import ROOT

SOURCE_DIRECTORY = "solutions"
RELEASE_DIRECTORY = "exercises"
LESSONS = Path(SOURCE_DIRECTORY) / "lessons"
NBGRADER_CONFIG = "nbgrader_config.py"
NBFORMAT_MINOR = 5
NBGRADER_SCHEMA = 3

#: Code-cell kinds of the lesson format, and whether each names a function.
KINDS = {"setup": False, "solution": True, "check": True, "tests": True, "demo": False}

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}

#: nbgrader's region delimiters: outside solution cells they make generate_assignment fail.
NBGRADER_DELIMITERS = (
    "BEGIN SOLUTION",
    "END SOLUTION",
    "BEGIN HIDDEN TESTS",
    "END HIDDEN TESTS",
    "BEGIN MARK SCHEME",
    "END MARK SCHEME",
)

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`]*)$")
_IGNORED_IN_CHECK = {"__pycache__", ".ipynb_checkpoints"}


@dataclass(frozen=True)
class Block:
    """One cell-to-be of a lesson: markdown text or a code block of some kind."""

    kind: str
    text: str
    function: str | None = None
    line: int = 0


def source_notebook_path(part: str, root: Path = ROOT) -> Path:
    """Return the path of a part's nbgrader source notebook.

    Args:
        part: the part's name.
        root: the course directory.

    Returns:
        ``<root>/solutions/exploding_gradients/<part>.ipynb``.
    """
    return root / SOURCE_DIRECTORY / ASSIGNMENT / f"{part}.ipynb"


def release_path(part: str, suffix: str, root: Path = ROOT) -> Path:
    """Return the path of a part's released file.

    Args:
        part: the part's name.
        suffix: ``".ipynb"`` (the student notebook) or ``".py"`` (the stub module).
        root: the course directory.

    Returns:
        ``<root>/exercises/exploding_gradients/<part><suffix>``.
    """
    return root / RELEASE_DIRECTORY / ASSIGNMENT / f"{part}{suffix}"


def lesson_path(part: str, root: Path = ROOT) -> Path:
    """Return the path of a part's lesson text.

    Args:
        part: the part's name.
        root: the course directory.

    Returns:
        ``<root>/solutions/lessons/<part>.md``.
    """
    return root / LESSONS / f"{part}.md"


def parse_lesson(text: str, lesson: str = "<lesson>") -> list[Block]:
    """Split a lesson into markdown and code blocks.

    Args:
        text: the lesson's markdown.
        lesson: the lesson's name or path, for error messages.

    Returns:
        list of Block in order; markdown blocks are stripped and never empty.

    Raises:
        ValueError: for an unknown code-block kind, a missing or extra function name,
            or a fence that is never closed.
    """
    blocks: list[Block] = []
    markdown: list[str] = []
    markdown_start = 1

    def flush_markdown() -> None:
        content = "\n".join(markdown).strip("\n")
        if content.strip():
            blocks.append(Block("markdown", content, line=markdown_start))
        markdown.clear()

    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        number = index + 1
        fence = _FENCE.match(line)
        if line.strip() == "+++":
            flush_markdown()
            markdown_start = number + 1
            index += 1
            continue
        if fence is None:
            if not markdown:
                markdown_start = number
            markdown.append(line)
            index += 1
            continue
        # Find the closing fence: a line of at least as many backticks and nothing else.
        opening = fence.group("fence")
        end = index + 1
        while end < len(lines) and not (
            lines[end].strip().startswith(opening) and set(lines[end].strip()) == {"`"}
        ):
            end += 1
        if end == len(lines):
            raise ValueError(
                f"{lesson}:{number}: the code fence opened here is never closed. "
                f"Close it with a line of {opening}. Received: {line!r}"
            )
        words = fence.group("info").split()
        if not words or words[0] != "python":
            # Not a cell: a fenced example inside the markdown text.
            if not markdown:
                markdown_start = number
            markdown.extend(lines[index : end + 1])
            index = end + 1
            continue
        flush_markdown()
        blocks.append(_code_block(words[1:], lines[index + 1 : end], lesson, number))
        index = end + 1
        markdown_start = index + 1
    flush_markdown()
    return blocks


def _code_block(words: list[str], body: list[str], lesson: str, number: int) -> Block:
    kind = words[0] if words else "demo"
    if kind not in KINDS or (kind == "demo" and words):
        raise ValueError(
            f"{lesson}:{number}: unknown code block kind {kind!r}. Expected ```python "
            f"followed by nothing or by one of {sorted(set(KINDS) - {'demo'})}. "
            f"Received: {' '.join(['python', *words])!r}"
        )
    arguments = words[1:]
    if KINDS[kind] and len(arguments) != 1:
        raise ValueError(
            f"{lesson}:{number}: a ```python {kind} block names exactly one function, "
            f"e.g. ```python {kind} sigmoid. Received: {' '.join(['python', *words])!r}"
        )
    if not KINDS[kind] and arguments:
        raise ValueError(
            f"{lesson}:{number}: a ```python {kind} block takes no function name. "
            f"Received: {' '.join(['python', *words])!r}"
        )
    source = "\n".join(body).strip("\n")
    if kind == "solution" and source.strip():
        raise ValueError(
            f"{lesson}:{number}: a ```python solution block must be empty: the generator "
            f"fills it with {arguments[0]} from the reference module. Received: a body of "
            f"{len(body)} lines"
        )
    return Block(kind, source, arguments[0] if arguments else None, number)


def validate_lesson(blocks: Sequence[Block], part: str, lesson: str = "<lesson>") -> None:
    """Check that a lesson's blocks make a valid notebook of ``part``.

    Args:
        blocks: the lesson's blocks, from :func:`parse_lesson`.
        part: the part the lesson belongs to.
        lesson: the lesson's name or path, for error messages.

    Raises:
        ValueError: if the first code block is not the only ``setup`` block, if
            nbgrader's delimiters appear in the text, if a block names a function
            outside the part's contract, if a contract function is not exactly once a
            ``solution`` and once a ``tests`` block, or if its ``check`` or ``tests``
            block comes before its ``solution`` block.
    """
    names = [f.name for f in functions_of(part)]
    code = [block for block in blocks if block.kind != "markdown"]
    setups = [block for block in code if block.kind == "setup"]
    if len(setups) != 1 or code[0].kind != "setup":
        raise ValueError(
            f"{lesson}: the first code block must be the only ```python setup block. "
            f"Received: {len(setups)} setup blocks"
            + (f", first code block of kind {code[0].kind!r}" if code else ", no code blocks")
        )
    for block in blocks:
        found = [d for d in NBGRADER_DELIMITERS if d in block.text]
        if found:
            raise ValueError(
                f"{lesson}:{block.line}: nbgrader's delimiter {found[0]!r} appears in a "
                f"{block.kind} block; nbgrader only accepts it inside solution cells. "
                "Reword the text."
            )
    for block in code:
        if block.function is not None and block.function not in names:
            raise ValueError(
                f"{lesson}:{block.line}: function {block.function!r} is not in the contract "
                f"of part {part!r}. Expected one of {names}. Received: "
                f"```python {block.kind} {block.function}"
            )
    for kind in ("solution", "tests"):
        for name in names:
            lines = [b.line for b in code if b.kind == kind and b.function == name]
            if len(lines) != 1:
                where = f" (lines {lines})" if lines else ""
                raise ValueError(
                    f"{lesson}: function {name!r} must appear exactly once as ```python "
                    f"{kind} {name}. Received: {len(lines)} such blocks{where}"
                )
    solved: set[str] = set()
    for block in code:
        if block.kind == "solution":
            solved.add(block.function)
        elif block.function is not None and block.function not in solved:
            raise ValueError(
                f"{lesson}:{block.line}: the ```python {block.kind} {block.function} block "
                f"comes before ```python solution {block.function}. Move it after the "
                "solution, where the function is defined."
            )


def _nbgrader(
    grade_id: str,
    *,
    grade: bool = False,
    solution: bool = False,
    locked: bool = False,
    points: float | None = None,
) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": NBGRADER_SCHEMA,
        "solution": solution,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return meta


def _points_text(points: float) -> str:
    return f"{points:g}"


def grading_cell_source(part: str, name: str) -> str:
    """Return the source of the autograded test cell of ``<part>.<name>``.

    Args:
        part: the part's name.
        name: the function's name.

    Returns:
        the two-line cell source (a comment and the call of ``grade``).

    Raises:
        ValueError: if the function is not in the contract.
    """
    points = function(f"{part}.{name}").points
    return (
        f"# Autograded test for {part}.{name} ({_points_text(points)} "
        f"{'point' if points == 1 else 'points'}). "
        "Do not edit this cell.\n"
        f'grade("{part}.{name}", {name})'
    )


def build_notebook(part: str, root: Path = ROOT) -> NotebookNode:
    """Build a part's nbgrader source notebook from its lesson and reference module.

    Args:
        part: the part's name, e.g. ``"chain_rule"``.
        root: the course directory holding ``solutions/``.

    Returns:
        the notebook (nbformat 4.5), solutions included, without outputs.

    Raises:
        ValueError: if the part is unknown, or its lesson is invalid (see
            :func:`parse_lesson` and :func:`validate_lesson`), or a function is missing
            from ``solutions/<part>.py`` or has no solution region.
    """
    contract = functions_of(part)
    lesson = lesson_path(part, root)
    lesson_name = lesson.relative_to(root).as_posix()
    blocks = parse_lesson(lesson.read_text(encoding="utf-8"), lesson_name)
    validate_lesson(blocks, part, lesson_name)
    module = root / SOURCE_DIRECTORY / f"{part}.py"
    _, functions = split_module(module.read_text(encoding="utf-8"))
    missing = [f.name for f in contract if f.name not in functions]
    if missing:
        raise ValueError(
            f"{module.relative_to(root)} does not define {missing}, which the contract of "
            f"part {part!r} requires. Received: functions {list(functions)}"
        )
    unmarked = [
        f.name
        for f in contract
        if functions[f.name].count(BEGIN) != 1 or functions[f.name].count(END) != 1
    ]
    if unmarked:
        raise ValueError(
            f"{module.relative_to(root)}: {unmarked} do not have exactly one solution "
            f"region; without one their solution would be released to students. Mark "
            f"the body with one {BEGIN!r} and one {END!r} line."
        )

    nb = nbformat.v4.new_notebook()
    nb.nbformat_minor = NBFORMAT_MINOR
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    demos = 0
    for index, block in enumerate(blocks):
        cell_id = f"{part}-{index:03d}"
        if block.kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(block.text, id=cell_id))
            continue
        metadata: dict = {}
        source = block.text
        if block.kind == "setup":
            metadata["nbgrader"] = _nbgrader(f"{part}-setup", locked=True)
        elif block.kind == "demo":
            demos += 1
            metadata["nbgrader"] = _nbgrader(f"{part}-demo-{demos}", locked=True)
            metadata["tags"] = ["demo"]
        elif block.kind == "solution":
            source = functions[block.function].rstrip("\n")
            metadata["nbgrader"] = _nbgrader(f"{part}-{block.function}", solution=True)
        elif block.kind == "check":
            source = f"check({block.function})"
            metadata["tags"] = ["self-check"]
        elif block.kind == "tests":
            points = function(f"{part}.{block.function}").points
            source = grading_cell_source(part, block.function)
            metadata["nbgrader"] = _nbgrader(
                f"{part}-{block.function}-tests", grade=True, locked=True, points=points
            )
        cell = nbformat.v4.new_code_cell(source, id=cell_id, metadata=metadata)
        nb.cells.append(cell)
    return nb


def notebook_text(nb: NotebookNode) -> str:
    """Serialise a notebook byte-stably: nbformat 4.5, sorted keys, trailing newline.

    Args:
        nb: the notebook.

    Returns:
        its JSON text.

    Raises:
        nbformat.ValidationError: if the notebook is not valid nbformat 4.5.
    """
    nb = nbformat.from_dict(nb)
    nb.nbformat, nb.nbformat_minor = 4, NBFORMAT_MINOR
    nbformat.validate(nb)
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


def write_source_notebooks(root: Path = ROOT) -> list[Path]:
    """Write every part's nbgrader source notebook.

    Args:
        root: the course directory.

    Returns:
        the paths written.

    Raises:
        ValueError: if a lesson is invalid (see :func:`build_notebook`).
    """
    notebooks = {part: build_notebook(part, root) for part in PARTS}  # validate all first
    return [_write(source_notebook_path(p, root), notebook_text(nb)) for p, nb in notebooks.items()]


def release_assignment(root: Path = ROOT) -> list[Path]:
    """Run nbgrader's ``generate_assignment`` into the release directory.

    The configuration comes from ``<root>/nbgrader_config.py``; the course directory is
    forced to ``root`` and no gradebook database is written. nbgrader replaces the
    release directory and copies the plain-module stubs from the source directory.

    Args:
        root: the course directory.

    Returns:
        the released notebooks, rewritten byte-stably.

    Raises:
        RuntimeError: if nbgrader fails to release a notebook.
    """
    # lazy: nbgrader loads only to release the assignment, not to check the generated files
    from nbgrader.converters import GenerateAssignment, NbGraderException
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(NBGRADER_CONFIG, path=str(root)).load_config()
    overrides = Config()
    overrides.CourseDirectory.root = str(root)
    overrides.CourseDirectory.assignment_id = ASSIGNMENT
    overrides.CourseDirectory.notebook_id = "*"
    overrides.BaseConverter.force = True
    overrides.GenerateAssignment.no_database = True  # `--no-db`: no gradebook.db
    overrides.GenerateAssignment.create_assignment = False
    overrides.SaveCells.enabled = False
    config.merge(overrides)

    nbgrader_log = logging.getLogger(f"{__name__}.nbgrader")
    if nbgrader_log.level == logging.NOTSET:
        nbgrader_log.setLevel(logging.ERROR)  # its "Removing existing assignment" is routine
    coursedir = CourseDirectory(config=config, log=nbgrader_log)
    converter = GenerateAssignment(coursedir=coursedir, config=config, log=nbgrader_log)
    try:
        converter.start()
    except NbGraderException as error:
        raise RuntimeError(f"nbgrader generate_assignment failed in {root}: {error}") from error
    released = []
    for part in PARTS:
        path = release_path(part, ".ipynb", root)
        if not path.exists():
            raise RuntimeError(f"nbgrader did not release {path}. Received: no such file")
        _write(path, notebook_text(nbformat.read(path, as_version=4)))
        released.append(path)
    return released


def write_stubs(root: Path = ROOT) -> list[Path]:
    """Write the plain-module student stubs, ``grader.course.sources.stub_source(part)``.

    Each stub is written beside the nbgrader source notebooks too, so that nbgrader's own
    ``generate_assignment --force``, which replaces the release folder, copies the stubs
    back instead of deleting them.

    Args:
        root: the course directory.

    Returns:
        the paths written.
    """
    written = []
    for part in PARTS:
        module = root / SOURCE_DIRECTORY / f"{part}.py"
        stub = stub_out(module.read_text("utf-8"))
        written.append(_write(source_notebook_path(part, root).with_suffix(".py"), stub))
        written.append(_write(release_path(part, ".py", root), stub))
    return written


def generate(root: Path = ROOT) -> list[Path]:
    """Regenerate the source notebooks, the release and the stubs.

    Args:
        root: the course directory.

    Returns:
        every path written.

    Raises:
        ValueError: if a lesson is invalid.
        RuntimeError: if nbgrader fails.
    """
    written = write_source_notebooks(root)
    written += write_stubs(root)  # before the release, which copies them (see write_stubs)
    written += release_assignment(root)
    return written


def generated_files(root: Path) -> set[str]:
    """Return the files under the generated directories, relative to ``root``.

    Args:
        root: the course directory.

    Returns:
        POSIX relative paths, caches and checkpoints left out.
    """
    found = set()
    for directory in (Path(SOURCE_DIRECTORY) / ASSIGNMENT, Path(RELEASE_DIRECTORY) / ASSIGNMENT):
        base = root / directory
        if not base.is_dir():
            continue
        for path in base.rglob("*"):
            relative = path.relative_to(root)
            if path.is_file() and not _IGNORED_IN_CHECK.intersection(relative.parts):
                found.add(relative.as_posix())
    return found


def copy_sources(root: Path, target: Path) -> None:
    """Copy what the generator reads (modules, lessons, nbgrader config) to ``target``.

    Args:
        root: the course directory to copy from.
        target: a new course directory; it may already exist but not its ``solutions``.

    Raises:
        FileExistsError: if ``target/solutions/lessons`` already exists.
    """
    (target / LESSONS).mkdir(parents=True)
    shutil.copy2(root / NBGRADER_CONFIG, target / NBGRADER_CONFIG)
    for part in PARTS:
        shutil.copy2(root / SOURCE_DIRECTORY / f"{part}.py", target / SOURCE_DIRECTORY)
        shutil.copy2(lesson_path(part, root), lesson_path(part, target))


def check(root: Path = ROOT) -> list[str]:
    """Regenerate into a temporary copy and list the generated files that differ.

    Args:
        root: the course directory whose generated files are checked.

    Returns:
        sorted lines ``"<status>: <path>"`` with status ``differs``, ``missing`` (would be
        generated but is absent) or ``not generated`` (present but not produced by the
        generator); empty when everything is up to date.

    Raises:
        ValueError: if a lesson is invalid.
        RuntimeError: if nbgrader fails.
    """
    with tempfile.TemporaryDirectory(prefix="generate-check-") as tmp:
        copy = Path(tmp) / "course"
        copy_sources(root, copy)
        generate(copy)
        fresh, present = generated_files(copy), generated_files(root)
        report = [f"missing: {path}" for path in fresh - present]
        report += [f"not generated: {path}" for path in present - fresh]
        report += [
            f"differs: {path}"
            for path in fresh & present
            if not filecmp.cmp(copy / path, root / path, shallow=False)
        ]
    return sorted(report, key=lambda line: (line.split(": ", 1)[1], line))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator from the command line.

    Args:
        argv: arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        the exit status: 0 on success, 1 if ``--check`` finds stale files.
    """
    parser = argparse.ArgumentParser(
        prog="python -m grader.course.generate",
        description="Generate the notebooks and stubs from solutions/ and solutions/lessons/.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary copy and list the files that differ; write nothing",
    )
    parser.add_argument("--verbose", action="store_true", help="show nbgrader's log")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger(f"{__name__}.nbgrader").setLevel(
        logging.INFO if arguments.verbose else logging.ERROR
    )
    if arguments.check:
        report = check(ROOT)
        if report:
            print("Generated files are out of date:", *report, sep="\n  ")
            print("Run `python -m grader.course.generate` and commit the result.")
            return 1
        print("Generated files are up to date.")
        return 0
    for path in generate(ROOT):
        print(f"wrote {path.relative_to(ROOT).as_posix()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
