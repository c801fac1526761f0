"""The student's side of the boundary: load a submission's code, call its functions.

Run as ``python -m grader.worker.serve`` by :mod:`grader.isolation.sandbox`. Requests and answers are
length-prefixed JSON messages (:mod:`grader.isolation.protocol`) on the original stdin and stdout;
the student's own prints go to a capture file, never into the channel. Nothing here
decides a score: it returns what the student's functions returned, as plain data.

:func:`execute_call` is shared with the in-notebook runner, so a function is called the
same way in both places.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import traceback
import types
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from grader.isolation.protocol import (
    KerasObjectSpec,
    ModelSpec,
    OptimizerSpec,
    decode,
    encode,
    read_message,
    write_message,
)

#: Names a notebook's setup cell imports from the grader; inside the worker they do nothing.
NOTEBOOK_HELPERS = ("check", "grade")
_BLOCKED_MODULES = ("solutions",)


def _tensorflow() -> Any:
    from grader.quiet import import_tensorflow

    return import_tensorflow()


def convert_argument(value: Any, kind: str | None) -> Any:
    """Turn a decoded argument into the form the check asked for.

    Args:
        value: a decoded value (arrays, lists, ModelSpec, OptimizerSpec, ...).
        kind: None (as decoded), ``"list"`` (nested Python lists), ``"tensor"`` (a
            tf.Tensor) or ``"tensors"`` (a list of tf.Tensors).

    Returns:
        the converted value; models and optimizers are rebuilt as Keras objects.
    """
    if isinstance(value, ModelSpec):
        _tensorflow()
        from grader.measuring.models import rebuild_model

        return rebuild_model(value)
    if isinstance(value, OptimizerSpec):
        _tensorflow()
        from grader.measuring.models import rebuild_optimizer

        return rebuild_optimizer(value)
    if isinstance(value, KerasObjectSpec):
        _tensorflow()
        from grader.measuring.models import deserialize_safely

        return deserialize_safely(value.config)
    if kind == "list":
        return np.asarray(value).tolist()
    if kind == "tensor":
        return _tensorflow().constant(value)
    if kind == "tensors":
        tf = _tensorflow()
        return [tf.constant(v) for v in value]
    return value


def plain_result(value: Any, build_dim: int | None = None) -> Any:
    """Turn Keras objects in a result into plain data records.

    Args:
        value: the result.
        build_dim: input width to build a model with when it has no weights yet (a
            Sequential made without ``keras.Input``).
    """
    if "keras" in sys.modules:
        import keras

        if isinstance(value, keras.Model):
            from grader.measuring.models import describe_model

            if not value.built and build_dim:
                value.build((None, build_dim))
            return describe_model(value)
        if isinstance(value, keras.optimizers.Optimizer):
            from grader.measuring.models import describe_optimizer

            return describe_optimizer(value)
        if isinstance(value, keras.initializers.Initializer):
            return KerasObjectSpec(keras.saving.serialize_keras_object(value))
        if callable(value) and getattr(value, "__module__", "").startswith("keras"):
            return KerasObjectSpec(keras.saving.serialize_keras_object(value))  # an activation
    if type(value) in (list, tuple):
        return type(value)(plain_result(v) for v in value)
    if type(value) is dict:
        return {k: plain_result(v) for k, v in value.items()}
    return value


def _fingerprint(value: Any) -> Any:
    """A comparable copy of an argument, to notice a function that changes its input."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, list):
        return ("list", tuple(_fingerprint(v) for v in value))
    if hasattr(value, "numpy") and hasattr(value, "shape") and not hasattr(value, "layers"):
        try:
            return _fingerprint(np.asarray(value.numpy()))
        except Exception:  # noqa: BLE001
            return None
    return None


def _numbers_only(value: Any) -> bool:
    if isinstance(value, list):
        return all(_numbers_only(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def after_state(value: Any) -> Any:
    """An argument's state after the call, as plain data (arrays, lists of them), or None
    for what is not compared (a model, a scalar). The grader compares it with what it
    sent (:meth:`grader.checks.runner.Runner.call`), so replacing a function of this module from
    the student's code cannot switch the check for changed inputs off."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, list):
        if _numbers_only(value):  # nested Python lists of numbers (the "list" kind)
            try:
                return np.array(value, dtype=np.float64)
            except (TypeError, ValueError):
                pass
        return [after_state(v) for v in value]
    if hasattr(value, "numpy") and hasattr(value, "shape") and not hasattr(value, "layers"):
        try:
            return np.array(value.numpy(), copy=True)
        except Exception:  # noqa: BLE001
            return None
    return None


def _student_frames(error: BaseException) -> str:
    """The traceback lines that point into the student's code, most recent last."""
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename.startswith("<submission")
    ]
    return "".join(traceback.format_list(frames[-3:]))


def describe_error(error: BaseException) -> dict[str, str]:
    """Plain-data description of an exception raised by student code."""
    message = str(error)
    if isinstance(error, MemoryError) and LIMITS.get("memory_mb"):
        message = f"it needed more memory than the limit of {LIMITS['memory_mb']} MB"
    elif isinstance(error, OSError) and error.errno == errno.EFBIG:
        message = f"it wrote more than the output limit of {LIMITS.get('output_mb', 0)} MB"
    elif isinstance(error, OSError) and error.errno == errno.ENOSPC and LIMITS.get("scratch_mb"):
        message = f"it filled its scratch space, limited to {LIMITS['scratch_mb']} MB"
    elif isinstance(error, OSError) and error.errno == errno.EAGAIN and LIMITS.get("processes"):
        message = f"it started more processes or threads than the limit of {LIMITS['processes']}"
    return {
        "type": type(error).__name__,
        "message": message[:2000],
        "where": _student_frames(error)[:4000],
    }


def execute_call(
    function: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    kinds: list[str | None] | None = None,
    state_of: list[int] | None = None,
    namespace: dict[str, Any] | None = None,
    record: str | None = None,
    build_dim: int | None = None,
    seed: int = 0,
    helpers: list[str] | None = None,
    callback: Callable[[str, list[Any], dict[str, Any]], Any] | None = None,
    trusted: list[str] | None = None,
) -> dict[str, Any]:
    """Call a student's function on decoded arguments and describe what happened.

    Args:
        function: the student's callable.
        args: decoded positional arguments.
        kwargs: decoded keyword arguments.
        kinds: per positional argument, the form to convert it to (see
            :func:`convert_argument`).
        state_of: indices of model arguments whose weights to return after the call.
        namespace: the student's module namespace (needed with ``record``).
        record: name of a function in ``namespace`` whose calls and results to record
            while ``function`` runs (e.g. the train step a training loop should use).
        build_dim: input width for a returned model that is not built yet.
        seed: seed for NumPy, Python and Keras before the call.
        helpers: names of other contract functions that, while ``function`` runs,
            answer with the reference's value through ``callback``.
        callback: asks the grader for a helper's reference value.
        trusted: names of helpers replaced by the worker's own trusted version
            (:data:`TRUSTED_HELPERS`).

    Returns:
        an answer message: ``ok``, the encoded ``result`` or ``error``, the
        ``warnings`` raised, the indices of ``mutated`` arguments, ``state`` and
        ``recorded``.
    """
    kinds = list(kinds or []) + [None] * (len(args) - len(kinds or []))
    converted = [convert_argument(a, k) for a, k in zip(args, kinds)]
    converted_kwargs = {k: convert_argument(v, None) for k, v in kwargs.items()}
    before = [_fingerprint(a) for a in converted]
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
    recorded: list[Any] = []
    original = None
    # The function finds its helpers in its own globals: substitute and record there.
    namespace = getattr(function, "__globals__", namespace)
    saved = _substitute_helpers(namespace, helpers or [], callback, trusted or [])
    if record and namespace is not None and callable(namespace.get(record)):
        original = namespace[record]

        def recorder(*a: Any, **k: Any) -> Any:
            out = original(*a, **k)
            recorded.append(plain_result(out))
            return out

        namespace[record] = recorder
    answer: dict[str, Any] = {"ok": True}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with np.errstate(over="warn", divide="warn", invalid="warn", under="ignore"):
                result = function(*converted, **converted_kwargs)
            answer["result"] = encode(plain_result(result, build_dim))
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            answer = {"ok": False, "error": describe_error(error)}
        finally:
            if original is not None:
                namespace[record] = original
            if namespace is not None:
                namespace.update(saved)
    answer["warnings"] = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, RuntimeWarning) or str(w.filename).startswith("<submission")
    ][:20]
    answer["mutated"] = [
        i for i, (a, b) in enumerate(zip(before, map(_fingerprint, converted))) if a != b
    ]
    # The grader decides from these (plain data), not from ``mutated`` above.
    answer["after"] = _encode([_after_state(a) for a in converted])
    if state_of:
        answer["state"] = [
            encode([np.asarray(w) for w in converted[i].get_weights()]) for i in state_of
        ]
    if record:
        answer["recorded"] = encode(recorded) if original is not None else None
    return answer


#: Private references, taken when this module is imported (before any student code), so
#: that replacing the module's attributes from the student's code does not change them.
_after_state = after_state
_encode = encode


def trusted_train_step(
    model: Any, optimizer: Any, x: Any, y: Any, clip_norm: float
) -> dict[str, float]:
    """A clipped training step written by the grader, used in place of the student's
    ``clipped_train_step`` while ``train_with_clipping`` is checked, so that only the loop
    is judged there."""
    tf = _tensorflow()
    x = tf.convert_to_tensor(x, dtype=tf.float32)
    y = tf.convert_to_tensor(y, dtype=tf.float32)
    with tf.GradientTape() as tape:
        prediction = model(x, training=True)
        loss = tf.reduce_mean(tf.square(prediction - tf.reshape(y, tf.shape(prediction))))
    grads = tape.gradient(loss, model.trainable_variables)
    clipped, norm = tf.clip_by_global_norm(grads, clip_norm)
    optimizer.apply_gradients(zip(clipped, model.trainable_variables))
    return {
        "loss": float(loss),
        "grad_norm": float(norm),
        "clipped_norm": float(tf.linalg.global_norm(clipped)),
    }


TRUSTED_HELPERS: dict[str, Callable[..., Any]] = {"clipped_train_step": trusted_train_step}


def _substitute_helpers(
    namespace: dict[str, Any] | None,
    helpers: list[str],
    callback: Callable[[str, list[Any], dict[str, Any]], Any] | None,
    trusted: list[str],
) -> dict[str, Any]:
    """Replace the student's helpers in ``namespace``; return the originals to restore."""
    if namespace is None:
        return {}
    saved = {}
    for name in helpers:
        if callable(namespace.get(name)) and callback is not None:
            saved[name] = namespace[name]
            namespace[name] = _proxy(name, callback, saved[name])
    for name in trusted:
        if callable(namespace.get(name)) and name in TRUSTED_HELPERS:
            saved[name] = namespace[name]
            namespace[name] = TRUSTED_HELPERS[name]
    return saved


class OwnHelper(RuntimeError):
    """The grader gives no reference value for this call (it declined it, or a student kit
    has none recorded): the student's own helper runs."""


def _proxy(
    name: str,
    callback: Callable[[str, list[Any], dict[str, Any]], Any],
    own: Callable[..., Any],
) -> Callable[..., Any]:
    """A helper that asks the reference when its arguments are plain data, and runs the
    student's ``own`` helper otherwise (a Python function as activation, a live model)."""

    def helper(*args: Any, **kwargs: Any) -> Any:
        if not _plain_data([list(args), kwargs]):
            return own(*args, **kwargs)
        try:
            return callback(name, list(args), kwargs)
        except OwnHelper:
            return own(*args, **kwargs)

    helper.__name__ = name
    return helper


#: Parts whose code may not reach an autodiff library, and those libraries (top-level
#: names); the same rule as :mod:`grader.checks.policy`, enforced here while the code runs.
NUMPY_ONLY_PARTS = ("chain_rule",)
AUTODIFF_MODULES = ("tensorflow", "keras", "jax", "torch", "autograd", "tf_keras")
#: Folders of a Python folder that hold those libraries' files: their packages, the native
#: packages they load (jaxlib, torchgen, functorch) and, by the same names, their
#: ``*.dist-info`` and ``*.libs`` folders and plugins (``tensorflow_io_gcs_filesystem``).
AUTODIFF_FOLDERS = (*AUTODIFF_MODULES, "jaxlib", "torchgen", "functorch")


def autodiff_entry(name: str) -> bool:
    """Whether an entry of a Python folder belongs to an autodiff library.

    Args:
        name: a file or folder name in ``site-packages`` (``tensorflow``,
            ``keras-3.15.1.dist-info``, ``torch.libs``, ``tensorflow_cpu-2.21.0.dist-info``).

    Returns:
        True for the libraries' packages, modules, metadata and native folders.
    """
    base = name.replace("-", ".").split(".")[0].lower()
    return any(base == folder or base.startswith(folder + "_") for folder in AUTODIFF_FOLDERS)


def autodiff_loaded() -> list[str]:
    """The autodiff libraries this process has imported (top-level names, from sys.modules)."""
    return sorted({name.split(".")[0] for name in list(sys.modules)} & set(AUTODIFF_MODULES))


#: Part 3's functions written from array operations, and the library clip functions they
#: may not call (by module and attribute), whatever name reached them.
CLIPPING_ARRAY_FUNCTIONS = ("clip_by_value", "clip_by_norm", "global_norm", "clip_by_global_norm")
_CLIP_ATTRIBUTES = (
    ("tensorflow", ("clip_by_value", "clip_by_norm", "clip_by_global_norm")),
    ("tensorflow.math", ("clip_by_value",)),
    ("tensorflow.linalg", ("global_norm",)),
    (
        "tensorflow.python.ops.clip_ops",
        ("clip_by_value", "clip_by_norm", "clip_by_global_norm", "global_norm"),
    ),
    ("tensorflow.raw_ops", ("ClipByValue",)),
    ("tensorflow.python.ops.gen_math_ops", ("clip_by_value",)),
    ("keras.ops", ("clip",)),
    ("keras.src.ops", ("clip",)),
    ("keras.src.ops.numpy", ("clip",)),
)


_REACHED: set[str] = set()
#: How many NumPy-only blocks are running (the run-time guard of a process that also runs
#: the other parts); a NumPy-only worker's guard is on for good (:func:`guard_autodiff`).
_GUARDED = [0]
_AUDITED: list[bool] = []
#: Whether this process is a worker (:func:`main`), not a notebook's kernel.
_IN_WORKER = False
#: Audit events that reach a library's files: opened, linked, renamed, copied, loaded.
_FILE_EVENTS = frozenset(
    ("open", "os.link", "os.rename", "os.symlink", "shutil.copyfile", "ctypes.dlopen")
)


def _autodiff_files() -> tuple[str, ...]:
    """Where the autodiff libraries' files are (or would be) on ``sys.path``, resolved."""
    folders = set()
    for entry in list(sys.path):
        try:
            names = os.listdir(entry or ".")
        except (OSError, TypeError):
            continue
        for name in names:
            if autodiff_entry(name):
                folders.add(os.path.realpath(os.path.join(entry or ".", name)))
    return tuple(sorted(folders))


def guard_autodiff(always: bool = False) -> None:
    """Refuse every route to an autodiff library that bypasses the import hook, for good.

    A Python audit hook (which no code can remove once added) sees every ``import`` that
    is not in ``sys.modules`` yet, and every file opened, linked, copied or loaded as a
    native library. While a NumPy-only part runs (always, in a worker that runs nothing
    else), an import of an autodiff library that the import hook :class:`_BlockAutodiff`
    does not answer (the hook was removed or overtaken) and any file of those libraries
    (``importlib.util.spec_from_file_location`` on their folder) raise, and the library
    is recorded as reached. In the jail the NumPy-only worker's file system does not hold
    the libraries at all (:mod:`grader.isolation.jail`), so this only names what was tried.

    Args:
        always: the process runs NumPy-only parts only (the guard does not wait for a
            :class:`_NumpyOnly` block).
    """
    if _AUDITED:
        return
    _AUDITED.append(always)
    # Everything the hook uses is bound here, not looked up in this module's globals,
    # which the student's code can reach.
    folders = {
        folder: next(
            (m for m in AUTODIFF_MODULES if os.path.basename(folder).startswith(m)),
            os.path.basename(folder),
        )
        for folder in _autodiff_files()
    }
    modules, file_events = frozenset(AUTODIFF_MODULES), _FILE_EVENTS
    blocker, guarded, reached, system = _BlockAutodiff, _GUARDED, _REACHED, sys
    fspath, fsdecode, realpath, separator = os.fspath, os.fsdecode, os.path.realpath, os.sep

    def refuse(event: str, args: tuple[Any, ...]) -> None:
        if not (always or guarded[0]):
            return
        if event == "import":
            root = str(args[0]).split(".")[0]
            meta_path = system.meta_path
            if root in modules and not (meta_path and type(meta_path[0]) is blocker):
                reached.add(root)
                raise ImportError(f"No module named {args[0]!r}: part 1 uses NumPy only")
            return
        if event not in file_events or not args or isinstance(args[0], int):
            return
        try:
            path = realpath(fsdecode(fspath(args[0])))
        except Exception:  # noqa: BLE001 - not a path (a handle, a library name)
            return
        for folder, library in folders.items():
            if path == folder or path.startswith(folder + separator):
                reached.add(library)
                raise PermissionError(f"{args[0]} is not available here: part 1 uses NumPy only")

    sys.addaudithook(refuse)


class _ForbiddenModule(types.ModuleType):
    """What ``import tensorflow`` gives a NumPy-only part: any use records a violation."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        _REACHED.add(self.__name__.split(".")[0])
        raise AttributeError(
            f"module {self.__name__!r} is not available here: part 1 uses NumPy only"
        )


class _ForbiddenLoader:
    def create_module(self, spec: Any) -> types.ModuleType:
        return _ForbiddenModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _BlockAutodiff:
    """An import hook that answers the autodiff libraries with a module that cannot be used
    (a NumPy-only part is running); a top-level import alone stays harmless."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.split(".")[0] in AUTODIFF_MODULES:
            import importlib.machinery

            return importlib.machinery.ModuleSpec(name, _ForbiddenLoader())
        return None


class _NumpyOnly:
    """While a NumPy-only part loads or runs: the autodiff modules are out of
    ``sys.modules`` (the zygote imported TensorFlow for speed) and any import of them gives
    an unusable module; afterwards the real ones are back for the other parts.

    After the block, ``reached`` names the libraries the code used or imported for real.
    This runs in the student's process; the grader decides from ``reached`` (plain data).
    """

    def __enter__(self) -> _NumpyOnly:
        if _IN_WORKER:  # not in a notebook's kernel, which is the student's own
            guard_autodiff()
        self.saved = {
            name: module
            for name, module in list(sys.modules.items())
            if name.split(".")[0] in AUTODIFF_MODULES
        }
        for name in self.saved:
            del sys.modules[name]
        _REACHED.clear()
        self.hook = _BlockAutodiff()
        sys.meta_path.insert(0, self.hook)
        self.reached: list[str] = []
        _GUARDED[0] += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        _GUARDED[0] = max(_GUARDED[0] - 1, 0)
        reached = set(_REACHED)
        for name in [n for n in list(sys.modules) if n.split(".")[0] in AUTODIFF_MODULES]:
            if not isinstance(sys.modules[name], _ForbiddenModule):
                reached.add(name.split(".")[0])  # imported around the hook
            del sys.modules[name]
        self.reached = sorted(reached)
        if self.hook in sys.meta_path:
            sys.meta_path.remove(self.hook)
        sys.modules.update(self.saved)


class _ClipRecorder:
    """While one of Part 3's array functions runs: the library clip functions record a call,
    under every name the library and the student's module bind them to."""

    def __init__(self, namespace: dict[str, Any] | None) -> None:
        self.namespace = namespace if namespace is not None else {}
        self.calls: list[str] = []
        self.restore: list[tuple[Any, str, Any]] = []

    def _wrap(self, label: str, original: Any) -> Any:
        calls = self.calls

        def recorded(*args: Any, **kwargs: Any) -> Any:
            calls.append(label)
            return original(*args, **kwargs)

        return recorded

    def __enter__(self) -> _ClipRecorder:
        wrappers: dict[int, Any] = {}
        for module_name, attributes in _CLIP_ATTRIBUTES:
            module = sys.modules.get(module_name)
            for attribute in attributes if module is not None else ():
                original = getattr(module, attribute, None)
                if original is None or not callable(original):
                    continue
                label = f"{module_name.replace('tensorflow', 'tf')}.{attribute}"
                wrapper = wrappers.setdefault(id(original), self._wrap(label, original))
                self.restore.append((module, attribute, original))
                try:
                    setattr(module, attribute, wrapper)
                except (AttributeError, TypeError):
                    self.restore.pop()
        originals = {id(o): o for _, _, o in self.restore}
        for name, value in list(self.namespace.items()):
            if id(value) in wrappers and value is originals.get(id(value)):
                self.restore.append((self.namespace, name, value))
                self.namespace[name] = wrappers[id(value)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for target, name, original in reversed(self.restore):
            if isinstance(target, dict):
                target[name] = original
            else:
                setattr(target, name, original)


_NOT_PLAIN = ("__unsupported__", "__model__", "__optimizer__")


def _plain_data(value: Any) -> bool:
    """Whether ``value`` is plain data the reference can take (no function, no live model)."""
    try:
        encoded = encode(plain_result(value))
    except Exception:  # noqa: BLE001 - too large or too deep
        return False
    pending = [encoded]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if any(key in item for key in _NOT_PLAIN):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


class _BlockSolutions:
    """An import hook that keeps the reference solutions out of the student's reach."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in _BLOCKED_MODULES:
            raise ImportError(f"No module named {name!r}")
        return None


def _strip_notebook_only(source: str) -> str:
    """Comment out IPython magics and shell escapes, which plain Python cannot run."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass  # " + stripped
        lines.append(line)
    return "\n".join(lines) + "\n"


class Worker:
    """The worker's state: one module namespace per loaded part."""

    def __init__(
        self, ask: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    ) -> None:
        """Args:
        ask: sends a callback message to the grader and returns its reply.
        """
        self.namespaces: dict[str, dict[str, Any]] = {}
        #: per NumPy-only part, the libraries its code reached while it loaded
        self.load_reached: dict[str, list[str]] = {}
        self.ask = ask
        # Taken before any student code loads: replacing grader.worker.serve.execute_call from
        # the student's module does not change what this worker runs.
        self._execute = execute_call

    def callback(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Ask the grader for the reference value of helper ``name``.

        Raises:
            OwnHelper: when the grader declines the call: the student's helper runs.
        """
        reply = None
        if self.ask is not None:
            reply = self.ask(
                {
                    "op": "callback",
                    "function": name,
                    "args": encode(plain_result(args)),
                    "kwargs": encode(plain_result(kwargs)),
                }
            )
        if not reply or reply.get("own") or not reply.get("ok"):
            # Declined (order, bounds, time, a failing reference) or unanswered: the
            # student's own helper runs, as it would in Python.
            raise OwnHelper(name)
        return convert_argument(decode(reply["result"]), None)

    def load(self, part: str, cells: list[dict[str, str]]) -> dict[str, Any]:
        """Run a part's code cells, each on its own, into a fresh module namespace."""
        module = types.ModuleType(part)
        module.__file__ = f"<submission {part}>"
        namespace = module.__dict__
        for name in NOTEBOOK_HELPERS:
            namespace[name] = lambda *args, **kwargs: None
        sys.modules[f"submission_{part}"] = module
        errors = []
        guard = _NumpyOnly() if part in NUMPY_ONLY_PARTS else contextlib.nullcontext()
        with guard:
            self._run_cells(cells, namespace, errors)
        reached = getattr(guard, "reached", [])
        self.load_reached[part] = list(reached)
        self.namespaces[part] = namespace
        functions = {}
        for name, value in namespace.items():
            if callable(value) and not name.startswith("_") and name not in NOTEBOOK_HELPERS:
                functions[name] = _signature(value)
        answer = {"ok": True, "errors": errors, "functions": functions}
        if reached:
            answer["reached"] = reached
        return answer

    def _run_cells(
        self, cells: list[dict[str, str]], namespace: dict[str, Any], errors: list[Any]
    ) -> None:
        for cell in cells:
            label = cell["label"]
            try:
                code = compile(
                    _strip_notebook_only(cell["source"]), f"<submission {label}>", "exec"
                )
                exec(code, namespace)  # noqa: S102 - running student code is this module's job
            except SystemExit as error:
                errors.append(
                    {
                        "label": label,
                        "type": "SystemExit",
                        "message": f"exit({error.code})",
                        "where": "",
                    }
                )
            except BaseException as error:  # noqa: BLE001
                if isinstance(error, KeyboardInterrupt):
                    errors.append(
                        {"label": label, "type": "KeyboardInterrupt", "message": "", "where": ""}
                    )
                    continue
                errors.append({"label": label, **describe_error(error)})

    def measure(self, message: dict[str, Any]) -> dict[str, Any]:
        """Build a model with the student's function and measure it with the grader's code.

        Used in a fresh process for a model the grader cannot rebuild from built-in parts
        (:func:`grader.measuring.measure.measure_in_worker`, of the ``kind`` the message names:
        ``exploding`` or ``healthy``). The measuring runs in the student's process because
        the model's own code must run; the function was captured when this module was
        imported, before any student code, and only plain data returns. The grader reads
        the answer as hostile data (:func:`grader.measuring.measure.read_measurement`).
        """
        namespace = self.namespaces.get(message["part"]) or {}
        function = namespace.get(message["function"])
        if not callable(function):
            return {
                "ok": False,
                "error": {"type": "MissingFunction", "message": message["function"], "where": ""},
            }
        try:
            args = decode(message.get("args", {"__list__": []}))
            kwargs = decode(message.get("kwargs", {"__dict__": {}}))
            data = decode(message.get("data", {"__list__": []}))
            seed = int(message.get("seed", 0))
            options = {
                "kind": str(message.get("kind", "exploding")),
                "steps": int(message.get("steps", 0)),
                "learning_rate": float(message.get("learning_rate", 0.0)),
            }
            np.random.seed(seed)
            _tensorflow()
            sys.modules["keras"].utils.set_random_seed(seed)
            model = function(*args, **kwargs)  # called as the check calls it
            input_dim, depth, width = (int(a) for a in args[:3])
            if not model.built:
                model.build((None, input_dim))
            measured = _MEASURE(model, input_dim, depth, width, *data, **options)
            return {"ok": True, "result": encode(measured)}
        except BaseException as error:  # noqa: BLE001 - student code may raise anything
            return {"ok": False, "error": describe_error(error)}

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        """Call one function of a loaded part."""
        namespace = self.namespaces.get(message["part"])
        if namespace is None:
            return {
                "ok": False,
                "error": {"type": "NotLoaded", "message": message["part"], "where": ""},
            }
        function = namespace.get(message["function"])
        if not callable(function):
            return {
                "ok": False,
                "error": {"type": "MissingFunction", "message": message["function"], "where": ""},
            }
        try:
            args = decode(message.get("args", {"__list__": []}))
            kwargs = decode(message.get("kwargs", {"__dict__": {}}))
        except Exception as error:  # noqa: BLE001
            return {
                "ok": False,
                "error": {"type": "ProtocolError", "message": str(error), "where": ""},
            }
        part = message["part"]
        if part in NUMPY_ONLY_PARTS:
            guard: Any = _NumpyOnly()
        elif part == "clipping" and message["function"] in CLIPPING_ARRAY_FUNCTIONS:
            guard = _ClipRecorder(namespace)
        else:
            guard = contextlib.nullcontext()
        try:
            with guard:
                answer = self._execute(
                    function,
                    args,
                    kwargs,
                    kinds=message.get("kinds"),
                    state_of=message.get("state_of"),
                    namespace=namespace,
                    record=message.get("record"),
                    build_dim=message.get("build_dim"),
                    seed=int(message.get("seed", 0)),
                    helpers=message.get("helpers"),
                    callback=self.callback,
                    trusted=message.get("trusted"),
                )
        except Exception as error:  # noqa: BLE001 - e.g. a result that cannot be encoded
            return {"ok": False, "error": describe_error(error)}
        violations = []
        if getattr(guard, "reached", None):
            violations.append(f"reached {', '.join(guard.reached)} while it ran")
        elif not answer.get("ok") and self.load_reached.get(part):
            # It failed after its part's code tried, while loading, to reach a library
            # that a NumPy-only part does not have: that attempt is the reason given.
            reached = ", ".join(self.load_reached[part])
            violations.append(f"reached {reached} while its part's code loaded")
        if getattr(guard, "calls", None):
            violations.append(f"called {', '.join(sorted(set(guard.calls)))} while it ran")
        if violations:
            answer["violations"] = violations
        return answer


def _measure_function() -> Callable[..., Any]:
    from grader.measuring.measure import measure_in_worker

    return measure_in_worker


#: The grader's measuring code, referenced before any student code is loaded.
_MEASURE = _measure_function()


def _signature(value: Any) -> str:
    import inspect

    try:
        return str(inspect.signature(value))
    except (TypeError, ValueError):
        return "(...)"


def apply_limits() -> dict[str, int]:
    """Set the memory and file-size limits the grader asked for (in the environment).

    Returns:
        the limits, in MB or counts (0 where there is none); the per-submission ones
        (``processes``, ``scratch_mb``) are set by :func:`_isolate_submission`.
    """
    import resource
    import signal

    limits = {
        key: int(os.environ.get(variable, "0") or 0)
        for key, variable in (
            ("memory_mb", "GRADER_MEMORY_MB"),
            ("output_mb", "GRADER_OUTPUT_MB"),
            ("processes", "GRADER_PROCESSES"),
            ("scratch_mb", "GRADER_SCRATCH_MB"),
        )
    }
    if limits["memory_mb"]:
        size = limits["memory_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if limits["output_mb"]:
        size = limits["output_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return limits


# -- per-submission namespaces (jail mode) ----------------------------------------------

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MS_REC, _MS_PRIVATE = 1 << 14, 1 << 18
_PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 4, 24, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_JAIL_VARIABLE = "GRADER_JAIL"


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    """Raise OSError with errno when a libc call failed."""
    if result != 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _not_dumpable() -> None:
    """Make this process's memory unreadable and untraceable by processes of its user."""
    try:
        _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _new_namespaces() -> None:
    """Enter new user, mount and PID namespaces, keeping this process's uid and gid."""
    uid, gid = os.getuid(), os.getgid()
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWPID), "unshare")
    # Writing our own maps needs our /proc files to be ours: dumpable for that moment
    # (the zygote's processes are not; this one is not visible from the new namespace).
    libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as stream:
            stream.write(text)
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _mount(source: str, target: str, kind: str | None, flags: int, data: str = "") -> None:
    result = _libc().mount(
        source.encode(),
        target.encode(),
        kind.encode() if kind else None,
        flags,
        data.encode() if data else None,
    )
    _check(result, f"mount {target}")


def _fresh_file_systems(scratch_mb: int) -> str:
    """In the submission's server: private mounts, a fresh /tmp, /dev/shm and /proc.

    Returns:
        the submission's working folder.
    """
    size = f"size={max(scratch_mb, 1)}m,mode=1777"
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    _mount("scratch", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, size)
    if os.path.isdir("/dev/shm"):
        _mount("shm", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, size)
    # A /proc of this PID namespace: the warm worker and other submissions are not in it.
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    work = "/tmp/work"
    os.mkdir(work, 0o700)
    return work


def _drop_privileges(processes: int) -> None:
    """Drop every capability for good, set no_new_privs and the process limit."""
    import ctypes
    import resource

    libc = _libc()
    for capability in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    _check(libc.capset(header, data), "capset")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


# The init (PID 1) of a submission's PID namespace: not dumpable, it reaps orphans until
# the process that made the namespace kills it, and with it everything in the namespace.
_INIT = """\
import ctypes, os, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
"""


def _isolate_submission(serve: Callable[[], None], fail: Callable[[str], None]) -> None:
    """In the forked child: run ``serve`` as PID 2 of a PID namespace of its own; never returns.

    This process makes the namespaces, starts their init (PID 1, a small fresh Python,
    spawned without copying this one) and forks the server, which mounts the submission's
    file systems, drops its privileges and serves. When the server ends, this process
    kills init, so the kernel kills whatever is left in the namespace, then ends the way
    the server ended, for the zygote to report. Two forks of the warm process per
    submission, as few as a PID namespace allows.

    Args:
        serve: serves the submission's requests (in the server).
        fail: reports a set-up failure on the channel (in the server).
    """
    import signal

    _new_namespaces()
    init = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", _INIT], {})
    server = os.fork()
    if server == 0:
        try:
            try:
                work = _fresh_file_systems(LIMITS.get("scratch_mb", 0))
                _drop_privileges(LIMITS.get("processes", 0))
                os.chdir(work)
            except BaseException as error:  # noqa: BLE001 - no student code has run yet
                fail(f"the submission's jail could not be made: {error}")
                raise
            serve()
        finally:
            os._exit(0)
    _, status = os.waitpid(server, 0)
    os.kill(init, signal.SIGKILL)
    os.waitpid(init, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)


LIMITS: dict[str, int] = {}


def _set_subreaper() -> None:
    """Adopt the orphans of the processes below, so that they can be found and killed."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _kill_children() -> int:
    """Kill and reap every remaining child of this process; return how many there were.

    Orphans of the killed are adopted by this process (a subreaper), so rounds go on until
    none is left: a chain of processes dies one level per round. In jail mode the PID
    namespace has ended them all, unless the grader killed the submission's process from
    outside (a time-out): then its namespace's init and server are adopted here.
    """
    import signal

    killed = 0
    for _ in range(256):
        me = str(os.getpid())
        children = []
        for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as stat:
                        if stat.read().rsplit(b")", 1)[1].split()[1].decode() == me:
                            children.append(int(entry))
                except (OSError, IndexError):
                    continue
        if not children:
            break
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Reap whichever child ends first, not one by one in a fixed order: the init of a
        # submission's PID namespace, adopted here when its parent was killed, ends only
        # once the server, adopted here too, has been reaped, so waiting for init first
        # would wait forever (until the grader gave up on the whole worker).
        pending = set(children)
        while pending:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            pending.discard(pid)
            killed += 1
    return killed


def _redirect_output(path: str) -> None:
    """Send fd 1 and 2 (the student's prints) to ``path``."""
    capture = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    os.close(capture)


def _serve(channel_in: Any, channel_out: Any) -> None:
    """In a forked child: serve one submission's requests until ``end``."""

    def ask(message: dict[str, Any]) -> dict[str, Any] | None:
        write_message(channel_out, message)
        return read_message(channel_in)

    worker = Worker(ask)
    write_message(channel_out, {"ok": True, "pid": os.getpid(), "autodiff": autodiff_loaded()})
    while True:
        message = read_message(channel_in)
        if message is None or message.get("op") == "end":
            write_message(channel_out, {"ok": True})
            return
        op = message.get("op")
        if op == "load":
            answer = worker.load(message["part"], message["cells"])
        elif op == "call":
            answer = worker.call(message)
        elif op == "measure":
            answer = worker.measure(message)
        else:
            answer = {
                "ok": False,
                "error": {"type": "ProtocolError", "message": f"unknown op {op!r}", "where": ""},
            }
        write_message(channel_out, answer)


def _demo_stand_in(name: str) -> Callable[..., Any]:
    """A lesson demonstration's stand-in in the worker (its cells do not run here)."""
    if name.startswith("__"):
        raise AttributeError(name)

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"the demonstration {name} does not run while grading")

    return stand_in


def main() -> None:
    """Run the zygote: warm up, then fork one child per submission until the stream ends."""
    from grader.quiet import silence_tensorflow

    global _IN_WORKER
    _IN_WORKER = True

    LIMITS.update(apply_limits())
    silence_tensorflow()
    # Unbuffered: the zygote and its children read the same pipe, so no read-ahead.
    channel_in = os.fdopen(os.dup(0), "rb", buffering=0)
    channel_out = os.fdopen(os.dup(1), "wb")
    with open(os.devnull, "rb") as devnull:
        os.dup2(devnull.fileno(), 0)
    _redirect_output(os.devnull)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
    sys.stdin = io.StringIO("")
    sys.meta_path.insert(0, _BlockSolutions())
    # A notebook's setup cell imports the self-check helpers; here they do nothing.
    helpers = types.ModuleType("grader.notebook")
    for name in NOTEBOOK_HELPERS:
        setattr(helpers, name, lambda *args, **kwargs: None)
    sys.modules["grader.notebook"] = helpers
    # The lessons' demonstrations (grader.demos) run the reference: while grading, their
    # cells are skipped, and a setup cell's import of them finds stand-ins that say so.
    demos = types.ModuleType("grader.demos")
    demos.__getattr__ = _demo_stand_in  # type: ignore[attr-defined]
    sys.modules["grader.demos"] = demos
    for name in list(sys.modules):
        if name.split(".")[0] in _BLOCKED_MODULES:
            del sys.modules[name]
    _set_subreaper()
    # Not dumpable: a submission's processes, though of the same user, cannot read or
    # write this process's memory, nor trace it.
    _not_dumpable()
    jailed = os.environ.get(_JAIL_VARIABLE) == "1"
    home = os.getcwd()
    children = 0
    while True:
        message = read_message(channel_in)
        if message is None:
            return
        op = message.get("op")
        if op == "warm":
            if message.get("tensorflow"):
                from grader.quiet import import_tensorflow

                import_tensorflow(initialise=False)  # the runtime would not survive a fork
                import grader.measuring.models  # noqa: F401
            elif message.get("numpy_only"):
                # Every notebook of the course imports pyplot (TensorFlow's import brings it
                # into the other worker): imported once here, not in every child (~1 s each).
                try:
                    import matplotlib.pyplot  # noqa: F401
                except ImportError:
                    pass

                # Every child of this worker runs NumPy-only parts: the guard is on for good.
                guard_autodiff(always=True)
            write_message(
                channel_out, {"ok": True, "pid": os.getpid(), "autodiff": autodiff_loaded()}
            )
        elif op == "fork":
            children += 1
            scratch = os.path.join(home, f"submission-{children}")
            os.makedirs(scratch, exist_ok=True)
            pid = os.fork()
            if pid == 0:
                try:
                    os.setsid()
                    os.chdir(scratch)
                    if jailed:

                        def serve() -> None:
                            _redirect_output("captured-output.txt")
                            _serve(channel_in, channel_out)

                        def fail(message: str) -> None:
                            error = {"type": "Jail", "message": message}
                            write_message(channel_out, {"ok": False, "error": error})

                        _isolate_submission(serve, fail)
                    _redirect_output(os.path.join(scratch, "captured-output.txt"))
                    _serve(channel_in, channel_out)
                except BaseException as error:  # noqa: BLE001 - the zygote reports the end
                    if jailed:
                        write_message(
                            channel_out,
                            {"ok": False, "error": {"type": "Jail", "message": str(error)}},
                        )
                finally:
                    os._exit(0)
            _, status = os.waitpid(pid, 0)
            leftovers = _kill_children()
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
            write_message(
                channel_out,
                {
                    "op": "ended",
                    "status": os.waitstatus_to_exitcode(status),
                    "leftovers": leftovers,
                },
            )
        else:
            write_message(
                channel_out,
                {
                    "ok": False,
                    "error": {
                        "type": "ProtocolError",
                        "message": f"unknown op {op!r}",
                        "where": "",
                    },
                },
            )


if __name__ == "__main__":
    main()
