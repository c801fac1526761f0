"""Plain values of a received config, vetted one at a time.

A model's or an optimizer's config comes from the student's process, so the grader treats
it as hostile data (:mod:`grader.measuring.vetting` says why it rebuilds from an
allow-list). Each validator here takes a value and where it sits in the config
(``layers[2].config.units``), returns the value when it is plain and in bounds (a finite
number, a bool, a short name, a word of a list, a seed) and otherwise raises
:class:`ModelRebuildError` naming that place. Nothing is looked up or called.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable
from typing import Any


class ModelRebuildError(ValueError):
    """A model or optimizer config that the grader does not rebuild in its own process.

    Attributes:
        path: where in the config the problem is (``layers[2].config.activation``), or
            ``""`` for the whole config.
        problem: what is wrong there, without the path.
    """

    def __init__(self, problem: str, path: str = "") -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


#: Longest name (of a model, a layer, an optimizer) accepted.
MAX_NAME_LENGTH = 256

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80


def describe(value: Any) -> str:
    """A short description of a config value for a message."""
    if isinstance(value, dict):
        module, name = value.get("module"), value.get("class_name")
        if name == "function" and isinstance(value.get("config"), str):
            name = value["config"]
        parts = [p if type(p) is str else _SHORT.repr(p) for p in (module, name) if p is not None]
        text = ".".join(parts) or "a dict"
    else:
        text = _SHORT.repr(value)  # bounded in depth and length, whatever the student sent
    return text if len(text) <= 80 else text[:77] + "..."


def refused(path: str, problem: str) -> ModelRebuildError:
    """The error that refuses ``problem`` at ``path`` of a config."""
    return ModelRebuildError(problem, path)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


#: A validator: takes a value and its place in the config, returns the value to use or
#: raises :class:`ModelRebuildError`.
Validator = Callable[[Any, str], Any]


def number(low: float = -math.inf, high: float = math.inf, *, low_open: bool = False) -> Validator:
    """A finite number from ``low`` (excluded when ``low_open``) to ``high``."""

    def check(value: Any, path: str) -> Any:
        if not _is_number(value):
            raise refused(path, f"{describe(value)} is not a finite number")
        if value < low or value > high or (low_open and value == low):
            bound = f"> {low}" if low_open else f">= {low}"
            raise refused(path, f"{value!r} is out of range ({bound}, <= {high})")
        return value

    return check


def integer(low: int, high: int) -> Validator:
    """A whole number from ``low`` to ``high``."""

    def check(value: Any, path: str) -> Any:
        if type(value) is not int or not low <= value <= high:
            raise refused(path, f"{describe(value)} is not a whole number from {low} to {high}")
        return value

    return check


def optional(inner: Validator) -> Validator:
    """None, or what ``inner`` accepts."""

    def check(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)

    return check


def boolean(value: Any, path: str) -> bool:
    """True or false."""
    if type(value) is not bool:
        raise refused(path, f"{describe(value)} is not true or false")
    return value


def false(value: Any, path: str) -> bool:
    """False, or None (a switch that must stay off)."""
    if value is not False and value is not None:
        raise refused(path, f"{describe(value)} is not allowed here (only false)")
    return False


def nothing(value: Any, path: str) -> None:
    """None only: a regularizer, constraint or quantisation slot left empty."""
    if value is not None:
        raise refused(
            path,
            f"{describe(value)} is not allowed: the grader rebuilds models without "
            "regularizers, constraints or quantisation",
        )
    return None


def name(value: Any, path: str) -> str:
    """A name of 1 to :data:`MAX_NAME_LENGTH` characters."""
    if type(value) is not str or not 0 < len(value) <= MAX_NAME_LENGTH:
        raise refused(
            path, f"{describe(value)} is not a name of at most {MAX_NAME_LENGTH} characters"
        )
    return value


def choice(*allowed: Any) -> Validator:
    """One of the words ``allowed``."""

    def check(value: Any, path: str) -> Any:
        if type(value) is not str or value not in allowed:
            raise refused(path, f"{describe(value)} is not one of {', '.join(map(str, allowed))}")
        return value

    return check


def seed(value: Any, path: str) -> int | None:
    """A random seed (a whole number that fits 32 bits), or None."""
    if value is None:
        return None
    if type(value) is not int or not -(2**31) <= value < 2**32:
        raise refused(path, f"{describe(value)} is not a seed (a whole number or null)")
    return value


def vet_keys(config: dict, keys: dict[str, Validator], path: str, what: str) -> dict[str, Any]:
    """Vet each key of ``config`` with its validator in ``keys``; refuse a key not there.

    Returns:
        the vetted values, without the ones vetted to None (the constructor's default).
    """
    arguments = {}
    for key, value in config.items():
        if key not in keys:
            shown = describe(key).strip("'")
            raise refused(f"{path}.{shown}", f"{what} has no setting {describe(key)}")
        vetted = keys[key](value, f"{path}.{key}")
        if vetted is not None:
            arguments[key] = vetted
    return arguments
