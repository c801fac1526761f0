"""Does the package's import graph show its architecture?

Read from the syntax tree of every module of ``grader/`` (no module is imported):

- no import cycle between modules, lazy imports included;
- no module imports another module's private name (one that starts with ``_``);
- each folder imports only from its own layer or the layers below (:data:`LAYERS`): the
  isolation layer never reaches the checks, the checks never reach a report or a batch;
- every import inside a function says why it is not at the module's head, in a comment
  that starts ``lazy:`` on its line or above its group of imports (a process that must not
  load TensorFlow, Keras, Dask or nbgrader at start-up);
- the student kit ships exactly the modules a kit's notebook imports, except those it
  reaches only through imports marked ``full package only`` (code that computes answers:
  the simulators of known mistakes, the grader's gradient measuring, the trusted clipped
  step); each such import is one a kit does without: inside a function that runs only in
  the full package, or in a ``try`` that catches the module's absence;
- ``grader/`` never imports pytest.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.paths import ROOT

PACKAGE = ROOT / "grader"

#: The layers, lowest first: a module may import from its own layer and the ones below.
#: A name stands for a module or a whole folder.
LAYERS: tuple[tuple[str, ...], ...] = (
    # the vocabulary: the contract, a submission, results as data, the secret, quiet logs
    ("grader", "grader.assignment", "grader.paths", "grader.quiet", "grader.results"),
    ("grader.secret",),
    ("grader.submission",),
    ("grader.isolation",),  # where student code runs, seen from the grader
    ("grader.measuring",),  # measuring models from vetted plain data
    ("grader.worker",),  # the student's side of the boundary
    ("grader.checks",),  # one check per contract function
    # what a person opens, and the notebook's own helpers
    ("grader.reports", "grader.notebook", "grader.demos", "grader.locate", "grader.self_check"),
    ("grader.grade",),  # grading one submission
    ("grader.scale", "grader.course"),  # a class; the course material
    ("grader.cli", "grader.benchmark", "grader.__main__"),  # the commands
)


@dataclass(frozen=True)
class Import:
    """One import statement's target, as read from a module."""

    source: str  # the importing module
    target: str  # the imported grader module
    names: tuple[str, ...]  # the names taken from it (``from target import names``)
    line: int
    lazy: bool  # inside a function or class body
    full_only: bool = False  # marked "full package only": a student kit does without it


#: The mark of an import the student kit does without (its target is not shipped).
FULL_ONLY = "full package only"


def _comment_above(lines: list[str], node: ast.stmt, import_lines: set[int]) -> list[str]:
    """The import's own lines and the comment lines right above its group of imports."""
    found = [lines[i - 1] for i in range(node.lineno, node.end_lineno + 1)]
    line = node.lineno - 1
    while line >= 1:
        stripped = lines[line - 1].strip()
        if line in import_lines or stripped.startswith("#"):
            found.append(stripped)
            line -= 1
            continue
        break
    return found


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = modules()


def _resolve(name: str) -> str | None:
    """The grader module ``name`` refers to (a module, or the package holding it)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _top_level_nodes(tree: ast.Module) -> set[int]:
    """Ids of the nodes that run when the module is imported (not inside a def or class)."""
    found: set[int] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        found.add(id(node))
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            pending.extend(ast.iter_child_nodes(node))
    return found


def imports_of(name: str) -> list[Import]:
    """Every import of a grader module in module ``name``, lazy ones included."""
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    top = _top_level_nodes(tree)
    lines = text.splitlines()
    import_lines = {
        line
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for line in range(node.lineno, node.end_lineno + 1)
    }
    found = []
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            full_only = any(FULL_ONLY in line for line in _comment_above(lines, node, import_lines))
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name) if alias.name.split(".")[0] == "grader" else None
                if target:
                    found.append(
                        Import(name, target, (), node.lineno, id(node) not in top, full_only)
                    )
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            if base.split(".")[0] != "grader":
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                lazy = id(node) not in top
                if submodule in MODULES:  # from grader.x import module
                    found.append(Import(name, submodule, (), node.lineno, lazy, full_only))
                else:
                    target = _resolve(base)
                    if target:
                        found.append(
                            Import(name, target, (alias.name,), node.lineno, lazy, full_only)
                        )
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name in MODULES:
        for imported in imports_of(name):
            if imported.target != name:
                edges[name].add(imported.target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def layer_of(name: str) -> int:
    best, rank = "", -1
    for index, layer in enumerate(LAYERS):
        for entry in layer:
            if (name == entry or name.startswith(entry + ".")) and len(entry) > len(best):
                best, rank = entry, index
    assert rank >= 0, f"{name} is in no layer of LAYERS: add it to the layer it belongs to"
    return rank


def private_uses(name: str) -> list[str]:
    """``module.line: name`` for each private name of another grader module it uses."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    aliases: dict[str, str] = {}  # a local name bound to a grader module
    for imported in imports_of(name):
        for taken in imported.names:
            if taken.startswith("_") and not taken.startswith("__"):
                found.append(f"{name}:{imported.line}: {imported.target}.{taken}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("grader"):
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname and alias.name in MODULES:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and aliases[node.value.id] != name
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{name}:{node.lineno}: {aliases[node.value.id]}.{node.attr}")
    return found


def unexplained_lazy_imports(name: str) -> list[str]:
    """``module:line`` of each import inside a function without a ``lazy:`` comment."""
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    top = _top_level_nodes(tree)
    import_lines = {
        line
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for line in range(node.lineno, node.end_lineno + 1)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in top:
            continue
        if any("lazy:" in lines[i - 1] for i in range(node.lineno, node.end_lineno + 1)):
            continue
        # Walk up over the group: the imports and comment lines right above it.
        line, explained = node.lineno - 1, False
        while line >= 1:
            stripped = lines[line - 1].strip()
            if line in import_lines or stripped.startswith("#"):
                if stripped.startswith("#") and "lazy:" in stripped:
                    explained = True
                    break
                line -= 1
                continue
            break
        if not explained:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_layout_reads_every_module():
    """Does the reader find the package's modules, and does every one belong to a layer?"""
    assert {"grader.cli", "grader.isolation.jail", "grader.checks.registry"} <= set(MODULES)
    for name in MODULES:
        layer_of(name)


def test_no_import_cycle():
    """Is the import graph of grader/, lazy imports included, free of cycles?"""
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_another_modules_private_name():
    """Does every module keep to the public names of the others?"""
    found = [use for name in MODULES for use in private_uses(name)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_each_layer_imports_only_its_own_and_lower_layers():
    """Does no lower layer (isolation, measuring, the worker, the checks) import a higher one?"""
    found = []
    for name in MODULES:
        for imported in imports_of(name):
            if layer_of(imported.target) > layer_of(name):
                found.append(f"{name}:{imported.line} imports {imported.target}")
    assert not found, "imports of a higher layer:\n" + "\n".join(found)


def test_every_import_inside_a_function_says_why():
    """Does every lazy import carry a ``lazy:`` comment saying why it is not at the head?"""
    found = [where for name in MODULES for where in unexplained_lazy_imports(name)]
    assert not found, "imports inside functions without a 'lazy:' comment:\n" + "\n".join(found)


def test_the_package_never_imports_pytest():
    """Is pytest a dependency of the tests only?"""
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "pytest" for a in node.names), name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "pytest", name


# -- the checks themselves fail where they must ------------------------------------------


def _write_package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    found = {}
    for relative, text in files.items():
        path = tmp_path / "grader" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for path in sorted((tmp_path / "grader").rglob("*.py")):
        relative = path.relative_to(tmp_path).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        found[".".join(parts)] = path
    return found


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Point the readers at a small package written for the test."""

    def make(files: dict[str, str]) -> None:
        monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
        monkeypatch.setattr(sys.modules[__name__], "MODULES", _write_package(tmp_path, files))

    return make


def test_a_cycle_through_a_lazy_import_is_found(fake_package):
    """Is batch -> cluster -> batch, the second import inside a function, reported?"""
    fake_package(
        {
            "__init__.py": "",
            "scale/__init__.py": "",
            "scale/batch.py": "from grader.scale.cluster import run\n",
            "scale/cluster.py": "def run():\n    from grader.scale import batch  # lazy: x\n",
        }
    )
    assert find_cycle(graph()) == [
        "grader.scale.batch",
        "grader.scale.cluster",
        "grader.scale.batch",
    ]


def test_a_private_name_taken_from_another_module_is_found(fake_package):
    """Are ``from m import _x`` and ``m._x`` through an imported module both reported?"""
    fake_package(
        {
            "__init__.py": "",
            "a.py": "_x = 1\n",
            "b.py": "from grader.a import _x\nfrom grader import a\ny = a._x\n",
        }
    )
    assert private_uses("grader.b") == ["grader.b:1: grader.a._x", "grader.b:3: grader.a._x"]
    assert private_uses("grader.a") == []


def test_an_import_of_a_higher_layer_is_found(fake_package):
    """Does a layer rank put isolation below the checks, so that the reverse is caught?"""
    fake_package(
        {
            "__init__.py": "",
            "isolation/__init__.py": "",
            "isolation/jail.py": "from grader.checks import mistakes\n",
            "checks/__init__.py": "",
            "checks/mistakes.py": "",
        }
    )
    imported = imports_of("grader.isolation.jail")
    assert [i.target for i in imported] == ["grader.checks.mistakes"]
    assert layer_of("grader.checks.mistakes") > layer_of("grader.isolation.jail")


def test_an_unexplained_lazy_import_is_found(fake_package):
    """Is an import inside a function without ``lazy:`` reported, and a commented group not?"""
    fake_package(
        {
            "__init__.py": "",
            "a.py": (
                "import os\n"
                "def f():\n"
                "    import json\n"
                "    return json\n"
                "def g():\n"
                "    # lazy: Keras costs seconds to import\n"
                "    import keras\n"
                "    import numpy\n"
                "    return keras, numpy\n"
                "def h():\n"
                "    import tensorflow  # lazy: the NumPy-only worker never loads it\n"
            ),
        }
    )
    assert unexplained_lazy_imports("grader.a") == ["grader/a.py:3"]


def _closure(roots: list[str], kit: bool = False) -> set[str]:
    """The grader modules ``roots`` import, lazy imports and the packages above included;
    with ``kit``, not through an import marked :data:`FULL_ONLY`."""
    if kit:
        edges: dict[str, set[str]] = {name: set() for name in MODULES}
        for name in MODULES:
            for imported in imports_of(name):
                if imported.target != name and not imported.full_only:
                    edges[name].add(imported.target)
    else:
        edges = graph()
    found: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            parts = name.split(".")
            pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))
            pending.extend(edges[name])
    return found


def test_the_jail_sends_every_module_the_worker_imports_in_order():
    """Does WORKER_MODULES hold each grader module the worker imports (lazy imports and the
    packages above them included), each after the modules it imports at its head?"""
    from grader.isolation.jail import WORKER_MODULES

    needed = _closure(["grader.worker.serve"])
    assert needed <= set(WORKER_MODULES), sorted(needed - set(WORKER_MODULES))
    position = {name: index for index, name in enumerate(WORKER_MODULES)}
    for name in WORKER_MODULES:
        for imported in imports_of(name):
            if not imported.lazy and imported.target != name:
                assert position[imported.target] < position[name], (name, imported.target)


def test_the_kit_ships_exactly_what_check_and_the_demos_import():
    """Does KIT_MODULES hold the import closure of what a kit's notebook imports (the
    self-check, the demonstrations, the quiet import, the worker), and no module that
    grades on hidden cases, holds the secret or reads the reference?"""
    from grader.assignment import PARTS
    from grader.course.kit import KIT_MODULES

    shipped = {
        module_name(PACKAGE / relative) for relative in KIT_MODULES if relative.endswith(".py")
    }
    roots = ["grader.notebook", "grader.demos", "grader.quiet", "grader.worker.__main__"]
    roots.append("grader.__main__")  # the kit's python -m grader: grader.self_check
    # grader.checks.registry.import_checks imports each part's checks by name
    needed = _closure([*roots, *(f"grader.checks.parts.{part}" for part in PARTS)], kit=True)
    assert shipped == needed, (
        f"missing from the kit: {sorted(needed - shipped)}; "
        f"shipped but not needed: {sorted(shipped - needed)}"
    )
    forbidden = {"grader.grade", "grader.secret", "grader.cli"}
    assert not shipped & forbidden
    assert not any(name.startswith(("grader.course", "grader.scale")) for name in shipped)


def _absence_caught(tree: ast.Module, node: ast.stmt) -> bool:
    """Whether ``node`` sits in the body of a ``try`` one of whose handlers catches
    ImportError or ModuleNotFoundError."""
    for parent in ast.walk(tree):
        if not isinstance(parent, ast.Try) or not any(node is n for n in parent.body):
            continue
        for handler in parent.handlers:
            caught = handler.type
            names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
            if any(isinstance(n, ast.Name) and n.id.endswith("ImportError") for n in names):
                return True
            if any(isinstance(n, ast.Name) and n.id == "ModuleNotFoundError" for n in names):
                return True
    return False


def full_only_imports(name: str) -> list[tuple[Import, bool]]:
    """Each import of module ``name`` marked :data:`FULL_ONLY`, and whether a kit can do
    without it: lazy, or in a ``try`` that catches the module's absence."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    nodes = {
        node.lineno: node
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
    }
    return [
        (imported, imported.lazy or _absence_caught(tree, nodes[imported.line]))
        for imported in imports_of(name)
        if imported.full_only
    ]


def test_the_kit_does_without_every_full_package_only_import():
    """Is every import marked "full package only" one a kit can do without (inside a
    function, or in a try that catches ImportError), and is its target left out of the kit?"""
    from grader.course.kit import KIT_MODULES

    shipped = {
        module_name(PACKAGE / relative) for relative in KIT_MODULES if relative.endswith(".py")
    }
    marked = [pair for name in MODULES for pair in full_only_imports(name)]
    assert marked  # the simulators, the grader's measuring code and the trusted step
    assert not [f"{i.source}:{i.line}" for i, done_without in marked if not done_without]
    assert not {i.target for i, _ in marked} & shipped


def test_a_full_package_only_import_is_left_out_of_the_kit_closure(fake_package):
    """Is a module reached only through a marked import out of the kit's closure, and an
    unmarked top-level import in the closure, and is a marked import outside a function
    and a try found?"""
    fake_package(
        {
            "__init__.py": "",
            "a.py": (
                "from grader import b\n"
                "def f():\n"
                "    # lazy: full package only: it computes answers\n"
                "    from grader import c\n"
                "try:\n"
                "    from grader import d  # full package only: answers\n"
                "except ModuleNotFoundError:\n"
                "    d = None\n"
                "from grader import e  # full package only: wrongly marked\n"
            ),
            "b.py": "",
            "c.py": "",
            "d.py": "",
            "e.py": "",
        }
    )
    assert _closure(["grader.a"], kit=True) == {"grader", "grader.a", "grader.b"}
    assert _closure(["grader.a"]) == {f"grader.{m}" for m in "abcde"} | {"grader"}
    assert sorted((i.target, done) for i, done in full_only_imports("grader.a")) == [
        ("grader.c", True),
        ("grader.d", True),
        ("grader.e", False),
    ]
