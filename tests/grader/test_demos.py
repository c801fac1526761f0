"""Do the lessons' demonstrations build with the student's own Part 2 code in a kit, and
with the reference in the full package?

A kit is the package with recorded values instead of the reference
(:class:`grader.checks.expected.RecordedValues`); here an empty recording stands for one, so the
demonstrations take the kit's path without building a kit. The student's Part 2 is a
``deep_sigmoid.py`` or ``deep_sigmoid.ipynb`` in the working directory, as a kit's
notebooks sit side by side.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import demos
from grader.checks import expected
from tests.paths import ROOT

REFERENCE = ROOT / "solutions" / "deep_sigmoid.py"
RELEASED = ROOT / "exercises" / "exploding_gradients"
CORRECT = ROOT / "examples" / "correct" / "deep_sigmoid.ipynb"

#: Appended to a Part 2 module: its build functions keep what they return, so a test can
#: tell that the demonstration returned the very model the student's function built.
KEEP_BUILT = """

BUILT = {"build_mlp": [], "build_exploding_mlp": []}
_builders = {"build_mlp": build_mlp, "build_exploding_mlp": build_exploding_mlp}


def build_mlp(*args, **kwargs):
    BUILT["build_mlp"].append(_builders["build_mlp"](*args, **kwargs))
    return BUILT["build_mlp"][-1]


def build_exploding_mlp(*args, **kwargs):
    BUILT["build_exploding_mlp"].append(_builders["build_exploding_mlp"](*args, **kwargs))
    return BUILT["build_exploding_mlp"][-1]
"""


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The kit's source of expected values (an empty recording), in an empty working folder."""
    recording = tmp_path / "recorded_values.json"
    recording.write_text(json.dumps({"values": {}, "signatures": {}}), encoding="utf-8")
    folder = tmp_path / "exploding_gradients"
    folder.mkdir()
    monkeypatch.chdir(folder)
    previous = expected.use(expected.RecordedValues(recording))
    try:
        yield folder
    finally:
        expected.use(previous)


def _written(folder: Path) -> Path:
    """A correct deep_sigmoid.py (the reference's module, as a student who got it right)."""
    path = folder / "deep_sigmoid.py"
    path.write_text(REFERENCE.read_text(encoding="utf-8") + KEEP_BUILT, encoding="utf-8")
    return path


def _same_weights(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


def _reference(name: str):
    return getattr(expected.LiveReference().module("deep_sigmoid"), name)


def test_a_kit_demo_returns_the_model_of_the_students_build_exploding_mlp(
    kit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Does exploding_mlp return the model the student's build_exploding_mlp built, saying
    so once?"""
    path = _written(kit)
    model = demos.exploding_mlp(8, 20, 32, seed=0)
    built = demos.load_part(path).namespace["BUILT"]["build_exploding_mlp"]
    assert len(built) == 1 and model is built[0]
    assert _same_weights(model, _reference("build_exploding_mlp")(8, 20, 32, 0))
    again = demos.exploding_mlp(8, 20, 32, seed=1)
    assert again is built[1]
    assert capsys.readouterr().out == (
        "This demonstration runs your own build_exploding_mlp, from deep_sigmoid.py as last saved.\n"
    )


def test_a_kit_demo_says_one_sentence_while_part_2_is_the_stub(kit: Path) -> None:
    """With the released stub, does the demonstration raise the sentence (not the stub's bare
    error), and once the file is written, build with it?"""
    shutil.copyfile(RELEASED / "deep_sigmoid.py", kit / "deep_sigmoid.py")
    with pytest.raises(NotImplementedError) as raised:
        demos.exploding_mlp(8, 20, 32, seed=0)
    assert str(raised.value) == (
        "This demonstration runs your own build_exploding_mlp from Part 2 (deep_sigmoid.py), "
        "which is not written yet: come back to this cell after Part 2."
    )
    _written(kit)  # the student writes Part 2: the file changed, it is read again
    model = demos.exploding_mlp(8, 20, 32, seed=0)
    built = demos.load_part(kit / "deep_sigmoid.py").namespace["BUILT"]
    assert model is built["build_exploding_mlp"][-1]


def test_in_a_notebook_the_sentence_is_shown_without_a_traceback(kit: Path, capsys) -> None:
    """Run in IPython (as a kit notebook's cell), is the demonstration's sentence all that is
    shown, not a traceback through the course's own code ending with it?"""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.user_ns["demos"] = demos
        shell.run_cell("demos.exploding_mlp(8, 20, 32, seed=0)")
    finally:
        InteractiveShell.clear_instance()
    shown = capsys.readouterr()
    text = shown.out + shown.err
    assert "Not yet: This demonstration runs your own build_exploding_mlp from Part 2" in text
    assert "Traceback" not in text and "grader/demos.py" not in text
    assert len(text.strip().splitlines()) <= 2, text


def test_a_kit_demo_names_both_released_files_when_both_are_stubs(kit: Path) -> None:
    """Laid out as the kit hands them out (notebook and module side by side, both stubs),
    does mlp name both files?"""
    for name in ("deep_sigmoid.ipynb", "deep_sigmoid.py"):
        shutil.copyfile(RELEASED / name, kit / name)
    with pytest.raises(NotImplementedError) as raised:
        demos.mlp(8, 20, 32, "sigmoid", seed=0)
    assert str(raised.value) == (
        "This demonstration runs your own build_mlp from Part 2 (deep_sigmoid.ipynb and "
        "deep_sigmoid.py), which is not written yet: come back to this cell after Part 2."
    )


def test_a_kit_demo_names_the_folder_it_looked_in_when_part_2_is_missing(kit: Path) -> None:
    """Without a Part 2 file, does the sentence say where it looked?"""
    with pytest.raises(NotImplementedError) as raised:
        demos.exploding_mlp(8, 20, 32, seed=0)
    assert str(raised.value) == (
        "This demonstration runs your own build_exploding_mlp from Part 2, but there is no "
        f"deep_sigmoid.ipynb or deep_sigmoid.py in {kit}: come back to this cell after "
        "Part 2, with this notebook in Part 2's folder."
    )


def test_a_kit_demo_reads_a_notebook_as_the_grader_does(
    kit: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Is the solved notebook used before the stub module, its magics commented out and its
    lesson cells (which would raise here) left out?"""
    notebook = nbformat.read(CORRECT, as_version=4)
    magic = nbformat.v4.new_code_cell("%matplotlib inline\n!echo hello")
    lesson = nbformat.v4.new_code_cell("raise RuntimeError('a lesson cell ran')")
    lesson.metadata["tags"] = ["demo"]
    notebook.cells[1:1] = [magic, lesson]
    nbformat.write(notebook, kit / "deep_sigmoid.ipynb")
    shutil.copyfile(RELEASED / "deep_sigmoid.py", kit / "deep_sigmoid.py")
    model = demos.mlp(8, 5, 16, "tanh", seed=3)
    part = demos.load_part(kit / "deep_sigmoid.ipynb")
    assert part.problems == []
    assert _same_weights(model, _reference("build_mlp")(8, 5, 16, "tanh", "glorot_uniform", 3))
    assert "from deep_sigmoid.ipynb" in capsys.readouterr().out


def test_a_kit_demo_falls_back_to_the_module_when_the_notebook_is_the_stub(kit: Path) -> None:
    """Released notebook untouched, Part 2 written in the module: is the module used?"""
    shutil.copyfile(RELEASED / "deep_sigmoid.ipynb", kit / "deep_sigmoid.ipynb")
    path = _written(kit)
    model = demos.exploding_mlp(8, 20, 32, seed=0)
    assert model is demos.load_part(path).namespace["BUILT"]["build_exploding_mlp"][-1]


def test_a_kit_demo_runs_a_written_function_that_raises_as_it_is(kit: Path) -> None:
    """Is a function with code of its own before a raise written, its own error shown
    rather than the sentence; and does a cell that fails name itself?"""
    (kit / "deep_sigmoid.py").write_text(
        "def build_exploding_mlp(input_dim, depth, width, seed=None):\n"
        "    layers = depth * 2\n"
        "    raise NotImplementedError('my own message')\n",
        encoding="utf-8",
    )
    with pytest.raises(NotImplementedError, match="^my own message$"):
        demos.exploding_mlp(8, 20, 32, seed=0)
    (kit / "deep_sigmoid.py").write_text("import no_such_module_here\n", encoding="utf-8")
    with pytest.raises(NotImplementedError) as raised:
        demos.exploding_mlp(8, 20, 32, seed=0)
    assert str(raised.value) == (
        "This demonstration runs your own build_exploding_mlp from Part 2, which "
        "deep_sigmoid.py does not define (deep_sigmoid.py raised ModuleNotFoundError: "
        "No module named 'no_such_module_here'): come back to this cell after Part 2."
    )


@pytest.fixture(scope="module")
def norms_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A kit's recording of dense_grad_norms' public cases (what its check compares with)."""
    from grader.course.kit import record_public_values

    path = tmp_path_factory.mktemp("norms") / "recorded_values.json"
    recorded = record_public_values(tests=["deep_sigmoid.dense_grad_norms"])
    path.write_text(json.dumps(recorded), encoding="utf-8")
    return path


@pytest.fixture
def kit_with_norms(kit: Path, norms_recording: Path) -> Iterator[Path]:
    """A kit that recorded dense_grad_norms' public cases, in an empty working folder."""
    previous = expected.use(expected.RecordedValues(norms_recording))
    try:
        yield kit
    finally:
        expected.use(previous)


#: Appended to a Part 2 module: dense_grad_norms counts its calls.
COUNT_NORMS = """

NORM_CALLS = []
_norms = dense_grad_norms


def dense_grad_norms(model, x, y):
    NORM_CALLS.append(1)
    return _norms(model, x, y)
"""


def test_a_kit_measures_with_the_students_own_dense_grad_norms_once_it_passes(
    kit_with_norms: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Are kernel_grad_norms the student's own dense_grad_norms (it passes its public check
    first), equal to the reference's to float32 rounding, said once?"""
    path = kit_with_norms / "deep_sigmoid.py"
    path.write_text(REFERENCE.read_text(encoding="utf-8") + COUNT_NORMS, encoding="utf-8")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = demos.mlp(8, 6, 16, "sigmoid", seed=0)
    norms = demos.kernel_grad_norms(model, x, y)
    calls = demos.load_part(path).namespace["NORM_CALLS"]
    assert len(calls) >= 5  # its public check's 4 cases, then the demonstration's model
    before = len(calls)
    demos.kernel_grad_norms(model, x, y)
    assert len(calls) == before + 1  # checked once: the same function is not checked again
    np.testing.assert_allclose(norms, _reference("dense_grad_norms")(model, x, y), rtol=1e-4)
    assert "This demonstration runs your own dense_grad_norms" in capsys.readouterr().out


def test_a_kit_demo_says_to_make_dense_grad_norms_pass_first(kit_with_norms: Path) -> None:
    """With a dense_grad_norms that returns zeros, does the demonstration refuse to measure,
    saying to make it pass first, and measure nothing with it?"""
    (kit_with_norms / "deep_sigmoid.py").write_text(
        REFERENCE.read_text(encoding="utf-8")
        + "\n\ndef dense_grad_norms(model, x, y):\n    return [0.0] * len(model.layers)\n",
        encoding="utf-8",
    )
    model = demos.mlp(8, 6, 16, "sigmoid", seed=0)
    with pytest.raises(NotImplementedError) as raised:
        demos.kernel_grad_norms(model, np.ones((4, 8)), np.zeros((4, 1)))
    assert str(raised.value) == (
        "This demonstration measures with your own dense_grad_norms from Part 2, but your "
        "dense_grad_norms does not pass its public check yet (0 of 5 cases): make "
        "dense_grad_norms pass first, then come back to this cell."
    )


def test_a_kit_demo_says_part_2_is_not_written_when_dense_grad_norms_is_the_stub(
    kit_with_norms: Path,
) -> None:
    """With the released stub, does the measuring demonstration say Part 2 is not written?"""
    shutil.copyfile(RELEASED / "deep_sigmoid.py", kit_with_norms / "deep_sigmoid.py")
    with pytest.raises(NotImplementedError) as raised:
        demos.kernel_grad_norms(object(), np.ones((4, 8)), np.zeros((4, 1)))
    assert str(raised.value) == (
        "This demonstration runs your own dense_grad_norms from Part 2 (deep_sigmoid.py), "
        "which is not written yet: come back to this cell after Part 2."
    )


def test_the_full_package_demos_build_with_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside a kit, do the demonstrations use the reference, silently, even next to a
    student's stub Part 2?"""
    previous = expected.use(expected.LiveReference())
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(RELEASED / "deep_sigmoid.py", tmp_path / "deep_sigmoid.py")
    try:
        model = demos.exploding_mlp(8, 20, 32, seed=0)
        assert _same_weights(model, _reference("build_exploding_mlp")(8, 20, 32, 0))
        x = np.ones((4, 8), dtype="float32")
        y = np.zeros((4, 1), dtype="float32")
        wanted = _reference("dense_grad_norms")(model, x, y)
        assert np.array_equal(demos.kernel_grad_norms(model, x, y), wanted)
    finally:
        expected.use(previous)
    assert capsys.readouterr().out == ""
