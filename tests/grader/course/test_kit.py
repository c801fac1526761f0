"""Does the student kit hold what ``check(...)`` needs and none of the answers?

The kit is built once and its wheel installed into a fresh virtual environment made
without this interpreter's site-packages, so that neither the course's editable install
(which would put ``solutions`` on the path) nor ``grader`` leaks in. TensorFlow, Keras and
NumPy are not downloaded again: a folder of links to this interpreter's third-party
packages (every entry of its site-packages except the course's own distribution and the
``.pth`` files, which could put the course back on the path) is named in a ``.pth`` file of
the venv. The tests then show from inside the venv that ``import solutions`` fails and that
``grader`` is the wheel's copy, before comparing the kit's verdicts with the full grader's.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import site
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

from grader.assignment import PARTS, functions_of
from grader.course.kit import record_public_values
from grader.course.sources import reference_source, solution_bodies
from grader.quiet import quiet_environment
from grader.results import PLOTS_ON_PUBLIC
from tests.paths import ROOT

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples"
#: What a lesson's demonstration says in the kit while the student's Part 2 (the released
#: notebook and module, side by side) is not written, by the Part 2 function it builds with.
NOT_WRITTEN = (
    "This demonstration runs your own {} from Part 2 (deep_sigmoid.ipynb and "
    "deep_sigmoid.py), which is not written yet: come back to this cell after Part 2."
)
#: What it prints once when it runs the student's own function.
RUNS_YOURS = "This demonstration runs your own {}, from deep_sigmoid.ipynb as last saved."
#: The Part 2 functions each part's lesson demonstrations build (and measure) with, in the
#: order they first run: the kit holds no gradient code, so it measures with the student's
#: own dense_grad_norms.
DEMO_BUILDERS = {"remedies": ["build_mlp", "dense_grad_norms"]}
#: Course files that must not be visible in the venv.
COURSE_ENTRIES = ("__editable__", "exploding_gradients_course", "grader", "solutions")


def _venv_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, **quiet_environment()}


@pytest.fixture(scope="module")
def venv(kit: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("venv")
    prefix = home / "env"
    subprocess.run([sys.executable, "-m", "venv", str(prefix)], check=True)
    python = prefix / "bin" / "python"
    links = home / "third_party"
    links.mkdir()
    for entry in Path(site.getsitepackages()[0]).iterdir():
        if entry.name.startswith(COURSE_ENTRIES) or entry.suffix == ".pth":
            continue
        (links / entry.name).symlink_to(entry)
    venv_site = subprocess.run(
        [str(python), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(venv_site) / "third_party.pth").write_text(f"{links}\n", encoding="utf-8")
    start = time.perf_counter()
    # As the kit's README says: with the extra that installs JupyterLab (linked here too).
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--disable-pip-version-check"]
        + ["--quiet", f"{kit['wheel']}[jupyter]"],
        check=True,
        env=_venv_environment(),
    )
    seconds = time.perf_counter() - start
    megabytes = kit["wheel"].stat().st_size / 1e6
    print(f"\nkit wheel: {megabytes:.2f} MB, installed in {seconds:.1f} s")
    return {"python": python, "prefix": prefix, "install_seconds": seconds}


def _run_in_venv(venv: dict[str, Any], code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv["python"]), "-c", code, *args],
        capture_output=True,
        text=True,
        env=_venv_environment(),
        cwd=venv["prefix"],
        timeout=1800,
    )


def test_venv_has_the_kit_and_no_reference(venv: dict[str, Any]) -> None:
    """Is ``grader`` the wheel's copy, and do ``solutions`` and the hidden grading fail to import?"""
    probe = _run_in_venv(
        venv,
        "import importlib, json, grader, tensorflow\n"
        "found = {}\n"
        "for name in ('solutions', 'grader.grade', 'grader.course.generate', 'grader.course.sources'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "        found[name] = True\n"
        "    except ImportError:\n"
        "        found[name] = False\n"
        "print(json.dumps({'grader': grader.__file__, 'found': found}))",
    )
    assert probe.returncode == 0, probe.stderr
    answer = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(answer["grader"]).is_relative_to(venv["prefix"])
    assert answer["found"] == {
        "solutions": False,
        "grader.grade": False,
        "grader.course.generate": False,
        "grader.course.sources": False,
    }


def _wheel_texts(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name).decode("utf-8", "replace") for name in archive.namelist()}


def _solution_bodies() -> dict[str, list[str]]:
    """Each reference function's body, by test name (:func:`solution_bodies`)."""
    return {
        f"{part}.{name}": lines for part in PARTS for name, lines in solution_bodies(part).items()
    }


def test_wheel_holds_no_reference_code(kit: dict[str, Any]) -> None:
    """Is no reference function's body in the wheel, nor most of its lines in one file?

    Single lines are TensorFlow idioms the grader's own code shares (``grads =
    tape.gradient(loss, model.trainable_variables)`` measures a training run too), so a
    body counts as found when one file holds half of its lines or more.
    """
    texts = _wheel_texts(kit["wheel"])
    assert not [name for name in texts if name.endswith((".pyc", ".pkl", ".pickle", ".npy"))]
    assert not [name for name in texts if name.startswith("solutions")]
    flat = {name: re.sub(r"\s+", "", text) for name, text in texts.items()}
    bodies = _solution_bodies()
    assert len(bodies) == sum(len(functions_of(part)) for part in PARTS)
    found = []
    for function, lines in bodies.items():
        whole = "".join(re.sub(r"\s+", "", line) for line in lines)
        for name, text in texts.items():
            if whole in flat[name]:
                found.append(f"{function}: whole body in {name}")
            shared = [line for line in lines if line in text and len(line) > 3]
            if len(shared) >= max(3, len(lines) / 2):
                found.append(f"{function}: {len(shared)} of {len(lines)} lines in {name}")
    assert not found, "\n".join(found)


def test_the_body_search_finds_a_reference_body() -> None:
    """Would the search above find a body that is there (the trusted step, which the kit
    leaves out, is the reference's clipped_train_step)?"""
    trusted = (ROOT / "grader" / "worker" / "trusted_step.py").read_text(encoding="utf-8")
    lines = _solution_bodies()["clipping.clipped_train_step"]
    assert sum(line in trusted for line in lines) >= len(lines) / 2


def _arrays(data: Any) -> list[str]:
    """The raw bytes (base64) of every array in recorded data."""
    if isinstance(data, dict):
        if "__array__" in data:
            return [data["__array__"]["data"]]
        return [item for value in data.values() for item in _arrays(value)]
    if isinstance(data, list):
        return [item for value in data for item in _arrays(value)]
    return []


def _drawn(data: str) -> bool:
    """Whether an array looks drawn at random: several different values, not zeros or a
    constant (which any case may share with a public one)."""
    raw = base64.b64decode(data)
    return len({raw[i : i + 4] for i in range(0, len(raw) - 3, 4)}) >= 3


def test_wheel_holds_no_hidden_case(kit: dict[str, Any]) -> None:
    """Is no value of the hidden cases (drawn from the default hidden seed) in the wheel?"""
    from grader.grade import hidden_seed

    seed = hidden_seed()
    tests = ["chain_rule.chain_gradients", "clipping.clip_by_global_norm"]
    tests += ["deep_sigmoid.dense_grad_norms", "remedies.rnn_jacobian_norms"]
    hidden = record_public_values(seed=seed, tests=tests)["values"]
    public = record_public_values(tests=tests)["values"]
    hidden_only = {key: value for key, value in hidden.items() if key not in public}
    assert len(hidden_only) > 20  # the hidden cases are recorded: the search means something
    texts = _wheel_texts(kit["wheel"])
    recorded = json.loads(texts["grader/recorded_values.json"])["values"]
    assert not set(hidden_only) & set(recorded)
    public_arrays = set(_arrays(public))
    secrets = {a for a in _arrays(hidden_only) if a not in public_arrays and _drawn(a)}
    assert len(secrets) > 20
    leaks = [name for name, text in texts.items() for a in secrets if a in text]
    assert not leaks
    # the seed in any form, outside the arrays' raw bytes (where digits occur by chance)
    words = {name: re.sub(r'"data":"[^"]*"', "", text) for name, text in texts.items()}
    assert not [name for name, text in words.items() if re.search(rf"{seed}|7_345_123", text)]
    # the public cases' values are there: the same search finds them
    kit_arrays = set(_arrays(recorded))
    assert len(public_arrays & kit_arrays) > 20


_VERDICTS = """
import contextlib, io, json, os, sys
from pathlib import Path
import nbformat
from grader.assignment import PARTS, functions_of
from grader.notebook import _run

os.chdir(sys.argv[1])  # Part 2 beside the others: the kit measures with its dense_grad_norms
results = {}
for part in PARTS:
    notebook = nbformat.read(Path(sys.argv[1]) / f"{part}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    namespace = {"__name__": "__main__", "In": [cell.source for cell in code]}
    for cell in code:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") or meta.get("grade_id", "").endswith("-setup"):
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, meta.get("grade_id", "cell"), "exec"), namespace)
    for spec in functions_of(part):
        result = _run(spec, namespace.get(spec.name), namespace)
        results[spec.test_name] = [result.status, result.score, result.output]
print(json.dumps(results))
"""


@pytest.mark.parametrize("example", ["correct", "typical_mistakes"])
def test_kit_verdicts_match_the_full_grader(
    venv: dict[str, Any], example: str, shared_sandbox: Any
) -> None:
    """Does check(...) from the kit give the full grader's verdicts, scores and feedback
    on the public cases?"""
    from grader.grade import grade_submission

    full = grade_submission(EXAMPLES / example, public=True, sandbox=shared_sandbox)
    wanted = {t.name: [t.status, t.score, t.output] for t in full.tests}
    done = _run_in_venv(venv, _VERDICTS, str(EXAMPLES / example))
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert {k: v[:2] for k, v in got.items()} == {k: v[:2] for k, v in wanted.items()}
    assert got == wanted
    if example == "typical_mistakes":
        assert sum(status != "passed" for status, _, _ in got.values()) >= 7


def _execute(
    venv: dict[str, Any], path: Path, workdir: Path, allow_errors: bool
) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(
        0, nbformat.v4.new_code_cell("import grader, sys\nprint(grader.__file__, sys.executable)")
    )
    kernels = workdir / "kernels" / "kit"
    kernels.mkdir(parents=True, exist_ok=True)
    argv = [str(venv["python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "kit", "language": "python"}
    (kernels / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    env = {**_venv_environment(), "JUPYTER_PATH": str(workdir)}
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="kit",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(workdir)}},
    )
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(workdir)  # where the client looks the kernel up
    try:
        client.execute(env=env)
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    first = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    assert first.startswith(str(venv["prefix"])), first
    return notebook


def _check_outputs(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        "".join(output.get("text", "") for output in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.startswith("check(")
    ]


@pytest.fixture(scope="module")
def released(kit: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the kit's notebooks and stubs, side by side as the student gets them."""
    folder = tmp_path_factory.mktemp("released") / "exploding_gradients"
    shutil.copytree(kit["out"] / "exploding_gradients", folder)
    return folder


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four released notebooks with the example solutions pasted in, side by side."""
    folder = tmp_path_factory.mktemp("solved") / "exploding_gradients"
    folder.mkdir()
    for part in PARTS:
        shutil.copyfile(EXAMPLES / "correct" / f"{part}.ipynb", folder / f"{part}.ipynb")
    return folder


def _errors(notebook: nbformat.NotebookNode) -> list[tuple[str, str, str]]:
    """(first line of the cell, error name, error value) of every error the cells raised."""
    return [
        (cell.source.splitlines()[0], output["ename"], output["evalue"])
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]


@pytest.mark.parametrize("part", PARTS)
def test_kit_notebooks_run_as_released_and_solved(
    venv: dict[str, Any], released: Path, solved: Path, part: str
) -> None:
    """Do the kit's notebooks run top to bottom in the venv, every check saying "not
    implemented yet" on the stubs, and with the example solutions pasted into all four,
    without any error and every check passing?

    On the stubs, the only errors are NotImplementedError: the stubs' own in the lesson
    cells that call the student's functions, and the demonstrations' sentence where a
    lesson builds with the student's Part 2, not written yet; the check and autograded
    cells raise nothing. Solved, the demonstrations run the student's own Part 2.
    """
    notebook = _execute(venv, released / f"{part}.ipynb", released, allow_errors=True)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = _errors(notebook)
    # the stubs' NotImplementedError, and the demonstrations' PartNotWritten (a subclass)
    assert all(name in ("NotImplementedError", "PartNotWritten") for _, name, _ in errors), errors
    assert not [line for line, _, _ in errors if line.startswith(("check(", "# Autograded"))]
    sentences = {NOT_WRITTEN.format(b) for builders in DEMO_BUILDERS.values() for b in builders}
    assert all(value in sentences | {""} for _, _, value in errors), errors
    if part == "clipping":  # its demonstrations run on the course's own fixed models
        assert not [name for _, name, _ in errors if name == "PartNotWritten"], errors
    assert code[-1].get("execution_count")  # the kernel ran to the end
    outputs = _check_outputs(notebook)
    assert len(outputs) == len(functions_of(part))
    assert all("not implemented yet" in text for text in outputs), outputs
    notebook = _execute(venv, solved / f"{part}.ipynb", solved, allow_errors=True)
    assert _errors(notebook) == []
    assert [c for c in notebook.cells if c.cell_type == "code"][-1].get("execution_count")
    outputs = _check_outputs(notebook)
    assert len(outputs) == len(functions_of(part))
    assert all("PASSED" in text for text in outputs), outputs
    printed = [
        line
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        for line in output.get("text", "").splitlines()
        if line.startswith("This demonstration")
    ]
    assert printed == [RUNS_YOURS.format(b) for b in DEMO_BUILDERS.get(part, [])], printed


def test_the_kit_build_says_what_it_does_and_warns_of_nothing(kit: dict[str, Any]) -> None:
    """Does building the kit say each step as it starts (rather than 20 s of silence), and
    raise no warning (NumPy's RuntimeWarnings from the recorded mistakes' values, once)?"""
    print(f"\nkit built in {kit['build_seconds']:.1f} s")
    assert kit["progress"][0].startswith("Recording the reference's answers")
    assert kit["progress"][1].startswith("Building the kit's wheel")
    assert kit["warnings"] == []


def test_the_kit_installs_jupyter_and_its_notebooks_say_how(
    venv: dict[str, Any], kit: dict[str, Any]
) -> None:
    """Does the README's install (with ``[jupyter]``) give JupyterLab, which the README's
    ``jupyter lab`` opens the notebooks with, and does every kit notebook's first cell give
    that same install command?"""
    install = f'python -m pip install "wheels/{kit["wheel"].name}[jupyter]"'
    assert install in (kit["out"] / "README.md").read_text(encoding="utf-8")
    for part in PARTS:
        notebook = nbformat.read(kit["out"] / "exploding_gradients" / f"{part}.ipynb", 4)
        assert install in notebook.cells[0].source, part
    probe = _run_in_venv(
        venv,
        "import importlib.metadata as m, jupyterlab, ipykernel\n"
        "print(m.metadata('exploding-gradients-kit').get_all('Provides-Extra'))",
    )
    assert probe.returncode == 0, probe.stderr
    assert "jupyter" in probe.stdout


def _student_environment() -> dict[str, str]:
    """The venv's environment without the variables that keep TensorFlow quiet: a student's
    shell does not set them."""
    quiet = quiet_environment()
    return {k: v for k, v in _venv_environment().items() if k not in quiet}


def _kit_command(venv: dict[str, Any], *args: str) -> tuple[subprocess.CompletedProcess, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(venv["python"]), "-m", "grader", *args],
        capture_output=True,
        text=True,
        env=_student_environment(),
        cwd=venv["prefix"],
        timeout=1800,
    )
    return done, time.perf_counter() - start


#: A row of the text report's table: test, score, maximum, status.
ROW = re.compile(r"^(\w+\.\w+)\s+([\d.]+) / ([\d.]+)\s+(passed|failed|not handed in)\s*$", re.M)


def test_a_kit_student_who_writes_py_files_gets_full_marks_from_the_kit_and_the_grader(
    venv: dict[str, Any], kit: dict[str, Any], tmp_path: Path
) -> None:
    """The kit as a student takes it: correct ``chain_rule.py`` and ``clipping.py`` written
    beside the kit's notebooks, left as released. Do the kit's own folder check (as the
    student's page names it, from the venv) and the full grader's ``grade`` both give those
    parts full marks, and the untouched parts none, and does the kit's check keep
    TensorFlow's start-up lines off the terminal?"""
    folder = tmp_path / "exploding_gradients"
    shutil.copytree(kit["out"] / "exploding_gradients", folder)
    written = ("chain_rule", "clipping")
    for part in written:
        (folder / f"{part}.py").write_text(reference_source(part), encoding="utf-8")
    notebooks = {p.name: p.read_bytes() for p in folder.glob("*.ipynb")}
    full_marks = sum(f.points for part in written for f in functions_of(part))

    done, seconds = _kit_command(venv, "check", str(folder))
    print(f"\nthe kit's folder check: {seconds:.1f} s")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""  # no TensorFlow start-up line
    rows = {name: (float(s), float(m), status) for name, s, m, status in ROW.findall(done.stdout)}
    assert set(rows) == {f.test_name for part in PARTS for f in functions_of(part)}
    for part in PARTS:
        for spec in functions_of(part):
            score, maximum, status = rows[spec.test_name]
            if part in written:
                assert (score, status) == (maximum, "passed"), spec.test_name
            else:
                assert (score, status) == (0, "failed"), spec.test_name
    assert f"{spec.name} is not implemented yet" in done.stdout  # the last, untouched part
    for part in written:
        assert f"{part}.py is graded: {part}.ipynb is the released stub, unchanged." in (
            done.stdout
        )

    # The page's own command, as a student's HTML page of hidden cases names it.
    command = PLOTS_ON_PUBLIC.rsplit("run ", 1)[1].replace("YOUR_FOLDER", str(folder))
    assert command.startswith("python -m grader check ")
    page = venv["prefix"] / "check.html"
    done, seconds = _kit_command(venv, *command.split()[3:])
    print(f"the kit's folder check, HTML: {seconds:.1f} s")
    assert done.returncode == 0, done.stderr[-3000:]
    html = page.read_text(encoding="utf-8")
    assert f'id="score">{full_marks} / 100<' in html
    assert html.count("data:image/png;base64,") >= 2  # Part 1's and Part 3's plots

    start = time.perf_counter()
    graded = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(folder), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1800,
    )
    print(f"the full grader's grade: {time.perf_counter() - start:.1f} s")
    assert graded.returncode == 0, graded.stderr[-3000:]
    report = json.loads(graded.stdout)
    assert report["cases"] == "hidden"
    for test in report["tests"]:
        if test["name"].split(".")[0] in written:
            assert test["score"] == test["max_score"], (test["name"], test["output"])
        else:
            assert test["score"] == 0, test["name"]
    assert report["score"] == full_marks
    assert {p.name: p.read_bytes() for p in folder.glob("*.ipynb")} == notebooks


def test_the_kits_command_line_answers_a_wrong_path_and_verb(
    venv: dict[str, Any], kit: dict[str, Any]
) -> None:
    """Does the kit's ``python -m grader check`` name the folder to check when given the
    kit's own folder, and refuse a verb only the full grader has, each in one line?"""
    done, _ = _kit_command(venv, "check", str(kit["out"]))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"python -m grader: error: {kit['out']} holds no part file, but a folder below it "
        f"does: python -m grader check {kit['out'] / 'exploding_gradients'}"
    )
    done, _ = _kit_command(venv, "grade", str(kit["out"]))
    assert done.returncode == 2
    assert "invalid choice: 'grade' (choose from 'check')" in done.stderr


#: Three valid Part 2 answers that differ where the lessons could depend on them: a tanh,
#: a sigmoid and a ReLU-family exploding model (the corpus's right submissions, each graded
#: at full marks by tests/grader/checks/test_corpus.py), the last two with build_mlp and
#: dense_grad_norms written differently too (Part 4's demonstrations build and measure with
#: the student's own in a kit). Later files' definitions win.
PART2_ANSWERS = {
    "tanh": ["deep_sigmoid__exploding_tanh_fixed_std.py"],
    "sigmoid": [
        "deep_sigmoid__sequential_add_keras_ops.py",
        "deep_sigmoid__exploding_sigmoid_huge_variance.py",
    ],
    "relu": ["deep_sigmoid__float64_models.py", "deep_sigmoid__exploding_relu6.py"],
}


def _lesson_claims(part: str) -> list[Any]:
    """The claim checks of ``tests/lessons/test_<part>_claims.py`` that read one executed
    notebook only (their parameters are ``lesson`` and ``onednn``)."""
    import importlib
    import inspect

    module = importlib.import_module(f"tests.lessons.test_{part}_claims")
    return [
        check
        for name, check in vars(module).items()
        if name.startswith("test_")
        and list(inspect.signature(check).parameters) == ["lesson", "onednn"]
    ]


@pytest.mark.parametrize("answer", list(PART2_ANSWERS))
def test_parts_3_and_4_hold_their_claims_with_any_valid_part_2(
    venv: dict[str, Any], tmp_path: Path, answer: str
) -> None:
    """With a tanh, a sigmoid or a ReLU-family build_exploding_mlp as the student's Part 2,
    do the kit's Part 3 and Part 4 notebooks (solved) run top to bottom, and does every claim
    their prose names hold in what they print?"""
    folder = tmp_path / "exploding_gradients"
    folder.mkdir()
    corpus = [
        (ROOT / "tests" / "corpus" / "right" / name).read_text() for name in PART2_ANSWERS[answer]
    ]
    # The reference's Part 2 with the student's own functions defined after it.
    (folder / "deep_sigmoid.py").write_text(
        "\n\n".join([reference_source("deep_sigmoid"), *corpus])
    )
    for part in ("clipping", "remedies"):
        shutil.copyfile(EXAMPLES / "correct" / f"{part}.ipynb", folder / f"{part}.ipynb")
    for part in ("clipping", "remedies"):
        notebook = _execute(venv, folder / f"{part}.ipynb", folder, allow_errors=True)
        assert _errors(notebook) == [], (answer, part, _errors(notebook))
        checks = _lesson_claims(part)
        assert checks, part
        for check in checks:
            check(lambda _part, _onednn, nb=notebook: nb, f"kit, {answer} Part 2")
