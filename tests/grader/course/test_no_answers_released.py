"""Does any released notebook or stub hold an answer the student is to derive?

Points go to understanding (``grader/assignment.py``): a function not marked ``printed`` is
one whose answer the student derives, measures or chooses. What is released to students
(the notebooks and stubs of ``exercises/``, which the student kit ships too) may teach the
principle, never that answer. Two kinds of leak are looked for:

- code: any two consecutive lines of the reference's solution to such a function, after
  comments and spacing are dropped (one generic line, a ``with tf.GradientTape() as
  tape:``, is an idiom; two in a row are a skeleton);
- prose and values: each function's known recipes, written out (the stable sigmoid's
  formula, the recursion of delta_k, the values 1/gamma, ...), in the released text or in
  the function's own stub docstring.

Each detector is also run on a copy of the material with an answer planted in it, and
must find it.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from grader.assignment import FUNCTIONS, PARTS, Function
from grader.course.generate import release_path
from grader.course.sources import solution_bodies

#: Functions whose answer the student derives, measures or chooses.
UNDERSTANDING = [f for f in FUNCTIONS if not f.printed]

#: Recipes and values that must not appear anywhere in a part's released material:
#: (test name, what the pattern finds, regular expression, case-insensitive).
RECIPES: list[tuple[str, str, str]] = [
    ("chain_rule.sigmoid", "the stable formula's e^-|z|", r"exp\(\s*-\s*(np\.)?abs|e\^\{?-\|z\|"),
    (
        "chain_rule.chain_gradients",
        "the recursion of delta_k",
        r"(delta|δ|\\delta)_\{?k\s*[-−]\s*1\}?\s*=|(delta|δ|\\delta)_\{?k\}?\s*=[^\n]{0,80}"
        r"(delta|δ|\\delta)_\{?k\s*\+\s*1",
    ),
    (
        "remedies.rnn_jacobian_norms",
        "the Jacobian J_s = diag(1 - h_s^2) w_rec in code",
        r"diag\(\s*1\s*-\s*\w+\s*\*\*\s*2\s*\)\s*@|\(\s*1\s*-\s*\w+\s*\*\*\s*2\s*\)\s*\[\s*:\s*,\s*None\s*\]\s*\*",
    ),
    (
        "remedies.max_stable_spectral_norm",
        "the values 1/gamma for sigmoid and tanh",
        r"(?<![/.\d])4(\.0)?\s+for\s+(the\s+)?sigmoid|[\"']sigmoid[\"']\s*:\s*4(\.0)?\b"
        r"|sigmoid[\"')\]]*\s*(=|==|is|returns?|gives?)\s*4(\.0)?\b"
        r"|(?<![/.\d])1(\.0)?\s+for\s+tanh|1\s*/\s*\\?gamma\s*=\s*4",
    ),
]

#: What a function's own stub docstring must not say: (test name, what, expression).
DOCSTRING_RECIPES: list[tuple[str, str, str]] = [
    ("deep_sigmoid.dense_grad_norms", "the tape recipe", r"GradientTape|tape\.gradient"),
    (
        "deep_sigmoid.build_exploding_mlp",
        "an initializer and scale that explode",
        r"RandomNormal|VarianceScaling\(|stddev\s*=|scale\s*=\s*\d",
    ),
    ("remedies.build_healthy_mlp", "the reference's model", r"orthogonal|glorot|lecun|\bhe\b"),
    (
        "clipping.global_norm",
        "the overflow-safe scaling",
        r"(divide|scale|rescale)\w*[^.\n]{0,60}(largest|max(imum)?)\b",
    ),
    ("remedies.max_stable_spectral_norm", "a value", r"(?<![/.\w])[14](\.0)?(?![/.\w])"),
]


def _normalise(line: str) -> str:
    return " ".join(line.split("#", 1)[0].split())


def solution_lines(f: Function) -> list[str]:
    """The reference's solution to one function: its lines, without comments or spacing."""
    return [line for line in map(_normalise, solution_bodies(f.part)[f.name]) if line]


def released_text(part: str) -> str:
    """Everything a part releases to students: its stub and every cell of its notebook."""
    stub = release_path(part, ".py").read_text(encoding="utf-8")
    nb = nbformat.read(release_path(part, ".ipynb"), as_version=4)
    return stub + "\n" + "\n".join(cell.source for cell in nb.cells)


def stub_docstring(part: str, name: str, stub: str | None = None) -> str:
    """A function's docstring in the part's released stub."""
    stub = stub if stub is not None else release_path(part, ".py").read_text(encoding="utf-8")
    node = next(
        n for n in ast.parse(stub).body if isinstance(n, ast.FunctionDef) and n.name == name
    )
    return ast.get_docstring(node, clean=False) or ""


def code_leaks(f: Function, text: str) -> list[tuple[str, str]]:
    """Pairs of consecutive solution lines of ``f`` that ``text`` holds consecutively."""
    lines = [line for line in map(_normalise, text.splitlines()) if line]
    shown = set(zip(lines, lines[1:]))
    solution = solution_lines(f)
    return [pair for pair in zip(solution, solution[1:]) if pair in shown]


def recipe_leaks(text: str) -> list[str]:
    """The recipes of :data:`RECIPES` (of any part: the kit ships every part's notebook
    together) that ``text`` writes out."""
    return [
        f"{name}: {what}: {match.group(0)!r}"
        for name, what, pattern in RECIPES
        for match in [re.search(pattern, text, re.IGNORECASE)]
        if match
    ]


def docstring_leaks(part: str, stub: str | None = None) -> list[str]:
    """The recipes of :data:`DOCSTRING_RECIPES` that a function's stub docstring holds."""
    return [
        f"{name}: {what}: {match.group(0)!r}"
        for name, what, pattern in DOCSTRING_RECIPES
        if name.startswith(f"{part}.")
        for match in [
            re.search(pattern, stub_docstring(part, name.split(".")[1], stub), re.IGNORECASE)
        ]
        if match
    ]


@pytest.mark.parametrize("part", PARTS)
def test_released_material_holds_no_answer(part: str) -> None:
    """Do the released stub and notebook of the part hold no solution code, recipe or value
    of a function the student is to derive?"""
    text = released_text(part)
    leaks = [
        f"{f.test_name}: {pair}"
        for f in UNDERSTANDING
        if f.part == part
        for pair in code_leaks(f, text)
    ]
    leaks += recipe_leaks(text)
    leaks += docstring_leaks(part)
    assert not leaks, f"{part}: released material holds answers:\n" + "\n".join(leaks)


@pytest.mark.parametrize("f", UNDERSTANDING, ids=lambda f: f.test_name)
def test_a_planted_solution_is_found(f: Function) -> None:
    """Is the reference's own solution, pasted into the released notebook's text, found?"""
    solution = solution_lines(f)
    if len(solution) < 2:
        pytest.skip(f"{f.test_name}: a one-line solution is judged by its recipes instead")
    planted = released_text(f.part) + "\n\n" + "\n".join(solution) + "\n"
    assert code_leaks(f, planted)


@pytest.mark.parametrize(
    ("part", "planted"),
    [
        ("chain_rule", "Use 1/(1+e^{-|z|}) for z >= 0."),
        ("chain_rule", "    e = np.exp(-np.abs(z))"),
        ("chain_rule", r"and $\delta_{k-1} = \delta_k \, w_k \, \sigma'(z_{k-1})$"),
        ("chain_rule", "delta_k = sigmoid'(z_k) * w_{k+1} * delta_{k+1}"),
        ("remedies", "The bound is 4.0 for sigmoid and 1.0 for tanh."),
        ("remedies", "so 1/gamma = 4 for the logistic function"),
        ("deep_sigmoid", "    jacobian = np.diag(1 - h**2) @ w_rec"),
        ("deep_sigmoid", 'BOUNDS = {"sigmoid": 4.0, "tanh": 1.0}'),
        ("chain_rule", "max_stable_spectral_norm('sigmoid') returns 4"),
        ("clipping", "J = (1 - h_t ** 2)[:, None] * w_rec"),
    ],
)
def test_a_planted_recipe_is_found(part: str, planted: str) -> None:
    """Is a recipe written into the released text, as a careless edit would, found?"""
    assert not recipe_leaks(released_text(part))
    assert recipe_leaks(released_text(part) + "\n" + planted + "\n")


@pytest.mark.parametrize(
    ("test_name", "planted"),
    [
        ("deep_sigmoid.dense_grad_norms", "Use tf.GradientTape and tape.gradient(loss, kernels)."),
        ("deep_sigmoid.build_exploding_mlp", "tanh with RandomNormal(stddev=1) explodes."),
        ("remedies.build_healthy_mlp", "tanh with orthogonal weights works."),
        ("clipping.global_norm", "Divide every tensor by the largest absolute entry first."),
        ("remedies.max_stable_spectral_norm", "Returns 4.0 for sigmoid."),
    ],
)
def test_a_planted_docstring_recipe_is_found(test_name: str, planted: str) -> None:
    """Is a recipe written into a stub's docstring found?"""
    part, name = test_name.split(".")
    stub = release_path(part, ".py").read_text(encoding="utf-8")
    docstring = stub_docstring(part, name)
    assert docstring and docstring in stub
    changed = stub.replace(docstring, docstring.rstrip() + "\n\n    " + planted + "\n    ", 1)
    assert not docstring_leaks(part)
    assert any(leak.startswith(test_name) for leak in docstring_leaks(part, changed))
