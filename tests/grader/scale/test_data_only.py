"""While the batch is connected to a cluster, does every route by which Dask unpickles in the
batch's process give plain data and run nothing a pickle names, and is Dask as it was after?
"""

from __future__ import annotations

import os
import pickle

import distributed.client
import distributed.protocol
import distributed.protocol.pickle
from distributed.protocol.serialize import Serialized, ToPickle

from grader.scale.data_only import Refused, data_only_loads, unpickling_data_only


class Payload:
    """Makes a folder when unpickled: the sign that a pickle ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


class HostileError(Exception):
    def __init__(self, marker: str) -> None:
        super().__init__(marker)
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_plain_data_is_read_and_a_named_callable_becomes_an_inert_stand_in(tmp_path):
    """Does data_only_loads give back plain data as it was (built-in types included), and for
    the payloads (a call, an exception, a function; protocols 0 to 5) None at the top and
    a Refused inside a container, the marker never made?"""
    marker = str(tmp_path / "ran")
    plain = {"a": [1, 2.5, None, True], "b": b"\x00bytes", "c": ("t", frozenset({1})), "d": "é"}
    for protocol in (4, 5):  # Dask's (older ones name bytes by a codec's function)
        assert data_only_loads(pickle.dumps(plain, protocol=protocol)) == plain
        assert data_only_loads(pickle.dumps(bytes, protocol=protocol)) is bytes
    for protocol in (0, 2, 5):
        for payload in (Payload(marker), HostileError(marker), os.system):
            assert data_only_loads(pickle.dumps(payload, protocol=protocol)) is None
            inside = data_only_loads(pickle.dumps({"x": [payload]}, protocol=protocol))
            found = inside["x"][0]  # an instance, or the type itself for a function
            assert isinstance(found, (Refused, type)), (payload, inside)
            assert isinstance(found, Refused) or issubclass(found, Refused), (payload, inside)
    assert not os.path.exists(marker)
    assert pickle.loads(pickle.dumps(Payload(marker))) is None  # the payload is real
    assert os.path.isdir(marker)


def test_every_route_of_a_pickle_into_the_client_reads_data_only(tmp_path):
    """Inside unpickling_data_only, do a pickled sub-message, a pickle-serialised value and the
    client's own loads (a result's type, run's errors) run nothing; and outside, Dask's?"""
    marker = str(tmp_path / "ran")
    embedded = distributed.protocol.dumps({"op": "x", "value": ToPickle(Payload(marker))})
    serialized = distributed.protocol.dumps(
        {
            "op": "x",
            "value": Serialized(
                {"serializer": "pickle", "writeable": ()}, [pickle.dumps(Payload(marker))]
            ),
        }
    )
    original = distributed.protocol.pickle.loads
    with unpickling_data_only():
        for frames in (embedded, serialized):
            assert distributed.protocol.loads(frames) == {"op": "x", "value": None}
        assert distributed.client.loads(pickle.dumps(Payload(marker))) is None
        assert distributed.protocol.pickle.loads(pickle.dumps(HostileError(marker))) is None
        assert not os.path.exists(marker)
    assert distributed.protocol.pickle.loads is original
    assert distributed.client.loads is original
    distributed.protocol.loads(embedded)  # Dask's own loads again: the payload runs
    assert os.path.isdir(marker)
