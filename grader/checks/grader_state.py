"""The grading process's own global state: the same after each test as before it.

The grader measures models in its own process (:mod:`grader.measuring.measure`), one student after
another in a batch. Whatever a measurement could set globally would change every later
measurement: Keras's settings (``floatx``, ``epsilon``, the image data format, the global
dtype policy, the backend), Keras's global distribution and the rest of its global state
(safe mode, custom objects), TensorFlow's settings (``run_functions_eagerly``, op
determinism, JIT, TF32, device placement), NumPy's error and print settings, environment
variables, the working directory. :func:`run_keeping_state` takes a fingerprint of all of
these before a test and after it; when they differ, it puts them back and the test scores
nothing, with a message. :mod:`grader.measuring.vetting` already keeps a student's model config
from naming anything that could change them: this is the second line.

Random state is different: rebuilding a model draws fresh weights (overwritten at once)
and a layer without a seed takes one from Python's generator, so a measurement changes
random state as a matter of course. It is not compared but restored after every test:
Python's, NumPy's, TensorFlow's global seed and generator, and Keras's global seed and
seed generator. So every test starts from the same random state, and a student's grades
do not depend on who was graded before them.

Keras's name counters (``object_name_uids``: each new layer takes the next free name)
change with every model built and change nothing measured; they are left out.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader.quiet import quiet_environment
from grader.results import TestResult

#: Keras global-state attributes left out of the fingerprint: name counters change with
#: every layer built and harmlessly; the random ones are restored instead of compared;
#: the call context and name-scope stack are per-call scratch space, empty between calls.
_KERAS_EXCLUDED = {
    "object_name_uids",
    "global_random_seed",
    "global_seed_generator",
    "current_call_ctx",
    "name_scope_stack",
}
_KERAS_RANDOM = ("global_random_seed", "global_seed_generator")
_KERAS_GLOBAL = "keras global state "


def _plain(value: Any, depth: int = 0) -> str:
    """A stable text for a setting's value: objects by type and repr, containers inside."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if depth < 4 and isinstance(value, (list, tuple)):
        return "[" + ", ".join(_plain(v, depth + 1) for v in value) + "]"
    if depth < 4 and isinstance(value, dict):
        items = sorted((str(k), _plain(v, depth + 1)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    text = repr(value)
    if " at 0x" in text:  # an object without a repr of its own: tell objects apart by id
        text = f"{type(value).__qualname__}#{id(value):x}"
    return f"{type(value).__qualname__}({text[:200]})"


def _try(read: Callable[[], Any]) -> str:
    try:
        return _plain(read())
    except Exception as error:  # noqa: BLE001 - a getter a version lacks
        return f"unreadable: {type(error).__name__}"


def _keras_settings() -> dict[str, str]:
    if "keras" not in sys.modules:
        return {}
    # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
    import keras
    from keras.src.backend.common import global_state

    settings = {}
    getters = [
        "backend",
        "floatx",
        "epsilon",
        "image_data_format",
        "dtype_policy",  # read first: the getter makes the default policy on first use
        "is_interactive_logging_enabled",
        "is_traceback_filtering_enabled",
        "is_flash_attention_enabled",
        "is_nnx_enabled",
        "max_epochs",
        "max_steps_per_epoch",
    ]
    for name in getters:
        getter = getattr(keras.config, name, None)
        if getter is not None:
            settings[f"keras.config.{name}"] = _try(getter)
    settings["keras.distribution.distribution"] = _try(keras.distribution.distribution)
    settings["keras.saving.get_custom_objects"] = _try(
        lambda: sorted(keras.saving.get_custom_objects())
    )
    # Settings Keras keeps as global attributes with no getter, unset (None) by default.
    for key in ("safe_mode_saving", "use_legacy_config"):
        settings[_KERAS_GLOBAL + key] = _plain(global_state.get_global_attribute(key))
    # Every other attribute, compared when both sides have it: Keras makes some on first
    # use with their defaults (tracking_on, custom_objects_scope_dict).
    for key, value in vars(global_state.GLOBAL_STATE_TRACKER).items():
        if key not in _KERAS_EXCLUDED:
            settings[_KERAS_GLOBAL + key] = _plain(value)
    return settings


def _tensorflow_settings() -> dict[str, str]:
    if "tensorflow" not in sys.modules:
        return {}
    tf = sys.modules["tensorflow"]
    # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
    from tensorflow.python.framework import config as tf_config
    from tensorflow.python.framework import ops

    readers = {
        "tf.config.functions_run_eagerly": tf.config.functions_run_eagerly,
        "tf.executing_eagerly": tf.executing_eagerly,
        "tf.config.experimental.tensor_float_32_execution_enabled": (
            tf.config.experimental.tensor_float_32_execution_enabled
        ),
        "op determinism": tf_config.is_op_determinism_enabled,
        "tf.config.optimizer.get_jit": tf.config.optimizer.get_jit,
        "tf.config.optimizer.get_experimental_options": (
            tf.config.optimizer.get_experimental_options
        ),
        "tf.config.get_soft_device_placement": tf.config.get_soft_device_placement,
        "device policy": tf_config.get_device_policy,
        "synchronous execution": tf_config.get_synchronous_execution,
        "numpy-style type promotion": ops.is_numpy_style_type_promotion,
        "auto dtype conversion": ops.is_auto_dtype_conversion_enabled,
        "the default graph": lambda: id(ops.get_default_graph()),
    }
    return {name: _try(read) for name, read in readers.items()}


def _environment() -> dict[str, str]:
    quiet = quiet_environment()
    # The grader sets these itself when it first imports TensorFlow (grader.quiet).
    return {f"environment variable {k}": v for k, v in os.environ.items() if quiet.get(k) != v}


def settings() -> dict[str, str]:
    """The fingerprint of everything a measurement must leave as it found it.

    Returns:
        setting name -> a stable text of its value. Settings of a library not imported
        yet are absent.
    """
    return {
        **_keras_settings(),
        **_tensorflow_settings(),
        "numpy.geterr": _plain(np.geterr()),
        "numpy.get_printoptions": _try(np.get_printoptions),
        "the working directory": _try(os.getcwd),
        "sys.getrecursionlimit": _plain(sys.getrecursionlimit()),
        **_environment(),
    }


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The settings that differ, by name.

    An environment variable set on one side only counts; any other setting present on
    one side only does not: a library imported during the test, or a Keras global made on
    first use, brings settings that were not there before.
    """
    names = []
    for name in sorted(set(before) | set(after)):
        old, new = _value(before, name), _value(after, name)
        if old is not None and new is not None and old != new:
            names.append(name)
    return names


def _value(side: dict[str, str], name: str) -> str | None:
    """A setting's value on one side; None when that side cannot say."""
    if name in side:
        return side[name]
    if name.startswith("environment variable "):
        return "(unset)"
    return None


# -- saving and restoring -----------------------------------------------------------------


def _seed_generator_state(generator: Any) -> Any:
    try:
        return np.array(generator.state.numpy(), copy=True)
    except Exception:  # noqa: BLE001 - not a Keras SeedGenerator
        return None


@dataclass
class Snapshot:
    """What :func:`restore` puts back: the values themselves, not just fingerprints."""

    fingerprint: dict[str, str]
    environment: dict[str, str]
    python_random: Any
    numpy_random: Any
    keras_globals: dict[str, Any] | None
    keras_config: dict[str, Any] | None
    keras_custom_objects: tuple[dict[str, Any], dict[Any, str]] | None
    seed_generator_state: Any
    tf_seed: Any
    tf_generator: Any
    tf_generator_state: Any
    tf_eager_functions: bool | None
    numpy_errors: dict[str, str]
    numpy_print: dict[str, Any]
    working_directory: str
    recursion_limit: int


def capture() -> Snapshot:
    """Save the grader's global state (see the module docstring for what is in it)."""
    fingerprint = settings()
    keras_globals = keras_config = custom_objects = None
    generator_state = tf_seed = tf_generator = tf_generator_state = eager = None
    if "keras" in sys.modules:
        # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
        import keras
        from keras.src.backend.common import global_state
        from keras.src.saving import object_registration

        keras_globals = dict(vars(global_state.GLOBAL_STATE_TRACKER))
        custom_objects = (
            dict(object_registration.GLOBAL_CUSTOM_OBJECTS),
            dict(object_registration.GLOBAL_CUSTOM_NAMES),
        )
        keras_config = {
            "floatx": keras.config.floatx(),
            "epsilon": keras.config.epsilon(),
            "image_data_format": keras.config.image_data_format(),
        }
        generator = keras_globals.get("global_seed_generator")
        generator_state = _seed_generator_state(generator) if generator is not None else None
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
        from tensorflow.python.eager import context
        from tensorflow.python.ops import stateful_random_ops

        state = context.context()
        rng = getattr(state, "_rng", None)
        tf_seed = (getattr(state, "_seed", None), rng.getstate() if rng is not None else None)
        tf_generator = stateful_random_ops.global_generator
        if tf_generator is not None:
            tf_generator_state = np.array(tf_generator.state.numpy(), copy=True)
        eager = tf.config.functions_run_eagerly()
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    return Snapshot(
        fingerprint=fingerprint,
        environment=dict(os.environ),
        python_random=random.getstate(),
        numpy_random=np.random.get_state(),
        keras_globals=keras_globals,
        keras_config=keras_config,
        keras_custom_objects=custom_objects,
        seed_generator_state=generator_state,
        tf_seed=tf_seed,
        tf_generator=tf_generator,
        tf_generator_state=tf_generator_state,
        tf_eager_functions=eager,
        numpy_errors=np.geterr(),
        numpy_print=np.get_printoptions(),
        working_directory=cwd,
        recursion_limit=sys.getrecursionlimit(),
    )


def restore_random_state(snapshot: Snapshot) -> None:
    """Put back Python's, NumPy's, TensorFlow's and Keras's random state."""
    random.setstate(snapshot.python_random)
    np.random.set_state(snapshot.numpy_random)
    if snapshot.keras_globals is not None and "keras" in sys.modules:
        # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
        from keras.src.backend.common import global_state

        for key in _KERAS_RANDOM:
            global_state.set_global_attribute(key, snapshot.keras_globals.get(key))
        generator = snapshot.keras_globals.get("global_seed_generator")
        if generator is not None and snapshot.seed_generator_state is not None:
            generator.state.assign(snapshot.seed_generator_state)
    if snapshot.tf_seed is not None and "tensorflow" in sys.modules:
        # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
        from tensorflow.python.eager import context
        from tensorflow.python.ops import stateful_random_ops

        seed, rng_state = snapshot.tf_seed
        state = context.context()
        rng = getattr(state, "_rng", None)
        if (getattr(state, "_seed", None), rng.getstate() if rng else None) != snapshot.tf_seed:
            # tf.random.set_seed's own path, which also empties the kernel cache: a cached
            # random kernel would otherwise go on with its stream instead of repeating it.
            state._set_global_seed(0 if seed is None else seed)  # noqa: SLF001
            if seed is None:
                state._seed, state._rng = None, None  # noqa: SLF001
            else:
                state._rng.setstate(rng_state)  # noqa: SLF001
        stateful_random_ops.global_generator = snapshot.tf_generator
        if snapshot.tf_generator is not None and snapshot.tf_generator_state is not None:
            snapshot.tf_generator.state.assign(snapshot.tf_generator_state)


def restore(snapshot: Snapshot) -> None:
    """Put back every setting of the fingerprint that can be set, and the random state."""
    if os.environ != snapshot.environment:
        for key in [k for k in os.environ if k not in snapshot.environment]:
            del os.environ[key]
        os.environ.update(snapshot.environment)
    if snapshot.keras_globals is not None and "keras" in sys.modules:
        # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
        import keras
        from keras.src.backend.common import global_state

        tracker = global_state.GLOBAL_STATE_TRACKER
        for key in [k for k in vars(tracker) if k not in snapshot.keras_globals]:
            if key not in _KERAS_EXCLUDED:
                delattr(tracker, key)
        for key, value in snapshot.keras_globals.items():
            if key not in _KERAS_EXCLUDED:
                setattr(tracker, key, value)
        if snapshot.keras_custom_objects is not None:
            # lazy: TensorFlow and Keras load only in a process that grades a part which needs them
            from keras.src.saving import object_registration

            for registry, saved in zip(
                (
                    object_registration.GLOBAL_CUSTOM_OBJECTS,
                    object_registration.GLOBAL_CUSTOM_NAMES,
                ),
                snapshot.keras_custom_objects,
            ):
                registry.clear()
                registry.update(saved)
        config = snapshot.keras_config or {}
        keras.config.set_floatx(config.get("floatx", "float32"))
        keras.config.set_epsilon(config.get("epsilon", 1e-7))
        keras.config.set_image_data_format(config.get("image_data_format", "channels_last"))
    if snapshot.tf_eager_functions is not None and "tensorflow" in sys.modules:
        sys.modules["tensorflow"].config.run_functions_eagerly(snapshot.tf_eager_functions)
    np.seterr(**snapshot.numpy_errors)
    np.set_printoptions(**snapshot.numpy_print)
    if snapshot.working_directory:
        try:
            os.chdir(snapshot.working_directory)
        except OSError:
            pass
    sys.setrecursionlimit(snapshot.recursion_limit)
    restore_random_state(snapshot)


def run_keeping_state(name: str, max_score: float, run: Callable[[], TestResult]) -> TestResult:
    """Run one test; fail it if it changed the grader's global state, which is put back.

    Args:
        name: the test's name, ``<part>.<function>``.
        max_score: its points.
        run: runs the test (e.g. ``lambda: run_check(...)``).

    Returns:
        the test's result; when a setting changed, a result of no points that says which.
        Either way the random state is as it was before the test.
    """
    before = capture()
    try:
        result = run()
    finally:
        after = settings()
        changed = changes(before.fingerprint, after)
        if changed:
            restore(before)
        else:
            restore_random_state(before)
    if not changed:
        return result
    shown = [c for c in changed if not c.startswith("environment variable ")]
    variables = len(changed) - len(shown)
    if variables:
        shown.append(f"{variables} environment variable{'s' * (variables != 1)}")
    verdict = (
        "Not graded: measuring this function's results changed the grading process's own "
        "settings, so the measurements cannot be trusted. The settings were put back for "
        "the other tests.\n"
        "Expected: the grader's settings left as they were\n"
        f"Received: a change to {', '.join(shown)}\n"
        "Hint: build models from keras.layers with built-in activations and initializers, "
        "and change no global settings (keras.config, keras.distribution, random seeds, "
        "environment variables) in the code the grader measures."
    )
    return TestResult(name, max_score, verdict=verdict, notes=list(result.notes))
