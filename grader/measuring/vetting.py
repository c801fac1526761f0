"""A received model's config, vetted against an allow-list before anything is built.

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
   the element-wise ``keras.ops`` functions of :data:`SAFE_FUNCTION_NAMES` (and the grader's
   own, :mod:`grader.measuring.activations`), initializers
   of :data:`ALLOWED_INITIALIZERS`, dtype policies of :data:`ALLOWED_DTYPE_POLICIES`, no
   regularizer and no constraint. Every key of every accepted config must be known and
   its value plain (a number, a bool, None, a name from a list, a short list of numbers:
   :mod:`grader.measuring.plain`); anything else raises
   :class:`~grader.measuring.plain.ModelRebuildError` naming the offending place, e.g.
   ``layers[3].config.activation: keras.distribution.set_distribution is not an allowed
   activation``. Vetting is pure Python over dicts and lists: nothing is looked up or
   called. Sizes are bounded too (layers, units, parameters), so a config cannot make the
   grader allocate gigabytes before the weights are checked; within those outer bounds, a
   model is held to the size the call that returned it asked for
   (:class:`~grader.measuring.bounds.ContractSize`).
2. :func:`grader.measuring.rebuild.build_model` makes the model with explicit constructors
   (``keras.layers.Dense(units=..., activation=...)``) from the vetted values, each class
   and function taken from this module's tables. Keras's deserialiser is never called on
   the student's data, so no ``module``, ``class_name`` or ``registered_name`` the student
   wrote can select code; a Keras change in how names are resolved cannot open a hole.

The model's ``compile_config`` is dropped unread: the grader never compiles a student's
model (it measures with its own loss and optimizer), so nothing in it is deserialised.

Optimizers (:mod:`grader.measuring.optimizers`) follow the same rule: a class of an
allow-list, known config keys, plain values, an explicit constructor.

A model the grader refuses (a student's own activation function, a custom layer) is not
measured in the grader's process; the checks measure it elsewhere or say why not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grader.isolation.protocol import ModelSpec
from grader.measuring import activations, plain
from grader.measuring.bounds import ContractSize
from grader.measuring.plain import ModelRebuildError

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

_LAYER_MODULES = ("keras.layers",)
_MODEL_MODULES = ("keras", "keras.models")
_INITIALIZER_MODULES = ("keras.initializers",)
_FUNCTION_MODULES = ("builtins", "keras.activations", "keras.ops")
_POLICY_MODULES = ("keras", "keras.dtype_policies")


# -- shapes and axes ----------------------------------------------------------------------


def _axes(value: Any, path: str) -> list[int] | None:
    """``input_axes``/``output_axes`` of a variance-scaling initializer: None or -2/-1/0/1."""
    if value is None:
        return None
    if (
        type(value) is not list
        or not 0 < len(value) <= 2
        or any(type(a) is not int or not -2 <= a <= 1 for a in value)
    ):
        raise plain.refused(path, f"{plain.describe(value)} is not a list of kernel axes")
    return list(value)


def _feature_axis(value: Any, path: str) -> Any:
    """The feature axis of a normalisation layer on (batch, features) inputs: -1 or 1."""
    if type(value) is int and value in (-1, 1):
        return value
    if type(value) is list and len(value) == 1 and type(value[0]) is int and value[0] in (-1, 1):
        return list(value)
    raise plain.refused(path, f"{plain.describe(value)} is not the feature axis (-1 or 1, or [-1])")


def _dims(value: Any, path: str, what: str) -> list[int | None]:
    """A (batch, features) shape: ``[null or a size, a size]``."""
    if (
        type(value) not in (list, tuple)
        or len(value) != 2
        or not (value[0] is None or (type(value[0]) is int and 0 < value[0] <= 2**20))
        or type(value[1]) is not int
        or not 0 < value[1] <= MAX_UNITS
    ):
        raise plain.refused(
            path,
            f"{plain.describe(value)} is not {what} of the form [null, features] with at most "
            f"{MAX_UNITS} features",
        )
    return list(value)


def _shape(value: Any, path: str) -> list[int | None]:
    return _dims(value, path, "an input shape")


# -- named parts: activations, initializers, dtype policies ------------------------------


@dataclass(frozen=True)
class Activation:
    """A vetted activation: a built-in activation's name, a listed keras.ops function, or
    one of the grader's own (:mod:`grader.measuring.activations`)."""

    name: str
    #: ``"activations"`` (keras.activations), ``"ops"`` (keras.ops) or ``"grader"``
    #: (:mod:`grader.measuring.activations`)
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
    raise plain.refused(
        path,
        f"{plain.describe(name)} is not an allowed activation (built-in activations by name, or "
        "element-wise keras.ops functions such as keras.ops.sin)",
    )


def vet_activation(value: Any, path: str = "activation") -> Activation:
    """Accept an activation as Keras serialises it: a name, or a function record.

    Args:
        value: ``"relu"``, None (linear), ``{"module": "builtins", "class_name":
            "function", "config": "sin", "registered_name": "function"}``, or the same
            record of one of the grader's own functions, its module
            :data:`grader.measuring.activations.MODULE`.
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
        if (
            set(value) <= {"module", "class_name", "config", "registered_name"}
            and value.get("class_name") == "function"
            and value.get("module") == activations.MODULE
            and value.get("registered_name") in ("function", None)
            and type(value.get("config")) is str
            and value["config"] in activations.GRADER_ACTIVATIONS
        ):
            return Activation(value["config"], "grader")
        raise plain.refused(
            path,
            f"{plain.describe(value)} is not an allowed activation (built-in activations by name, "
            "or element-wise keras.ops functions such as keras.ops.sin)",
        )
    return _function_name(value, path)


_INITIALIZER_ARGUMENTS: dict[str, plain.Validator] = {
    "value": plain.number(),
    "mean": plain.number(),
    "stddev": plain.number(0.0),
    "minval": plain.number(),
    "maxval": plain.number(),
    "scale": plain.number(0.0, low_open=True),
    "mode": plain.choice("fan_in", "fan_out", "fan_avg"),
    "distribution": plain.choice("truncated_normal", "untruncated_normal", "uniform"),
    "gain": plain.number(),
    "seed": plain.seed,
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
        raise plain.refused(path, f"{plain.describe(value)} is not an allowed initializer")
    if not isinstance(value, dict):
        raise plain.refused(path, f"{plain.describe(value)} is not an allowed initializer")
    class_name = value.get("class_name")
    if (
        not set(value) <= {"module", "class_name", "config", "registered_name"}
        or value.get("module") not in _INITIALIZER_MODULES
        or value.get("registered_name") is not None
        or type(class_name) is not str
        or class_name not in _INITIALIZER_KEYS
    ):
        raise plain.refused(
            path,
            f"{plain.describe(value)} is not an allowed initializer (built-in keras.initializers "
            "classes only)",
        )
    config = value.get("config") or {}
    if not isinstance(config, dict):
        raise plain.refused(f"{path}.config", f"{plain.describe(config)} is not a config")
    known = _INITIALIZER_KEYS[class_name]
    arguments = []
    for key, item in config.items():
        if key not in known:
            raise plain.refused(f"{path}.config", f"{key!r} is not an argument of {class_name}")
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
            raise plain.refused(path, f"{plain.describe(value)} is not an allowed dtype policy")
        name = config["name"]
    if type(name) is not str or name not in ALLOWED_DTYPE_POLICIES:
        raise plain.refused(
            path,
            f"{plain.describe(name)} is not an allowed dtype policy "
            f"({', '.join(ALLOWED_DTYPE_POLICIES)})",
        )
    return name


def vet_keras_object(config: Any) -> Activation | Initializer:
    """Vet a serialised activation or initializer (a helper's argument, not a model).

    Args:
        config: what ``keras.saving.serialize_keras_object`` wrote for a built-in
            initializer or activation.

    Returns:
        the vetted activation or initializer.

    Raises:
        ModelRebuildError: for anything that is not an allowed activation or initializer.
    """
    if isinstance(config, dict) and config.get("class_name") == "function":
        return vet_activation(config, "the object")
    if isinstance(config, dict) and config.get("module") in _INITIALIZER_MODULES:
        return vet_initializer(config, "the object")
    if type(config) is str and config in ALLOWED_INITIALIZERS:
        return vet_initializer(config, "the object")
    if type(config) is str:
        return vet_activation(config, "the object")
    raise ModelRebuildError(f"{plain.describe(config)} is not an allowed activation or initializer")


# -- layers -------------------------------------------------------------------------------

_REGULARIZERS_AND_CONSTRAINTS = {
    f"{w}_{kind}": plain.nothing
    for w in ("beta", "gamma")
    for kind in ("regularizer", "constraint")
}

#: Per layer class: its config keys and how each is vetted. Every key a layer's config
#: holds must be listed; a missing key takes the constructor's default.
LAYER_KEYS: dict[str, dict[str, plain.Validator]] = {
    "Dense": {
        "units": plain.integer(1, MAX_UNITS),
        "activation": vet_activation,
        "use_bias": plain.boolean,
        "kernel_initializer": vet_initializer,
        "bias_initializer": vet_initializer,
        "kernel_regularizer": plain.nothing,
        "bias_regularizer": plain.nothing,
        "kernel_constraint": plain.nothing,
        "bias_constraint": plain.nothing,
        "quantization_config": plain.nothing,
        "lora_rank": plain.nothing,
        "lora_alpha": plain.nothing,
    },
    "Activation": {"activation": vet_activation},
    "ReLU": {
        "max_value": plain.optional(plain.number(0.0)),
        "negative_slope": plain.number(0.0),
        "threshold": plain.number(),
    },
    "LeakyReLU": {"negative_slope": plain.number(0.0)},
    "ELU": {"alpha": plain.number()},
    "LayerNormalization": {
        "axis": _feature_axis,
        "epsilon": plain.number(0.0, low_open=True),
        "center": plain.boolean,
        "scale": plain.boolean,
        "rms_scaling": plain.boolean,
        "beta_initializer": vet_initializer,
        "gamma_initializer": vet_initializer,
        **_REGULARIZERS_AND_CONSTRAINTS,
    },
    "BatchNormalization": {
        "axis": _feature_axis,
        "momentum": plain.number(0.0, 1.0),
        "epsilon": plain.number(0.0, low_open=True),
        "center": plain.boolean,
        "scale": plain.boolean,
        "beta_initializer": vet_initializer,
        "gamma_initializer": vet_initializer,
        "moving_mean_initializer": vet_initializer,
        "moving_variance_initializer": vet_initializer,
        **_REGULARIZERS_AND_CONSTRAINTS,
        "synchronized": plain.false,
        "renorm": plain.false,
        "renorm_clipping": plain.nothing,
        "renorm_momentum": plain.number(0.0, 1.0),
    },
    "UnitNormalization": {"axis": _feature_axis},
    "RMSNormalization": {"axis": _feature_axis, "epsilon": plain.number(0.0, low_open=True)},
    "Dropout": {"rate": plain.number(0.0, 1.0), "seed": plain.seed, "noise_shape": plain.nothing},
    "GaussianNoise": {"stddev": plain.number(0.0), "seed": plain.seed},
}
#: Keys every layer's config has besides its own.
_COMMON_LAYER_KEYS: dict[str, plain.Validator] = {
    "name": plain.name,
    "trainable": plain.boolean,
    "dtype": vet_dtype_policy,
    "activity_regularizer": plain.nothing,
}
_INPUT_LAYER_KEYS: dict[str, plain.Validator] = {
    "batch_shape": _shape,
    "dtype": plain.choice(*ALLOWED_DTYPE_POLICIES[:4]),
    "sparse": plain.false,
    "ragged": plain.false,
    "optional": plain.false,
    "name": plain.name,
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
    """A vetted Sequential model: what :func:`grader.measuring.rebuild.build_model` constructs."""

    name: str | None
    trainable: bool
    input_shape: list[int | None]
    input_layer: dict[str, Any] | None
    layers: list[LayerPlan] = field(default_factory=list)
    parameters: int = 0


def _record(value: Any, path: str, modules: tuple[str, ...], kind: str) -> tuple[str, dict]:
    """The class name and config of a ``{"module", "class_name", "config", ...}`` record."""
    if not isinstance(value, dict):
        raise plain.refused(path, f"{plain.describe(value)} is not a {kind} record")
    unknown = set(value) - {"module", "class_name", "config", "registered_name", "build_config"}
    if unknown:
        raise plain.refused(
            path, f"unknown keys {plain.describe(sorted(map(str, unknown)))} in a {kind} record"
        )
    if value.get("module") not in modules:
        raise plain.refused(
            f"{path}.module", f"{plain.describe(value.get('module'))} is not a Keras {kind} module"
        )
    if value.get("registered_name") is not None:
        raise plain.refused(
            f"{path}.registered_name",
            f"{plain.describe(value.get('registered_name'))}: registered (custom) objects are "
            "not allowed",
        )
    config = value.get("config")
    if not isinstance(config, dict):
        raise plain.refused(f"{path}.config", f"{plain.describe(config)} is not a config")
    return value.get("class_name"), config


def _vet_layer(value: Any, path: str) -> LayerPlan:
    class_name, config = _record(value, path, _LAYER_MODULES, "layer")
    if type(class_name) is not str or class_name not in ALLOWED_LAYERS:
        raise plain.refused(
            f"{path}.class_name",
            f"{plain.describe(class_name)} is not an allowed layer ({', '.join(ALLOWED_LAYERS)})",
        )
    build_config = value.get("build_config")
    if build_config is not None:  # read by nothing: the model is built from its input
        if not isinstance(build_config, dict) or set(build_config) - {"input_shape"}:
            raise plain.refused(
                f"{path}.build_config", f"{plain.describe(build_config)} is not a build config"
            )
        _dims(build_config.get("input_shape"), f"{path}.build_config.input_shape", "a shape")
    if class_name == "InputLayer":
        keys = _INPUT_LAYER_KEYS
    else:
        keys = {**_COMMON_LAYER_KEYS, **LAYER_KEYS[class_name]}
    return LayerPlan(class_name, plain.vet_keys(config, keys, f"{path}.config", class_name))


def _parameters(layer: LayerPlan, width: int) -> tuple[int, int]:
    """How many numbers a layer holds on inputs of ``width`` features, and its output width."""
    arguments = layer.arguments
    if layer.class_name == "Dense":
        units = arguments["units"]
        return width * units + (units if arguments.get("use_bias", True) else 0), units
    if layer.class_name in ("LayerNormalization", "BatchNormalization", "RMSNormalization"):
        return 4 * width, width
    return 0, width


def _is_input_layer(layer: Any) -> bool:
    return isinstance(layer, dict) and layer.get("class_name") == "InputLayer"


def vet_model_config(config: Any, size: ContractSize | None = None) -> ModelPlan:
    """Check a model's parsed JSON config against the allow-list; call nothing.

    Args:
        config: the parsed output of ``model.to_json()``.
        size: the size the call that returned the model asked for, or None. A model over
            its bound is refused as such, before the allow-list's own size limits.

    Returns:
        the plain plan :func:`grader.measuring.rebuild.build_model` constructs.

    Raises:
        ModelRebuildError: naming the first place in the config that is not allowed.
        grader.measuring.bounds.ModelTooLarge: when the model is larger than ``size``
            allows.
    """
    if not isinstance(config, dict):
        raise plain.refused("", f"{plain.describe(config)} is not a model config")
    unknown = set(config) - {
        "module",
        "class_name",
        "config",
        "registered_name",
        "build_config",
        "compile_config",
    }
    if unknown:
        raise plain.refused(
            "", f"unknown keys {plain.describe(sorted(map(str, unknown)))} in the model config"
        )
    class_name = config.get("class_name")
    if type(class_name) is not str or class_name not in ALLOWED_MODELS:
        raise plain.refused(
            "class_name",
            f"{plain.describe(class_name)} is not an allowed model class: the contract asks for a "
            "keras.Sequential",
        )
    if config.get("module") not in _MODEL_MODULES:
        raise plain.refused(
            "module", f"{plain.describe(config.get('module'))} is not Keras's model module"
        )
    if config.get("registered_name") is not None:
        raise plain.refused("registered_name", "registered (custom) model classes are not allowed")
    if not isinstance(config.get("compile_config") or {}, dict):
        raise plain.refused("compile_config", "is not a config")  # dropped unread: never compiled
    inner = config.get("config")
    if not isinstance(inner, dict):
        raise plain.refused("config", f"{plain.describe(inner)} is not a config")
    unknown = set(inner) - {"name", "trainable", "dtype", "layers", "build_input_shape"}
    if unknown:
        raise plain.refused(
            "config",
            f"unknown keys {plain.describe(sorted(map(str, unknown)))} in a Sequential config",
        )
    name = plain.name(inner["name"], "config.name") if "name" in inner else None
    trainable = plain.boolean(inner.get("trainable", True), "config.trainable")
    vet_dtype_policy(inner.get("dtype"), "config.dtype")
    layers = inner.get("layers")
    if type(layers) is not list or not layers:
        raise plain.refused(
            "config.layers", f"{plain.describe(layers)} is not a non-empty list of layers"
        )
    if len(layers) > MAX_LAYERS:  # refused before the walk, as the call's bound says if it does
        counted = sum(not _is_input_layer(layer) for layer in layers)
        refusal = None if size is None else size.excess(None, counted)
        raise refusal or plain.refused(
            "config.layers", f"{len(layers)} layers are more than {MAX_LAYERS}"
        )
    plans = [_vet_layer(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    build_shape = inner.get("build_input_shape")
    if build_shape is None and isinstance(config.get("build_config"), dict):
        build_shape = config["build_config"].get("input_shape")
    if config.get("build_config") is not None and (
        not isinstance(config["build_config"], dict)
        or set(config["build_config"]) - {"input_shape"}
    ):
        raise plain.refused(
            "build_config", f"{plain.describe(config['build_config'])} is not a build config"
        )
    if build_shape is not None:
        build_shape = _shape(build_shape, "config.build_input_shape")
    for index, layer in enumerate(plans[1:], 1):
        if layer.class_name == "InputLayer":
            raise plain.refused(f"layers[{index}]", "an input layer can only come first")
    input_layer = None
    if plans[0].class_name == "InputLayer":
        input_layer = plans.pop(0).arguments
        if "batch_shape" not in input_layer:
            raise plain.refused("layers[0].config", "the input layer has no batch_shape")
        shape = input_layer["batch_shape"]
    elif build_shape is not None:
        shape = build_shape
    else:
        raise plain.refused(
            "config.layers", "the model has no input shape (no input layer, not built)"
        )
    plan = ModelPlan(name, trainable, shape, input_layer, plans)
    width = shape[1]
    for layer in plans:
        count, width = _parameters(layer, width)
        plan.parameters += count
    if size is not None and (refusal := size.excess(plan.parameters, len(plan.layers))):
        raise refusal
    if plan.parameters > MAX_PARAMETERS:
        raise plain.refused(
            "config.layers", f"{plan.parameters} weights are more than the {MAX_PARAMETERS} allowed"
        )
    return plan


def vetted_plan(spec: ModelSpec, size: ContractSize | None = None) -> ModelPlan:
    """The vetted plan of a received model's config (:func:`vet_model_config`).

    Args:
        spec: the received model.
        size: the size the call that returned it asked for; a model over its bound is
            refused here, before anything is built.

    Raises:
        ModelRebuildError: when the config is not JSON or holds anything outside the
            allow-list (the message names where).
        grader.measuring.bounds.ModelTooLarge: when the model is larger than ``size``
            allows.
    """
    try:
        config = json.loads(spec.config)
    except (ValueError, RecursionError, TypeError) as error:
        raise ModelRebuildError(
            f"the model's config is not JSON ({type(error).__name__})"
        ) from None
    return vet_model_config(config, size)
