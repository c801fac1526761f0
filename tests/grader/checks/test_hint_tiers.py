"""Do hints come in tiers: the principle with every failure, the recipe only when asked for on
public cases, and never on hidden ones?

The first tier (every ``Hint:`` line, everywhere) must not hand over the solution of the
functions that are graded for understanding. For each of them a list of patterns of its
recipe (the stable sigmoid's formula, the delta recursion, the GradientTape recipe, ...) is
searched for in every first-tier text its failures can show: the strings of its check and
the hints of the known mistakes it can match (read from the check's source), and the
feedback of its realistic wrong answers in ``tests/corpus/wrong`` on public and on hidden
cases. Each pattern is shown to catch the recipe it stands for, so that none is vacuous.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.assignment import FUNCTIONS
from grader.assignment import function as contract_function
from grader.checks.expected import reference
from grader.checks.mistakes import MISTAKES, describe
from grader.checks.recipes import (
    COMMAND_MORE_HELP,
    NOTEBOOK_MORE_HELP,
    RECIPES,
    apply_tier,
    attach_recipes,
    recipes_for,
)
from grader.checks.registry import REGISTRY, import_checks, run_check
from grader.checks.runner import InProcessRunner
from grader.course.sources import reference_source
from grader.notebook import check, check_result, hint
from grader.results import Report
from grader.self_check import main as kit_main
from tests.paths import CORPUS

#: For each function graded for understanding: patterns of its recipe, which no first-tier
#: text may hold.
FORBIDDEN: dict[str, list[str]] = {
    "chain_rule.sigmoid": [
        r"e\^-\|z\|",
        r"exp\(\s*-\s*(np\.)?abs",
        r"np\.where",
        r"/\s*\(1\s*\+\s*e(\^-\|z\|)?\)",
        r"exponentiate a positive",
    ],
    "chain_rule.chain_gradients": [
        r"dL/dz_k\s*\*\s*w_k",
        r"2\s*\(O_n - y\)\s*/\s*m",
        r"sum\(dL/dz_k",
        r"multiply the upstream gradient",
        r"dO_k/dz_k = sigmoid'\(z_k\) = O_k",
        r"dz_k/dO_\{k-1\} = w_k",
        r"dz_k/dw_k = O_\{k-1\}",
    ],
    "deep_sigmoid.dense_grad_norms": [
        r"GradientTape",
        r"tape\.gradient",
        r"layer\.kernel",
    ],
    "deep_sigmoid.build_exploding_mlp": [
        r"several times 1/sqrt\(fan_in\)",
        r"VarianceScaling",
        r"in the hundreds",
        r"tanh \(slope 1 at 0\) (gets there|with weights)",
    ],
    "clipping.global_norm": [
        r"float64",
        r"[Cc]ast every tensor",
        r"largest magnitude",
    ],
    "remedies.build_healthy_mlp": [
        r"(?i)orthogonal",
        r"(?i)glorot",
        r"(?i)normali[sz]ation",
    ],
    "remedies.rnn_jacobian_norms": [
        r"diag\(1 - h_t\^2\) @ W_rec",
        r"np\.linalg\.norm\(\w+, 2\)",
        r"from t = T down",
        r"P = P @ J_t",
    ],
    "remedies.max_stable_spectral_norm": [
        # the values: the contract leaves them for the student to derive
        r"(?<![\w.])4(\.0*)?(?![\w.])",
        r"0\.25",
        r"1\s*/\s*4",
        r"\b[14](\.0*)? for (sigmoid|tanh)",
        r"(?i)\b(sigmoid|tanh)\b[^.\n]{0,30}?\b(is|=|gives|returns)\s*[14](\.0*)?(?![\w./])",
        r"slope (of )?1 at",
        # how to find gamma
        r"(?i)fine grid",
        r"its own derivative is zero",
    ],
}
UNDERSTANDING = list(FORBIDDEN)


def _leaks(name: str, text: str) -> list[str]:
    return [p for p in FORBIDDEN[name] if re.search(p, text)]


# The static catalogue: what the check's source can show.


def _strings(function: Callable[..., Any]) -> list[str]:
    """The string constants in a function's source, its docstring excepted (the grader's)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    definition = tree.body[0]
    docstring = ast.get_docstring(definition, clean=False)
    return [
        node.value
        for node in ast.walk(definition)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if node.value != docstring
    ]


def _check_functions(name: str) -> list[Callable[..., Any]]:
    """The check of a test and the helpers of its module that judge its cases."""
    import_checks(name.split(".")[0])
    run = REGISTRY[name].run
    functions = [run]
    if name == "remedies.build_healthy_mlp":
        functions.append(inspect.getmodule(run)._healthy_case)  # judges the measured figures
    return functions


def _tier_one_catalogue(name: str) -> list[str]:
    """Every first-tier text of the test's source: its strings, and its mistakes' hints."""
    strings = [s for f in _check_functions(name) for s in _strings(f)]
    mistakes = {s for s in strings if s in MISTAKES}
    mistakes |= {"policy_forbidden_import"} if name.startswith("chain_rule.") else set()
    mistakes |= {"policy_forbidden_call"} if name == "clipping.global_norm" else set()
    return strings + [describe(m) for m in sorted(mistakes)]


def _tier_two(name: str) -> list[str]:
    """The recipe texts of a test: the function's and its mistakes'."""
    strings = {s for f in _check_functions(name) for s in _strings(f)}
    return [RECIPES[name]] + [MISTAKES[m].recipe for m in strings & set(MISTAKES)]


@pytest.mark.parametrize("name", UNDERSTANDING)
def test_the_static_first_tier_texts_hold_no_recipe(name):
    """Do the strings of this function's check and its mistakes' hints hold none of its
    recipe's patterns, while its check does name the mistakes it diagnoses?"""
    texts = _tier_one_catalogue(name)
    assert len(texts) > 3, texts
    for text in texts:
        assert not _leaks(name, text), f"{name}: {_leaks(name, text)} in:\n{text}"


@pytest.mark.parametrize("name", UNDERSTANDING)
def test_every_forbidden_pattern_catches_what_it_stands_for(name):
    """Does each pattern match the recipe (or, for max_stable_spectral_norm, the reference's
    values), so that the first-tier test above cannot pass by matching nothing?"""
    samples = _tier_two(name)
    if name == "remedies.max_stable_spectral_norm":  # the recipe never states the values
        values = [reference("remedies").max_stable_spectral_norm(a) for a in ("sigmoid", "tanh")]
        samples += [f"bound = {v:g}" for v in values] + [f"gamma = {1 / v}" for v in values]
        samples += [
            f"{values[0]} for sigmoid",
            f"tanh gives {values[1]:g}",
            "tanh has slope 1 at 0",
        ]
        samples += ["gamma = 1/4"]
    for pattern in FORBIDDEN[name]:
        assert any(re.search(pattern, s) for s in samples), f"{name}: {pattern!r} catches nothing"


def test_the_max_stable_recipe_states_no_value():
    """Does max_stable_spectral_norm's recipe say how to find gamma without giving a value?"""
    recipe = RECIPES["remedies.max_stable_spectral_norm"]
    assert "gamma" in recipe
    for value in ("4", "0.25", "1/4", "1.0"):
        assert not re.search(rf"(?<![\w./]){re.escape(value)}(?![\w.])", recipe), value


# The feedback of realistic wrong answers.


def _header(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#\s*(\w+):\s*(.*)", line)
        if not match:
            break
        fields[match.group(1)] = match.group(2).strip()
    return fields


WRONG = sorted(
    (p for p in (CORPUS / "wrong").glob("*.py") if _header(p)["function"] in UNDERSTANDING),
    key=lambda p: p.name,
)
NUMPY_WRONG = [p for p in WRONG if _header(p)["function"].startswith(("chain_rule.", "remedies."))]
NUMPY_WRONG = [p for p in NUMPY_WRONG if "healthy" not in _header(p)["function"]]
KERAS_WRONG = [p for p in WRONG if p not in NUMPY_WRONG]


def _namespace(path: Path) -> dict[str, Any]:
    """The corpus answer run as a notebook's kernel runs it: the reference, then the file."""
    part = path.name.split("__")[0]
    source = reference_source(part) + "\n\n" + path.read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": f"corpus_{path.stem}"}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the test's own corpus
    namespace["In"] = [source]
    return namespace


def _feedback_both_ways(path: Path) -> tuple[Any, Any]:
    """The function's results on the public cases (as check finds them) and on hidden ones."""
    name = _header(path)["function"]
    namespace = _namespace(path)
    public = check_result(contract_function(name), None, namespace)
    hidden = run_check(name, InProcessRunner(namespace), seed=424242, public=False)
    return public, hidden


def _graders(text: str) -> str:
    """The grader's words in a feedback: without the Received lines (the student's values)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("Received:"))


def _assert_tier_one(path: Path) -> None:
    name = _header(path)["function"]
    public, hidden = _feedback_both_ways(path)
    assert public.status == "failed" and hidden.status == "failed", public.output
    for result in (public, hidden):
        said = _graders(result.output)
        assert "Hint:" in said or "Scored 0" in said, result.output
        assert not _leaks(name, said), f"{_leaks(name, said)}:\n{result.output}"
        assert "Recipe" not in said
    # Asked for, the public result gives the recipe; the hidden one never does.
    attach_recipes(public)
    attach_recipes(hidden)
    assert (
        RECIPES[name] in public.output
        and _leaks(name, public.output)
        or (name == "remedies.max_stable_spectral_norm" and RECIPES[name] in public.output)
    )
    report = Report("hidden", [hidden], cases="hidden")
    apply_tier(report, 2)
    feedback = report.to_text().split("Feedback\n========")[1]  # under the score table
    feedback = "\n".join(x for x in feedback.splitlines() if not x.startswith(name))  # scores
    shown = [hidden.output, feedback, *(t["output"] for t in report.to_gradescope()["tests"])]
    for text in shown:
        assert "Recipe" not in text and RECIPES[name] not in text
        assert not _leaks(name, _graders(text)), _leaks(name, text)


@pytest.mark.parametrize("path", NUMPY_WRONG, ids=[p.stem for p in NUMPY_WRONG])
def test_a_realistic_wrong_answer_gets_the_principle_and_the_recipe_only_when_asked(path):
    """Does this wrong answer's feedback, public and hidden, hold none of the recipe, and
    does the recipe come when asked for on the public cases only?"""
    _assert_tier_one(path)


@pytest.mark.slow
@pytest.mark.parametrize("path", KERAS_WRONG, ids=[p.stem for p in KERAS_WRONG])
def test_a_realistic_wrong_model_gets_the_principle_and_the_recipe_only_when_asked(path):
    """The same for the Keras functions (models measured and trained)."""
    _assert_tier_one(path)


def test_every_function_has_a_recipe_and_every_mistake_a_principle():
    """Does every contract function have a recipe, and every mistake a hint of its own that
    is not its recipe?"""
    assert set(RECIPES) == {f.test_name for f in FUNCTIONS}
    for mistake in MISTAKES.values():
        assert mistake.hint and mistake.hint != mistake.recipe, mistake.id


# Asking for the recipe: the notebook.


def sigmoid(z):
    """The plain formula: it overflows at z = -1e4."""
    return 1 / (1 + np.exp(-np.asarray(z, dtype=float)))


def max_stable_spectral_norm(activation):
    """gamma instead of 1/gamma (taken from the reference, so this file states no value)."""
    return 1 / reference("remedies").max_stable_spectral_norm(activation)


def test_check_gives_the_principle_and_says_how_to_ask_for_more(capsys):
    """Does a failed check print the principle, no recipe, and end with the line naming
    hint(sigmoid)?"""
    check(sigmoid)
    printed = capsys.readouterr().out
    assert "[naive_sigmoid_overflow]" in printed
    assert not _leaks("chain_rule.sigmoid", printed), printed
    assert "Recipe" not in printed
    assert printed.rstrip().splitlines()[-1] == NOTEBOOK_MORE_HELP.format(name="sigmoid")


def test_a_passing_check_offers_no_more_help(capsys):
    """Does a passing check print no recipe and no pointer to one?"""
    check(reference("chain_rule").sigmoid)
    printed = capsys.readouterr().out
    assert "PASSED" in printed and "More help" not in printed and "Recipe" not in printed


def test_hint_prints_the_recipe_and_the_last_matched_mistakes(capsys):
    """Does hint(f) print the function's recipe, with the matched mistake's recipe once a
    check matched one, and check(f, hint=2) the feedback with the recipes?"""
    hint("rnn_jacobian_norms")
    printed = capsys.readouterr().out
    assert RECIPES["remedies.rnn_jacobian_norms"] in printed
    assert "likely mistake" not in printed  # not checked yet: no mistake to speak of

    check(max_stable_spectral_norm)
    assert "[returns_gamma]" in capsys.readouterr().out
    hint(max_stable_spectral_norm)
    printed = capsys.readouterr().out
    assert RECIPES["remedies.max_stable_spectral_norm"] in printed

    def frobenius(w_rec, w_in, b, xs, h0):
        hs, h = [], np.asarray(h0, dtype=float)
        for x in xs:
            h = np.tanh(w_rec @ h + w_in @ x + b)
            hs.append(h)
        product, norms = np.eye(len(h0)), []
        for h_t in reversed(hs):
            product = product @ (np.diag(1 - h_t**2) @ w_rec)
            norms.append(np.linalg.norm(product))  # Frobenius, not spectral
        return np.array(norms[::-1])

    frobenius.__name__ = "rnn_jacobian_norms"
    check(frobenius)
    assert "[frobenius_norm]" in capsys.readouterr().out
    hint(frobenius)
    printed = capsys.readouterr().out
    assert MISTAKES["frobenius_norm"].recipe in printed

    check(frobenius, hint=2)
    printed = capsys.readouterr().out
    assert "[frobenius_norm]" in printed
    assert RECIPES["remedies.rnn_jacobian_norms"] in printed
    assert MISTAKES["frobenius_norm"].recipe in printed
    assert "More help" not in printed


def test_check_refuses_a_tier_that_does_not_exist():
    """Does check(f, hint=3) say which tiers there are?"""
    with pytest.raises(ValueError, match="hint is 1"):
        check(sigmoid, hint=3)


def test_recipes_for_lists_the_functions_then_the_mistakes():
    """Are the recipe lines the function's, then each matched mistake's with its title?"""
    lines = recipes_for("chain_rule.chain_gradients", ["missing_weight_factor"])
    assert lines[0] == f"Recipe: {RECIPES['chain_rule.chain_gradients']}"
    assert MISTAKES["missing_weight_factor"].title in lines[1]
    assert lines[1].endswith(MISTAKES["missing_weight_factor"].recipe)


# Asking for the recipe: the kit's folder check.


def _part_one(tmp_path: Path, mistake: str) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir()
    text = (CORPUS / "wrong" / f"chain_rule__{mistake}.py").read_text(encoding="utf-8")
    (folder / "chain_rule.py").write_text(reference_source("chain_rule") + "\n\n" + text)
    return folder


def test_the_kit_check_gives_the_recipe_with_hint_2_only(tmp_path, capsys):
    """Does ``python -m grader check PATH`` end with the line naming --hint 2 and give no
    recipe, and the same with ``--hint 2`` give the recipe and no such line?"""
    folder = _part_one(tmp_path, "missing_weight_factor")
    assert kit_main(["check", str(folder)]) == 0
    plain = capsys.readouterr().out
    assert "[missing_weight_factor]" in plain and "Recipe" not in plain
    assert not _leaks("chain_rule.chain_gradients", plain)
    assert plain.rstrip().splitlines()[-1] == COMMAND_MORE_HELP

    assert kit_main(["check", str(folder), "--hint", "2"]) == 0
    asked = capsys.readouterr().out
    assert RECIPES["chain_rule.chain_gradients"].split(";")[0] in asked.replace("\n   ", "")
    assert "Recipe for the likely mistake" in asked
    assert COMMAND_MORE_HELP not in asked


def test_a_report_of_hidden_cases_never_gets_a_recipe():
    """Does a report of hidden cases stay without recipes and without the more-help line,
    even when tier 2 is asked for and a test holds recipes?"""
    import_checks("chain_rule")
    namespace = _namespace(CORPUS / "wrong" / "chain_rule__missing_weight_factor.py")
    result = run_check(
        "chain_rule.chain_gradients", InProcessRunner(namespace), seed=7, public=False
    )
    report = apply_tier(Report("s", [result], cases="hidden"), 2)
    assert result.recipes == [] and report.more_help == ""
    result.recipes = recipes_for(result.name, result.mistakes)  # set by mistake: still hidden
    for text in (result.output, report.to_text(), str(report.to_gradescope())):
        assert "Recipe" not in text and COMMAND_MORE_HELP not in text


@pytest.mark.slow
def test_the_graders_check_verb_takes_hint_2(tmp_path):
    """Does the full grader's ``check`` (jailed) give the recipe with --hint 2 and the
    more-help line without it?"""
    import subprocess
    import sys

    folder = _part_one(tmp_path, "missing_sigmoid_factor")
    runs = {}
    for tier in ("1", "2"):
        runs[tier] = subprocess.run(
            [sys.executable, "-m", "grader", "check", str(folder), "--hint", tier],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert runs[tier].returncode == 0, runs[tier].stderr
    assert "Recipe" not in runs["1"].stdout
    assert runs["1"].stdout.rstrip().splitlines()[-1] == COMMAND_MORE_HELP
    assert "Recipe for the likely mistake" in runs["2"].stdout
    assert COMMAND_MORE_HELP not in runs["2"].stdout
