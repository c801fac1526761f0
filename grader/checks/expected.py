"""Where the checks' expected values come from: the live reference, or values recorded from it.

The checks never import ``solutions`` themselves. They ask this module:

- ``reference(part).<function>(*args)`` for the reference's value of a contract function
  (the checks' expected results, the known mistakes' answers built from it, the helpers a
  student's function calls, the models a case is built from);
- :func:`computed` for a longer computation made from the reference (a training run),
  computed once per process for the same inputs;
- :func:`simulated` for what a simulator of :mod:`grader.checks.simulators` gives on a
  case's inputs (a known mistake's answer, a scale, a run without clipping), once per
  process for the same inputs;
- :func:`signature` for the contract's signature of a function, shown in hints.

Two sources answer. :class:`LiveReference` (the instructor's full package) calls the
reference solutions. :class:`RecordedValues` (the student kit, :mod:`grader.course.kit`) looks the
same calls up in a JSON file recorded from the live reference on the public cases when the
kit was built; the kit holds no reference code and no simulator (both compute answers),
so a call that was not recorded raises :class:`NotRecorded`. Calls are told apart by the
function's name and a digest of their arguments, so the checks' code is one copy whichever
source answers.

The package holds recorded values only when it is a kit; then they are the source.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from grader.isolation.protocol import KerasObjectSpec, ModelSpec, OptimizerSpec, decode, encode
from grader.measuring.rebuild import describe_model, rebuild_model
from grader.paths import PACKAGE
from grader.worker import calls
from grader.worker.calls import plain_result

#: The recorded values' file inside a kit's ``grader`` package (absent from the full package).
RECORDED_FILE = PACKAGE / "recorded_values.json"


class NotRecorded(LookupError):
    """A value the kit did not record (the call's arguments differ from the public cases')."""


def _digest(value: Any, digest: Any) -> None:
    """Feed a canonical form of ``value`` into ``digest``.

    Raises:
        TypeError: for a value without a canonical form (then the call is not recorded).
    """
    if value is None or isinstance(value, (bool, str)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, (int, float, np.generic)) and np.ndim(value) == 0:
        item = value.item() if isinstance(value, np.generic) else value
        digest.update(f"n:{item!r};".encode())
    elif isinstance(value, np.ndarray):
        digest.update(f"a:{value.dtype.str}{value.shape};".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (list, tuple)):
        digest.update(f"[{len(value)};".encode())
        for item in value:
            _digest(item, digest)
    elif isinstance(value, dict):
        digest.update(f"{{{len(value)};".encode())
        for key in sorted(value, key=str):
            _digest(str(key), digest)
            _digest(value[key], digest)
    elif isinstance(value, ModelSpec):
        _digest(["model", _without_names(value.config), *value.weights], digest)
    elif isinstance(value, OptimizerSpec):
        _digest(["optimizer", value.class_name, value.config], digest)
    elif isinstance(value, KerasObjectSpec):
        _digest(["keras", json.dumps(value.config, sort_keys=True, default=str)], digest)
    elif hasattr(value, "get_weights") and hasattr(value, "to_json"):  # a Keras model
        _digest(describe_model(value), digest)
    elif hasattr(value, "get_config") and not isinstance(value, type):  # initializer, ...
        config = json.dumps(value.get_config(), sort_keys=True, default=str)
        _digest(["object", type(value).__qualname__, config], digest)
    elif hasattr(value, "numpy") and hasattr(value, "shape"):  # a tensor
        _digest(np.asarray(value.numpy()), digest)
    elif callable(value):  # a builder or an activation: its name
        name = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
        digest.update(f"f:{name};".encode())
    else:
        raise TypeError(f"no canonical form for a {type(value).__name__}")


def _without_names(config: str) -> Any:
    """A model's config without the model's and the layers' names.

    Keras numbers the names of new models and layers in a process (``sequential_11``), so
    the same model built later in a batch has other names; they change nothing a model
    computes, and a key with them would miss every remembered run after the first
    student. Everything else (a dtype policy's ``name`` included) stays.
    """
    try:
        data = json.loads(config)
        inner = data["config"]
        inner.pop("name", None)
        for layer in inner.get("layers", []):
            layer["config"].pop("name", None)
        return data
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return config


def call_key(name: str, args: tuple[Any, ...] | list[Any], kwargs: dict[str, Any]) -> str:
    """The key of one call: the function's name and a digest of its arguments.

    Raises:
        TypeError: when an argument has no canonical form.
    """
    digest = hashlib.sha256(f"{name};".encode())
    _digest([list(args), dict(kwargs)], digest)
    return digest.hexdigest()


def _plain(value: Any) -> tuple[Any, bool]:
    """A value as JSON-ready data, and whether it was a live Keras model."""
    plain = plain_result(value)

    return encode(plain), isinstance(plain, ModelSpec) and plain is not value


def _live(data: Any, model: bool) -> Any:
    """A recorded value back as the caller had it (a live model rebuilt)."""
    value = decode(data)
    if model:
        return rebuild_model(value)
    return value


class LiveReference:
    """Computes expected values with the reference solutions (the instructor's package).

    While :attr:`recording` is a dict, every answer is also stored in it by call key, as
    plain data, for :mod:`grader.course.kit`.
    """

    has_hidden_cases = True

    def __init__(self) -> None:
        self.recording: dict[str, Any] | None = None
        self._modules: dict[str, Any] = {}
        self._computed: dict[str, Any] = {}

    def module(self, part: str) -> Any:
        """A private copy of the reference module of ``part``.

        The helpers of the code under test are swapped in that code's own namespace; a
        private copy keeps them from being swapped in the reference too, should the two be
        one module (a notebook that imported the reference, say).
        """
        if part not in self._modules:
            path = importlib.import_module(f"solutions.{part}").__file__
            spec = importlib.util.spec_from_file_location(f"_reference_{part}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            self._modules[part] = module
        return self._modules[part]

    def _record(self, key: str | None, value: Any) -> None:
        if self.recording is not None and key is not None:
            data, model = _plain(value)
            self.recording[key] = {"value": data, "model": model}

    def call(self, part: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The reference ``part.name`` called on the arguments."""
        key = None
        if self.recording is not None:
            try:  # the key first: the call may change live arguments (a model's weights)
                key = call_key(f"{part}.{name}", args, kwargs)
            except TypeError:
                key = None
        value = getattr(self.module(part), name)(*args, **kwargs)
        self._record(key, value)
        return value

    def computed(self, compute: Callable[..., Any], inputs: tuple[Any, ...]) -> Any:
        """``compute(*inputs)``, once per process for the same inputs."""
        key = call_key(f"{compute.__module__}.{compute.__qualname__}", inputs, {})
        if key not in self._computed:
            self._computed[key] = compute(*inputs)
        self._record(key, self._computed[key])
        return self._computed[key]

    def simulated(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The simulator ``name`` run on the arguments, once per process for the same ones."""
        # lazy: full package only: simulators compute answers (their switches at the
        # defaults), so a kit holds none and looks their recorded values up instead
        from grader.checks.simulators import SIMULATORS

        key = call_key(f"simulated.{name}", args, kwargs)
        if key not in self._computed:
            self._computed[key] = SIMULATORS[name](*args, **kwargs)
        self._record(key, self._computed[key])
        return self._computed[key]

    def signature(self, part: str, name: str) -> str:
        """The reference's signature of ``part.name``, e.g. ``(x, w, b)``."""
        return str(inspect.signature(getattr(self.module(part), name)))

    def train_step(self, model: Any, *args: Any) -> Any:
        """The grader's trusted clipped step (:mod:`grader.worker.trusted_step`), recorded
        with the weights it leaves when recording."""
        # lazy: full package only: the trusted step is a right answer to
        # clipped_train_step, so a kit replays the recorded steps instead
        from grader.worker.trusted_step import trusted_train_step

        key = _step_key(model, *args) if self.recording is not None else None
        result = trusted_train_step(model, *args)
        self._record(key, (result, [np.asarray(w) for w in model.get_weights()]))
        return result


class RecordedValues:
    """Answers with values recorded from the reference when the kit was built.

    Args:
        path: the recorded values' JSON file.
    """

    has_hidden_cases = False

    def __init__(self, path: Path) -> None:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        self.values: dict[str, Any] = data["values"]
        self.signatures: dict[str, str] = data["signatures"]
        self.recording = None

    def _lookup(self, key: str, what: str) -> Any:
        if key not in self.values:
            raise NotRecorded(
                f"the kit has no recorded value of {what} for these arguments "
                "(only the public cases' values are recorded)"
            )
        record = self.values[key]
        return _live(record["value"], record["model"])

    def call(self, part: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The recorded value of the reference ``part.name`` on the arguments.

        Raises:
            NotRecorded: for a call that was not recorded.
        """
        try:
            key = call_key(f"{part}.{name}", args, kwargs)
        except TypeError as error:
            raise NotRecorded(f"{name}'s arguments cannot be looked up: {error}") from None
        return self._lookup(key, f"{part}.{name}")

    def computed(self, compute: Callable[..., Any], inputs: tuple[Any, ...]) -> Any:
        """The recorded value of ``compute(*inputs)``.

        Raises:
            NotRecorded: for a computation that was not recorded.
        """
        key = call_key(f"{compute.__module__}.{compute.__qualname__}", inputs, {})
        return self._lookup(key, compute.__qualname__)

    def simulated(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The recorded value of the simulator ``name`` on the arguments.

        Raises:
            NotRecorded: for a simulation that was not recorded.
        """
        try:
            key = call_key(f"simulated.{name}", args, kwargs)
        except TypeError as error:
            raise NotRecorded(f"{name}'s arguments cannot be looked up: {error}") from None
        return self._lookup(key, name)

    def signature(self, part: str, name: str) -> str:
        """The recorded signature of ``part.name``."""
        return self.signatures[f"{part}.{name}"]

    def train_step(self, model: Any, *args: Any) -> Any:
        """The trusted step replayed: the recorded result, the recorded weights set.

        Raises:
            NotRecorded: for a step the reference's loop did not make (other weights,
                data or learning rate).
        """
        result, after = self._lookup(_step_key(model, *args), "a clipped training step")
        model.set_weights(after)
        return result


def _step_key(model: Any, optimizer: Any, x: Any, y: Any, clip_norm: Any) -> str:
    """A training step's key: the model's weights, the learning rate, the data, the bound."""
    rate = float(np.asarray(getattr(optimizer, "learning_rate", np.nan)))
    return call_key("trusted_train_step", (model, rate, x, y, clip_norm), {})


@contextmanager
def trusted_steps() -> Iterator[None]:
    """Inside the block, the worker's trusted clipped step goes through the source: computed
    (and recorded) by the full package, replayed from the recorded values in a kit, which
    does not hold the step's code (:mod:`grader.course.kit`)."""

    def step(model: Any, optimizer: Any, x: Any, y: Any, clip_norm: float) -> Any:
        return source().train_step(model, optimizer, x, y, clip_norm)

    saved = calls.TRUSTED_HELPERS.get("clipped_train_step")
    calls.TRUSTED_HELPERS["clipped_train_step"] = step
    try:
        yield
    finally:
        if saved is None:  # a kit: no trusted step outside the block
            calls.TRUSTED_HELPERS.pop("clipped_train_step", None)
        else:
            calls.TRUSTED_HELPERS["clipped_train_step"] = saved


_source: LiveReference | RecordedValues | None = None


def source() -> LiveReference | RecordedValues:
    """The source in use: the recorded values in a kit, else the live reference."""
    global _source
    if _source is None:
        _source = RecordedValues(RECORDED_FILE) if RECORDED_FILE.is_file() else LiveReference()
    return _source


def use(new: LiveReference | RecordedValues | None) -> LiveReference | RecordedValues | None:
    """Use another source (None: choose again); return the previous one."""
    global _source
    previous, _source = _source, new
    return previous


@contextmanager
def recording() -> Iterator[dict[str, Any]]:
    """Record every live answer given inside the block; yields the dict they go into."""
    live = LiveReference()
    live.recording = {}
    previous = use(live)
    try:
        yield live.recording
    finally:
        use(previous)


def is_recording() -> bool:
    """Whether answers are being recorded (then the checks compute every known mistake)."""
    return source().recording is not None


class _Part:
    """The reference functions of one part, as the source answers them."""

    def __init__(self, part: str) -> None:
        self._part = part

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)
        part = self._part

        def answer(*args: Any, **kwargs: Any) -> Any:
            return source().call(part, name, args, kwargs)

        answer.__name__ = answer.__qualname__ = name
        return answer


def reference(part: str) -> Any:
    """The reference functions of ``part``: ``reference("chain_rule").sigmoid(z)``.

    Args:
        part: the part's name.

    Returns:
        an object whose attributes are the part's contract functions, answered by the
        source in use (:class:`NotRecorded` from a kit for a call it did not record).
    """
    return _Part(part)


def computed(compute: Callable[..., Any], *inputs: Any) -> Any:
    """``compute(*inputs)`` from the source in use: computed (once per process) or recorded.

    Args:
        compute: a module-level function of plain inputs that uses the reference.
        *inputs: its inputs (arrays, numbers, model specs, builders by name).

    Returns:
        the value.

    Raises:
        NotRecorded: in a kit, for inputs whose value was not recorded.
    """
    return source().computed(compute, inputs)


def simulated(name: str, *args: Any, **kwargs: Any) -> Any:
    """What the simulator ``name`` gives on a case's inputs, from the source in use.

    Args:
        name: ``<part>.<function>`` of :mod:`grader.checks.simulators`.
        *args: its inputs (arrays, numbers, model specs).
        **kwargs: its switches.

    Returns:
        the value: run by the full package (once per process for the same inputs,
        recorded while a kit is built), looked up in a kit.

    Raises:
        NotRecorded: in a kit, for inputs whose value was not recorded.
    """
    return source().simulated(name, args, kwargs)


def signature(part: str, name: str) -> str:
    """The contract's signature of ``part.name`` without the name, e.g. ``(x, w, b)``."""
    return source().signature(part, name)


def has_hidden_cases() -> bool:
    """Whether hidden cases can be graded here (the full package) or not (a kit)."""
    return source().has_hidden_cases
