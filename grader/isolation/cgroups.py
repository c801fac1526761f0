"""A cgroup v2 group for one worker's process tree, with a memory limit for the whole tree.

``RLIMIT_AS`` limits each process on its own: a submission's processes, up to its process
limit, each get the whole limit, so together they can hold many times it. A cgroup's
``memory.max`` limits the memory of every process in the group together, and the kernel
counts an out-of-memory kill there in ``memory.events`` (``oom_kill``), so the grader can
tell the student that the memory limit ended their code. :class:`WorkerCgroup` makes such
a group where the machine lets the grader make one, and says why not where it does not.
It only reads and writes the cgroup2 file system (no library does this without a service
manager such as systemd, which the grader cannot count on):

- the cgroup v2 hierarchy is found in ``/proc/self/mountinfo`` (file system ``cgroup2``),
  the grader's own group in ``/proc/self/cgroup`` (the line ``0::<path>``);
- that group must be offered the memory controller (its ``cgroup.controllers``; on a
  machine where cgroup v1 holds the controller, it is not), and the grader must be able to
  write there: root, or a subtree delegated to the grader's user;
- cgroup v2's *no internal processes* rule: a group other than the root that holds
  processes cannot give a controller to its children (writing ``+memory`` to its
  ``cgroup.subtree_control`` fails with EBUSY). The grader then moves the group's
  processes, itself included, into a leaf of their own (:data:`GRADER_LEAF`), once, and
  makes each worker's group beside that leaf. A grader that starts in such a leaf (a later
  process of the same batch) uses the leaf's parent, so leaves are not nested;
- each worker's group is ``WORKER_PREFIX + name``, with ``memory.max`` set,
  ``memory.swap.max`` set to 0 where the kernel accounts swap (so the limit is not escaped
  into swap), and ``memory.oom.group`` set to 1 where present (an out-of-memory kill ends
  the whole tree at once, not one process of it).

A process must be added (:meth:`WorkerCgroup.add`) before it runs the student's code: the
processes it starts afterwards are born in the group, the ones it started before are not.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import time
from pathlib import Path

#: Where the kernel tells this process its mounts and its cgroups.
PROC_MOUNTINFO = Path("/proc/self/mountinfo")
PROC_CGROUP = Path("/proc/self/cgroup")
#: The leaf the grader's own processes move into when their group must give the memory
#: controller to its children.
GRADER_LEAF = "grader"
#: The prefix of a worker's group's name.
WORKER_PREFIX = "worker-"
#: The names a caller may give a worker's group (after the prefix): no path separator.
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: Seconds :meth:`WorkerCgroup.remove` waits for the killed processes to leave the group.
REMOVE_SECONDS = 5.0
#: The errors that mean "not allowed here" rather than "something broke".
_REFUSED = (errno.EACCES, errno.EPERM, errno.EROFS)


class CgroupFiles:
    """The file operations on the cgroup2 file system, in one place (a test replaces them
    with a fake kernel's)."""

    def read(self, path: Path) -> str:
        """A cgroup interface file's text."""
        return path.read_text(encoding="ascii")

    def write(self, path: Path, text: str) -> None:
        """Write ``text`` to an interface file in one ``write`` call, as the kernel wants."""
        descriptor = os.open(path, os.O_WRONLY)
        try:
            os.write(descriptor, text.encode("ascii"))
        finally:
            os.close(descriptor)

    def exists(self, path: Path) -> bool:
        """Whether an interface file exists (some depend on the kernel's version and
        settings)."""
        return path.exists()

    def mkdir(self, path: Path) -> None:
        """Make a group (the kernel fills in its interface files)."""
        path.mkdir()

    def rmdir(self, path: Path) -> None:
        """Remove a group that holds no process."""
        path.rmdir()

    def kill(self, pid: int) -> None:
        """Kill one process (where the kernel has no ``cgroup.kill``)."""
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _unescape(field: str) -> str:
    """A mountinfo path field: spaces, tabs, newlines and backslashes are octal escapes."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _hierarchy_mounts(mountinfo: str) -> list[tuple[str, Path]]:
    """The cgroup2 mounts: (the hierarchy path they show, their mount point)."""
    mounts = []
    for line in mountinfo.splitlines():
        fields, _, after = line.partition(" - ")
        fields = fields.split()
        if len(fields) >= 5 and after.split()[:1] == ["cgroup2"]:
            mounts.append((_unescape(fields[3]), Path(_unescape(fields[4]))))
    return mounts


def own_group(files: CgroupFiles | None = None) -> tuple[Path | None, str]:
    """This process's cgroup v2 group as a directory, or None and why not.

    Returns:
        ``(directory, "")``, or ``(None, reason)``.
    """
    files = files or CgroupFiles()
    try:
        mounts = _hierarchy_mounts(files.read(PROC_MOUNTINFO))
        lines = files.read(PROC_CGROUP).splitlines()
    except OSError as error:
        return None, f"the process's mounts and cgroups cannot be read ({error.strerror})"
    if not mounts:
        return None, "no cgroup v2 file system is mounted"
    own = next((line[3:] for line in lines if line.startswith("0::")), None)
    if own is None:
        return None, "this process is in no cgroup v2 group"
    for shown, mount_point in mounts:
        relative = os.path.relpath(own, shown)
        if relative == "." or not relative.startswith(".."):
            return (mount_point if relative == "." else mount_point / relative), ""
    return None, "the grader's cgroup is outside the mounted cgroup v2 file system"


def _reason(what: str, error: OSError) -> str:
    if error.errno in _REFUSED:
        return f"{what}: the grader's cgroup is not delegated to it ({error.strerror})"
    return f"{what} ({error.strerror or error})"


def _words(files: CgroupFiles, path: Path) -> list[str]:
    return files.read(path).split()


def _give_memory_to_children(files: CgroupFiles, base: Path) -> str:
    """Enable the memory controller for ``base``'s children, moving ``base``'s processes
    into :data:`GRADER_LEAF` when the no-internal-processes rule asks for it.

    Returns:
        "" when done, else why not.
    """
    control = base / "cgroup.subtree_control"
    if "memory" in _words(files, control):
        return ""
    try:
        files.write(control, "+memory")
        return ""
    except OSError as error:
        if error.errno != errno.EBUSY:
            return _reason("the memory controller cannot be given to worker groups", error)
    leaf = base / GRADER_LEAF
    try:
        if not files.exists(leaf / "cgroup.procs"):
            files.mkdir(leaf)
        # Processes may start or end meanwhile: move until none is left (a few rounds).
        for _ in range(10):
            pids = _words(files, base / "cgroup.procs")
            if not pids:
                break
            for pid in pids:
                try:
                    files.write(leaf / "cgroup.procs", pid)
                except ProcessLookupError:
                    continue  # ended meanwhile
        files.write(control, "+memory")
    except OSError as error:
        return _reason("the grader's processes cannot move into a leaf cgroup", error)
    return ""


class WorkerCgroup:
    """A cgroup v2 group holding one worker's process tree, with a memory limit.

    Made by :meth:`create`; ``path`` is its directory.
    """

    def __init__(self, path: Path, files: CgroupFiles | None = None) -> None:
        self.path = path
        self.files = files or CgroupFiles()

    @classmethod
    def create(
        cls,
        name: str,
        memory_bytes: int,
        *,
        oom_group: bool = True,
        files: CgroupFiles | None = None,
    ) -> tuple[WorkerCgroup | None, str]:
        """Make a group for one worker with ``memory.max = memory_bytes``, where possible.

        Args:
            name: the group's name after :data:`WORKER_PREFIX` (letters, digits, ``_.-``),
                unique among the workers that live at the same time.
            memory_bytes: the memory limit of every process in the group together.
            oom_group: whether an out-of-memory kill ends the whole group at once.
            files: the file operations (a test's fake kernel); the real ones when None.

        Returns:
            ``(group, "")``, or ``(None, reason)``: a short sentence saying why no group
            could be made, for the report's isolation line.

        Raises:
            ValueError: for a name that is not of the allowed form, or a limit below 1.
        """
        if not _NAME.fullmatch(name) or name in (".", ".."):
            raise ValueError(f"{name!r} is not a cgroup name (letters, digits, _ . -)")
        if memory_bytes < 1:
            raise ValueError(f"a memory limit of {memory_bytes} bytes")
        files = files or CgroupFiles()
        base, reason = own_group(files)
        if base is None:
            return None, reason
        try:
            parent_control = base.parent / "cgroup.subtree_control"
            if (
                base.name == GRADER_LEAF
                and files.exists(parent_control)
                and "memory" in _words(files, parent_control)
            ):
                base = base.parent  # a grader already moved into its leaf: use its parent
            if "memory" not in _words(files, base / "cgroup.controllers"):
                return None, (
                    "the memory controller is not offered to the grader's cgroup v2 group "
                    "(cgroup v1 holds it, or it is not delegated)"
                )
        except OSError as error:
            return None, _reason("the grader's cgroup cannot be read", error)
        reason = _give_memory_to_children(files, base)
        if reason:
            return None, reason
        path = base / f"{WORKER_PREFIX}{name}"
        try:
            files.mkdir(path)
        except OSError as error:
            return None, _reason("a worker cgroup cannot be made", error)
        group = cls(path, files)
        try:
            files.write(path / "memory.max", str(int(memory_bytes)))
            if files.exists(path / "memory.swap.max"):
                files.write(path / "memory.swap.max", "0")
            if oom_group and files.exists(path / "memory.oom.group"):
                files.write(path / "memory.oom.group", "1")
        except OSError as error:
            group.remove()
            return None, _reason("the worker cgroup's memory limit cannot be set", error)
        return group, ""

    def add(self, pid: int) -> None:
        """Move a process into the group (before it runs the student's code).

        Raises:
            OSError: when the kernel refuses (the process ended, or is not the grader's
                to move).
        """
        self.files.write(self.path / "cgroup.procs", str(int(pid)))

    def pids(self) -> list[int]:
        """The processes in the group now."""
        return [int(pid) for pid in _words(self.files, self.path / "cgroup.procs")]

    def current(self) -> int:
        """The group's memory in use now, in bytes."""
        return int(self.files.read(self.path / "memory.current"))

    def peak(self) -> int | None:
        """The most memory the group has used, in bytes; None on a kernel without
        ``memory.peak`` (before Linux 5.19)."""
        if not self.files.exists(self.path / "memory.peak"):
            return None
        return int(self.files.read(self.path / "memory.peak"))

    def events(self) -> dict[str, int]:
        """The group's ``memory.events`` counters: ``max`` (times the limit was reached),
        ``oom`` and ``oom_kill`` (processes the kernel killed for memory), and others."""
        counters = {}
        for line in self.files.read(self.path / "memory.events").splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                counters[key] = int(value)
        return counters

    def oom_kills(self) -> int:
        """How many processes of the group the kernel killed for going past the limit."""
        return self.events().get("oom_kill", 0)

    def remove(self, timeout: float = REMOVE_SECONDS) -> bool:
        """Kill every process in the group and remove it.

        ``cgroup.kill`` (Linux 5.14) kills the whole tree at once, processes it is
        starting included; without it each process is killed by its id, round after
        round until none is left.

        Args:
            timeout: seconds to wait for the killed processes to leave the group.

        Returns:
            whether the group was removed (False: a process outlived ``timeout``, or
            the group was gone already).
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.files.exists(self.path / "cgroup.kill"):
                    self.files.write(self.path / "cgroup.kill", "1")
                else:
                    for pid in self.pids():
                        self.files.kill(pid)
                if not self._populated():
                    self.files.rmdir(self.path)
                    return True
            except FileNotFoundError:
                return False  # removed already
            except OSError as error:
                if error.errno != errno.EBUSY:  # EBUSY: a process is still leaving
                    return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def _populated(self) -> bool:
        """Whether a process is still in the group (``cgroup.events``, else the pids)."""
        if self.files.exists(self.path / "cgroup.events"):
            for line in self.files.read(self.path / "cgroup.events").splitlines():
                if line.startswith("populated "):
                    return line.split()[1] != "0"
        return bool(self.pids())
