"""Does a worker get a cgroup v2 group with a memory limit for its whole process tree where the
machine allows one, and a reason where it does not?

The logic is tested on a fake cgroup2 tree in tmp_path, whose fake kernel keeps the rules
that matter (a group offers its children only the controllers it was given; a non-root
group holding processes cannot give a controller to its children; a process is in one
group at a time). One test uses the real kernel: a child allocating past ``memory.max`` is
killed and counted; it is skipped, with the reason, where no group can be made.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.isolation import cgroups
from grader.isolation.cgroups import GRADER_LEAF, WORKER_PREFIX, CgroupFiles, WorkerCgroup

OWN = str(os.getpid())


class FakeKernel(CgroupFiles):
    """Files of a cgroup2 tree under ``mount``, with the kernel's rules that matter here."""

    def __init__(self, tmp_path: Path, own: str, *, swap: bool = True, writable: bool = True):
        self.mount = tmp_path / "cgroup"
        self.proc = tmp_path / "proc"
        self.swap, self.writable = swap, writable
        self.killed: list[int] = []
        self.proc.mkdir(parents=True)
        (self.proc / "mountinfo").write_text(
            "22 1 0:20 / / rw - ext4 /dev/root rw\n"
            f"35 22 0:30 / {self.mount} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
        )
        self._make(self.mount, controllers="cpu io memory pids")

    # -- building the fake tree ------------------------------------------------------------

    def _make(self, group: Path, controllers: str) -> None:
        group.mkdir()
        files = {
            "cgroup.procs": "",
            "cgroup.controllers": controllers,
            "cgroup.subtree_control": "",
            "cgroup.events": "populated 0\nfrozen 0\n",
            "cgroup.kill": "",
        }
        if group != self.mount and "memory" in controllers.split():
            files.update(
                {
                    "memory.max": "max",
                    "memory.current": "0",
                    "memory.peak": "0",
                    "memory.oom.group": "0",
                    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
                }
            )
            if self.swap:
                files["memory.swap.max"] = "max"
        for name, text in files.items():
            (group / name).write_text(text)

    def group(self, relative: str, pids: list[str], controllers: str = "memory pids") -> Path:
        """A group at ``relative`` below the mount holding ``pids``."""
        path = self.mount / relative
        for parent in reversed(path.relative_to(self.mount).parents[:-1]):
            if not (self.mount / parent).exists():
                self._make(self.mount / parent, controllers)
        self._make(path, controllers)
        for pid in pids:
            self._place(path, pid)
        return path

    def _place(self, group: Path, pid: str) -> None:
        for procs in self.mount.rglob("cgroup.procs"):
            kept = [p for p in procs.read_text().split() if p != pid]
            procs.write_text("".join(f"{p}\n" for p in kept))
            events = procs.parent / "cgroup.events"
            events.write_text(f"populated {int(bool(kept))}\nfrozen 0\n")
        procs = group / "cgroup.procs"
        procs.write_text(procs.read_text() + f"{pid}\n")
        (group / "cgroup.events").write_text("populated 1\nfrozen 0\n")
        if pid == OWN:  # the kernel's /proc/self/cgroup follows the process
            (self.proc / "cgroup").write_text(f"0::/{group.relative_to(self.mount)}\n")

    # -- the kernel's side of each file operation ------------------------------------------

    def _refuse_if_read_only(self) -> None:
        if not self.writable:
            raise PermissionError(errno.EACCES, "Permission denied")

    def mkdir(self, path: Path) -> None:
        self._refuse_if_read_only()
        self._make(path, (path.parent / "cgroup.subtree_control").read_text())

    def rmdir(self, path: Path) -> None:
        if (path / "cgroup.procs").read_text().split():
            raise OSError(errno.EBUSY, "Device or resource busy")
        shutil.rmtree(path)

    def kill(self, pid: int) -> None:
        self.killed.append(pid)
        self._place(self.mount, str(pid))  # gone from the group (parked at the root)
        procs = self.mount / "cgroup.procs"
        procs.write_text(procs.read_text().replace(f"{pid}\n", ""))

    def write(self, path: Path, text: str) -> None:
        self._refuse_if_read_only()
        group, name = path.parent, path.name
        control = (group / "cgroup.subtree_control").read_text().split()
        if name == "cgroup.subtree_control":
            wanted = text.strip().lstrip("+")
            if wanted not in (group / "cgroup.controllers").read_text().split():
                raise OSError(errno.ENOENT, "No such file or directory")
            if group != self.mount and (group / "cgroup.procs").read_text().split():
                raise OSError(errno.EBUSY, "Device or resource busy")  # no internal processes
            path.write_text(" ".join(sorted({*control, wanted})))
        elif name == "cgroup.procs":
            if group != self.mount and control:
                raise OSError(errno.EBUSY, "Device or resource busy")
            self._place(group, text.strip())
        elif name == "cgroup.kill":
            for pid in (group / "cgroup.procs").read_text().split():
                self.kill(int(pid))
        else:
            path.write_text(text)


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    def make(**options) -> FakeKernel:
        fake = FakeKernel(tmp_path / "kernel", OWN, **options)
        monkeypatch.setattr(cgroups, "PROC_MOUNTINFO", fake.proc / "mountinfo")
        monkeypatch.setattr(cgroups, "PROC_CGROUP", fake.proc / "cgroup")
        return fake

    return make


def test_at_the_root_a_worker_group_is_made_with_the_limit(kernel):
    """In the hierarchy's root (exempt from the no-internal-processes rule), is a worker
    group made beside the grader with memory.max, no swap and a whole-tree OOM kill?"""
    fake = kernel()
    fake._place(fake.mount, OWN)
    group, reason = WorkerCgroup.create("s1", 512 << 20, files=fake)
    assert reason == "" and group is not None
    assert group.path == fake.mount / f"{WORKER_PREFIX}s1"
    assert (fake.mount / "cgroup.procs").read_text().split() == [OWN]  # the grader stays
    assert (group.path / "memory.max").read_text() == str(512 << 20)
    assert (group.path / "memory.swap.max").read_text() == "0"
    assert (group.path / "memory.oom.group").read_text() == "1"


def test_a_group_holding_the_grader_moves_it_into_a_leaf_once(kernel):
    """Under the no-internal-processes rule, are the group's processes moved into the
    grader's leaf, the worker group made beside it, and a second group made beside it too
    (no leaf inside the leaf)?"""
    fake = kernel()
    base = fake.group("user/session", [OWN, "4242"])
    first, reason = WorkerCgroup.create("a", 1 << 30, files=fake)
    assert reason == "" and first.path == base / f"{WORKER_PREFIX}a"
    assert sorted((base / GRADER_LEAF / "cgroup.procs").read_text().split()) == sorted(
        [OWN, "4242"]
    )
    assert (base / "cgroup.procs").read_text().split() == []
    assert "memory" in (base / "cgroup.subtree_control").read_text().split()
    assert (fake.proc / "cgroup").read_text() == f"0::/user/session/{GRADER_LEAF}\n"

    second, reason = WorkerCgroup.create("b", 1 << 30, files=fake)
    assert reason == "" and second.path == base / f"{WORKER_PREFIX}b"
    assert not (base / GRADER_LEAF / GRADER_LEAF).exists()


def test_the_worker_group_adds_counts_and_removes(kernel):
    """Does a group take a process, read its peak and OOM kills, and on removal kill what
    it holds and disappear?"""
    fake = kernel()
    fake.group("session", [OWN])
    group, _ = WorkerCgroup.create("w", 64 << 20, files=fake)
    group.add(31337)
    assert group.pids() == [31337]
    (group.path / "memory.peak").write_text("67108864\n")
    (group.path / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    assert group.peak() == 64 << 20
    assert group.events()["max"] == 12 and group.oom_kills() == 1
    assert group.remove() is True
    assert fake.killed == [31337] and not group.path.exists()
    assert group.remove() is False  # gone already


def test_without_cgroup_kill_each_process_is_killed_by_its_id(kernel):
    """On a kernel without cgroup.kill (before 5.14), is every process killed by its id?"""
    fake = kernel()
    fake.group("session", [OWN])
    group, _ = WorkerCgroup.create("w", 64 << 20, files=fake)
    (group.path / "cgroup.kill").unlink()
    group.add(7001)
    group.add(7002)
    assert group.remove() is True
    assert sorted(fake.killed) == [7001, 7002]


def test_a_kernel_without_swap_accounting_still_gets_the_limit(kernel):
    """Is a missing memory.swap.max (swap not accounted) no obstacle?"""
    fake = kernel(swap=False)
    fake.group("session", [OWN])
    group, reason = WorkerCgroup.create("w", 64 << 20, files=fake)
    assert reason == "" and (group.path / "memory.max").read_text() == str(64 << 20)


@pytest.mark.parametrize(
    "setup, said",
    [
        ("no-cgroup2", "no cgroup v2 file system is mounted"),
        ("no-v2-line", "in no cgroup v2 group"),
        ("no-memory", "memory controller is not offered"),
        ("read-only", "not delegated to it"),
    ],
)
def test_where_no_group_can_be_made_the_reason_is_given(kernel, setup, said):
    """Is None returned with a short reason (for the report's isolation line) where cgroup v2
    is missing, holds no memory controller, or is not the grader's to write?"""
    fake = kernel(writable=setup != "read-only")
    fake.group("session", [], controllers="memory pids" if setup != "no-memory" else "pids")
    (fake.proc / "cgroup").write_text("0::/session\n")
    if setup == "no-cgroup2":
        (fake.proc / "mountinfo").write_text("22 1 0:20 / / rw - ext4 /dev/root rw\n")
    if setup == "no-v2-line":
        (fake.proc / "cgroup").write_text("4:memory:/session\n")
    group, reason = WorkerCgroup.create("w", 64 << 20, files=fake)
    assert group is None and said in reason, reason
    assert not list(fake.mount.rglob(f"{WORKER_PREFIX}*"))


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "..", "x" * 65])
def test_a_name_that_is_not_a_plain_word_is_refused(name):
    """Can no name lead the group outside the grader's cgroup?"""
    with pytest.raises(ValueError):
        WorkerCgroup.create(name, 1 << 20)


def test_mount_points_with_escaped_characters_are_read(tmp_path, monkeypatch):
    """Is a mount point with a space (octal-escaped in mountinfo) and a group below a bind
    mount's own root read as they are, and a group outside the mount refused?"""
    (tmp_path / "mountinfo").write_text(
        f"35 22 0:30 /user {tmp_path}/cgroup\\040v2 rw - cgroup2 cgroup2 rw\n"
    )
    (tmp_path / "cgroup").write_text("0::/user/session\n")
    monkeypatch.setattr(cgroups, "PROC_MOUNTINFO", tmp_path / "mountinfo")
    monkeypatch.setattr(cgroups, "PROC_CGROUP", tmp_path / "cgroup")
    assert cgroups.own_group() == (tmp_path / "cgroup v2" / "session", "")
    (tmp_path / "cgroup").write_text("0::/system\n")
    assert "outside the mounted" in cgroups.own_group()[1]


# -- the real kernel --------------------------------------------------------------------------

#: Allocates (and touches) 256 MB once told to go.
_HOG = "import sys; sys.stdin.readline(); block = b'x' * (256 << 20); print(len(block))"


def test_a_tree_past_its_memory_limit_is_killed_and_counted():
    """On this machine's kernel: is a child allocating 256 MB in a 64 MB group killed, and
    the kill counted in memory.events?"""
    group, reason = WorkerCgroup.create(f"test-{os.getpid()}", 64 << 20)
    if group is None:
        pytest.skip(f"no cgroup v2 memory group can be made here: {reason}")
    child = subprocess.Popen(
        [sys.executable, "-c", _HOG], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        group.add(child.pid)
        child.communicate(b"go\n", timeout=60)
        assert child.returncode == -9
        assert group.oom_kills() >= 1
        assert group.peak() is None or group.peak() <= 64 << 20
    finally:
        if child.poll() is None:
            child.kill()
        assert group.remove()
