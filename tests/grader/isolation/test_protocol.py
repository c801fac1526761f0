"""Does plain data cross the process boundary intact, and nothing else?"""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest

from grader.isolation.protocol import (
    MAX_MESSAGE_BYTES,
    ModelSpec,
    OptimizerSpec,
    ProtocolError,
    Unsupported,
    decode,
    encode,
    read_message,
    write_message,
)


def roundtrip(value):
    buffer = io.BytesIO()
    write_message(buffer, {"value": encode(value)})
    buffer.seek(0)
    return decode(read_message(buffer)["value"])


@pytest.mark.parametrize(
    "value",
    [None, True, 3, -2.5, "text", [1, 2.0], (1, "a"), {"loss": 1.5, "grad_norm": 2.0}],
    ids=["none", "bool", "int", "float", "str", "list", "tuple", "dict"],
)
def test_builtin_values_round_trip(value):
    """Do built-in values come back equal and of the same type?"""
    back = roundtrip(value)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "bool", "complex128"])
def test_arrays_round_trip_with_dtype_and_shape(dtype):
    """Does an array keep its dtype, shape and values, including 0-d arrays?"""
    for shape in [(), (3,), (2, 3, 4)]:
        array = (np.arange(np.prod(shape, dtype=int)).reshape(shape) % 3).astype(dtype)
        back = roundtrip(array)
        assert back.dtype == array.dtype and back.shape == array.shape
        np.testing.assert_array_equal(back, array)


def test_non_finite_floats_round_trip():
    """Are NaN and infinities carried, not rejected by JSON?"""
    back = roundtrip([float("nan"), float("inf"), -float("inf")])
    assert np.isnan(back[0]) and back[1] == float("inf") and back[2] == -float("inf")


def test_tensor_like_objects_become_plain_arrays():
    """Is a tf.Tensor sent as a plain NumPy array?"""
    tf = pytest.importorskip("tensorflow")
    back = roundtrip(tf.constant([[1.0, 2.0]]))
    assert type(back) is np.ndarray and back.shape == (1, 2)


def test_object_arrays_and_unknown_types_are_named_not_sent():
    """Is an object array or an arbitrary object reported by type instead of being serialised?"""

    class Sneaky:
        def __eq__(self, other):
            return True

    assert roundtrip(np.array([object()], dtype=object)) == Unsupported(
        "numpy array of dtype object"
    )
    back = roundtrip(Sneaky())
    assert isinstance(back, Unsupported) and "Sneaky" in back.type_name


def test_subclasses_of_builtin_types_do_not_pass_as_them():
    """Does a str or float subclass with a lying __eq__ arrive as an unsupported object?"""

    class AlwaysEqual(float):
        def __eq__(self, other):
            return True

    assert isinstance(roundtrip(AlwaysEqual(1.0)), Unsupported)


def test_numpy_subclass_arrives_as_plain_ndarray():
    """Does a numpy subclass arrive as a plain ndarray?"""

    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    back = roundtrip(np.arange(3.0).view(Liar))
    assert type(back) is np.ndarray


def test_model_and_optimizer_records_round_trip():
    """Do model and optimizer records keep their config and weights?"""
    spec = roundtrip(ModelSpec('{"class_name": "Sequential"}', [np.ones((2, 3), np.float32)]))
    assert spec.config == '{"class_name": "Sequential"}' and spec.weights[0].shape == (2, 3)
    optimizer = roundtrip(OptimizerSpec("SGD", {"clipnorm": 1.0}))
    assert optimizer == OptimizerSpec("SGD", {"clipnorm": 1.0})


def test_pickled_data_is_refused():
    """Is a pickle, sent where a message is expected, refused rather than loaded?"""
    payload = pickle.dumps({"value": 1})
    buffer = io.BytesIO(len(payload).to_bytes(8, "big") + payload)
    with pytest.raises(ProtocolError, match="not JSON"):
        read_message(buffer)


@pytest.mark.parametrize(
    "record, match",
    [
        ({"__array__": {"dtype": "|O", "shape": [1], "data": ""}}, "not accepted"),
        ({"__array__": {"dtype": "<f8", "shape": [4], "data": "AAAA"}}, "does not match"),
        ({"__array__": {"dtype": "<f8", "shape": [10**9], "data": ""}}, "too large"),
        ({"__evil__": 1}, "unknown record"),
        ([1, 2], "malformed"),
    ],
    ids=["object-dtype", "short-data", "huge-shape", "unknown-record", "bare-list"],
)
def test_malformed_records_are_refused(record, match):
    """Is every malformed record refused with a ProtocolError naming the problem?"""
    with pytest.raises(ProtocolError, match=match):
        decode(record)


def test_oversized_and_truncated_messages_are_refused():
    """Are a message over the size limit and a truncated one refused?"""
    header = (MAX_MESSAGE_BYTES + 1).to_bytes(8, "big")
    with pytest.raises(ProtocolError, match="over the limit"):
        read_message(io.BytesIO(header))
    body = json.dumps({"a": 1}).encode()
    with pytest.raises(ProtocolError, match="truncated"):
        read_message(io.BytesIO(len(body).to_bytes(8, "big") + body[:-1]))


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"n": ' + b"9" * 5000 + b"}"],
    ids=["nested-100000-deep", "an-integer-of-5000-digits"],
)
def test_json_the_parser_refuses_is_a_protocol_error(body):
    """Is a message that JSON's parser refuses for its depth or its numbers a ProtocolError
    (read as the submission's own malformed answer), not an error of the grader?"""
    with pytest.raises(ProtocolError):
        read_message(io.BytesIO(len(body).to_bytes(8, "big") + body))


def test_numpy_strings_and_huge_ints_cross_as_what_they_are():
    """Is a NumPy string a plain string on arrival (a right gradient_regime may return one),
    and an int beyond float's range that infinity, not an error of the student's function?"""
    import numpy as np

    from grader.isolation.protocol import decode, encode

    value = np.array(["vanishing", "exploding"])[0]
    assert type(decode(encode(value))) is str and decode(encode(value)) == "vanishing"
    assert decode(encode(10**400)) == float("inf") and decode(encode(-(10**400))) == float("-inf")
    assert decode(encode(10**300)) == float(10**300)
