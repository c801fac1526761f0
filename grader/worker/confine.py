"""The confinement of a submission's processes in the jail: namespaces, mounts, privileges.

In jail mode :func:`isolate_submission` gives each submission new user, mount and PID
namespaces of its own, fresh size-limited ``/tmp`` and ``/dev/shm``, its own ``/proc``, no
capabilities, ``no_new_privs`` and a process limit; :func:`not_dumpable` keeps the warm
worker's memory from its submissions (:mod:`grader.isolation.jail` describes the whole
jail). The memory and file-size limits of every mode are :mod:`grader.worker.limits`'.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any

from grader.worker import limits

#: Set to ``1`` by the sandbox when the worker runs in the jail (:mod:`grader.isolation.jail`).
JAIL_VARIABLE = "GRADER_JAIL"


# -- per-submission namespaces (jail mode) ----------------------------------------------

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 2, 4, 8
_MS_REC, _MS_PRIVATE = 1 << 14, 1 << 18
_PR_SET_DUMPABLE, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 4, 24, 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    """Raise OSError with errno when a libc call failed."""
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def not_dumpable() -> None:
    """Make this process's memory unreadable and untraceable by processes of its user."""
    try:
        _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _new_namespaces() -> None:
    """Enter new user, mount and PID namespaces, keeping this process's uid and gid."""
    uid, gid = os.getuid(), os.getgid()
    libc = _libc()
    _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWPID), "unshare")
    # Writing our own maps needs our /proc files to be ours: dumpable for that moment
    # (the zygote's processes are not; this one is not visible from the new namespace).
    libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as stream:
            stream.write(text)
    libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _mount(source: str, target: str, kind: str | None, flags: int, data: str = "") -> None:
    result = _libc().mount(
        source.encode(),
        target.encode(),
        kind.encode() if kind else None,
        flags,
        data.encode() if data else None,
    )
    _check(result, f"mount {target}")


def _fresh_file_systems(scratch_mb: int) -> str:
    """In the submission's server: private mounts, a fresh /tmp, /dev/shm and /proc.

    Returns:
        the submission's working folder.
    """
    size = f"size={max(scratch_mb, 1)}m,mode=1777"
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)
    _mount("scratch", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, size)
    if os.path.isdir("/dev/shm"):
        _mount("shm", "/dev/shm", "tmpfs", _MS_NOSUID | _MS_NODEV, size)
    # A /proc of this PID namespace: the warm worker and other submissions are not in it.
    _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    work = "/tmp/work"
    os.mkdir(work, 0o700)
    return work


def _drop_privileges(processes: int) -> None:
    """Drop every capability for good, set no_new_privs and the process limit."""
    libc = _libc()
    for capability in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    _check(libc.capset(header, data), "capset")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if processes:
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


# The init (PID 1) of a submission's PID namespace: not dumpable, it reaps orphans until
# the process that made the namespace kills it, and with it everything in the namespace.
_INIT = """\
import ctypes, os, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(1)
"""


def isolate_submission(serve: Callable[[], None], fail: Callable[[str], None]) -> None:
    """In the forked child: run ``serve`` as PID 2 of a PID namespace of its own; never returns.

    This process makes the namespaces, starts their init (PID 1, a small fresh Python,
    spawned without copying this one) and forks the server, which mounts the submission's
    file systems, drops its privileges and serves. When the server ends, this process
    kills init, so the kernel kills whatever is left in the namespace, then ends the way
    the server ended, for the zygote to report. Two forks of the warm process per
    submission, as few as a PID namespace allows.

    Args:
        serve: serves the submission's requests (in the server).
        fail: reports a set-up failure on the channel (in the server).
    """
    _new_namespaces()
    init = os.posix_spawn(sys.executable, [sys.executable, "-I", "-S", "-c", _INIT], {})
    server = os.fork()
    if server == 0:
        try:
            try:
                work = _fresh_file_systems(limits.LIMITS.get("scratch_mb", 0))
                _drop_privileges(limits.LIMITS.get("processes", 0))
                os.chdir(work)
            except BaseException as error:  # noqa: BLE001 - no student code has run yet
                fail(f"the submission's jail could not be made: {error}")
                raise
            serve()
        finally:
            os._exit(0)
    _, status = os.waitpid(server, 0)
    os.kill(init, signal.SIGKILL)
    os.waitpid(init, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    os._exit(code & 0xFF)
