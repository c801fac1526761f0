"""Part 3's library rule at run time: the library clip functions, recognised by identity.

:class:`ClipRecorder` records, while one of Part 3's array functions runs, every library clip
function it calls, and :func:`watch_clip_functions` makes that recognition work by identity:
every function object holding a clip function's code records its calls, whatever name,
alias, ``compat`` path, class attribute or wrapper reached it, and TensorFlow's op callbacks
see the ``ClipByValue`` op. The grader decides from that plain data
(:mod:`grader.checks.policy`).
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import sys
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

from grader.isolation.libraries import CLIP_LIBRARY_FUNCTIONS, CLIP_OP_TYPES, clip_label
from grader.quiet import import_tensorflow
from grader.worker import guards


class ClipRecorder:
    """While one of Part 3's array functions runs: the library clip functions it calls.

    After the block, ``calls`` names the library clip functions that ran (the outermost of
    each call, as ``tf.clip_by_value``) and ``tampered`` what the part's code did to the
    recognition itself (both plain data; the grader decides). The recognition is armed
    once per process (:func:`watch_clip_functions`); the block opens and closes its window.
    """

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.tampered: list[str] = []
        self._token: Any = None

    def __enter__(self) -> ClipRecorder:
        watch_clip_functions()
        box: list[Any] = []
        sys.audit(_OPEN_EVENT, box)
        if not box:  # a grader fault, never the student's: the call fails, it is not judged
            raise RuntimeError("the library clip functions are not watched in this process")
        self._token = box[0]
        return self

    def __exit__(self, *exc: Any) -> None:
        box: list[Any] = []
        sys.audit(_CLOSE_EVENT, self._token, box)
        if len(box) == 2:
            self.calls, self.tampered = sorted(set(box[0])), list(box[1])
        else:
            self.tampered = ["left the library clip functions unwatched"]


# -- Part 3: the library clip functions, recognised by identity --------------------------
#
# Why identity, and why here. A name check (the syntax tree's, grader.checks.policy) cannot
# follow ``tf.compat.v1.global_norm``, ``tf.raw_ops.ClipByValue``, ``getattr``, a class
# attribute, a staticmethod, a partial or a default argument; a patch of module attributes
# misses every reference taken before it. All those names reach a handful of function
# objects, and under their decorators a handful of code objects. So the code of every Python
# function that holds the code of a forbidden function (the innermost of its decorators, and
# every copy sharing that code, such as the raw op's) is replaced in place, once, before any
# student code runs: every name bound to those functions, before or after, runs the
# recording code, which runs the original. TensorFlow routes that bypass the Python
# functions are seen at the op level: while an array function runs, an op callback records
# every ClipByValue op executed or traced, and every tf.function executed whose graph holds
# one or was traced through a forbidden function (which leaves a no-op node to say so).
#
# What the part's code can reach of this. The replaced code holds only ``sys.audit`` and
# strings; the original functions live in an audit hook's closure, which no code can remove
# or list, and which never raises (so its frame is in no traceback). Changing the replaced
# functions' code is refused in a worker and noted everywhere; the object-graph walks
# (``gc.get_objects``) that would find the originals are noted in a worker. A window
# closed early, or whose op callback was removed, is noted. Code that rewrites the grader's
# own worker (its classes, its module globals) could forge any answer, not only this one:
# the syntax tree's check reports Part 3 code that names the worker's modules or the
# interpreter's internals (grader.checks.policy); what hides even from that (computed names,
# walks of frames from inside a library call) is beyond what the worker's own process can
# see.

#: The audit events of the recognition: a recorded call, an op seen by the op callback,
#: a window opened and closed (only the hook added by :func:`watch_clip_functions` answers).
_CALL_EVENT = "exploding_gradients.clip.call"
_OP_EVENT = "exploding_gradients.clip.op"
_OPEN_EVENT = "exploding_gradients.clip.open"
_CLOSE_EVENT = "exploding_gradients.clip.close"
#: A forbidden function traced into a graph leaves a no-op node of this name (and its label).
_MARKER = "exploding_gradients.clip_call."
#: The attributes that change what a function runs (each assignment is an audit event).
_CODE_ATTRIBUTES = frozenset(("__code__", "__defaults__", "__kwdefaults__"))
#: Object-graph walks that would reach the original functions through the hook: in a worker
#: they are noted (a probe of the other parts may use them; an answer after one is not trusted).
_OBJECT_WALKS = frozenset(("gc.get_objects", "gc.get_referrers", "gc.get_referents"))
#: The code that replaces a forbidden function's: it asks the hook to run the original.
#: The quoted names are placeholders, replaced by objects in the code's constants.
_TRAMPOLINE_SOURCE = """
def trampoline(*args, **kwargs):
    answer = []
    "AUDIT"("EVENT", "KEY", args, kwargs, answer)
    if not answer:
        raise RuntimeError("a library clip function was called before it could run")
    if answer[0]:
        return answer[1]
    raise answer[1]
"""
#: Whether the recognition is armed in this process (it holds the watched functions).
_WATCHING: list[tuple[Any, ...]] = []


def _op_label(op_type: str) -> str:
    """How a verdict names a TensorFlow op: ``tf.raw_ops.ClipByValue``."""
    return clip_label(f"tensorflow.raw_ops.{op_type}")


def _trampoline(key: str, original: types.CodeType) -> types.CodeType:
    """The recording code for the function ``key``, shaped to replace ``original``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # the quoted placeholder is "called"
        module = compile(_TRAMPOLINE_SOURCE, "<a library clip function, recorded>", "exec")
    template = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    fill = {"AUDIT": sys.audit, "EVENT": _CALL_EVENT, "KEY": key}
    consts = tuple(fill.get(c, c) if isinstance(c, str) else c for c in template.co_consts)
    names = {"co_name": original.co_name}
    if hasattr(original, "co_qualname"):  # Python 3.11 and later
        names["co_qualname"] = original.co_qualname
    # A function's code must have as many free variables as its closure has cells; the
    # recording code never reads them.
    return template.replace(co_consts=consts, co_freevars=original.co_freevars, **names)


def _forbidden_codes() -> dict[types.CodeType, str]:
    """The code of each forbidden function (under its decorators), with its label."""
    codes = {}
    for qualified in CLIP_LIBRARY_FUNCTIONS:
        root, *path = qualified.split(".")
        value: Any = sys.modules.get(root)
        for name in path:
            value = getattr(value, name, None)
        inner = inspect.unwrap(value) if callable(value) else None
        if isinstance(inner, types.FunctionType):
            codes[inner.__code__] = clip_label(qualified)
    return codes


def _graph_tools(labels: frozenset[str]) -> tuple[Callable[[str], None], Callable[..., None]]:
    """TensorFlow's side: marking a graph being traced, and the op callback of a window."""
    # lazy: only a process that runs TensorFlow's parts arms the recognition
    from tensorflow.python.eager import context
    from tensorflow.python.framework import ops
    from tensorflow.python.ops import gen_control_flow_ops

    audit, op_types, scanned = sys.audit, frozenset(CLIP_OP_TYPES), {}

    def mark(label: str) -> None:
        if getattr(ops.get_default_graph(), "building_function", False):
            gen_control_flow_ops.no_op(name=_MARKER + label)

    def found_in(name: str, seen: set[str]) -> set[str]:
        """The clip ops and marks of a tf.function's graph, and of the functions it calls."""
        if name in scanned or name in seen:
            return scanned.get(name, set())
        seen.add(name)
        found = set()
        for node in context.context().get_function_def(name).node_def:
            last = node.name.rsplit("/", 1)[-1]
            if node.op in op_types:
                found.add(_op_label(node.op))
            elif node.op == "NoOp" and last.startswith(_MARKER):
                label = last[len(_MARKER) :]
                stem, _, number = label.rpartition("_")
                found.add(stem if number.isdigit() and stem in labels else label)
            called = [node.op] + [value.func.name for value in node.attr.values()]
            called += [f.name for value in node.attr.values() for f in value.list.func]
            for function in called:
                if function and context.context().has_function(function):
                    found |= found_in(function, seen)
        scanned[name] = found & labels
        return scanned[name]

    def callback(
        op_type: Any, inputs: Any, attrs: Any, outputs: Any, op_name: Any = None, graph: Any = None
    ) -> None:
        name = op_type.decode() if isinstance(op_type, bytes) else str(op_type)
        if name in op_types:
            audit(_OP_EVENT, _op_label(name))
        elif graph is None and context.context().has_function(name):
            for label in sorted(found_in(name, set())):
                audit(_OP_EVENT, label)

    return mark, callback


def watch_clip_functions() -> None:
    """Arm the recognition of the library clip functions in this process, once.

    Call it before any student code runs in a process that runs TensorFlow's parts (the
    worker does, as it loads such a part): a copy of a forbidden function made before would
    escape it. The functions keep their behaviour, values, errors and signatures; outside an
    array function's window (:class:`ClipRecorder`) nothing is recorded.
    """
    if _WATCHING:
        return
    import_tensorflow(initialise=False)
    # lazy: TensorFlow is loaded now; its op callbacks are where ops are seen
    from tensorflow.python.framework import op_callbacks

    codes = _forbidden_codes()
    holders = [
        f
        for f in gc.get_referrers(*codes)
        if isinstance(f, types.FunctionType) and f.__code__ in codes
    ]
    originals: dict[str, tuple[str, Callable[..., Any]]] = {}
    replacements = []
    for number, function in enumerate(holders):
        code, key = function.__code__, f"{codes[function.__code__]}#{number}"
        copy = types.FunctionType(
            code,
            function.__globals__,
            function.__name__,
            function.__defaults__,
            function.__closure__,
        )
        copy.__kwdefaults__ = function.__kwdefaults__
        copy.__qualname__ = function.__qualname__
        originals[key] = (codes[code], copy)
        replacements.append((function, code, _trampoline(key, code)))
    labels = frozenset(codes.values()) | {_op_label(o) for o in CLIP_OP_TYPES}
    watched = frozenset(id(f) for f in holders)
    hidden = frozenset(id(c) for c in codes)
    hooks = [
        _recognition_hook(originals, labels, (watched, hidden), _graph_tools(labels), op_callbacks)
    ]
    if guards.IN_WORKER:
        hooks.append(_refusal_hook(watched, hidden))
    try:
        for function, _, trampoline in replacements:
            if "__signature__" not in vars(function):  # the recording code takes *args
                with contextlib.suppress(TypeError, ValueError):
                    function.__signature__ = inspect.signature(function)  # type: ignore[attr-defined]
            function.__code__ = trampoline
    except BaseException:
        for function, code, _ in replacements:
            function.__code__ = code
        raise
    for hook in hooks:  # after the replacements, which the hooks would refuse
        sys.addaudithook(hook)
    _WATCHING.append(tuple(holders))  # kept alive, so that their ids stay theirs


def _recognition_hook(
    originals: dict[str, tuple[str, Callable[..., Any]]],
    labels: frozenset[str],
    protected: tuple[frozenset[int], frozenset[int]],
    graph_tools: tuple[Callable[[str], None], Callable[..., None]],
    op_callbacks: Any,
) -> Callable[[str, tuple[Any, ...]], None]:
    """The audit hook that runs the original clip functions and records their calls.

    It never raises (an exception would put its frame, and so its closure, in a traceback
    the student's code could read); what it cannot allow, it notes.
    """
    (watched, hidden), (mark, callback) = protected, graph_tools
    walks = _OBJECT_WALKS if guards.IN_WORKER else frozenset()
    events = walks | {
        _CALL_EVENT,
        _OP_EVENT,
        _OPEN_EVENT,
        _CLOSE_EVENT,
        "object.__setattr__",
        "function.__new__",
    }
    window: dict[str, Any] = {"token": None, "issued": 0, "calls": [], "notes": [], "ops": False}
    standing: list[str] = []
    depth: dict[int, int] = {}
    get_ident = threading.get_ident

    def run(key: Any, args: Any, kwargs: Any, answer: Any) -> None:
        if not (isinstance(key, str) and key in originals and type(answer) is list):
            return
        if type(args) is not tuple or type(kwargs) is not dict:
            return
        thread = get_ident()
        level = depth.get(thread, 0)
        if level == 0:  # the outermost forbidden call names the violation
            if window["token"] is not None:
                window["calls"].append(originals[key][0])
            with contextlib.suppress(Exception):
                mark(originals[key][0])
        depth[thread] = level + 1
        try:
            value = originals[key][1](*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - handed to the caller as it was
            trace = error.__traceback__
            error.__traceback__ = trace.tb_next if trace is not None else None
            answer[:] = [False, error]
        else:
            answer[:] = [True, value]
        finally:
            depth[thread] = level

    def open_window(box: Any) -> None:
        if type(box) is not list:
            return
        if window["token"] is not None:
            window["notes"].append("opened the clip recorder's window again")
        else:
            window["calls"], window["notes"] = [], []
        window["issued"] += 1
        window["token"] = window["issued"]
        if not window["ops"]:
            with contextlib.suppress(Exception):
                op_callbacks.add_op_callback(callback)
                window["ops"] = True
        box.append(window["token"])

    def close_window(token: Any, box: Any) -> None:
        if type(box) is not list:
            return
        notes = window["notes"]
        if window["token"] is None or window["token"] != token:
            notes.append("closed the clip recorder's window early")
        if window["ops"]:
            try:
                op_callbacks.remove_op_callback(callback)
            except (KeyError, ValueError):
                notes.append("removed the clip recorder's op callback")
        window["token"], window["ops"] = None, False
        box.extend([list(window["calls"]), sorted(set(notes + standing))])

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in events:
            return
        try:
            if event == _CALL_EVENT and len(args) == 4:
                run(*args)
            elif event == _OP_EVENT and args and args[0] in labels:
                if window["token"] is not None:
                    window["calls"].append(args[0])
            elif event == _OPEN_EVENT and len(args) == 1:
                open_window(args[0])
            elif event == _CLOSE_EVENT and len(args) == 2:
                close_window(*args)
            elif event == "object.__setattr__" and args and id(args[0]) in watched:
                if args[1] in _CODE_ATTRIBUTES:
                    standing.append("changed what a library clip function runs")
            elif event == "function.__new__" and args and id(args[0]) in hidden:
                standing.append("made a copy of a library clip function")
            elif event in walks:
                standing.append(f"walked the interpreter's objects ({event})")
        except Exception:  # noqa: BLE001, S110 - the hook must never raise (see above)
            pass

    return hook


def _refusal_hook(
    watched: frozenset[int], hidden: frozenset[int]
) -> Callable[[str, tuple[Any, ...]], None]:
    """In a worker: refuse changing the watched functions and copying the originals' code.
    It holds nothing worth reading."""

    def refuse(event: str, args: tuple[Any, ...]) -> None:
        if event == "object.__setattr__" and args and id(args[0]) in watched:
            if args[1] in _CODE_ATTRIBUTES:
                raise PermissionError(
                    f"{args[1]} of a library clip function cannot be changed while grading"
                )
        if (
            event in ("function.__new__", "exec", "marshal.dumps")
            and args
            and id(args[0]) in hidden
        ):
            raise PermissionError("a library clip function cannot be copied while grading")

    return refuse
