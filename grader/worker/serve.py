"""Serving the grader's requests: the worker's zygote, one forked child per submission.

Run as ``python -m grader.worker`` by :mod:`grader.isolation.sandbox` (in the jail, by
:data:`grader.isolation.jail.BOOTSTRAP`). Its standard input and output are one Unix
socket, the *control channel*: the grader's orders (``warm``, ``fork``) and the zygote's
reports (``forked``, ``ended``) travel there, as length-prefixed JSON messages
(:mod:`grader.isolation.protocol`). With each ``fork`` the grader passes a fresh socket,
the submission's own channel, over which the forked child serves that submission's
requests. The child closes the control channel before any student code runs, so nothing a
submission's processes write can pass for the zygote's word: a submission has ended when
the zygote's ``waitpid`` says so, and the next one is forked by the zygote alone. The
student's own prints go to a capture file, never into a channel. Nothing here decides a
score: it returns what the student's functions returned (:mod:`grader.worker.loading`), as
plain data.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import sys
import types
from collections.abc import Callable
from typing import Any

from grader.isolation.protocol import SocketStream, read_message, receive_socket, write_message
from grader.quiet import import_tensorflow, silence_tensorflow
from grader.worker import guards, landlock, limits
from grader.worker.confine import JAIL_VARIABLE, isolate_submission, not_dumpable
from grader.worker.guards import BLOCKED_MODULES, BlockSolutions, autodiff_loaded, guard_autodiff
from grader.worker.loading import NOTEBOOK_HELPERS, Worker
from grader.worker.reaping import kill_children, set_subreaper


def _redirect_output(path: str) -> None:
    """Send fd 1 and 2 (the student's prints) to ``path``."""
    capture = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(capture, 1)
    os.dup2(capture, 2)
    os.close(capture)


def _serve(channel: SocketStream) -> None:
    """In a forked child: serve one submission's requests, on its own channel, until ``end``."""

    def ask(message: dict[str, Any]) -> dict[str, Any] | None:
        write_message(channel, message)
        return read_message(channel)

    worker = Worker(ask)
    write_message(channel, {"ok": True, "pid": os.getpid(), "autodiff": autodiff_loaded()})
    while True:
        message = read_message(channel)
        if message is None or message.get("op") == "end":
            return
        op = message.get("op")
        if op == "load":
            answer = worker.load(message["part"], message["cells"])
        elif op == "call":
            answer = worker.call(message)
        elif op == "measure":
            answer = worker.measure(message)
        else:
            answer = {
                "ok": False,
                "error": {"type": "ProtocolError", "message": f"unknown op {op!r}", "where": ""},
            }
        write_message(channel, answer)


def _demo_stand_in(name: str) -> Callable[..., Any]:
    """A lesson demonstration's stand-in in the worker (its cells do not run here)."""
    if name.startswith("__"):
        raise AttributeError(name)

    def stand_in(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"the demonstration {name} does not run while grading")

    return stand_in


def main() -> None:
    """Run the zygote: warm up, then fork one child per submission until the stream ends."""
    guards.IN_WORKER = True

    limits.LIMITS.update(limits.apply_limits())
    silence_tensorflow()
    # The control channel (stdin and stdout are the same socket), kept on a descriptor that
    # no program this process or its children execute inherits.
    control = SocketStream(socket.socket(fileno=os.dup(0)))
    with open(os.devnull, "rb") as devnull:
        os.dup2(devnull.fileno(), 0)
    _redirect_output(os.devnull)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), line_buffering=True)
    sys.stdin = io.StringIO("")
    sys.meta_path.insert(0, BlockSolutions())
    # A notebook's setup cell imports the self-check helpers; here they do nothing.
    helpers = types.ModuleType("grader.notebook")
    for name in NOTEBOOK_HELPERS:
        setattr(helpers, name, lambda *args, **kwargs: None)
    sys.modules["grader.notebook"] = helpers
    # The lessons' demonstrations (grader.demos) run the reference: while grading, their
    # cells are skipped, and a setup cell's import of them finds stand-ins that say so.
    demos = types.ModuleType("grader.demos")
    demos.__getattr__ = _demo_stand_in  # type: ignore[attr-defined]
    sys.modules["grader.demos"] = demos
    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED_MODULES:
            del sys.modules[name]
    set_subreaper()
    # Not dumpable: a submission's processes, though of the same user, cannot read or
    # write this process's memory, nor trace it.
    not_dumpable()
    jailed = os.environ.get(JAIL_VARIABLE) == "1"
    dropped = bool(os.environ.get(landlock.VARIABLE))
    home = os.getcwd()
    children = 0
    while True:
        message = read_message(control)
        if message is None:
            return
        op = message.get("op")
        if op == "warm":
            if message.get("tensorflow"):
                import_tensorflow(initialise=False)  # the runtime would not survive a fork
            elif message.get("numpy_only"):
                # Every notebook of the course imports pyplot (TensorFlow's import brings it
                # into the other worker): imported once here, not in every child (~1 s each).
                try:
                    # lazy: a preload of the NumPy-only worker only, and pyplot may be missing
                    import matplotlib.pyplot  # noqa: F401
                except ImportError:
                    pass

                # Every child of this worker runs NumPy-only parts: the guard is on for good.
                guard_autodiff(always=True)
            write_message(control, {"ok": True, "pid": os.getpid(), "autodiff": autodiff_loaded()})
        elif op == "fork":
            submission = SocketStream(receive_socket(control))
            children += 1
            scratch = os.path.join(home, f"submission-{children}")
            os.makedirs(scratch, exist_ok=True)
            pid = os.fork()
            if pid == 0:
                try:
                    # Before any student code: the control channel is the zygote's alone.
                    control.close()
                    os.setsid()
                    os.chdir(scratch)
                    if dropped:  # this submission's folder only, not its worker's
                        landlock.confine_submission(scratch)
                    if jailed:

                        def serve(channel: SocketStream = submission) -> None:
                            _redirect_output("captured-output.txt")
                            _serve(channel)

                        def fail(message: str, channel: SocketStream = submission) -> None:
                            error = {"type": "Jail", "message": message}
                            write_message(channel, {"ok": False, "error": error})

                        isolate_submission(serve, fail)
                    _redirect_output(os.path.join(scratch, "captured-output.txt"))
                    _serve(submission)
                except BaseException as error:  # noqa: BLE001 - the zygote reports the end
                    if jailed:
                        write_message(
                            submission,
                            {"ok": False, "error": {"type": "Jail", "message": str(error)}},
                        )
                finally:
                    os._exit(0)
            submission.close()
            write_message(control, {"op": "forked", "pid": pid})
            # The kernel's word, in a process the submission cannot reach (not dumpable,
            # in another PID namespace in the jail): the submission's first process ended.
            _, status = os.waitpid(pid, 0)
            leftovers = kill_children()
            shutil.rmtree(scratch, ignore_errors=True)
            write_message(
                control,
                {
                    "op": "ended",
                    "status": os.waitstatus_to_exitcode(status),
                    "leftovers": leftovers,
                },
            )
        else:
            write_message(
                control,
                {
                    "ok": False,
                    "error": {
                        "type": "ProtocolError",
                        "message": f"unknown op {op!r}",
                        "where": "",
                    },
                },
            )


if __name__ == "__main__":
    main()
