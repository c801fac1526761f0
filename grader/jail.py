"""Where a worker runs: a jail of Linux namespaces when the grader runs as root.

``namespace`` mode (the default where it is available: root, with ``unshare`` and
``setpriv``): the worker starts in new mount, PID, network, IPC and UTS namespaces. Before
any student code runs, the course's own files (the repository with the reference
solutions and the grader), the submissions folder and the grader's output are covered
by empty read-only file systems; every other file system is remounted read-only;
``/tmp``, ``/var/tmp`` and ``/dev/shm`` are private, size-limited and gone when the
worker ends; the network has no interface but a loopback that is down; every capability
is dropped with ``no_new_privs`` set, and the process runs as ``nobody`` where the Python
installation is readable by that user (otherwise as a root without capabilities, which
cannot undo the mounts). The worker's own code (four small modules, no reference and no
checks) arrives through its standard input, not from the hidden files. When the worker
ends, the kernel ends every process left in its PID namespace.

``process`` mode (not root, a container that forbids namespaces, or
``GRADER_ISOLATION=process``): a plain child process in a
session of its own, with the same resource limits, ``import solutions`` refused, and its
process group killed at the end. It cannot hide files from the student's code.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

#: Environment variable to force a mode: ``namespace`` or ``process``.
MODE_VARIABLE = "GRADER_ISOLATION"
#: The grader modules a worker needs, sent to a jailed worker through its stdin.
WORKER_MODULES = (
    "grader",
    "grader.quiet",
    "grader.protocol",
    "grader.models",
    "grader.measure",
    "grader.worker",
)
NOBODY = 65534
_PACKAGE = Path(__file__).resolve().parent

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
    if name == "grader":
        module.__path__ = []
    sys.modules[name] = module
for name, source in sources.items():
    exec(compile(source, "<" + name + ">", "exec"), sys.modules[name].__dict__)
sys.modules["grader.worker"].main()
"""

SETUP = """\
set -e
for path in "$@"; do
  if [ -d "$path" ]; then mount -t tmpfs -o ro,size=4k,mode=0555 hidden "$path"; fi
done
for point in $(awk '{print $2}' /proc/self/mounts); do
  case "$point" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
  mount -o remount,bind,ro "$point" 2>/dev/null || true
done
# Python itself may live under a temporary folder (a virtual environment in /tmp, say):
# hold those folders aside, make the temporary folders private, then put them back.
index=0
if [ -n "$GRADER_KEEP" ]; then
  mount -t tmpfs -o size=1m holder /mnt
  for path in $(echo "$GRADER_KEEP" | tr ':' ' '); do
    index=$((index + 1)); mkdir -p "/mnt/$index"; mount --bind "$path" "/mnt/$index"
  done
fi
mount -t tmpfs -o mode=1777,size=256m,nosuid,nodev private /tmp
for path in /var/tmp /dev/shm; do
  if [ -d "$path" ]; then mount -t tmpfs -o mode=1777,size=64m,nosuid,nodev private "$path"; fi
done
index=0
for path in $(echo "$GRADER_KEEP" | tr ':' ' '); do
  index=$((index + 1)); mkdir -p "$path"; mount --bind "/mnt/$index" "$path"
  mount -o remount,bind,ro "$path"
done
mkdir -m 0777 /tmp/work
cd /tmp/work
# Not exec: the shell stays PID 1 of the namespace, so that the worker, as PID 2, dies of
# signals like any process (PID 1 ignores those it has no handler for).
"$GRADER_SETPRIV" $GRADER_USER --bounding-set=-all --inh-caps=-all --no-new-privs -- \
  "$GRADER_PYTHON" -I -c "$GRADER_BOOTSTRAP" && status=0 || status=$?
exit $status
"""


def mode() -> str:
    """The isolation mode workers run in: ``namespace`` or ``process``."""
    wanted = os.environ.get(MODE_VARIABLE, "").strip().lower()
    if wanted == "process":
        return "process"
    return "namespace" if _namespaces_work() else "process"


#: The namespaces of the jail; the probe tries exactly these.
NAMESPACE_FLAGS = ("--mount", "--pid", "--net", "--ipc", "--uts", "--fork", "--mount-proc")
_PROBED: list[bool] = []


def _namespaces_work() -> bool:
    """Whether this machine lets us make the jail (root is not enough inside some containers)."""
    if not _PROBED:
        works = (
            sys.platform.startswith("linux")
            and os.geteuid() == 0
            and shutil.which("unshare") is not None
            and shutil.which("setpriv") is not None
        )
        if works:
            import subprocess

            probe = [
                shutil.which("unshare"),
                *NAMESPACE_FLAGS,
                "--",
                "/bin/sh",
                "-c",
                "mount -t tmpfs probe /tmp && mount -o remount,bind,ro /",
            ]
            try:
                works = subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
            except (OSError, subprocess.SubprocessError):
                works = False
        _PROBED.append(works)
    return _PROBED[0]


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


def can_run_as_nobody() -> bool:
    """Whether ``nobody`` can run this Python and import its packages."""
    import numpy

    return readable_by_others(Path(sys.executable)) and readable_by_others(
        Path(numpy.__file__).parent.parent
    )


def hidden_paths(extra: list[Path]) -> list[str]:
    """The directories to cover: the course's files and the caller's extra folders."""
    # A source checkout is hidden whole; an installed package only its own folders.
    checkout = (_PACKAGE.parent / "pyproject.toml").exists()
    paths = {str(_PACKAGE.parent if checkout else _PACKAGE)}
    try:
        import solutions

        paths.add(str(Path(solutions.__file__).resolve().parent))
    except ImportError:  # pragma: no cover - the package ships the reference
        pass
    paths.update(str(Path(p).resolve()) for p in extra)
    # Never cover what Python itself needs: a folder holding the interpreter or its packages.
    import numpy

    needed = [
        Path(sys.executable).resolve(),
        Path(sys.prefix).resolve(),
        Path(numpy.__file__).resolve(),
    ]
    return sorted(
        p
        for p in paths
        if p != "/" and not any(n == Path(p) or Path(p) in n.parents for n in needed)
    )


def worker_command(hide: list[Path]) -> tuple[list[str], dict[str, str]]:
    """The command and extra environment that start a jailed worker.

    Args:
        hide: folders to cover besides the course's own files (submissions, output).

    Returns:
        ``(argv, environment additions)``.
    """
    user = f"--reuid={NOBODY} --regid={NOBODY} --clear-groups" if can_run_as_nobody() else ""
    argv = [
        shutil.which("unshare") or "unshare",
        *NAMESPACE_FLAGS,
        "--kill-child",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        SETUP,
        "grader-jail",
        *hidden_paths(hide),
    ]
    env = {
        "GRADER_KEEP": ":".join(kept_paths()),
        "GRADER_SETPRIV": shutil.which("setpriv") or "setpriv",
        "GRADER_USER": user,
        "GRADER_PYTHON": sys.executable,
        "GRADER_BOOTSTRAP": BOOTSTRAP,
    }
    return argv, env


#: Folders the jail replaces with private, empty ones.
PRIVATE_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def kept_paths() -> list[str]:
    """Folders Python needs that lie in a folder the jail makes private (kept visible)."""
    import site

    import numpy

    needed = {
        Path(sys.prefix).resolve(),
        Path(sys.base_prefix).resolve(),
        Path(sys.executable).resolve().parent,
        Path(numpy.__file__).resolve().parent.parent,
        *(Path(p).resolve() for p in site.getsitepackages()),
    }
    kept = sorted(
        str(path)
        for path in needed
        if path.is_dir()
        and any(Path(f) in path.parents for f in PRIVATE_FOLDERS)
        and " " not in str(path)
    )
    # A folder inside another kept folder comes along with it.
    return [p for p in kept if not any(Path(q) in Path(p).parents for q in kept)]


def worker_sources() -> dict[str, str]:
    """The worker's modules, by name, as sent to a jailed worker."""
    sources = {}
    for name in WORKER_MODULES:
        relative = "__init__.py" if name == "grader" else name.split(".", 1)[1] + ".py"
        sources[name] = (_PACKAGE / relative).read_text(encoding="utf-8")
    return sources
