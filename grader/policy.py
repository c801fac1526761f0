"""Reading the student's code: what a part may not import or call.

Part 1 derives gradients by hand, so its functions may not use TensorFlow, Keras, JAX,
PyTorch or autograd. Part 3's array functions may not call the library clip functions
they re-implement. Both rules are decided from the syntax tree, so a comment or a
string that names a library is not a violation, while an alias (``import tensorflow as
np``), a ``from`` import, ``__import__`` or ``importlib.import_module`` is. A function
is charged for what it uses itself and for what the module's own helper functions it
calls use.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

#: Top-level modules part 1 may not use.
AUTODIFF_MODULES = ("tensorflow", "keras", "jax", "torch", "autograd")
#: Library functions part 3's array functions may not call, by qualified name.
CLIP_FUNCTIONS = (
    "tensorflow.clip_by_value",
    "tensorflow.math.clip_by_value",
    "tensorflow.clip_by_norm",
    "tensorflow.clip_by_global_norm",
    "tensorflow.linalg.global_norm",
    "keras.ops.clip",
    "tensorflow.keras.ops.clip",
    "keras.src.ops.clip",
)
#: Part 3's functions that must be written from array operations.
CLIPPING_ARRAY_FUNCTIONS = ("clip_by_value", "clip_by_norm", "global_norm", "clip_by_global_norm")


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
    return used, called


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


def _root_in(qualified: str, modules: tuple[str, ...]) -> str | None:
    root = qualified.split(".")[0]
    return root if root in modules else None


def find_violations(part: str, source: str) -> dict[str, str]:
    """Return the functions of a part that break its rule, with the reason.

    Args:
        part: the part the code belongs to.
        source: the part's code.

    Returns:
        ``{function name: sentence}`` for every contract function in violation; empty
        when the code follows the rules or cannot be parsed (a syntax error is reported
        elsewhere).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    module = _read_module(tree)
    violations: dict[str, str] = {}
    if part == "chain_rule":
        for name in module.functions:
            hits = sorted({_root_in(q, AUTODIFF_MODULES) for q in _closure(name, module)} - {None})
            if hits:
                violations[name] = (
                    f"{name} uses {', '.join(hits)}: part 1 derives gradients by hand with "
                    "NumPy only and may not use tensorflow, keras, jax, torch or autograd."
                )
    if part == "clipping":
        for name in CLIPPING_ARRAY_FUNCTIONS:
            if name not in module.functions:
                continue
            hits = sorted(q for q in _closure(name, module) if q in CLIP_FUNCTIONS)
            if hits:
                violations[name] = (
                    f"{name} calls {', '.join(hits)}: in part 3 this function is written "
                    "from array operations, without the library's clip functions."
                )
    return violations


def forbidden_top_level_imports(part: str, source: str) -> list[str]:
    """Modules part 1 imports at top level that it may not use (reported as a note)."""
    if part != "chain_rule":
        return []
    try:
        module = _read_module(ast.parse(source))
    except (SyntaxError, ValueError):
        return []
    return sorted({m for m in module.top_level_imports if m.split(".")[0] in AUTODIFF_MODULES})
