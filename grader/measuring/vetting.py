"""Keras models and optimizers to and from plain data, rebuilt from an allow-list.

A model crosses the process boundary as its JSON config and its weights
(:class:`~grader.isolation.protocol.ModelSpec`); an optimizer as its class name and config
(:class:`~grader.isolation.protocol.OptimizerSpec`). The student's process writes both, so the
grader treats them as hostile data.

Why an allow-list, and why our own constructors. Keras's safe deserialisation refuses
``Lambda`` layers and pickled code, but it still resolves, by module and name, any object
Keras registers, in every place a config can name a callable: activations, initializers,
regularizers, constraints, layer and model classes. A config naming, say,
``keras.distribution.set_distribution`` as an activation was rebuilt, and calling the
model changed state that every later measurement in the grading process depends on. So
the grader rebuilds in two steps, and the config never reaches Keras's name resolution:

1. :func:`vet_model_config` walks the parsed JSON and accepts only what this module lists:
   the model class the contract allows (``Sequential``), the layers a student needs for
   the contract's models (:data:`ALLOWED_LAYERS`), activations by their built-in names or
   the element-wise ``keras.ops`` functions of :data:`SAFE_FUNCTION_NAMES`, initializers
   of :data:`ALLOWED_INITIALIZERS`, dtype policies of :data:`ALLOWED_DTYPE_POLICIES`, no
   regularizer and no constraint. Every key of every accepted config must be known and
   its value plain (a number, a bool, None, a name from a list, a short list of numbers);
   anything else raises :class:`ModelRebuildError` naming the offending place, e.g.
   ``layers[3].config.activation: keras.distribution.set_distribution is not an allowed
   activation``. Vetting is pure Python over dicts and lists: nothing is looked up or
   called. Sizes are bounded too (layers, units, parameters), so a config cannot make the
   grader allocate gigabytes before the weights are checked.
2. :func:`build_model` makes the model with explicit constructors
   (``keras.layers.Dense(units=..., activation=...)``) from the vetted values, each class
   and function taken from this module's tables. Keras's deserialiser is never called on
   the student's data, so no ``module``, ``class_name`` or ``registered_name`` the student
   wrote can select code; a Keras change in how names are resolved cannot open a hole.

The model's ``compile_config`` is dropped unread: the grader never compiles a student's
model (it measures with its own loss and optimizer), so nothing in it is deserialised.

Optimizers (:func:`rebuild_optimizer`) follow the same rule: a class of
:data:`ALLOWED_OPTIMIZERS`, known config keys, plain values, an explicit constructor.

A model this module refuses (a student's own activation function, a custom layer) is not
measured in the grader's process; the checks measure it elsewhere or say why not.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.isolation.protocol import ModelSpec, OptimizerSpec


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


#: Element-wise functions of keras.ops a model may use as activations. Keras saves such a
#: function by its name only; these names are resolved to these functions, nothing else.
SAFE_FUNCTION_NAMES = (
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "silu",
    "softplus",
    "softsign",
    "leaky_relu",
    "hard_sigmoid",
    "hard_silu",
    "exp",
    "log1p",
    "abs",
    "square",
    "negative",
    "sign",
    "arctan",
    "sinh",
    "erf",
    "log_sigmoid",
    "mish",
)

#: Functions of keras.activations accepted by name: the ones that map a tensor to a tensor
#: of the same shape with no further argument. (``glu`` halves the width, ``threshold``
#: needs arguments; ``sparsemax`` and ``sparse_sigmoid`` are left out as no model of this
#: course needs them.) A name in both lists means the keras.activations function, as Keras
#: itself resolves a function saved by name (the saved form does not say which).
ALLOWED_ACTIVATIONS = (
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "relu6",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "swish",
    "softplus",
    "softsign",
    "leaky_relu",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "exponential",
    "mish",
    "log_sigmoid",
    "squareplus",
    "sparse_plus",
    "tanh_shrink",
    "soft_shrink",
    "hard_shrink",
    "softmax",
    "log_softmax",
)

#: The built-in initializers, by class name and by the snake-case name Keras accepts for
#: them, and the config keys each takes. ``Identity`` and ``STFT`` are left out: neither
#: makes a dense kernel of any shape.
_SEEDED_VARIANCE = ("seed", "input_axes", "output_axes")
_INITIALIZER_KEYS: dict[str, tuple[str, ...]] = {
    "Zeros": (),
    "Ones": (),
    "Constant": ("value",),
    "RandomNormal": ("mean", "stddev", "seed"),
    "TruncatedNormal": ("mean", "stddev", "seed"),
    "RandomUniform": ("minval", "maxval", "seed"),
    "VarianceScaling": ("scale", "mode", "distribution", *_SEEDED_VARIANCE),
    "GlorotNormal": _SEEDED_VARIANCE,
    "GlorotUniform": _SEEDED_VARIANCE,
    "HeNormal": _SEEDED_VARIANCE,
    "HeUniform": _SEEDED_VARIANCE,
    "LecunNormal": _SEEDED_VARIANCE,
    "LecunUniform": _SEEDED_VARIANCE,
    "Orthogonal": ("gain", "seed"),
}
_INITIALIZER_ALIASES = {
    "zeros": "Zeros",
    "ones": "Ones",
    "constant": "Constant",
    "random_normal": "RandomNormal",
    "truncated_normal": "TruncatedNormal",
    "random_uniform": "RandomUniform",
    "variance_scaling": "VarianceScaling",
    "glorot_normal": "GlorotNormal",
    "glorot_uniform": "GlorotUniform",
    "he_normal": "HeNormal",
    "he_uniform": "HeUniform",
    "lecun_normal": "LecunNormal",
    "lecun_uniform": "LecunUniform",
    "orthogonal": "Orthogonal",
}
#: Initializer names accepted (class names and their snake-case aliases).
ALLOWED_INITIALIZERS = (*_INITIALIZER_KEYS, *_INITIALIZER_ALIASES)

#: Dtype policies a layer may name: plain floating-point ones (no quantised policies).
ALLOWED_DTYPE_POLICIES = (
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "mixed_float16",
    "mixed_bfloat16",
)

#: The model classes the contract allows: every model-building function returns a
#: ``keras.Sequential``.
ALLOWED_MODELS = ("Sequential",)

#: Upper bounds that keep a hostile config from making the grader allocate much.
MAX_LAYERS = 512
MAX_UNITS = 4096
MAX_PARAMETERS = 20_000_000
MAX_NAME_LENGTH = 256

_LAYER_MODULES = ("keras.layers",)
_MODEL_MODULES = ("keras", "keras.models")
_INITIALIZER_MODULES = ("keras.initializers",)
_FUNCTION_MODULES = ("builtins", "keras.activations", "keras.ops")
_POLICY_MODULES = ("keras", "keras.dtype_policies")


# -- plain values ----------------------------------------------------------------------


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80


def _describe(value: Any) -> str:
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


def _fail(path: str, problem: str) -> ModelRebuildError:
    return ModelRebuildError(problem, path)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


Validator = Callable[[Any, str], Any]


def _number(low: float = -math.inf, high: float = math.inf, *, low_open: bool = False):
    def check(value: Any, path: str) -> Any:
        if not _is_number(value):
            raise _fail(path, f"{_describe(value)} is not a finite number")
        if value < low or value > high or (low_open and value == low):
            bound = f"> {low}" if low_open else f">= {low}"
            raise _fail(path, f"{value!r} is out of range ({bound}, <= {high})")
        return value

    return check


def _integer(low: int, high: int) -> Validator:
    def check(value: Any, path: str) -> Any:
        if type(value) is not int or not low <= value <= high:
            raise _fail(path, f"{_describe(value)} is not a whole number from {low} to {high}")
        return value

    return check


def _optional(inner: Validator) -> Validator:
    def check(value: Any, path: str) -> Any:
        return None if value is None else inner(value, path)

    return check


def _boolean(value: Any, path: str) -> bool:
    if type(value) is not bool:
        raise _fail(path, f"{_describe(value)} is not true or false")
    return value


def _false(value: Any, path: str) -> bool:
    if value is not False and value is not None:
        raise _fail(path, f"{_describe(value)} is not allowed here (only false)")
    return False


def _nothing(value: Any, path: str) -> None:
    if value is not None:
        raise _fail(
            path,
            f"{_describe(value)} is not allowed: the grader rebuilds models without "
            "regularizers, constraints or quantisation",
        )
    return None


def _name(value: Any, path: str) -> str:
    if type(value) is not str or not 0 < len(value) <= MAX_NAME_LENGTH:
        raise _fail(
            path, f"{_describe(value)} is not a name of at most {MAX_NAME_LENGTH} characters"
        )
    return value


def _choice(*allowed: Any) -> Validator:
    def check(value: Any, path: str) -> Any:
        if type(value) is not str or value not in allowed:
            raise _fail(path, f"{_describe(value)} is not one of {', '.join(map(str, allowed))}")
        return value

    return check


def _seed(value: Any, path: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not -(2**31) <= value < 2**32:
        raise _fail(path, f"{_describe(value)} is not a seed (a whole number or null)")
    return value


def _axes(value: Any, path: str) -> list[int] | None:
    """``input_axes``/``output_axes`` of a variance-scaling initializer: None or -2/-1/0/1."""
    if value is None:
        return None
    if (
        type(value) is not list
        or not 0 < len(value) <= 2
        or any(type(a) is not int or not -2 <= a <= 1 for a in value)
    ):
        raise _fail(path, f"{_describe(value)} is not a list of kernel axes")
    return list(value)


def _feature_axis(value: Any, path: str) -> Any:
    """The feature axis of a normalisation layer on (batch, features) inputs: -1 or 1."""
    if type(value) is int and value in (-1, 1):
        return value
    if type(value) is list and len(value) == 1 and type(value[0]) is int and value[0] in (-1, 1):
        return list(value)
    raise _fail(path, f"{_describe(value)} is not the feature axis (-1 or 1, or [-1])")


def _dims(value: Any, path: str, what: str) -> list[int | None]:
    """A (batch, features) shape: ``[null or a size, a size]``."""
    if (
        type(value) not in (list, tuple)
        or len(value) != 2
        or not (value[0] is None or (type(value[0]) is int and 0 < value[0] <= 2**20))
        or type(value[1]) is not int
        or not 0 < value[1] <= MAX_UNITS
    ):
        raise _fail(
            path,
            f"{_describe(value)} is not {what} of the form [null, features] with at most "
            f"{MAX_UNITS} features",
        )
    return list(value)


def _shape(value: Any, path: str) -> list[int | None]:
    return _dims(value, path, "an input shape")


# -- named parts: activations, initializers, dtype policies ------------------------------


@dataclass(frozen=True)
class Activation:
    """A vetted activation: a built-in activation's name, or a listed keras.ops function."""

    name: str
    #: ``"activations"`` (keras.activations) or ``"ops"`` (keras.ops)
    source: str


@dataclass(frozen=True)
class Initializer:
    """A vetted initializer: a class of the list and its plain arguments."""

    class_name: str
    arguments: tuple[tuple[str, Any], ...] = ()


def _function_name(name: Any, path: str) -> Activation:
    if type(name) is str and name in ALLOWED_ACTIVATIONS:
        return Activation(name, "activations")
    if type(name) is str and name in SAFE_FUNCTION_NAMES:
        return Activation(name, "ops")
    raise _fail(
        path,
        f"{_describe(name)} is not an allowed activation (built-in activations by name, or "
        "element-wise keras.ops functions such as keras.ops.sin)",
    )


def vet_activation(value: Any, path: str = "activation") -> Activation:
    """Accept an activation as Keras serialises it: a name, or a function record.

    Args:
        value: ``"relu"``, None (linear) or ``{"module": "builtins", "class_name":
            "function", "config": "sin", "registered_name": "function"}``.
        path: where the value sits, for the message.

    Returns:
        the vetted activation.

    Raises:
        ModelRebuildError: for anything not in the lists.
    """
    if value is None:
        return Activation("linear", "activations")
    if isinstance(value, dict):
        if (
            set(value) <= {"module", "class_name", "config", "registered_name"}
            and value.get("class_name") == "function"
            and value.get("module") in _FUNCTION_MODULES
            and value.get("registered_name") in ("function", None)
        ):
            return _function_name(value.get("config"), path)
        raise _fail(
            path,
            f"{_describe(value)} is not an allowed activation (built-in activations by name, "
            "or element-wise keras.ops functions such as keras.ops.sin)",
        )
    return _function_name(value, path)


_INITIALIZER_ARGUMENTS: dict[str, Validator] = {
    "value": _number(),
    "mean": _number(),
    "stddev": _number(0.0),
    "minval": _number(),
    "maxval": _number(),
    "scale": _number(0.0, low_open=True),
    "mode": _choice("fan_in", "fan_out", "fan_avg"),
    "distribution": _choice("truncated_normal", "untruncated_normal", "uniform"),
    "gain": _number(),
    "seed": _seed,
    "input_axes": _axes,
    "output_axes": _axes,
}


def vet_initializer(value: Any, path: str = "initializer") -> Initializer:
    """Accept an initializer as Keras serialises it: a name, or a class record.

    Args:
        value: ``"glorot_uniform"`` or ``{"module": "keras.initializers", "class_name":
            "GlorotUniform", "config": {"seed": 3, ...}, "registered_name": null}``.
        path: where the value sits, for the message.

    Returns:
        the vetted initializer.

    Raises:
        ModelRebuildError: for a class not in :data:`ALLOWED_INITIALIZERS`, an unknown
            argument or a value that is not plain.
    """
    if type(value) is str:
        if value in _INITIALIZER_ALIASES:
            return Initializer(_INITIALIZER_ALIASES[value])
        if value in _INITIALIZER_KEYS:
            return Initializer(value)
        raise _fail(path, f"{_describe(value)} is not an allowed initializer")
    if not isinstance(value, dict):
        raise _fail(path, f"{_describe(value)} is not an allowed initializer")
    class_name = value.get("class_name")
    if (
        not set(value) <= {"module", "class_name", "config", "registered_name"}
        or value.get("module") not in _INITIALIZER_MODULES
        or value.get("registered_name") is not None
        or type(class_name) is not str
        or class_name not in _INITIALIZER_KEYS
    ):
        raise _fail(
            path,
            f"{_describe(value)} is not an allowed initializer (built-in keras.initializers "
            "classes only)",
        )
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise _fail(f"{path}.config", f"{_describe(config)} is not a config")
    known = _INITIALIZER_KEYS[class_name]
    arguments = []
    for key, item in config.items():
        if key not in known:
            raise _fail(f"{path}.config", f"{key!r} is not an argument of {class_name}")
        arguments.append((key, _INITIALIZER_ARGUMENTS[key](item, f"{path}.config.{key}")))
    return Initializer(class_name, tuple(arguments))


def vet_dtype_policy(value: Any, path: str = "dtype") -> str | None:
    """Accept a layer's dtype policy: a name of the list, plain or as a DTypePolicy record.

    Raises:
        ModelRebuildError: for any other policy or form.
    """
    if value is None:
        return None
    name = value
    if isinstance(value, dict):
        config = value.get("config")
        if not (
            set(value) <= {"module", "class_name", "config", "registered_name"}
            and value.get("class_name") == "DTypePolicy"
            and value.get("module") in _POLICY_MODULES
            and value.get("registered_name") is None
            and isinstance(config, dict)
            and set(config) == {"name"}
        ):
            raise _fail(path, f"{_describe(value)} is not an allowed dtype policy")
        name = config["name"]
    if type(name) is not str or name not in ALLOWED_DTYPE_POLICIES:
        raise _fail(
            path,
            f"{_describe(name)} is not an allowed dtype policy "
            f"({', '.join(ALLOWED_DTYPE_POLICIES)})",
        )
    return name


# -- layers -------------------------------------------------------------------------------

_REGULARIZERS_AND_CONSTRAINTS = {
    f"{w}_{kind}": _nothing for w in ("beta", "gamma") for kind in ("regularizer", "constraint")
}

#: Per layer class: its config keys and how each is vetted. Every key a layer's config
#: holds must be listed; a missing key takes the constructor's default.
LAYER_KEYS: dict[str, dict[str, Validator]] = {
    "Dense": {
        "units": _integer(1, MAX_UNITS),
        "activation": vet_activation,
        "use_bias": _boolean,
        "kernel_initializer": vet_initializer,
        "bias_initializer": vet_initializer,
        "kernel_regularizer": _nothing,
        "bias_regularizer": _nothing,
        "kernel_constraint": _nothing,
        "bias_constraint": _nothing,
        "quantization_config": _nothing,
        "lora_rank": _nothing,
        "lora_alpha": _nothing,
    },
    "Activation": {"activation": vet_activation},
    "ReLU": {
        "max_value": _optional(_number(0.0)),
        "negative_slope": _number(0.0),
        "threshold": _number(),
    },
    "LeakyReLU": {"negative_slope": _number(0.0)},
    "ELU": {"alpha": _number()},
    "LayerNormalization": {
        "axis": _feature_axis,
        "epsilon": _number(0.0, low_open=True),
        "center": _boolean,
        "scale": _boolean,
        "rms_scaling": _boolean,
        "beta_initializer": vet_initializer,
        "gamma_initializer": vet_initializer,
        **_REGULARIZERS_AND_CONSTRAINTS,
    },
    "BatchNormalization": {
        "axis": _feature_axis,
        "momentum": _number(0.0, 1.0),
        "epsilon": _number(0.0, low_open=True),
        "center": _boolean,
        "scale": _boolean,
        "beta_initializer": vet_initializer,
        "gamma_initializer": vet_initializer,
        "moving_mean_initializer": vet_initializer,
        "moving_variance_initializer": vet_initializer,
        **_REGULARIZERS_AND_CONSTRAINTS,
        "synchronized": _false,
        "renorm": _false,
        "renorm_clipping": _nothing,
        "renorm_momentum": _number(0.0, 1.0),
    },
    "UnitNormalization": {"axis": _feature_axis},
    "RMSNormalization": {"axis": _feature_axis, "epsilon": _number(0.0, low_open=True)},
    "Dropout": {"rate": _number(0.0, 1.0), "seed": _seed, "noise_shape": _nothing},
    "GaussianNoise": {"stddev": _number(0.0), "seed": _seed},
}
#: Keys every layer's config has besides its own.
_COMMON_LAYER_KEYS: dict[str, Validator] = {
    "name": _name,
    "trainable": _boolean,
    "dtype": vet_dtype_policy,
    "activity_regularizer": _nothing,
}
_INPUT_LAYER_KEYS: dict[str, Validator] = {
    "batch_shape": _shape,
    "dtype": _choice(*ALLOWED_DTYPE_POLICIES[:4]),
    "sparse": _false,
    "ragged": _false,
    "optional": _false,
    "name": _name,
}
#: The layer classes a model may hold: the contract's Dense stacks, an input layer, and
#: what ``build_healthy_mlp`` may put between the Dense layers ("any activation,
#: initializer or normalisation layers"): activation layers, normalisation layers, and the
#: two noise layers students add as regularisers (identities when the model is called in
#: inference mode). Each keeps the (batch, features) shape.
ALLOWED_LAYERS = ("InputLayer", *LAYER_KEYS)


@dataclass(frozen=True)
class LayerPlan:
    """A vetted layer: its class and the plain keyword arguments of its constructor."""

    class_name: str
    arguments: dict[str, Any]


@dataclass
class ModelPlan:
    """A vetted Sequential model: what :func:`build_model` constructs."""

    name: str | None
    trainable: bool
    input_shape: list[int | None]
    input_layer: dict[str, Any] | None
    layers: list[LayerPlan] = field(default_factory=list)
    parameters: int = 0


def _record(value: Any, path: str, modules: tuple[str, ...], kind: str) -> tuple[str, dict]:
    """The class name and config of a ``{"module", "class_name", "config", ...}`` record."""
    if not isinstance(value, dict):
        raise _fail(path, f"{_describe(value)} is not a {kind} record")
    unknown = set(value) - {"module", "class_name", "config", "registered_name", "build_config"}
    if unknown:
        raise _fail(path, f"unknown keys {_describe(sorted(map(str, unknown)))} in a {kind} record")
    if value.get("module") not in modules:
        raise _fail(
            f"{path}.module", f"{_describe(value.get('module'))} is not a Keras {kind} module"
        )
    if value.get("registered_name") is not None:
        raise _fail(
            f"{path}.registered_name",
            f"{_describe(value.get('registered_name'))}: registered (custom) objects are not allowed",
        )
    config = value.get("config")
    if not isinstance(config, dict):
        raise _fail(f"{path}.config", f"{_describe(config)} is not a config")
    return value.get("class_name"), config


def _vet_keys(config: dict, keys: dict[str, Validator], path: str, what: str) -> dict[str, Any]:
    arguments = {}
    for key, value in config.items():
        if key not in keys:
            shown = _describe(key).strip("'")
            raise _fail(f"{path}.{shown}", f"{what} has no setting {_describe(key)}")
        vetted = keys[key](value, f"{path}.{key}")
        if vetted is not None:
            arguments[key] = vetted
    return arguments


def _vet_layer(value: Any, path: str) -> LayerPlan:
    class_name, config = _record(value, path, _LAYER_MODULES, "layer")
    if type(class_name) is not str or class_name not in ALLOWED_LAYERS:
        raise _fail(
            f"{path}.class_name",
            f"{_describe(class_name)} is not an allowed layer ({', '.join(ALLOWED_LAYERS)})",
        )
    build_config = value.get("build_config")
    if build_config is not None:  # read by nothing: the model is built from its input
        if not isinstance(build_config, dict) or set(build_config) - {"input_shape"}:
            raise _fail(f"{path}.build_config", f"{_describe(build_config)} is not a build config")
        _dims(build_config.get("input_shape"), f"{path}.build_config.input_shape", "a shape")
    if class_name == "InputLayer":
        keys = _INPUT_LAYER_KEYS
    else:
        keys = {**_COMMON_LAYER_KEYS, **LAYER_KEYS[class_name]}
    return LayerPlan(class_name, _vet_keys(config, keys, f"{path}.config", class_name))


def _parameters(layer: LayerPlan, width: int) -> tuple[int, int]:
    """How many numbers a layer holds on inputs of ``width`` features, and its output width."""
    arguments = layer.arguments
    if layer.class_name == "Dense":
        units = arguments["units"]
        return width * units + (units if arguments.get("use_bias", True) else 0), units
    if layer.class_name in ("LayerNormalization", "BatchNormalization", "RMSNormalization"):
        return 4 * width, width
    return 0, width


def vet_model_config(config: Any) -> ModelPlan:
    """Check a model's parsed JSON config against the allow-list; call nothing.

    Args:
        config: the parsed output of ``model.to_json()``.

    Returns:
        the plain plan :func:`build_model` constructs.

    Raises:
        ModelRebuildError: naming the first place in the config that is not allowed.
    """
    if not isinstance(config, dict):
        raise _fail("", f"{_describe(config)} is not a model config")
    unknown = set(config) - {
        "module",
        "class_name",
        "config",
        "registered_name",
        "build_config",
        "compile_config",
    }
    if unknown:
        raise _fail("", f"unknown keys {_describe(sorted(map(str, unknown)))} in the model config")
    class_name = config.get("class_name")
    if type(class_name) is not str or class_name not in ALLOWED_MODELS:
        raise _fail(
            "class_name",
            f"{_describe(class_name)} is not an allowed model class: the contract asks for a "
            "keras.Sequential",
        )
    if config.get("module") not in _MODEL_MODULES:
        raise _fail("module", f"{_describe(config.get('module'))} is not Keras's model module")
    if config.get("registered_name") is not None:
        raise _fail("registered_name", "registered (custom) model classes are not allowed")
    if not isinstance(config.get("compile_config") or {}, dict):
        raise _fail("compile_config", "is not a config")  # dropped unread: never compiled
    inner = config.get("config")
    if not isinstance(inner, dict):
        raise _fail("config", f"{_describe(inner)} is not a config")
    unknown = set(inner) - {"name", "trainable", "dtype", "layers", "build_input_shape"}
    if unknown:
        raise _fail(
            "config", f"unknown keys {_describe(sorted(map(str, unknown)))} in a Sequential config"
        )
    name = _name(inner["name"], "config.name") if "name" in inner else None
    trainable = _boolean(inner.get("trainable", True), "config.trainable")
    vet_dtype_policy(inner.get("dtype"), "config.dtype")
    layers = inner.get("layers")
    if type(layers) is not list or not layers:
        raise _fail("config.layers", f"{_describe(layers)} is not a non-empty list of layers")
    if len(layers) > MAX_LAYERS:
        raise _fail("config.layers", f"{len(layers)} layers are more than {MAX_LAYERS}")
    plans = [_vet_layer(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    build_shape = inner.get("build_input_shape")
    if build_shape is None and isinstance(config.get("build_config"), dict):
        build_shape = config["build_config"].get("input_shape")
    if config.get("build_config") is not None and (
        not isinstance(config["build_config"], dict)
        or set(config["build_config"]) - {"input_shape"}
    ):
        raise _fail("build_config", f"{_describe(config['build_config'])} is not a build config")
    if build_shape is not None:
        build_shape = _shape(build_shape, "config.build_input_shape")
    for index, layer in enumerate(plans[1:], 1):
        if layer.class_name == "InputLayer":
            raise _fail(f"layers[{index}]", "an input layer can only come first")
    input_layer = None
    if plans[0].class_name == "InputLayer":
        input_layer = plans.pop(0).arguments
        if "batch_shape" not in input_layer:
            raise _fail("layers[0].config", "the input layer has no batch_shape")
        shape = input_layer["batch_shape"]
    elif build_shape is not None:
        shape = build_shape
    else:
        raise _fail("config.layers", "the model has no input shape (no input layer, not built)")
    plan = ModelPlan(name, trainable, shape, input_layer, plans)
    width = shape[1]
    for layer in plans:
        count, width = _parameters(layer, width)
        plan.parameters += count
    if plan.parameters > MAX_PARAMETERS:
        raise _fail(
            "config.layers", f"{plan.parameters} weights are more than the {MAX_PARAMETERS} allowed"
        )
    return plan


# -- building -----------------------------------------------------------------------------


def _activation_function(activation: Activation) -> Any:
    import keras

    module = keras.activations if activation.source == "activations" else keras.ops
    return getattr(module, activation.name)


def _initializer_object(initializer: Initializer) -> Any:
    import keras

    return getattr(keras.initializers, initializer.class_name)(**dict(initializer.arguments))


def _constructed(value: Any) -> Any:
    if isinstance(value, Activation):
        return _activation_function(value)
    if isinstance(value, Initializer):
        return _initializer_object(value)
    return value


def build_model(plan: ModelPlan) -> Any:
    """Construct a vetted model with explicit Keras constructors.

    Args:
        plan: the output of :func:`vet_model_config`.

    Returns:
        the built ``keras.Sequential`` (fresh weights; set them afterwards).
    """
    import keras

    layers: list[Any] = []
    if plan.input_layer is not None:
        layers.append(keras.layers.InputLayer(**plan.input_layer))
    for layer in plan.layers:
        cls = getattr(keras.layers, layer.class_name)
        layers.append(cls(**{k: _constructed(v) for k, v in layer.arguments.items()}))
    # Every weight is set from the received data right after (rebuild_model), so the
    # layers are built with zeros and get their initializers back afterwards: drawing
    # weights only to overwrite them (an orthogonal kernel's QR, say) was about half of a
    # rebuild's time. The initializers' seeds are fixed when they are constructed, so
    # skipping their calls changes no random state.
    initializers = _swap_initializers(layers, keras.initializers.Zeros())
    try:
        model = keras.Sequential(layers, trainable=plan.trainable, name=plan.name)
        if not model.built:
            model.build(tuple(plan.input_shape))
    finally:
        for layer, name, initializer in initializers:
            setattr(layer, name, initializer)
    return model


def _swap_initializers(layers: list[Any], replacement: Any) -> list[tuple[Any, str, Any]]:
    """Put ``replacement`` in every ``*_initializer`` attribute; return what was there."""
    import keras

    swapped = []
    for layer in layers:
        for name, value in list(vars(layer).items()):
            if name.endswith("_initializer") and isinstance(value, keras.initializers.Initializer):
                swapped.append((layer, name, value))
                setattr(layer, name, replacement)
    return swapped


#: Float dtypes whose weights a plain stack takes as Keras's ``set_weights`` would (cast
#: to float32); any other dtype goes through Keras, which decides.
_STACK_WEIGHT_DTYPES = ("float32", "float64")


def plain_dense_stack(
    plan: ModelPlan, weights: list[Any]
) -> tuple[list[Any], list[Any], list[Any]] | None:
    """A model that is only float32 Dense layers, read from plain data without Keras.

    Building the Keras model costs about 0.2 s for the contract's 31 layers (a layer object
    and two variables per layer), most of a check's time in the grader; measuring needs
    only the weights and the activations. This reads them from the vetted config exactly as
    :func:`rebuild_model` followed by :func:`grader.measuring.measure.dense_stack` would: the same
    allow-list, the same activation functions, the weights cast to float32 as
    ``set_weights`` casts them. Anything else (other layers, dtypes, weights that do not
    fit) returns None, and the caller rebuilds the model with Keras, which gives the
    figure or the error message as before.

    Args:
        plan: the vetted config (:func:`vetted_plan`).
        weights: the received weights, in ``get_weights`` order.

    Returns:
        ``(kernels, biases, activations)`` per Dense layer (a bias None when the layer has
        none), or None.
    """
    import keras

    global_policy = keras.config.dtype_policy().name
    shape = plan.input_shape
    if not shape or type(shape[-1]) is not int or not plan.layers:
        return None
    kernels: list[Any] = []
    biases: list[Any] = []
    activations: list[Any] = []
    remaining = iter(weights)
    fan_in = shape[-1]
    for layer in plan.layers:
        arguments = layer.arguments
        if layer.class_name != "Dense" or (arguments.get("dtype") or global_policy) != "float32":
            return None
        units = arguments["units"]
        wanted = [(fan_in, units)] + ([(units,)] if arguments.get("use_bias", True) else [])
        arrays = []
        for shape_wanted in wanted:
            array = next(remaining, None)
            if (
                not isinstance(array, np.ndarray)
                or array.dtype.name not in _STACK_WEIGHT_DTYPES
                or array.shape != shape_wanted
            ):
                return None
            arrays.append(np.asarray(array, dtype=np.float32))
        kernels.append(arrays[0])
        biases.append(arrays[1] if len(arrays) > 1 else None)
        activation = arguments.get("activation")
        activations.append(
            _activation_function(activation)
            if isinstance(activation, Activation)
            else keras.activations.get(None)
        )
        fan_in = units
    if next(remaining, None) is not None:
        return None
    return kernels, biases, activations


def vetted_plan(spec: ModelSpec) -> ModelPlan:
    """The vetted plan of a received model's config (:func:`vet_model_config`).

    Raises:
        ModelRebuildError: when the config is not JSON or holds anything outside the
            allow-list (the message names where).
    """
    try:
        config = json.loads(spec.config)
    except (ValueError, RecursionError, TypeError) as error:
        raise ModelRebuildError(
            f"the model's config is not JSON ({type(error).__name__})"
        ) from None
    return vet_model_config(config)


def model_from_plan(plan: ModelPlan, weights: list[Any]) -> Any:
    """Build a vetted plan with Keras and set the received weights.

    Raises:
        ModelRebuildError: when Keras refuses the vetted config, or the weights do not
            fit it.
    """
    try:
        model = build_model(plan)
    except Exception as error:  # noqa: BLE001 - a vetted config Keras still refuses
        raise ModelRebuildError(
            f"the model could not be built from its config ({type(error).__name__}: "
            f"{str(error)[:300]})"
        ) from None
    try:
        model.set_weights(weights)
    except Exception as error:  # noqa: BLE001
        raise ModelRebuildError(f"the weights do not fit the model ({str(error)[:300]})") from None
    return model


def rebuild_model(spec: ModelSpec) -> Any:
    """Rebuild a Keras model from plain data, from allowed built-in parts only.

    Args:
        spec: the model's config and weights.

    Returns:
        the rebuilt keras.Sequential with the weights set.

    Raises:
        ModelRebuildError: when the config holds anything outside the allow-list (the
            message names where), or the weights do not fit it.
    """
    return model_from_plan(vetted_plan(spec), spec.weights)


def describe_model(model: Any) -> ModelSpec:
    """Return a Keras model as plain data.

    Args:
        model: a built Keras model.

    Returns:
        ModelSpec with the model's JSON config and weights.
    """
    import numpy as np

    return ModelSpec(model.to_json(), [np.asarray(w) for w in model.get_weights()])


def rebuild_keras_object(config: Any) -> Any:
    """Rebuild a serialised activation or initializer from the allow-list.

    Args:
        config: what ``keras.saving.serialize_keras_object`` wrote for a built-in
            initializer or activation.

    Returns:
        the initializer object or the activation function.

    Raises:
        ModelRebuildError: for anything that is not an allowed activation or initializer.
    """
    if isinstance(config, dict) and config.get("class_name") == "function":
        return _activation_function(vet_activation(config, "the object"))
    if isinstance(config, dict) and config.get("module") in _INITIALIZER_MODULES:
        return _initializer_object(vet_initializer(config, "the object"))
    if type(config) is str and config in ALLOWED_INITIALIZERS:
        return _initializer_object(vet_initializer(config, "the object"))
    if type(config) is str:
        return _activation_function(vet_activation(config, "the object"))
    raise ModelRebuildError(f"{_describe(config)} is not an allowed activation or initializer")


#: The former name of :func:`rebuild_keras_object`, kept for its callers.
deserialize_safely = rebuild_keras_object


# -- optimizers ---------------------------------------------------------------------------

_POSITIVE = _number(0.0, low_open=True)
_OPTIMIZER_COMMON: dict[str, Validator] = {
    "name": _name,
    "learning_rate": _POSITIVE,
    "weight_decay": _optional(_number(0.0)),
    "clipnorm": _optional(_POSITIVE),
    "global_clipnorm": _optional(_POSITIVE),
    "clipvalue": _optional(_POSITIVE),
    "use_ema": _boolean,
    "ema_momentum": _number(0.0, 1.0),
    "ema_overwrite_frequency": _optional(_integer(1, 2**31)),
    "loss_scale_factor": _optional(_POSITIVE),
    "gradient_accumulation_steps": _optional(_integer(1, 2**31)),
}
#: The optimizer classes rebuilt, and their own config keys: SGD is the contract's; Adam
#: and RMSprop are the two others a course on training deep networks shows.
OPTIMIZER_KEYS: dict[str, dict[str, Validator]] = {
    "SGD": {"momentum": _number(0.0, 1.0), "nesterov": _boolean},
    "Adam": {
        "beta_1": _number(0.0, 1.0),
        "beta_2": _number(0.0, 1.0),
        "epsilon": _POSITIVE,
        "amsgrad": _boolean,
    },
    "RMSprop": {
        "rho": _number(0.0, 1.0),
        "momentum": _number(0.0, 1.0),
        "epsilon": _POSITIVE,
        "centered": _boolean,
    },
}
ALLOWED_OPTIMIZERS = tuple(OPTIMIZER_KEYS)


def vet_optimizer_config(class_name: Any, config: Any) -> dict[str, Any]:
    """Check an optimizer's class and config against the allow-list; call nothing.

    Returns:
        the keyword arguments of the class's constructor.

    Raises:
        ModelRebuildError: for another class, an unknown key or a value that is not plain.
    """
    if type(class_name) is not str or class_name not in OPTIMIZER_KEYS:
        raise _fail(
            "class_name",
            f"{_describe(class_name)} is not an allowed optimizer ({', '.join(ALLOWED_OPTIMIZERS)})",
        )
    if not isinstance(config, dict):
        raise _fail("config", f"{_describe(config)} is not a config")
    keys = {**_OPTIMIZER_COMMON, **OPTIMIZER_KEYS[class_name]}
    return _vet_keys(config, keys, "config", class_name)


def describe_optimizer(optimizer: Any) -> OptimizerSpec:
    """Return a Keras optimizer as plain data (class name and config)."""
    config = {}
    for key, value in optimizer.get_config().items():
        if value is None or type(value) in (bool, int, float, str):
            config[key] = value
        else:
            config[key] = float(value) if hasattr(value, "__float__") else repr(value)
    return OptimizerSpec(type(optimizer).__name__, config)


def rebuild_optimizer(spec: OptimizerSpec) -> Any:
    """Rebuild a Keras optimizer of an allowed built-in class from its config.

    Args:
        spec: the optimizer's class name and config.

    Returns:
        a new optimizer of that class.

    Raises:
        ModelRebuildError: for a class or a config outside the allow-list.
    """
    import keras

    arguments = vet_optimizer_config(spec.class_name, spec.config)
    return getattr(keras.optimizers, spec.class_name)(**arguments)
