"""Reading the student's code: what a part may not import or call.

Part 1 derives gradients by hand, so its functions may not use TensorFlow, Keras, JAX,
PyTorch or autograd. Part 3's array functions may not call the library clip functions
they re-implement. Both rules are decided from the syntax tree, so a comment or a
string that names a library is not a violation, while an alias (``import tensorflow as
np``), a ``from`` import, ``__import__`` or ``importlib.import_module`` is. A function
is charged for what it uses itself and for what the module's own helper functions it
calls use. Code the syntax tree cannot follow (``exec``, ``eval``, ``compile``,
``__import__`` or ``importlib`` with any argument, ``sys.modules``, ``getattr``/``vars``
on a library) is itself a violation in those functions.

Part 3's rule is also kept while the code runs: the worker recognises the clip functions
by identity, whatever name reached them (:mod:`grader.worker.guards`). So that the part's
code cannot simply switch that off, Part 3 code that names the grader's own machinery
(any ``grader`` module but the notebook's helpers) or the interpreter's internals (loaded
modules, frames, the object graph, memory) anywhere is a violation in those functions too.

A notebook is read cell by cell after IPython's own transformations (magics and shell
escapes become plain calls), so a magic or one cell that does not parse leaves the rules
on for every other cell.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from grader.isolation.libraries import (
    AUTODIFF_MODULES,
    CLIP_LIBRARY_FUNCTIONS,
    CLIPPING_ARRAY_FUNCTIONS,
)

#: Library functions part 3's array functions may not call, by qualified name: the
#: contract's, under the other names the libraries give them (``tf.compat.v1``, ``v2``).
CLIP_FUNCTIONS = (
    *CLIP_LIBRARY_FUNCTIONS,
    *(
        name.replace("tensorflow.", f"tensorflow.compat.{version}.", 1)
        for version in ("v1", "v2")
        for name in CLIP_LIBRARY_FUNCTIONS
        if name.startswith("tensorflow.")
    ),
    "tensorflow.math.clip_by_value",
    "tensorflow.compat.v1.global_norm",
    "tensorflow.keras.ops.clip",
    "keras.ops.numpy.clip",
    "keras.src.ops.clip",
    "keras.src.ops.numpy.clip",
)
#: The grader modules a notebook imports (its setup cell's helpers). Every other grader
#: module is the grader's own machinery, which a part's code has no reason to reach.
NOTEBOOK_MODULES = ("grader.notebook", "grader.demos", "grader.quiet")
#: The grader's helper that imports TensorFlow: what it returns is the ``tensorflow`` module.
TENSORFLOW_IMPORTER = "grader.quiet.import_tensorflow"
#: What reaches the interpreter's own state: loaded modules, frames, the object graph,
#: tracing, raw memory. Part 3's code has no use for it but reaching around the check of
#: its clip functions while they run.
INTERPRETER_INTERNALS = (
    "sys.modules",
    "sys._getframe",
    "sys._current_frames",
    "sys.settrace",
    "sys.setprofile",
    "inspect.currentframe",
    "inspect.stack",
    "inspect.trace",
    "threading.settrace",
    "threading.setprofile",
    "gc.get_objects",
    "gc.get_referrers",
    "gc.get_referents",
    "ctypes",
)
#: Names whose use hides from the syntax tree what a function runs or imports.
DYNAMIC_NAMES = ("exec", "eval", "compile", "__import__", "importlib", "sys.modules", "builtins")
#: Functions that reach a module's attributes by a computed name.
_REFLECTION = ("getattr", "vars")


@dataclass
class _Module:
    """What the module binds at top level: aliases of imports, and functions."""

    aliases: dict[str, str] = field(default_factory=dict)  # name -> qualified module/object
    functions: dict[str, ast.AST] = field(default_factory=dict)
    top_level_imports: list[str] = field(default_factory=list)


def _string_argument(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _dynamic_import(node: ast.AST) -> str | None:
    """The module named by ``__import__("x")`` or ``importlib.import_module("x")``."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = None
    if isinstance(func, ast.Name) and func.id in ("__import__", "import_module"):
        name = func.id
    elif isinstance(func, ast.Attribute) and func.attr == "import_module":
        name = func.attr
    return _string_argument(node) if name else None


def _bind_imports(node: ast.AST, aliases: dict[str, str]) -> list[str]:
    """Record the names an import statement binds; return the modules it imports."""
    imported = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            imported.append(alias.name)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        imported.append(node.module)
    return imported


def _read_module(tree: ast.Module) -> _Module:
    module = _Module()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            module.functions[node.name] = node
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module.top_level_imports += _bind_imports(node, module.aliases)
        elif isinstance(node, ast.Assign):
            target = node.targets[0] if len(node.targets) == 1 else None
            dynamic = _dynamic_import(node.value)
            if isinstance(target, ast.Name):
                if dynamic:
                    module.aliases[target.id] = dynamic
                elif (
                    isinstance(node.value, ast.Call)
                    and _qualify(node.value.func, module.aliases) == TENSORFLOW_IMPORTER
                ):
                    module.aliases[target.id] = "tensorflow"  # tf = import_tensorflow()
                elif isinstance(node.value, (ast.Name, ast.Attribute)):
                    qualified = _qualify(node.value, module.aliases)
                    if qualified:
                        module.aliases[target.id] = qualified
        for inner in ast.walk(node) if not isinstance(node, ast.FunctionDef) else []:
            dynamic = _dynamic_import(inner)
            if dynamic:
                module.top_level_imports.append(dynamic)
    return module


def _qualify(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """The qualified name of ``a.b.c`` when ``a`` is an imported alias."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id in aliases:
        return ".".join([aliases[node.id], *reversed(parts)])
    if isinstance(node, ast.Call):
        dynamic = _dynamic_import(node)
        if dynamic:
            return ".".join([dynamic, *reversed(parts)])
    return None


def _uses(function: ast.AST, module: _Module) -> tuple[set[str], set[str]]:
    """Qualified names a function uses, and the module functions it calls."""
    aliases = dict(module.aliases)
    used: set[str] = set()
    for node in ast.walk(function):
        for imported in _bind_imports(node, aliases):
            used.add(imported)
        dynamic = _dynamic_import(node)
        if dynamic:
            used.add(dynamic)
    called: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute):
            qualified = _qualify(node, aliases)
            if qualified:
                used.add(qualified)
        elif isinstance(node, ast.Name):
            if node.id in aliases:
                used.add(aliases[node.id])
            if node.id in module.functions:
                called.add(node.id)
            elif node.id in DYNAMIC_NAMES and node.id not in aliases:
                used.add(node.id)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _REFLECTION
            and node.args
        ):
            target = _qualify(node.args[0], aliases) or (
                aliases.get(node.args[0].id) if isinstance(node.args[0], ast.Name) else None
            )
            if target:
                used.add(f"{node.func.id}({target})")
    return used, called


def _dynamic_hits(used: set[str], modules: tuple[str, ...]) -> list[str]:
    """The names in ``used`` that hide what runs: exec, eval, dynamic imports, reflection."""
    hits = set()
    for name in used:
        if name in DYNAMIC_NAMES or name.split(".")[0] in ("importlib", "builtins"):
            hits.add(name)
        elif name.startswith("sys.modules"):
            hits.add("sys.modules")
        elif (
            name.startswith(_REFLECTION) and name.split("(")[1].rstrip(")").split(".")[0] in modules
        ):
            hits.add(name)
    return sorted(hits)


def _closure(name: str, module: _Module) -> set[str]:
    """Every qualified name ``name`` uses, through the module's helper functions."""
    seen: set[str] = set()
    pending = [name]
    used: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen or current not in module.functions:
            continue
        seen.add(current)
        names, called = _uses(module.functions[current], module)
        used |= names
        pending.extend(called)
    return used


def _reaches_around(tree: ast.Module, module: _Module) -> list[str]:
    """The grader's own modules and the interpreter's internals the code names, anywhere."""
    used, _ = _uses(tree, module)
    hits = set()
    for name in used:
        parts = name.split(".")
        if parts[0] == "grader" and len(parts) > 1 and not parts[1].startswith("__"):
            if not any(name == m or name.startswith(m + ".") for m in NOTEBOOK_MODULES):
                hits.add(".".join(parts[:2]))
        for internal in INTERPRETER_INTERNALS:
            if name == internal or name.startswith(internal + "."):
                hits.add(internal)
    return sorted(hits)


def _root_in(qualified: str, modules: tuple[str, ...]) -> str | None:
    root = qualified.split(".")[0]
    return root if root in modules else None


def find_violations(part: str, source: str | list[str]) -> dict[str, str]:
    """Return the functions of a part that break its rule, with the reason.

    Args:
        part: the part the code belongs to.
        source: the part's code, or its cells (each read on its own).

    Returns:
        ``{function name: sentence}`` for every contract function in violation; empty
        when the code follows the rules or cannot be parsed (a syntax error is reported
        elsewhere).
    """
    tree = parse_cells(source)
    if tree is None:
        return {}
    module = _read_module(tree)
    violations: dict[str, str] = {}
    if part == "chain_rule":
        for name in module.functions:
            used = _closure(name, module)
            hits = sorted({_root_in(q, AUTODIFF_MODULES) for q in used} - {None})
            dynamic = _dynamic_hits(used, AUTODIFF_MODULES)
            if hits:
                violations[name] = (
                    f"{name} uses {', '.join(hits)}: part 1 derives gradients by hand with "
                    "NumPy only and may not use tensorflow, keras, jax, torch or autograd."
                )
            elif dynamic:
                violations[name] = (
                    f"{name} uses {', '.join(dynamic)}: in part 1, code that imports or runs "
                    "code by a computed name is not allowed, as the library rules could not "
                    "be checked."
                )
    if part == "clipping":
        reach = _reaches_around(tree, module)
        for name in CLIPPING_ARRAY_FUNCTIONS:
            if name not in module.functions:
                continue
            used = _closure(name, module)
            hits = sorted(q for q in used if q in CLIP_FUNCTIONS)
            dynamic = _dynamic_hits(used, ("tensorflow", "keras"))
            if reach and not hits:
                violations[name] = (
                    f"{name} is checked as it runs for the library's clip functions, and its "
                    f"part's code uses {', '.join(reach)}, which reach into the grader's worker "
                    "or the interpreter: in part 3 the code may not reach around that check."
                )
            elif hits or dynamic:
                violations[name] = (
                    f"{name} calls {', '.join(hits or dynamic)}: in part 3 this function is "
                    "written from array operations, without the library's clip functions"
                    + (
                        "."
                        if hits
                        else ", and without code that imports or runs code by a computed name."
                    )
                )
    return violations


def _transform(cell: str) -> str:
    """A cell as IPython runs it: magics and shell escapes turned into plain calls."""
    try:
        # lazy: IPython loads only when a notebook's cells are read, not for a .py submission
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython is a dependency
        return cell
    try:
        return TransformerManager().transform_cell(cell)
    except Exception:  # noqa: BLE001 - a cell IPython cannot read is left as it is
        return cell


def parse_cells(source: str | list[str]) -> ast.Module | None:
    """One syntax tree of every cell that parses, after IPython's transformations and, for a
    cell with magics, as the worker runs it too.

    Args:
        source: a module's text, or a notebook's code cells.

    Returns:
        the module (the cells' statements in order), or None when no cell parses.
    """
    # lazy: the worker's own reading of a cell, needed only here
    from grader.worker.loading import strip_notebook_only

    cells = [source] if isinstance(source, str) else list(source)
    body: list[ast.stmt] = []
    parsed = False
    for cell in cells:
        texts = [_transform(cell)]
        if any(line.lstrip().startswith(("%", "!")) for line in cell.splitlines()):
            # The worker runs the cell with its magics commented out: a cell magic's body,
            # a string to IPython (``%%time``), runs there, so it is read as well.
            texts.append(strip_notebook_only(cell))
        for text in texts:
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue  # reported where the cell is run; the other cells are still read
            parsed = True
            body.extend(tree.body)
    return ast.Module(body=body, type_ignores=[]) if parsed else None


def forbidden_top_level_imports(part: str, source: str | list[str]) -> list[str]:
    """Modules part 1 imports at top level that it may not use (reported as a note)."""
    if part != "chain_rule":
        return []
    tree = parse_cells(source)
    if tree is None:
        return []
    module = _read_module(tree)
    return sorted({m for m in module.top_level_imports if m.split(".")[0] in AUTODIFF_MODULES})
