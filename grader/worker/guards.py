"""The run-time guards of what a part's code may reach, in the student's process.

- :class:`NumpyOnly`, :func:`guard_autodiff`: a NumPy-only part
  (:data:`grader.assignment.NUMPY_ONLY_PARTS`) reaches no autodiff library;
- Part 3's array functions call no library clip function: :mod:`grader.worker.clip_watch`;
- :class:`BlockSolutions`: no code imports the reference solutions.

The guards record what was tried; the grader decides from that plain data. In the jail the
NumPy-only worker's file system does not hold the autodiff libraries at all
(:mod:`grader.isolation.jail`).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import types
from typing import Any

from grader.isolation.libraries import (
    AUTODIFF_MODULES,
    autodiff_entry,
)

#: Top-level modules the student's code may not import: the reference solutions.
BLOCKED_MODULES = ("solutions",)


_REACHED: set[str] = set()
#: How many NumPy-only blocks are running (the run-time guard of a process that also runs
#: the other parts); a NumPy-only worker's guard is on for good (:func:`guard_autodiff`).
_GUARDED = [0]
_AUDITED: list[bool] = []
#: Whether this process is a worker (set by :func:`grader.worker.serve.main`), not a
#: notebook's kernel.
IN_WORKER = False
#: Audit events that reach a library's files: opened, linked, renamed, copied, loaded.
_FILE_EVENTS = frozenset(
    ("open", "os.link", "os.rename", "os.symlink", "shutil.copyfile", "ctypes.dlopen")
)


def autodiff_loaded() -> list[str]:
    """The autodiff libraries this process has imported (top-level names, from sys.modules)."""
    return sorted({name.split(".")[0] for name in list(sys.modules)} & set(AUTODIFF_MODULES))


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
            :class:`NumpyOnly` block).
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
            return importlib.machinery.ModuleSpec(name, _ForbiddenLoader())
        return None


class NumpyOnly:
    """While a NumPy-only part loads or runs: the autodiff modules are out of
    ``sys.modules`` (the zygote imported TensorFlow for speed) and any import of them gives
    an unusable module; afterwards the real ones are back for the other parts.

    After the block, ``reached`` names the libraries the code used or imported for real.
    This runs in the student's process; the grader decides from ``reached`` (plain data).
    """

    def __enter__(self) -> NumpyOnly:
        if IN_WORKER:  # not in a notebook's kernel, which is the student's own
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


class BlockSolutions:
    """An import hook that keeps the reference solutions out of the student's reach."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in BLOCKED_MODULES:
            raise ImportError(f"No module named {name!r}")
        return None
