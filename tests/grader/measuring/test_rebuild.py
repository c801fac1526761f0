"""Does the grader rebuild a student's model only from the allow-list, refuse everything
else before Keras sees it, and leave its own state as it was?"""

from __future__ import annotations

import copy
import importlib
import json

import numpy as np
import pytest

from grader.checks.grader_state import changes, settings
from grader.isolation.protocol import ModelSpec, OptimizerSpec
from grader.measuring.optimizers import describe_optimizer, rebuild_optimizer
from grader.measuring.plain import ModelRebuildError
from grader.measuring.rebuild import describe_model, rebuild_keras_object, rebuild_model
from grader.measuring.vetting import (
    ALLOWED_ACTIVATIONS,
    ALLOWED_INITIALIZERS,
    ALLOWED_LAYERS,
    SAFE_FUNCTION_NAMES,
    vet_model_config,
)

#: The forged activation of the hostile student in the batch test
#: (tests/grader/checks/test_grader_state.py): a registered Keras function with a global effect.
SET_DISTRIBUTION = {
    "module": "keras.distribution",
    "class_name": "function",
    "config": "set_distribution",
    "registered_name": "function",
}


def keras_module():
    import keras

    return keras


def small_model():
    """Input(4) -> Dense(3, tanh) -> Dense(1): the config the fuzz test edits."""
    keras = keras_module()
    init = keras.initializers.GlorotUniform
    return keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(3, activation="tanh", kernel_initializer=init(seed=1)),
            keras.layers.Dense(1, kernel_initializer=init(seed=2)),
        ]
    )


def every_part_model():
    """A model holding every allowed layer class and the forms Keras writes for them."""
    keras = keras_module()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(5,)),
            layers.Dense(
                6,
                activation=keras.ops.sin,
                kernel_initializer=keras.initializers.VarianceScaling(
                    3.0, mode="fan_avg", distribution="untruncated_normal", seed=4
                ),
                bias_initializer=keras.initializers.Constant(0.1),
            ),
            layers.LayerNormalization(),
            layers.Dense(6, kernel_initializer=keras.initializers.Orthogonal(gain=1.1, seed=5)),
            layers.BatchNormalization(),
            layers.Activation("tanh"),
            layers.ReLU(negative_slope=0.1),
            layers.LeakyReLU(),
            layers.ELU(),
            layers.Dense(6, activation="selu", kernel_initializer="lecun_normal"),
            layers.UnitNormalization(),
            layers.RMSNormalization(),
            layers.Dropout(0.2, seed=3),
            layers.GaussianNoise(0.1),
            layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.RandomNormal()),
        ]
    )


def built_without_input():
    keras = keras_module()
    model = keras.Sequential([keras.layers.Dense(3, activation="relu"), keras.layers.Dense(1)])
    model.build((None, 4))
    return model


def compiled_model():
    model = small_model()
    model.compile(optimizer="adam", loss="mse")
    return model


def reference_built(name):
    from solutions.deep_sigmoid import build_mlp
    from solutions.remedies import build_healthy_mlp

    keras = keras_module()
    return {
        "build_mlp": lambda: build_mlp(4, 3, 5, seed=3),
        "build_mlp he_normal relu": lambda: build_mlp(4, 2, 8, "relu", "he_normal", seed=1),
        "build_healthy_mlp": lambda: build_healthy_mlp(8, 20, 32, seed=2),
        "variance scaling object": lambda: build_mlp(
            4, 2, 3, "tanh", keras.initializers.VarianceScaling(scale=4.0), seed=0
        ),
    }[name]()


@pytest.mark.parametrize(
    "build",
    [
        every_part_model,
        built_without_input,
        compiled_model,
        *(
            (lambda name=name: reference_built(name))
            for name in (
                "build_mlp",
                "build_mlp he_normal relu",
                "build_healthy_mlp",
                "variance scaling object",
            )
        ),
    ],
    ids=[
        "every-allowed-layer",
        "built-without-input",
        "compiled",
        "build_mlp",
        "build_mlp-relu-he",
        "build_healthy_mlp",
        "variance-scaling-object",
    ],
)
def test_models_of_allowed_parts_rebuild_into_the_same_model(build):
    """Is a model of allowed parts rebuilt with Keras's own config and outputs (Keras's
    model is the reference), whatever route built it?"""
    model = build()
    spec = describe_model(model)
    rebuilt = rebuild_model(spec)
    original, again = json.loads(spec.config), json.loads(rebuilt.to_json())
    original.pop("compile_config", None)  # dropped unread: the grader never compiles
    again.pop("compile_config", None)
    assert again == original
    x = np.random.default_rng(0).standard_normal((7, model.input_shape[-1])).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(rebuilt(x)), np.asarray(model(x)))


def test_every_allowed_layer_class_is_a_keras_layer_used_in_the_round_trip():
    """Does the round-trip model hold every allowed layer class (so none is untested)?"""
    keras = keras_module()
    used = {type(layer).__name__ for layer in every_part_model().layers} | {"InputLayer"}
    assert used == set(ALLOWED_LAYERS)
    assert all(isinstance(getattr(keras.layers, name), type) for name in ALLOWED_LAYERS)


def with_dense(change):
    """The small model's config with its first Dense layer's entry changed."""
    config = json.loads(small_model().to_json())
    change(config, config["config"]["layers"][1])
    return config


def setter(key, value):
    return lambda model, dense: dense["config"].__setitem__(key, value)


REFUSED = [
    (
        "side-effect-activation",
        setter("activation", SET_DISTRIBUTION),
        "layers[1].config.activation: keras.distribution.set_distribution is not an allowed "
        "activation",
    ),
    (
        "side-effect-activation-by-name",
        setter("activation", "enable_unsafe_deserialization"),
        "layers[1].config.activation: 'enable_unsafe_deserialization' is not an allowed activation",
    ),
    (
        "initializer-outside-keras-initializers",
        setter(
            "kernel_initializer",
            {"module": "keras.utils", "class_name": "set_random_seed", "config": {}},
        ),
        "layers[1].config.kernel_initializer: keras.utils.set_random_seed is not an allowed "
        "initializer",
    ),
    (
        "initializer-unknown-argument",
        setter(
            "kernel_initializer",
            {
                "module": "keras.initializers",
                "class_name": "RandomNormal",
                "config": {"stddev": 1.0, "dtype": "float16"},
                "registered_name": None,
            },
        ),
        "layers[1].config.kernel_initializer.config: 'dtype' is not an argument of RandomNormal",
    ),
    (
        "regularizer",
        setter(
            "kernel_regularizer",
            {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": 0.1}},
        ),
        "layers[1].config.kernel_regularizer: keras.regularizers.L2 is not allowed",
    ),
    (
        "constraint",
        setter("bias_constraint", {"module": "keras.constraints", "class_name": "NonNeg"}),
        "layers[1].config.bias_constraint: keras.constraints.NonNeg is not allowed",
    ),
    (
        "lambda-layer",
        lambda model, dense: dense.__setitem__("class_name", "Lambda"),
        "layers[1].class_name: 'Lambda' is not an allowed layer",
    ),
    (
        "registered-custom-layer",
        lambda model, dense: dense.__setitem__("registered_name", "my_package>Dense"),
        "layers[1].registered_name: 'my_package>Dense': registered (custom) objects are not allowed",
    ),
    (
        "layer-from-another-module",
        lambda model, dense: dense.__setitem__("module", "keras.src.utils.python_utils"),
        "layers[1].module: 'keras.src.utils.python_utils' is not a Keras layer module",
    ),
    (
        "functional-model",
        lambda model, dense: model.__setitem__("class_name", "Functional"),
        "class_name: 'Functional' is not an allowed model class",
    ),
    (
        "unknown-key",
        setter("call_hook", "print"),
        "layers[1].config.call_hook: Dense has no setting 'call_hook'",
    ),
    (
        "non-plain-units",
        setter("units", {"class_name": "Sequential"}),
        "layers[1].config.units: Sequential is not a whole number from 1 to 4096",
    ),
    (
        "bool-as-number",
        setter("units", True),
        "layers[1].config.units: True is not a whole number",
    ),
    (
        "quantised-dtype-policy",
        setter(
            "dtype",
            {
                "module": "keras",
                "class_name": "QuantizedDTypePolicy",
                "config": {"name": "int8_from_float32"},
            },
        ),
        "layers[1].config.dtype: keras.QuantizedDTypePolicy is not an allowed dtype policy",
    ),
    (
        "huge-model",
        lambda model, dense: model["config"]["layers"].extend(
            [copy.deepcopy(dense) | {"config": {**dense["config"], "units": 4096}}] * 3
        ),
        "weights are more than the 20000000 allowed",
    ),
    (
        "input-layer-not-first",
        lambda model, dense: model["config"]["layers"].append(model["config"]["layers"][0]),
        "layers[3]: an input layer can only come first",
    ),
]


@pytest.mark.parametrize("change, text", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_anything_outside_the_allow_list_is_refused_naming_where(change, text):
    """Is each config outside the allow-list refused before anything is built, with a
    message that names the place in the config, and no setting of the grader changed?"""
    config = with_dense(change)
    before = settings()
    with pytest.raises(ModelRebuildError) as refused:
        vet_model_config(config)
    assert text in str(refused.value)
    assert str(refused.value).startswith(refused.value.path)
    spec = ModelSpec(json.dumps(config), small_model().get_weights())
    with pytest.raises(ModelRebuildError) as again:
        rebuild_model(spec)
    assert str(again.value) == str(refused.value)
    assert changes(before, settings()) == []


def test_wrong_weights_and_broken_json_are_refused():
    """Are weights that do not fit, and a config that is not JSON, refused as such?"""
    model = small_model()
    with pytest.raises(ModelRebuildError, match="the weights do not fit"):
        rebuild_model(ModelSpec(model.to_json(), model.get_weights()[:-1]))
    with pytest.raises(ModelRebuildError, match="not JSON"):
        rebuild_model(ModelSpec("[" * 100_000, []))


def test_keras_objects_rebuild_from_the_allow_list_only():
    """Are initializers and activations (helper arguments) rebuilt from the lists, and a
    side-effect function refused?"""
    keras = keras_module()
    serialize = keras.saving.serialize_keras_object
    initializer = rebuild_keras_object(serialize(keras.initializers.HeNormal(seed=3)))
    assert type(initializer).__name__ == "HeNormal" and initializer.seed == 3
    assert rebuild_keras_object(serialize(keras.ops.sin)) is keras.ops.sin
    assert rebuild_keras_object(serialize(keras.activations.tanh)) is keras.activations.tanh
    for hostile in (SET_DISTRIBUTION, "set_floatx", {"class_name": "Zeros", "module": "os"}):
        with pytest.raises(ModelRebuildError, match="is not an allowed"):
            rebuild_keras_object(hostile)


def test_optimizers_rebuild_from_the_allow_list_only():
    """Are SGD, Adam and RMSprop rebuilt with the same config, and anything else refused?"""
    keras = keras_module()
    for optimizer in (
        keras.optimizers.SGD(0.1, momentum=0.5, clipnorm=1.0),
        keras.optimizers.Adam(global_clipnorm=2.0),
        keras.optimizers.RMSprop(clipvalue=0.5),
    ):
        rebuilt = rebuild_optimizer(describe_optimizer(optimizer))
        assert type(rebuilt) is type(optimizer)
        assert rebuilt.get_config() == optimizer.get_config()
    config = describe_optimizer(keras.optimizers.SGD(0.1)).config
    refused = [
        (OptimizerSpec("Adamax", {}), "class_name: 'Adamax' is not an allowed optimizer"),
        (OptimizerSpec("Optimizer", {}), "is not an allowed optimizer"),
        (
            OptimizerSpec("SGD", {**config, "learning_rate": "<ExponentialDecay object>"}),
            "config.learning_rate: '<ExponentialDecay object>' is not a finite number",
        ),
        (OptimizerSpec("SGD", {**config, "clipnorm": "1.0"}), "config.clipnorm"),
        (OptimizerSpec("SGD", {**config, "loss_scale": 2.0}), "SGD has no setting 'loss_scale'"),
    ]
    for spec, text in refused:
        with pytest.raises(ModelRebuildError) as error:
            rebuild_optimizer(spec)
        assert text in str(error.value)


# -- the fuzz test -------------------------------------------------------------------------

FUZZ_MODULES = (
    "keras.activations",
    "keras.initializers",
    "keras.regularizers",
    "keras.constraints",
    "keras.layers",
    "keras.distribution",
    "keras.config",
    "keras.ops",
    "keras.utils",
    "keras.models",  # the model classes, for the model's class_name
)
DENSE_SLOTS = (
    "activation",
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
    "dtype",
)
#: What the fuzz test may accept, slot by slot: the documented allow-list of grader.measuring.vetting.
DOCUMENTED = {
    "activation": sorted(set(ALLOWED_ACTIVATIONS) | set(SAFE_FUNCTION_NAMES)),
    "kernel_initializer": sorted(ALLOWED_INITIALIZERS),
    "bias_initializer": sorted(ALLOWED_INITIALIZERS),
    "layer class_name": ["Dense"],  # a Dense layer's config fits no other class
    "model class_name": ["Sequential"],
    "layer module": ["keras.layers"],
}


#: Names the sampled fuzz test always tries: side effects and allowed parts of each slot.
ALWAYS = [
    ("keras.distribution", "set_distribution"),
    ("keras.config", "set_floatx"),
    ("keras.config", "enable_unsafe_deserialization"),
    ("keras.utils", "set_random_seed"),
    ("keras.activations", "relu"),
    ("keras.ops", "sin"),
    ("keras.initializers", "HeNormal"),
    ("keras.initializers", "orthogonal"),
    ("keras.layers", "Dense"),
    ("keras.models", "Sequential"),
]


def registered_callables(sample: int = 1) -> list[tuple[str, str]]:
    """(module, name) of every public callable of the fuzzed modules; every ``sample``-th,
    and always the names of :data:`ALWAYS`."""
    names = []
    for module_name in FUZZ_MODULES:
        module = importlib.import_module(module_name)
        names += [
            (module_name, name)
            for name in sorted(dir(module))
            if not name.startswith("_") and callable(getattr(module, name))
        ]
    return sorted(set(names[::sample]) | set(ALWAYS))


def forms(module: str, name: str) -> list[tuple[str, object]]:
    """The ways a config can name ``module.name`` in a slot that takes a callable."""
    function = {"class_name": "function", "config": name, "registered_name": "function"}
    return [
        ("name", name),
        ("class record", {"module": module, "class_name": name, "config": {}}),
        ("function record", {"module": "builtins", **function}),  # as Keras writes one
        ("function record of its module", {"module": module, **function}),
        (
            "registered record",
            {"module": module, "class_name": name, "config": {}, "registered_name": name},
        ),
    ]


def candidates(base: dict, names: list[tuple[str, str]]):
    """(slot, value shown, config) for every name in every slot of a Dense layer's config."""
    for module, name in names:
        for slot in DENSE_SLOTS:
            for _, value in forms(module, name):
                config = copy.deepcopy(base)
                config["config"]["layers"][1]["config"][slot] = value
                yield slot, name, config
        config = copy.deepcopy(base)
        config["config"]["layers"][1].update(module=module, class_name=name)
        yield "layer class_name", name, config
        config = copy.deepcopy(base)
        config.update(module=module, class_name=name)
        yield "model class_name", name, config
        config = copy.deepcopy(base)
        config["config"]["layers"][1]["registered_name"] = f"{module}>{name}"
        yield "layer registered_name", name, config
    for module in FUZZ_MODULES:
        config = copy.deepcopy(base)
        config["config"]["layers"][1]["module"] = module
        yield "layer module", module, config


def measure(model) -> None:
    """What the grader does with a rebuilt model: call it, its gradient norms, a step."""
    import tensorflow as tf

    from grader.measuring.measure import gradient_norms

    keras = keras_module()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)
    model(x)
    gradient_norms(model, x, y)
    optimizer = keras.optimizers.SGD(0.01)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))


def fuzz(sample: int) -> dict[str, list[str]]:
    """Try every candidate; return what was accepted, slot by slot."""
    model = small_model()
    base, weights = json.loads(model.to_json()), model.get_weights()
    accepted: dict[str, set[str]] = {}
    measured: set[str] = set()
    for slot, name, config in candidates(base, registered_callables(sample)):
        before = settings()
        try:
            vet_model_config(config)
        except ModelRebuildError:
            assert changes(before, settings()) == [], (slot, name)
            continue
        accepted.setdefault(slot, set()).add(name)
        text = json.dumps(config, sort_keys=True)
        if text in measured:
            continue
        measured.add(text)
        try:
            rebuilt = rebuild_model(ModelSpec(text, weights))
        except ModelRebuildError as error:  # Keras refuses a vetted part (Orthogonal bias)
            assert "could not be built" in str(error), (slot, name, error)
        else:
            measure(rebuilt)
        assert changes(before, settings()) == [], (slot, name)
    return {slot: sorted(names) for slot, names in sorted(accepted.items())}


@pytest.mark.slow
def test_fuzz_every_registered_keras_callable_in_every_slot():
    """Is every name Keras registers, in every slot of a Dense layer's config, refused
    before deserialisation or rebuilt into a model whose measurement leaves the grader's
    state unchanged, and is what was accepted exactly the documented allow-list?"""
    accepted = fuzz(sample=1)
    print("accepted:", json.dumps(accepted, indent=1))
    assert accepted == DOCUMENTED


def test_fuzz_sampled():
    """The same on every 23rd registered callable (the quick loop's version)."""
    names = {name for _, name in registered_callables(23)}
    accepted = fuzz(sample=23)
    expected = {slot: [n for n in allowed if n in names] for slot, allowed in DOCUMENTED.items()}
    expected["layer module"] = DOCUMENTED["layer module"]  # every module is always tried
    assert accepted == {slot: found for slot, found in expected.items() if found}
    assert set(accepted) == set(DOCUMENTED)  # every slot that can accept did accept


def test_messages_stay_short_whatever_the_config_holds():
    """Does a refusal stay a short message for huge or deeply nested values and keys
    (the config is the student's, and the message is shown)?"""
    deep = json.loads("[" * 500 + "]" * 500)
    for change in (
        setter("units", deep),
        setter("k" * 100_000, 1),
        setter("activation", "x" * 100_000),
        setter("activation", {"module": deep, "class_name": "function", "config": "x" * 10_000}),
    ):
        with pytest.raises(ModelRebuildError) as refused:
            vet_model_config(with_dense(change))
        assert len(str(refused.value)) < 400
