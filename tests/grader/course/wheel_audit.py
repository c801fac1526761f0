"""Run in a fresh interpreter by ``test_kit_audit.py``: can any code of a kit compute an answer?

Usage: ``python -I wheel_audit.py KIT_DIR CASES_JSON OUT_JSON [EXTRA_MODULE ...]``

``KIT_DIR`` holds an unzipped kit wheel (its ``grader`` package). The interpreter is cut
off from the course first: the kit's folder goes first on ``sys.path``, the course's
editable-install finder and every path into the course's own checkout leave, and
``solutions`` cannot be imported. Then every module of the kit's ``grader`` (and the
``EXTRA_MODULE`` names, planted by the test as a control) is imported, and every function,
class and method found in it is called with each case's arguments, in order and by name,
under every combination of its switches (parameters whose default is a bool, a short
string or a ``Literal``), each call under a time limit, every exception caught. A result
counts as an answer when it, an element of it or that list without its first or last
element equals the case's expected value under the kit's own comparison
(:func:`grader.checks.compare.compare_arrays`, with the part's tolerance).

Each callable's calls are made in a child forked from the audit once every module is
imported (the audit itself runs no TensorFlow operation), so no callable changes what the
next one sees, whatever it replaces or installs. The child cannot reach other processes or
the machine: the functions that signal, start, confine or replace processes, change limits,
load C libraries or change directory raise instead (:data:`DANGEROUS`), as does closing or
replacing the descriptor it answers through; files
are written or removed in the temporary folder only, never in the audited kit or the
audit's folder (:data:`FILE_CHANGES`), and it is killed when it runs past its time.

Writes ``OUT_JSON``: ``{"findings": [...], "imported": [...], "import_errors": {...},
"calls": n, "callables": n, "unfinished": [callables with a call that answered nothing:
it ended a fresh process by itself, or ran past its time]}``.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import ctypes
import importlib
import importlib.abc
import inspect
import io
import itertools
import json
import os
import platform
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import typing
from pathlib import Path
from typing import Any

#: Seconds one call may take.
CALL_SECONDS = 30
#: Most switch combinations tried per callable and way of passing the arguments.
MAX_COMBINATIONS = 64
#: Most string choices a string switch is tried with.
MAX_CHOICES = 8


class Refused(RuntimeError):
    """A call reached a function that the audit does not let run."""


class CallTimeout(BaseException):
    """A call ran past :data:`CALL_SECONDS` (a BaseException, so broad excepts pass it on)."""


def _refuse(name: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise Refused(f"{name} is refused during the audit")

    return refused


#: What the audited code may not do: (module, attribute) pairs that raise instead.
DANGEROUS = [
    (os, "kill"),
    (os, "killpg"),
    (os, "_exit"),
    (os, "fork"),
    (os, "forkpty"),
    (os, "setsid"),
    (os, "setpgid"),
    (os, "setuid"),
    (os, "setgid"),
    (os, "system"),
    (os, "popen"),
    (os, "chdir"),
    (os, "chroot"),
    (os, "execv"),
    (os, "execve"),
    (os, "execvp"),
    (os, "execvpe"),
    (os, "execl"),
    (os, "execlp"),
    (os, "posix_spawn"),
    (os, "posix_spawnp"),
    (os, "sched_setaffinity"),
    (resource, "setrlimit"),
    (resource, "prlimit"),
    (subprocess, "Popen"),
    (subprocess, "run"),
    (subprocess, "call"),
    (subprocess, "check_call"),
    (subprocess, "check_output"),
    (ctypes, "CDLL"),
    (ctypes, "PyDLL"),
    (ctypes.cdll, "LoadLibrary"),
    (signal, "pthread_kill"),
    (signal, "setitimer"),
    (signal, "alarm"),
]


#: What writes or removes files: allowed only in the temporary folder (Keras's own
#: temporary files), never in the audited kit or the audit's own folder.
FILE_CHANGES = [
    (os, "remove"),
    (os, "unlink"),
    (os, "rmdir"),
    (os, "removedirs"),
    (os, "rename"),
    (os, "replace"),
    (shutil, "rmtree"),
    (shutil, "move"),
    (builtins, "open"),
    (io, "open"),
    (os, "open"),
]
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _guard_files(module: Any, attribute: str, kept: list[Path]) -> None:
    """Let ``module.attribute`` touch files in the temporary folder only, outside ``kept``."""
    original = getattr(module, attribute)
    temporary = Path(tempfile.gettempdir()).resolve()

    def allowed(path: Any) -> bool:
        if isinstance(path, int) or os.fsdecode(path) == os.devnull:  # open, or nowhere
            return True
        resolved = Path(os.fsdecode(path)).resolve()
        return resolved.is_relative_to(temporary) and not any(
            resolved.is_relative_to(k) for k in kept
        )

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if attribute == "open":
            mode = args[1] if len(args) > 1 else kwargs.get("mode", kwargs.get("flags", "r"))
            writes = (
                bool(mode & _WRITE_FLAGS)
                if isinstance(mode, int)
                else bool(set(mode) & set("wax+"))
            )
            paths = args[:1] if writes else []
        else:
            paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
        if not all(allowed(path) for path in paths):
            raise Refused(f"{attribute} of {paths} is refused during the audit")
        return original(*args, **kwargs)

    setattr(module, attribute, guarded)


def _guard_pipe(pipe: int) -> None:
    """Let the audited code close and replace descriptors, but never the audit's pipe."""
    close, closerange, dup2 = os.close, os.closerange, os.dup2

    def refuse(fd: int) -> None:
        raise Refused(f"descriptor {fd} is the audit's own")

    os.close = lambda fd: refuse(fd) if fd == pipe else close(fd)
    os.closerange = lambda low, high: refuse(pipe) if low <= pipe < high else closerange(low, high)
    os.dup2 = lambda fd, fd2, inheritable=True: (
        refuse(fd2) if fd2 == pipe else dup2(fd, fd2, inheritable)
    )


class _NoSolutions(importlib.abc.MetaPathFinder):
    """Refuses ``solutions``: a kit must not find the reference anywhere."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name == "solutions" or name.startswith("solutions."):
            raise ImportError(f"{name} is not importable in the audit")
        return None


def cut_off(kit: Path) -> None:
    """Only the kit's ``grader`` on the path; no course checkout, no editable finder."""
    course = Path(__file__).resolve().parents[3]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__.lower()]
    sys.meta_path.insert(0, _NoSolutions())
    sys.path[:] = [p for p in sys.path if p and not Path(p).resolve().is_relative_to(course)]
    sys.path.insert(0, str(kit))
    for name in list(sys.modules):
        if name == "grader" or name.startswith(("grader.", "solutions")):
            del sys.modules[name]


def kit_modules(kit: Path) -> list[str]:
    """Every module of the kit's ``grader`` package, by name."""
    names = []
    for path in sorted((kit / "grader").rglob("*.py")):
        parts = path.relative_to(kit).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _string_constants(function: Any) -> list[str]:
    """Short string constants in a function's source: the choices a string switch may take."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if 0 < len(node.value) <= 24 and node.value.isidentifier():
                found.append(node.value)
    return list(dict.fromkeys(found))


def switch_choices(function: Any, signature: inspect.Signature) -> dict[str, list[Any]]:
    """Each switch of a callable and the values to try it with."""
    choices: dict[str, list[Any]] = {}
    strings = None
    for name, parameter in signature.parameters.items():
        default = parameter.default
        annotation = parameter.annotation
        if typing.get_origin(annotation) is typing.Literal:
            choices[name] = list(typing.get_args(annotation))
        elif isinstance(default, bool):
            choices[name] = [default, not default]
        elif isinstance(default, str) and len(default) <= 24:
            if strings is None:
                strings = _string_constants(function)
            choices[name] = list(dict.fromkeys([default, *strings]))[:MAX_CHOICES]
    return choices


def ways_to_call(
    signature: inspect.Signature, args: list[Any], kwargs: dict[str, Any], names: list[str]
) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """The ways a case's arguments fit a callable: in order (with the case's keywords, or
    without them), and by name; each way once (two that bind the same are one)."""
    named = {**dict(zip(names, args)), **kwargs}
    taken = {k: v for k, v in named.items() if k in signature.parameters}
    ways, seen = [], set()
    for label, positional, keywords in [
        ("in order", tuple(args), dict(kwargs)),
        ("in order, no keywords", tuple(args), {}),
        ("by name", (), taken),
    ]:
        if label == "by name" and not taken:
            continue
        try:
            bound = signature.bind(*positional, **keywords)
        except TypeError:
            continue
        key = tuple(sorted((k, id(v)) for k, v in bound.arguments.items()))
        if key not in seen:
            seen.add(key)
            ways.append((label, positional, keywords))
    return ways


def callables(module: Any) -> list[tuple[str, Any, Any]]:
    """The functions, classes and methods a module defines: (name, what to read the
    signature of, how to get the callable). An instance method is called on an instance made
    without arguments, made in the process that calls it."""
    found = []
    for name, value in sorted(vars(module).items()):
        if getattr(value, "__module__", None) != module.__name__:
            continue
        label = f"{module.__name__}.{name}"
        if inspect.isfunction(value):
            found.append((label, value, lambda value=value: value))
        elif inspect.isclass(value):
            found.append((label, value, lambda value=value: value))
            for attribute, member in sorted(vars(value).items()):
                if isinstance(member, (staticmethod, classmethod)):
                    method = getattr(value, attribute)
                    found.append((f"{label}.{attribute}", method, lambda m=method: m))
                elif inspect.isfunction(member):
                    found.append(
                        (
                            f"{label}.{attribute}",
                            _without_self(member),
                            lambda cls=value, a=attribute: getattr(cls(), a),
                        )
                    )
    return found


def _without_self(function: Any) -> Any:
    """What to read an instance method's signature from: the function, ``self`` dropped."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return function

    def method(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    parameters = list(signature.parameters.values())[1:]
    method.__signature__ = signature.replace(parameters=parameters)
    method.__wrapped_source__ = function
    return method


def _timeout(signum: int, frame: Any) -> None:
    raise CallTimeout()


def live(value: Any, rebuild_model: Any, rebuild_optimizer: Any, protocol: Any) -> Any:
    """A case's argument as the student's function gets it: models and optimizers live."""
    if isinstance(value, protocol.ModelSpec):
        return rebuild_model(value)
    if isinstance(value, protocol.OptimizerSpec):
        return rebuild_optimizer(value)
    return value


def candidates(value: Any, depth: int = 0) -> list[Any]:
    """A result, and the parts of it that could hold an answer."""
    found = [value]
    if depth < 2 and isinstance(value, (list, tuple)) and 1 < len(value) <= 64:
        found += [list(value[1:]), list(value[:-1])]
        for item in value:
            found += candidates(item, depth + 1)
    if depth < 2 and isinstance(value, dict):
        found += [v for _, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
    return found


def numbers(value: Any, protocol: Any) -> Any:
    """A value as one flat float64 vector, a string as itself, or None."""
    import numpy as np

    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, protocol.ModelSpec):
        value = value.weights
    elif hasattr(value, "get_weights") and hasattr(value, "layers"):  # a live Keras model
        value = value.get_weights()
    elif isinstance(value, protocol.OptimizerSpec) or hasattr(value, "get_config"):
        config = value.config if isinstance(value, protocol.OptimizerSpec) else None
        if config is None:
            try:
                config = value.get_config()
            except Exception:  # noqa: BLE001
                return None
        if not isinstance(config, dict):
            return None
        keys = ("learning_rate", "clipvalue", "clipnorm", "global_clipnorm")
        settings = [config.get(k) for k in keys]
        if not all(s is None or isinstance(s, (int, float)) for s in settings):
            return None
        return np.array([-1.0 if s is None else float(s) for s in settings])
    if isinstance(value, dict):
        value = [v for _, v in sorted(value.items(), key=lambda kv: str(kv[0]))]
    try:
        return flat_numbers(value)
    except (TypeError, ValueError, AttributeError, RecursionError):
        return None


def flat_numbers(value: Any) -> Any:
    """Every number of nested lists and arrays (of any shapes), as one float64 vector.

    Raises:
        TypeError, ValueError: for a value that is not numbers.
    """
    import numpy as np

    if isinstance(value, (list, tuple)):
        parts = [flat_numbers(v) for v in value]
        if not parts:
            raise ValueError("no numbers")
        return np.concatenate(parts)
    if isinstance(value, (str, bytes, bool)) or value is None:
        raise TypeError("not a number")
    return np.asarray(value, dtype=np.float64).ravel()


def answers(result: Any, expected: Any, tolerance: Any, compare: Any, protocol: Any) -> bool:
    """Whether the result, or a part of it, is the expected answer."""
    import numpy as np

    wanted = numbers(expected, protocol)
    if wanted is None:
        return False
    for candidate in candidates(result):
        got = numbers(candidate, protocol)
        if got is None:
            continue
        if isinstance(wanted, str) or isinstance(got, str):
            if got == wanted:
                return True
            continue
        if got.shape == wanted.shape and np.all(np.isfinite(got)):
            if compare(got, wanted, tolerance).ok:
                return True
    return False


def in_child(
    make: Any, planned: list[tuple[Any, ...]], kept: list[Path], real_exit: Any
) -> list[bool]:
    """Make a callable's planned calls in a forked child; for each call it answered,
    whether its result is the case's answer (fewer than planned: the child died, or was
    killed past its time, in the next call).

    The child starts from the audit's state after the imports, before any TensorFlow
    operation ran (a ``tf.function`` hangs in a child forked after one ran), so no callable
    changes what the next one sees, whatever it replaces or installs. It refuses the
    functions of :data:`DANGEROUS` and any change to its pipe, changes files in the
    temporary folder only and never in ``kept`` (:data:`FILE_CHANGES`), builds each call's
    models and optimizers afresh (a call may train them), stops a call at
    :data:`CALL_SECONDS`, and is killed when it does not answer within half a minute more.
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: one byte back per call
        try:
            os.close(read_end)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            from grader.checks.compare import TOLERANCES, compare_arrays
            from grader.isolation import protocol
            from grader.measuring.optimizers import rebuild_optimizer
            from grader.measuring.rebuild import rebuild_model

            write, setitimer = os.write, signal.setitimer
            signal.signal(signal.SIGALRM, _timeout)
            for module, attribute in DANGEROUS:
                if hasattr(module, attribute):
                    owner = getattr(module, "__name__", type(module).__name__)
                    setattr(module, attribute, _refuse(f"{owner}.{attribute}"))
            for module, attribute in FILE_CHANGES:
                _guard_files(module, attribute, kept)
            _guard_pipe(write_end)
            for case, args, kwargs, switches in planned:
                verdict = b"0"
                setitimer(signal.ITIMER_REAL, CALL_SECONDS)
                try:
                    args = [live(a, rebuild_model, rebuild_optimizer, protocol) for a in args]
                    kwargs = {
                        k: live(v, rebuild_model, rebuild_optimizer, protocol)
                        for k, v in kwargs.items()
                    }
                    result = make()(*args, **kwargs, **switches)
                    tolerance = TOLERANCES[case["tolerance"]]
                    if answers(result, case["expected"], tolerance, compare_arrays, protocol):
                        verdict = b"1"
                except BaseException:  # noqa: BLE001, S110 - a call that fails answers nothing
                    pass
                finally:
                    with contextlib.suppress(BaseException):  # the alarm may come just then
                        setitimer(signal.ITIMER_REAL, 0)
                write(write_end, verdict)
        finally:
            real_exit(0)
    os.close(write_end)
    verdicts: list[bool] = []
    for _ in planned:
        ready, _, _ = select.select([read_end], [], [], CALL_SECONDS + 30)
        answer = os.read(read_end, 1) if ready else b""
        if not answer:  # the child died in this call, or ran past its time
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)  # the audit's own child
            break
        verdicts.append(answer == b"1")
    os.close(read_end)
    os.waitpid(child, 0)
    return verdicts


def audit_calls(
    make: Any, planned: list[tuple[Any, ...]], kept: list[Path], real_exit: Any
) -> list[bool | None]:
    """:func:`in_child` for every planned call: when a child dies in a call that was not its
    first (an earlier call may have broken its process: removed TensorFlow from
    ``sys.modules``, say), the call is made again first in a fresh child; a call that ends
    the child it came first in answers None."""
    verdicts: list[bool | None] = []
    while len(verdicts) < len(planned):
        made = in_child(make, planned[len(verdicts) :], kept, real_exit)
        verdicts += made
        if len(verdicts) < len(planned) and not made:
            verdicts.append(None)  # it ended a fresh child by itself
    return verdicts


def main() -> None:
    kit, cases_path, out_path, *extra = sys.argv[1:]
    kit = Path(kit)
    cut_off(kit)
    saved_exit = os._exit

    from grader.isolation import protocol

    cases = protocol.decode(json.loads(Path(cases_path).read_text(encoding="utf-8")))
    assert not Path(protocol.__file__).resolve().is_relative_to(Path(__file__).resolve().parents[3])

    imported, import_errors = [], {}
    modules = []
    for name in kit_modules(kit) + extra:
        if name.endswith(".__main__"):  # an entry point: importing it runs the program
            tree = ast.parse((kit / Path(*name.split("."))).with_suffix(".py").read_text())
            defined = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
            if not defined:  # it defines nothing to call
                imported.append(name)
                continue
        try:
            modules.append(importlib.import_module(name))
            imported.append(name)
        except BaseException as error:  # noqa: BLE001
            import_errors[name] = f"{type(error).__name__}: {error}"

    # What the libraries ask the system once and keep (platform.uname() runs `uname -p`,
    # which a child may not start), asked here, before any child is forked.
    platform.processor()
    found = [entry for module in modules for entry in callables(module)]
    findings, calls, unfinished = [], 0, []
    progress = Path(out_path).with_suffix(".progress")  # the callable under audit, for a crash
    for label, shown, make in found:
        progress.write_text(label, encoding="utf-8")
        try:
            signature = inspect.signature(shown)
        except (TypeError, ValueError):
            continue
        switches = switch_choices(getattr(shown, "__wrapped_source__", shown), signature)
        planned, described = [], []
        for case in cases:
            for way, args, kwargs in ways_to_call(
                signature, case["args"], case["kwargs"], case["names"]
            ):
                order = list(signature.parameters)
                free = {
                    k: v
                    for k, v in switches.items()
                    if k not in kwargs and order.index(k) >= len(args)
                }
                for combo in list(itertools.product(*free.values()))[:MAX_COMBINATIONS]:
                    chosen = dict(zip(free, combo))
                    planned.append((case, args, kwargs, chosen))
                    described.append(
                        {
                            "callable": label,
                            "contract": case["test"],
                            "case": case["label"],
                            "arguments": way,
                            "switches": {k: repr(v) for k, v in chosen.items()},
                        }
                    )
        if not planned:
            continue
        calls += len(planned)
        kept = [kit.resolve(), Path(out_path).resolve().parent]
        verdicts = audit_calls(make, planned, kept, saved_exit)
        findings += [d for d, hit in zip(described, verdicts) if hit]
        if None in verdicts:
            unfinished.append(label)
    report = {
        "findings": findings,
        "imported": imported,
        "import_errors": import_errors,
        "calls": calls,
        "callables": len(found),
        "unfinished": unfinished,
    }
    Path(out_path).write_text(json.dumps(report), encoding="utf-8")
    sys.stdout.flush()
    saved_exit(0)  # not waiting for threads an audited call may have left running


if __name__ == "__main__":
    main()
