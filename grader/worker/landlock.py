"""Landlock: limit a process's file access to an allow-list, with no privilege needed.

Used in ``dropped`` mode (:mod:`grader.isolation.jail`), where no namespace can be made:
the worker restricts itself before any student code runs, and the restriction holds for
every process it starts, for good. Three system calls (``landlock_create_ruleset``,
``landlock_add_rule``, ``landlock_restrict_self``, the same numbers on every architecture)
called through ``ctypes``; :mod:`grader.isolation.jail` says why not a binding.

Besides files, where the kernel's Landlock has them: no TCP ``bind`` or ``connect``
(ABI 4), and no signal to a process outside the domain and no connection to an abstract
Unix socket made outside it (ABI 6).
"""

from __future__ import annotations

import ctypes
import json
import os
import tempfile

#: The variable the grader passes the allow-list in: readable and writable paths, JSON.
VARIABLE = "GRADER_LANDLOCK"

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1, 2, 4, 8
_TRUNCATE, _IOCTL_DEV = 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2
_PR_SET_NO_NEW_PRIVS = 38
#: Rights that apply to a file (the others apply to a folder only).
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (or it is disabled)."""
    try:
        version = _libc().syscall(
            _CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION
        )
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        return 0
    return max(int(version), 0)


def _fs_rights(version: int) -> int:
    """Every file-system right the kernel of ``version`` knows."""
    rights = (1 << 13) - 1  # ABI 1: execute ... make_sym
    if version >= 2:
        rights |= 1 << 13  # refer
    if version >= 3:
        rights |= _TRUNCATE
    if version >= 5:
        rights |= _IOCTL_DEV
    return rights


def restrict(readable: list[str], writable: list[str]) -> list[str]:
    """Restrict this process and its future children to the allow-list, for good.

    Args:
        readable: paths (folders or files) that may be read and executed, not written.
        writable: paths where every file-system right is allowed (the scratch folder, and
            the character devices a process writes to, such as ``/dev/null``).

    Returns:
        what holds, in words (e.g. ``["files", "tcp", "signals"]``); empty where the kernel
        has no Landlock.

    Raises:
        OSError: when the kernel has Landlock but the restriction failed.
    """
    version = abi()
    if version < 1:
        return []
    libc = _libc()
    handled = _fs_rights(version)
    attr = _RulesetAttr(handled, 0, 0)
    held = ["files"]
    if version >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        held.append("tcp")
    if version >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        held.append("signals")
    size = ctypes.sizeof(attr) if version >= 6 else (16 if version >= 4 else 8)
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)
    if ruleset < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"landlock_create_ruleset: {os.strerror(code)}")
    try:
        read = _EXECUTE | _READ_FILE | _READ_DIR
        for paths, rights in ((readable, read), (writable, handled)):
            for path in paths:
                _add(libc, ruleset, path, rights & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"no_new_privs: {os.strerror(code)}")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"landlock_restrict_self: {os.strerror(code)}")
    finally:
        os.close(ruleset)
    return held


def _add(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    """Allow ``rights`` beneath ``path`` (a missing path is skipped)."""
    try:
        descriptor = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(rights, descriptor)
        if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"landlock_add_rule {path}: {os.strerror(code)}")
    finally:
        os.close(descriptor)


def confine_submission(scratch: str) -> list[str]:
    """In a submission's forked process (``dropped`` mode): a further restriction, for good,
    to the worker's allow-list with writes in this submission's own scratch folder only.

    Every submission a worker serves runs as the same uid, under the worker's own domain,
    which may write anywhere in the worker's scratch folder: without this, a submission
    could leave files (or a planted cache) for the next classmate graded by that worker.
    Domains stack, so this one can only take rights away. HOME and the temporary folder
    point into the submission's folder, which the zygote removes when it ends.

    Args:
        scratch: the submission's own folder, inside the worker's.

    Returns:
        what holds, as :func:`restrict` says (empty without Landlock).
    """
    os.environ["HOME"] = os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    allowed = os.environ.get(VARIABLE)
    if not allowed:
        return []
    paths = json.loads(allowed)
    devices = [path for path in paths["write"] if path.startswith("/dev/")]
    return restrict(paths["read"], [scratch, *devices])
