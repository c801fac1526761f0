"""Plain data across the process boundary: JSON with arrays as raw bytes, never pickle.

A value that crosses from the student's process to the grader's is one of: None, bool,
int, float (NaN and infinities included), str, list, tuple, dict with str keys, a numeric
NumPy array, or one of the records below (a Keras model as its JSON config and weights,
an optimizer as its config). Anything else arrives as :class:`Unsupported`, which names
the type the student returned. Decoding builds fresh built-in objects only, so a
returned object can neither run code in the grader nor lie about its type.
"""

from __future__ import annotations

import base64
import json
import math
import os
import socket
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

#: Largest message, in bytes, either side accepts.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: Largest array, in elements, that a result may hold.
MAX_ARRAY_ELEMENTS = 20_000_000
#: Deepest nesting of lists, tuples and dicts in a result.
MAX_DEPTH = 32

_DTYPE_KINDS = "biufc"  # bool, int, unsigned, float, complex
_HEADER = struct.Struct(">Q")


class ProtocolError(ValueError):
    """A message that is not plain data of the expected form."""


@dataclass
class ModelSpec:
    """A Keras model as plain data: its JSON config and its weights in order."""

    config: str
    weights: list[np.ndarray] = field(default_factory=list)


@dataclass
class OptimizerSpec:
    """A Keras optimizer as plain data: its class name and its config."""

    class_name: str
    config: dict[str, Any]


@dataclass
class KerasObjectSpec:
    """A built-in Keras object (an initializer, say) as its serialised config."""

    config: dict[str, Any]


@dataclass
class Unsupported:
    """A returned value of a type that cannot cross the boundary."""

    type_name: str

    def __str__(self) -> str:
        return f"an object of type {self.type_name}"


def _encode_array(array: np.ndarray) -> dict[str, Any]:
    if array.dtype.kind not in _DTYPE_KINDS:
        return {"__unsupported__": f"numpy array of dtype {array.dtype}"}
    if array.size > MAX_ARRAY_ELEMENTS:
        raise ProtocolError(f"an array of {array.size} elements is over the limit")
    array = np.asarray(array, order="C")
    return {
        "__array__": {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii"),
        }
    }


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"__float__": repr(value)}


def encode(value: Any, depth: int = 0) -> Any:
    """Turn a value into JSON-ready plain data.

    Args:
        value: the value to encode. Arrays, tensors and NumPy scalars become array
            records; models and optimizers should be turned into :class:`ModelSpec` and
            :class:`OptimizerSpec` first.
        depth: current nesting depth (internal).

    Returns:
        JSON-serialisable data.

    Raises:
        ProtocolError: when the value is nested too deeply or too large.
    """
    if depth > MAX_DEPTH:
        raise ProtocolError("the value is nested too deeply")
    if value is None or type(value) in (bool, str):
        return value
    if isinstance(value, np.str_):  # a NumPy string is a string (np.array([...])[i])
        return str.__str__(value)
    if type(value) is int:
        if abs(value) < 2**63:
            return value
        # as float() reads it; an int beyond float's range is that infinity, not an error
        # of the student's function
        return {
            "__float__": repr(float(value))
            if abs(value) < 2**1024
            else ("inf" if value > 0 else "-inf")
        }
    if type(value) is float:
        return _encode_float(value)
    if type(value) in (list, tuple):
        key = "__list__" if type(value) is list else "__tuple__"
        return {key: [encode(item, depth + 1) for item in value]}
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            return {"__unsupported__": "dict with non-string keys"}
        return {"__dict__": {k: encode(v, depth + 1) for k, v in value.items()}}
    if isinstance(value, ModelSpec):
        return {
            "__model__": {"config": value.config, "weights": [encode(w) for w in value.weights]}
        }
    if isinstance(value, OptimizerSpec):
        return {"__optimizer__": {"class_name": value.class_name, "config": encode(value.config)}}
    if isinstance(value, KerasObjectSpec):
        return {"__keras__": encode(value.config, depth + 1)}
    if isinstance(value, Unsupported):
        return {"__unsupported__": value.type_name}
    if isinstance(value, (np.ndarray, np.generic)):
        return _encode_array(np.asarray(value))
    if hasattr(value, "numpy") and hasattr(value, "dtype") and hasattr(value, "shape"):
        try:  # tf.Tensor, tf.Variable, keras tensors in eager mode
            return _encode_array(np.asarray(value.numpy()))
        except Exception:  # noqa: BLE001 - a symbolic tensor has no value
            pass
    return {"__unsupported__": type(value).__module__ + "." + type(value).__qualname__}


def _decode_array(record: Any) -> np.ndarray:
    if not isinstance(record, dict):
        raise ProtocolError("malformed array record")
    dtype = np.dtype(str(record["dtype"]))
    if dtype.kind not in _DTYPE_KINDS:
        raise ProtocolError(f"arrays of dtype {dtype} are not accepted")
    shape = tuple(int(s) for s in record["shape"])
    if any(s < 0 for s in shape) or math.prod(shape) > MAX_ARRAY_ELEMENTS:
        raise ProtocolError("array shape is invalid or too large")
    data = base64.b64decode(record["data"], validate=True)
    if len(data) != math.prod(shape) * dtype.itemsize:
        raise ProtocolError("array data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def decode(data: Any, depth: int = 0) -> Any:
    """Rebuild plain Python and NumPy values from :func:`encode`'s output.

    Raises:
        ProtocolError: when the data is not of the encoded form.
    """
    if depth > MAX_DEPTH:
        raise ProtocolError("the value is nested too deeply")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or len(data) != 1:
        raise ProtocolError("malformed value")
    ((key, inner),) = data.items()
    if key == "__float__":
        return float(inner)
    if key in ("__list__", "__tuple__"):
        if type(inner) is not list:
            raise ProtocolError("malformed sequence")
        items = [decode(item, depth + 1) for item in inner]
        return items if key == "__list__" else tuple(items)
    if key == "__dict__":
        if type(inner) is not dict:
            raise ProtocolError("malformed dict")
        return {str(k): decode(v, depth + 1) for k, v in inner.items()}
    if key == "__array__":
        return _decode_array(inner)
    if key == "__model__":
        return ModelSpec(
            str(inner["config"]), [_decode_array(w["__array__"]) for w in inner["weights"]]
        )
    if key == "__optimizer__":
        config = decode(inner["config"], depth + 1)
        if type(config) is not dict:
            raise ProtocolError("malformed optimizer config")
        return OptimizerSpec(str(inner["class_name"]), config)
    if key == "__keras__":
        config = decode(inner, depth + 1)
        if type(config) is not dict:
            raise ProtocolError("malformed Keras object config")
        return KerasObjectSpec(config)
    if key == "__unsupported__":
        return Unsupported(str(inner))
    raise ProtocolError(f"unknown record {key!r}")


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    """Write one length-prefixed JSON message and flush."""
    body = json.dumps(message, allow_nan=False).encode("utf-8")
    if len(body) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(body)} bytes is over the limit")
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


class SocketStream:
    """A connected Unix socket read and written as a stream of messages.

    The grader and a worker talk over Unix sockets rather than pipes so that the grader
    can hand the worker a new socket for each submission (:func:`send_socket`): a
    submission's process holds only its own, never the channel the worker's zygote reads
    its orders from and writes its reports on (see :mod:`grader.isolation.sandbox`).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes; empty at the end of the stream."""
        return self.socket.recv(size)

    def write(self, data: bytes) -> int:
        """Send all of ``data``."""
        self.socket.sendall(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: every write is sent whole."""

    def fileno(self) -> int:
        """The socket's descriptor (for ``select``)."""
        return self.socket.fileno()

    def close(self) -> None:
        """Close the socket (its peer reads the end of the stream)."""
        self.socket.close()


def send_socket(stream: SocketStream, sock: socket.socket) -> None:
    """Pass ``sock``'s descriptor to the process at the other end of ``stream``."""
    socket.send_fds(stream.socket, [b"S"], [sock.fileno()])


def receive_socket(stream: SocketStream) -> socket.socket:
    """The socket the other end passed with :func:`send_socket`.

    Raises:
        ProtocolError: when no descriptor came (the stream ended or carried bytes only).
    """
    data, descriptors, _, _ = socket.recv_fds(stream.socket, 1, 1)
    if data != b"S" or len(descriptors) != 1:
        for descriptor in descriptors:
            os.close(descriptor)
        raise ProtocolError("expected a socket for the submission")
    os.set_inheritable(descriptors[0], False)  # no program a submission runs gets it
    return socket.socket(fileno=descriptors[0])


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at the end of the stream (works unbuffered too)."""
    chunks, remaining = [], size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(stream: BinaryIO) -> dict[str, Any] | None:
    """Read one length-prefixed JSON message; None at end of stream.

    Raises:
        ProtocolError: for a truncated, oversized or non-JSON message.
    """
    header = _read_exactly(stream, _HEADER.size)
    if not header:
        return None
    if len(header) != _HEADER.size:
        raise ProtocolError("truncated message header")
    (length,) = _HEADER.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {length} bytes is over the limit")
    body = _read_exactly(stream, length)
    if len(body) != length:
        raise ProtocolError("truncated message")
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"message is not JSON: {error}") from None
    except (ValueError, RecursionError) as error:  # a 5,000-digit integer, a deep nesting
        raise ProtocolError(f"message is not plain data: {type(error).__name__}") from None
    if type(message) is not dict:
        raise ProtocolError("message is not an object")
    return message
