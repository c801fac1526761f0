"""A Keras optimizer received as plain data, rebuilt from an allow-list.

An optimizer crosses the process boundary as its class name and config
(:class:`~grader.isolation.protocol.OptimizerSpec`, written by :func:`describe_optimizer`).
Like a model's config (:mod:`grader.measuring.vetting` says why), it is hostile data and
never reaches Keras's deserialiser: :func:`rebuild_optimizer` accepts a class of
:data:`ALLOWED_OPTIMIZERS`, known config keys and plain values only, and calls that class's
constructor itself.
"""

from __future__ import annotations

from typing import Any

from grader.isolation.protocol import OptimizerSpec
from grader.measuring import plain

_POSITIVE = plain.number(0.0, low_open=True)
_OPTIMIZER_COMMON: dict[str, plain.Validator] = {
    "name": plain.name,
    "learning_rate": _POSITIVE,
    "weight_decay": plain.optional(plain.number(0.0)),
    "clipnorm": plain.optional(_POSITIVE),
    "global_clipnorm": plain.optional(_POSITIVE),
    "clipvalue": plain.optional(_POSITIVE),
    "use_ema": plain.boolean,
    "ema_momentum": plain.number(0.0, 1.0),
    "ema_overwrite_frequency": plain.optional(plain.integer(1, 2**31)),
    "loss_scale_factor": plain.optional(_POSITIVE),
    "gradient_accumulation_steps": plain.optional(plain.integer(1, 2**31)),
}
#: The optimizer classes rebuilt, and their own config keys: SGD is the contract's; Adam
#: and RMSprop are the two others a course on training deep networks shows.
OPTIMIZER_KEYS: dict[str, dict[str, plain.Validator]] = {
    "SGD": {"momentum": plain.number(0.0, 1.0), "nesterov": plain.boolean},
    "Adam": {
        "beta_1": plain.number(0.0, 1.0),
        "beta_2": plain.number(0.0, 1.0),
        "epsilon": _POSITIVE,
        "amsgrad": plain.boolean,
    },
    "RMSprop": {
        "rho": plain.number(0.0, 1.0),
        "momentum": plain.number(0.0, 1.0),
        "epsilon": _POSITIVE,
        "centered": plain.boolean,
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
        raise plain.refused(
            "class_name",
            f"{plain.describe(class_name)} is not an allowed optimizer "
            f"({', '.join(ALLOWED_OPTIMIZERS)})",
        )
    if not isinstance(config, dict):
        raise plain.refused("config", f"{plain.describe(config)} is not a config")
    keys = {**_OPTIMIZER_COMMON, **OPTIMIZER_KEYS[class_name]}
    return plain.vet_keys(config, keys, "config", class_name)


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
    import keras  # lazy: the NumPy-only worker loads this module and has no Keras

    arguments = vet_optimizer_config(spec.class_name, spec.config)
    return getattr(keras.optimizers, spec.class_name)(**arguments)
