"""The reference value of a helper, so one broken function costs only its own tests.

While the grader checks one function, the other contract functions of its part that the
student's code calls (``chain_gradients`` calling ``chain_forward``, ``build_exploding_mlp``
calling ``build_mlp``) are answered by the reference: the worker sends the arguments as
plain data, this module computes the reference's result in the grader's process and
sends it back as plain data. The reference code itself never enters the student's
process. In a student kit the answers are the values recorded on the public cases
(:mod:`grader.expected`). ``clipped_train_step`` works on live Keras objects, so ``train_with_clipping`` is
run with a step written in the worker instead (:func:`grader.worker.trusted_train_step`).
"""

from __future__ import annotations

from typing import Any

from grader import expected
from grader.assignment import functions_of
from grader.protocol import KerasObjectSpec, ModelSpec, OptimizerSpec, decode, encode

#: Contract functions whose arguments or results are live objects, never answered here.
LIVE_OBJECT_FUNCTIONS = {"dense_grad_norms", "clipped_train_step", "train_with_clipping"}
#: Helpers replaced by a step written in the worker, per function under test.
TRUSTED = {"clipping.train_with_clipping": ["clipped_train_step"]}


def helpers_of(test_name: str) -> list[str]:
    """The functions of the same part answered by the reference while ``test_name`` runs."""
    part, name = test_name.split(".")
    return [
        f.name for f in functions_of(part) if f.name != name and f.name not in LIVE_OBJECT_FUNCTIONS
    ]


def _keras_object(value: Any) -> Any:
    """Rebuild a serialised built-in Keras object (safe mode: no custom code)."""
    if isinstance(value, KerasObjectSpec):
        from grader.models import deserialize_safely

        return deserialize_safely(value.config)
    return value


def reference_value(part: str, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Call the reference ``part.name`` on plain arguments; return a plain result.

    Raises:
        ValueError: for a function that the oracle does not answer.
    """
    if name not in [f.name for f in functions_of(part)] or name in LIVE_OBJECT_FUNCTIONS:
        raise ValueError(f"{part}.{name} is not answered by the reference")
    if part != "chain_rule":
        from grader.quiet import import_tensorflow

        import_tensorflow()
    from grader.worker import plain_result

    return plain_result(getattr(expected.reference(part), name)(*args, **kwargs))


def answer_callback(part: str, allowed: list[str], message: dict[str, Any]) -> dict[str, Any]:
    """Answer a worker's callback message with the reference's value, as plain data."""
    name = str(message.get("function"))
    if name not in allowed:
        return {"ok": False, "error": f"{name} is not answered by the reference"}
    try:
        args = decode(message.get("args", {"__list__": []}))
        kwargs = decode(message.get("kwargs", {"__dict__": {}}))
        if any(isinstance(a, (ModelSpec, OptimizerSpec)) for a in args):
            raise ValueError("live objects cannot be passed to the reference")
        args = [_keras_object(a) for a in args]
        kwargs = {k: _keras_object(v) for k, v in kwargs.items()}
        return {"ok": True, "result": encode(reference_value(part, name, args, kwargs))}
    except expected.NotRecorded:  # a kit: the student's own helper answers
        return {"ok": False, "own": True, "error": f"{name} was not recorded for these arguments"}
    except Exception as error:  # noqa: BLE001 - the student's call had bad arguments
        return {"ok": False, "error": f"{type(error).__name__}: {str(error)[:300]}"}
