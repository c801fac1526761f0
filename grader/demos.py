"""Models and measurements that the lessons' demonstration cells use.

A later part's lesson needs what an earlier part's exercises build (a deep MLP, an MLP
whose gradients explode, the gradient norm of every layer). Written out in that
notebook's cells they would show the earlier exercises' answers, so the cells import
them from here instead. Two sources answer, chosen as :mod:`grader.checks.expected` chooses the
checks' expected values:

- in the instructor's full package (the live reference) the builders are the reference
  ``deep_sigmoid.build_mlp`` and ``build_exploding_mlp`` and the norms the reference
  ``dense_grad_norms``, so the instructor's notebooks show the figures their text states;
- in the student kit (recorded values, no reference code) the builders are the student's
  OWN Part 2 functions, read from ``deep_sigmoid.ipynb`` or ``deep_sigmoid.py`` in the
  working directory (a notebook's kernel starts in the notebook's folder, and the kit's
  notebooks sit side by side) as the grader loads a submission (:mod:`grader.submission`
  reads the code cells without the lesson's own cells, :class:`grader.worker.loading.Worker` runs
  them into a module, magics commented out), once per kernel and again when the file
  changes. The norms are measured by the student's own ``dense_grad_norms`` too, once it
  passes its public check (:func:`verified_dense_grad_norms`): the kit holds no gradient
  code of its own, since that code would be ``dense_grad_norms``' answer. Until Part 2 is
  written (or while its ``dense_grad_norms`` fails), a demonstration raises
  ``NotImplementedError`` with one sentence saying what it needs.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.checks import expected
from grader.checks.measurer import OwnNorms
from grader.checks.registry import PUBLIC_SEED, run_check
from grader.checks.runner import InProcessRunner
from grader.submission import read_module, read_notebook
from grader.worker.loading import Worker, strip_notebook_only

#: The part whose functions the demonstrations build with.
PART = "deep_sigmoid"
#: Where a kit's demonstrations look for the student's Part 2, in this order (the order in
#: which grading prefers them); the first that defines the function is used.
PART_FILES = (f"{PART}.ipynb", f"{PART}.py")


@dataclass
class LoadedPart:
    """The student's Part 2 as one file defines it.

    Attributes:
        path: the file.
        stamp: the file's modification time (ns), size and inode when it was loaded.
        namespace: the module namespace its code cells ran in.
        stub_sites: where the code defines a function as the released stub (see
            :meth:`is_stub`).
        problems: why the file or a cell of it could not be used, in words.
    """

    path: Path
    stamp: tuple[int, int, int]
    namespace: dict[str, Any] = field(default_factory=dict)
    stub_sites: set[tuple[str, int]] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def function(self, name: str) -> Callable[..., Any] | None:
        """The function ``name`` as the code left it, or None when it defines none."""
        value = self.namespace.get(name)
        return value if callable(value) else None

    def is_stub(self, name: str) -> bool:
        """Whether ``name`` is the released stub: the function the code left is one whose
        body is only ``raise NotImplementedError()`` (a later real definition, or an
        assignment of another function, counts as written)."""
        code = getattr(self.function(name), "__code__", None)
        return code is not None and (code.co_filename, code.co_firstlineno) in self.stub_sites


#: The loaded files, by path: loaded once per kernel, again when the file changes.
_LOADED: dict[Path, LoadedPart] = {}
#: (function, file) pairs whose use was announced.
_ANNOUNCED: set[tuple[str, Path]] = set()


def _stamp(path: Path) -> tuple[int, int, int]:
    info = os.stat(path)
    return info.st_mtime_ns, info.st_size, info.st_ino


def _is_stub(node: ast.FunctionDef) -> bool:
    """Whether a function's body is the released stub's: a docstring, then only
    ``raise NotImplementedError`` (``pass`` and ``...`` allowed)."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if not body:
        return True
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if not isinstance(statement, ast.Raise) or statement.exc is None:
            return False
        raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
        if not (isinstance(raised, ast.Name) and raised.id == "NotImplementedError"):
            return False
    return True


def _stub_sites(cells: list[tuple[str, str]]) -> set[tuple[str, int]]:
    """Where the cells define a stub: (the file name the grader's loader compiles the cell
    under, the definition's first line), as a function's code object records them."""
    sites = set()
    for label, source in cells:
        try:
            tree = ast.parse(strip_notebook_only(source))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _is_stub(node):
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])
                sites.add((f"<submission {label}>", first))
    return sites


def _cell_error(error: dict[str, str]) -> str:
    """A cell's error in a few words: ``deep_sigmoid cell 7 raised NameError: ...``."""
    lines = str(error.get("message", "")).strip().splitlines()
    message = lines[0][:200] if lines else ""
    said = f"{error['label']} raised {error['type']}"
    return f"{said}: {message}" if message else said


def load_part(path: Path) -> LoadedPart:
    """Run the code cells of a Part 2 file into a module, as the grader loads a submission.

    A notebook's code cells are read without the course's own cells (demonstrations,
    self-checks, autograded tests); each cell runs on its own, IPython magics commented out,
    and what the code prints is not shown. The result is kept until the file changes.

    Args:
        path: ``deep_sigmoid.ipynb`` or ``deep_sigmoid.py``.

    Returns:
        the loaded part (its namespace, where it defines stubs, its problems in words).

    Raises:
        OSError: when the file cannot be looked at (it vanished, say).
    """
    path = Path(path).absolute()
    stamp = _stamp(path)
    cached = _LOADED.get(path)
    if cached is not None and cached.stamp == stamp:
        return cached
    reader = read_notebook if path.suffix == ".ipynb" else read_module
    code = reader(path, PART)
    loaded = LoadedPart(path, stamp, problems=list(code.problems))
    if code.cells:
        worker = Worker()
        cells = [{"label": label, "source": source} for label, source in code.cells]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            answer = worker.load(PART, cells)
        loaded.namespace = worker.namespaces[PART]
        loaded.stub_sites = _stub_sites(code.cells)
        loaded.problems += [_cell_error(error) for error in answer["errors"]]
    _LOADED[path] = loaded
    return loaded


class PartNotWritten(NotImplementedError):
    """A demonstration that needs a Part 2 function the student has not written yet.

    In a notebook, IPython shows only its sentence (its ``_render_traceback_``, IPython's
    hook for an exception's display), not a traceback through the course's own code: the
    sentence is all the student needs. Elsewhere it is a NotImplementedError as before.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"Not yet: {self}"]


def not_written(name: str, folder: Path, looked: list[LoadedPart]) -> str:
    """The sentence a demonstration says when the student's Part 2 function is not there.

    Args:
        name: the Part 2 function the demonstration uses.
        folder: where it looked.
        looked: the Part 2 files found there (none: no file).

    Returns:
        one sentence: which function, why it cannot run, and to come back after Part 2.
    """
    start = f"This demonstration runs your own {name} from Part 2"
    if not looked:
        files = " or ".join(PART_FILES)
        return (
            f"{start}, but there is no {files} in {folder}: "
            "come back to this cell after Part 2, with this notebook in Part 2's folder."
        )
    files = [part.path.name for part in looked]
    if any(part.is_stub(name) for part in looked):
        return (
            f"{start} ({' and '.join(files)}), which is not written yet: "
            "come back to this cell after Part 2."
        )
    problems = [problem for part in looked for problem in part.problems]
    why = f" ({problems[0]})" if problems else ""
    where = files[0] if len(files) == 1 else "neither " + " nor ".join(files)
    verb = "does not define" if len(files) == 1 else "defines"
    return f"{start}, which {where} {verb}{why}: come back to this cell after Part 2."


def student_function(
    name: str, folder: Path | str | None = None, announce: bool = True
) -> Callable[..., Any]:
    """The student's own Part 2 function ``name``, from the first Part 2 file that defines it.

    Args:
        name: a function of ``deep_sigmoid`` (``build_mlp``, ``build_exploding_mlp``).
        folder: where the Part 2 files are (default: the working directory).
        announce: whether its first use from a file prints a line saying so.

    Returns:
        the function, as the student's code defines it.

    Raises:
        PartNotWritten: (a NotImplementedError) with :func:`not_written`'s sentence when no
            file is there or none defines the function other than as the stub.
    """
    folder = Path.cwd() if folder is None else Path(folder)
    looked = []
    for filename in PART_FILES:
        path = folder / filename
        if not os.path.lexists(path):
            continue
        try:
            part = load_part(path)
        except OSError as error:
            part = LoadedPart(path, (0, 0, 0), problems=[f"{filename} could not be read: {error}"])
        looked.append(part)
        function = part.function(name)
        if function is not None and not part.is_stub(name):
            if announce and (name, part.path) not in _ANNOUNCED:
                _ANNOUNCED.add((name, part.path))
                print(f"This demonstration runs your own {name}, from {filename} as last saved.")
            return function
    raise PartNotWritten(not_written(name, folder, looked))


def _from_reference() -> bool:
    """Whether the reference answers (the full package) or the student's own code (a kit)."""
    return isinstance(expected.source(), expected.LiveReference)


def _part2(name: str) -> Callable[..., Any]:
    """Part 2's ``name``: the reference's in the full package, the student's in a kit."""
    if _from_reference():
        return getattr(expected.source().module(PART), name)
    return student_function(name)


def mlp(
    input_dim: int,
    depth: int,
    width: int,
    activation: str = "sigmoid",
    kernel_initializer: Any = "glorot_uniform",
    seed: int | None = None,
) -> Any:
    """Return ``deep_sigmoid.build_mlp``'s model: the reference's, or in a kit the student's.

    Args:
        input_dim: number of input features.
        depth: number of hidden Dense layers.
        width: units per hidden layer.
        activation: activation of the hidden layers.
        kernel_initializer: initializer of every Dense kernel (name or instance).
        seed: int or None; the same seed gives the same weights.

    Returns:
        keras.Sequential: ``depth`` hidden Dense layers, then a linear ``Dense(1)``.

    Raises:
        NotImplementedError: in a kit, while the student's ``build_mlp`` is not written.
    """
    build_mlp = _part2("build_mlp")
    return build_mlp(input_dim, depth, width, activation, kernel_initializer, seed)


def exploding_mlp(input_dim: int, depth: int, width: int, seed: int | None = None) -> Any:
    """Return ``deep_sigmoid.build_exploding_mlp``'s model: the reference's, or in a kit
    the student's.

    Args:
        input_dim: number of input features.
        depth: number of hidden Dense layers.
        width: units per hidden layer.
        seed: int or None; the same seed gives the same weights.

    Returns:
        keras.Sequential whose input-side gradient norm is at least 1e3 times the
        output-side one (when the function is right).

    Raises:
        NotImplementedError: in a kit, while the student's ``build_exploding_mlp`` is not
            written.
    """
    build_exploding_mlp = _part2("build_exploding_mlp")
    return build_exploding_mlp(input_dim, depth, width, seed)


#: The student's dense_grad_norms as its public check found it, by the function (each
#: function object is checked once; a redefinition is a new one).
_VERIFIED: dict[Any, OwnNorms] = {}


def verified_dense_grad_norms(namespace: dict[str, Any] | None = None) -> OwnNorms:
    """The student's own ``dense_grad_norms``, once it passes its public check, or why not.

    A kit measures models with it (:mod:`grader.checks.measurer`): the kit holds no
    gradient code of its own. It is looked for in ``namespace`` first (a notebook's, with
    the functions it calls), then in the Part 2 files of the working directory
    (:func:`student_function`).

    Args:
        namespace: the student's functions by name, or None.

    Returns:
        the function when its public check passes; else None and the reason in words.
    """
    name = "dense_grad_norms"
    functions = dict(namespace or {})
    function = functions.get(name)
    if not callable(function):
        try:
            function = student_function(name, announce=False)
        except NotImplementedError as missing:
            return OwnNorms(None, str(missing))
        functions = dict(getattr(function, "__globals__", {}))  # its Part 2 file's namespace
    if function in _VERIFIED:
        return _VERIFIED[function]
    functions[name] = function
    result = run_check(f"{PART}.{name}", InProcessRunner(functions), PUBLIC_SEED, public=True)
    if result.status == "passed":
        own = OwnNorms(function)
    elif result.cases:
        passed = sum(case.passed for case in result.cases)
        own = OwnNorms(
            None,
            f"your dense_grad_norms does not pass its public check yet ({passed} of "
            f"{len(result.cases)} cases)",
        )
    else:
        said = (result.verdict or "").splitlines()[0] if result.verdict else "it fails"
        own = OwnNorms(None, f"your dense_grad_norms does not pass its public check yet: {said}")
    _VERIFIED[function] = own
    return own


def kernel_grad_norms(model: Any, x: Any, y: Any) -> np.ndarray:
    """Return the gradient norm of every Dense kernel of a model, input side first.

    Measured by the reference ``deep_sigmoid.dense_grad_norms`` in the full package and by
    the student's own, once it passes its public check, in a kit
    (:func:`verified_dense_grad_norms`).

    Args:
        model: a Keras model.
        x: inputs, shape (m, input_dim).
        y: targets, shape (m, 1) or (m,).

    Returns:
        the Frobenius norm of dL/d(kernel) of every Dense layer, input side first, for
        L the mean squared error of ``model(x)`` against ``y``.

    Raises:
        NotImplementedError: in a kit, while the student's ``dense_grad_norms`` is not
            written or does not pass its public check.
    """
    if _from_reference():
        return _part2("dense_grad_norms")(model, x, y)
    own = verified_dense_grad_norms()
    if own.function is None:
        if own.problem.startswith("This demonstration"):  # not written: not_written's sentence
            raise NotImplementedError(own.problem)
        raise NotImplementedError(
            "This demonstration measures with your own dense_grad_norms from Part 2, but "
            f"{own.problem}: make dense_grad_norms pass first, then come back to this cell."
        )
    student_function("dense_grad_norms")  # says once that the student's own function runs
    norms = own.function(model, np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32))
    return np.asarray(norms, dtype=np.float64)
