"""The batch's Dask client reads plain data from the cluster, never an object.

Dask pickles much of what travels between its processes, and a worker or scheduler that is
not ours (or code that runs on one) could send a pickle that runs code where it is loaded.
What the batch's client is given against that:

- :data:`DESERIALIZERS` (``Client(deserializers=...)``): the scheduler and the workers are
  asked to serialise what they answer (task results, ``client.run`` results) with msgpack,
  and an answer serialised any other way is refused (``TypeError``) before it is read.
- That option does not cover everything: the client's report stream from the scheduler
  (a failed task's exception, a result's type) and pickles embedded in a message are
  unpickled whatever it says, and a Dask worker's ``warn`` and ``print`` events are
  unpickled with the standard :mod:`pickle` by handlers every client subscribes to. (The
  scheduler's ``distributed.scheduler.pickle: false`` no longer exists: recent Dask refuses
  to start with it.) So, while the batch is connected, :func:`unpickling_data_only`
  replaces Dask's ``loads`` in this process with :func:`data_only_loads`, whose
  :meth:`~pickle.Unpickler.find_class` gives an inert stand-in for every class or function
  a pickle names but the built-in types of plain data (the recipe "restricting globals" of
  the :mod:`pickle` documentation), and :class:`DataOnlyClient` subscribes to no event.

A stand-in (rather than an error) keeps the client's report stream alive, which an error
there would end (and the batch would wait for ever): a failed task's exception is read as
None, and the batch never reads it anyway. Dask offers no switch for any of this, hence
the replacement of its function, which the tests check on every route a pickle reaches
the client by.
"""

from __future__ import annotations

import io
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import distributed.protocol.pickle
from distributed import Client

#: What the client reads results with: msgpack only (strings, numbers, lists, dicts, bytes).
DESERIALIZERS = ["msgpack"]


class Refused:
    """An inert stand-in for a class or function that a pickle from the cluster named.

    Built, called or given a state, it keeps the name and nothing else, and does nothing.
    """

    refused_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Refused:
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<refused {self.refused_name} from the cluster>"


#: The only names a pickle from the cluster may use: the built-in types of plain data, whose
#: construction runs no code of anyone's. Dask names ``bytes`` in the header of every
#: bytes it sends (a failed task's pickled exception among them), and a result's type.
PLAIN_TYPES: dict[tuple[str, str], type] = {
    ("builtins", t.__name__): t
    for t in (str, bytes, bytearray, memoryview, int, float, complex, bool)
    + (tuple, list, dict, set, frozenset)
}


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> type:
        if (module, name) in PLAIN_TYPES:
            return PLAIN_TYPES[module, name]
        # a new type each time: the pickle may use it as a class (NEWOBJ) or call it (REDUCE)
        return type("Refused", (Refused,), {"refused_name": f"{module}.{name}"[:200]})

    def persistent_load(self, pid: Any) -> Refused:
        return Refused()


def data_only_loads(data: Any, *, buffers: Any = ()) -> Any:
    """Unpickle plain data only: every class or function named (but the built-in types of
    :data:`PLAIN_TYPES`) becomes a :class:`Refused`.

    Args:
        data: the pickle (bytes-like).
        buffers: its out-of-band buffers (pickle protocol 5).

    Returns:
        the data; no code named in the pickle runs. A pickle of an object (an exception, a
        traceback, a class) is read as None, which Dask takes everywhere it expects one (a
        failed task whose error is None is failed all the same).
    """
    value = _DataOnlyUnpickler(io.BytesIO(data), buffers=buffers).load()
    if isinstance(value, Refused) or (isinstance(value, type) and issubclass(value, Refused)):
        return None
    return value


class DataOnlyClient(Client):
    """A Dask client that subscribes to no event topic.

    Dask subscribes every client to the ``print`` and ``warn`` events of the workers, whose
    handlers unpickle what a worker sent with the standard :mod:`pickle`.
    """

    def subscribe_topic(self, topic: str, handler: Any) -> None:
        return None


@contextmanager
def unpickling_data_only() -> Iterator[None]:
    """While inside, Dask in this process unpickles with :func:`data_only_loads`.

    Replaces ``distributed.protocol.pickle.loads`` and every name of a loaded
    ``distributed`` module bound to that function (``distributed.client`` imports it by
    name); puts them back on exit.
    """
    original = distributed.protocol.pickle.loads
    bound = [
        module
        for name, module in list(sys.modules.items())
        if (name == "distributed" or name.startswith("distributed."))
        and getattr(module, "loads", None) is original
    ]
    for module in bound:
        module.loads = data_only_loads
    try:
        yield
    finally:
        for module in bound:
            if module.loads is data_only_loads:
                module.loads = original
