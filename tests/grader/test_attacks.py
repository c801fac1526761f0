"""Does a hostile student reach nothing: not another student, not the host, not the answers?

Each attack replaces ``sgd_update`` of part 1 (and may run code when its module loads).
An attack that reaches nothing raises ``PermissionError: nothing reachable`` (or hits a
limit), which is the one sentence its author reads; one that reaches something returns
what it reached, and the test fails saying so. Each attack is run through ``grade`` and
inside a ``batch`` where every attacker sits between two classmates (correct ones and
ones with a mistake): their scores must be byte-identical to their scores alone, nothing
may be left running on the host, and nothing written outside the attacker's scratch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.assignment import functions_of
from grader.course.sources import reference_source
from grader.grade import grade_submission
from grader.isolation import jail
from grader.isolation.sandbox import Sandbox
from tests.grader.conftest import write_submission
from tests.paths import ROOT

pytestmark = pytest.mark.slow
JAILED = jail.mode() == "namespace"
#: Put in the command line of every process an attack starts, to find survivors: one for
#: the attacks graded alone, one for the batch, so that the two halves of this module may
#: run side by side on two xdist workers without seeing each other's processes.
MARKER = "918273645"
BATCH_MARKER = "918273654"
#: The tests that read the class's batch form one xdist group of their own (the others,
#: grading alone, share the module's group): each half builds its own course folder.
IN_THE_BATCH = pytest.mark.xdist_group("tests/grader/test_attacks.py::class_batch")
NOTHING = "raised PermissionError: nothing reachable"
PLAIN_REASON = "unsafe without the jail; " + jail.missing_protections("process")

_GIVE_UP = "    raise PermissionError('nothing reachable')\n"

_MEMORY = (
    """
import ctypes, os
def sgd_update(param, grad, learning_rate):
    libc = ctypes.CDLL(None, use_errno=True)
    visible = {int(p) for p in os.listdir('/proc') if p.isdigit()}
    pids = sorted(({os.getppid()} | visible | set(range(1, 400))) - {os.getpid(), 0})
    reached = []
    for pid in pids:
        for mode in ('rb', 'r+b'):
            try:
                with open(f'/proc/{pid}/mem', mode):
                    reached.append(f'{pid} mem {mode}')
            except OSError:
                pass
        if libc.ptrace(16, pid, 0, 0) == 0:  # PTRACE_ATTACH
            reached.append(f'{pid} ptrace')
            libc.ptrace(17, pid, 0, 0)
        buffer = ctypes.create_string_buffer(8)
        local = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 8)
        remote = (ctypes.c_void_p * 2)(0x10000, 8)
        for call in (libc.process_vm_readv, libc.process_vm_writev):
            # EFAULT (14) means the kernel let us in and only the address was wrong.
            if call(pid, local, 1, remote, 1, 0) >= 0 or ctypes.get_errno() == 14:
                reached.append(f'{pid} {call.__name__}')
    if reached:
        return 'reached ' + ', '.join(reached)
"""
    + _GIVE_UP
)

# A chain of 21 shells, each waiting for the next, the last one spying on a classmate.
_CHAIN = (
    """
import subprocess
with open('chain.sh', 'w') as script:
    script.write('if [ "$1" -lt 20 ]; then sh chain.sh $(($1 + 1)) $2; else '
                 'while true; do cat {victim} > {planted} 2>/dev/null; sleep 0.2; done; fi\\n')
subprocess.Popen(['sh', 'chain.sh', '0', '{marker}'], start_new_session=True)
def sgd_update(param, grad, learning_rate):
"""
    + _GIVE_UP
)

_DAEMON = (
    """
import subprocess
subprocess.Popen(['setsid', 'sh', '-c', '(while true; do cat {victim} > {planted} 2>/dev/null; '
                  'sleep 0.2; done; : {marker}) &'])
def sgd_update(param, grad, learning_rate):
"""
    + _GIVE_UP
)

# A process that holds the submission's channel (passed on by hand: it is not inherited),
# outlives the call in a new session, steals what the grader sends next (an ``end``, a
# classmate's code) and writes forged protocol messages of every kind (``ended``,
# ``forked``, a ready message, answers) on every descriptor it holds, to pass for the
# worker's zygote and have the next student forked from itself.
_FORGER = (
    """
import os, subprocess, sys
_FORGE = '''
import json, os, struct, sys, time
messages = [{"op": "ended", "status": 0, "leftovers": 0}, {"op": "forked", "pid": 1},
            {"ok": True, "pid": 1, "autodiff": []}, {"ok": True, "result": 1.0}]
bodies = [json.dumps(m).encode() for m in messages]
frames = b"".join(struct.pack(">Q", len(b)) + b for b in bodies)
stolen = b""
end = time.monotonic() + 30
while time.monotonic() < end:
    for fd in range(3, 256):
        try:
            stolen += os.read(fd, 1 << 16)
        except OSError:
            pass
        try:
            os.write(fd, frames)
        except OSError:
            pass
    if b"def sgd_update" in stolen or b'"fork"' in stolen:
        with open(sys.argv[2], "wb") as out:
            out.write(stolen)
    time.sleep(0.005)
'''
def _channel():
    for fd in os.listdir('/proc/self/fd'):
        try:
            if os.readlink(f'/proc/self/fd/{fd}').startswith('socket:'):
                return int(fd)
        except OSError:
            pass
def sgd_update(param, grad, learning_rate):
    fd = _channel()
    if fd is not None:
        os.set_blocking(fd, False)
        subprocess.Popen([sys.executable, '-c', _FORGE, '{marker}', {planted!r}],
                         pass_fds=(fd,), start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""
    + _GIVE_UP
)

# The shell's classic fork bomb, and Python starting processes beside it until the kernel
# says no (spawned, not forked: forking a process that loaded TensorFlow is slow).
_FORK_BOMB = """
import os
def sgd_update(param, grad, learning_rate):
    os.posix_spawn('/bin/sh', ['sh', '-c', 'bomb() { bomb | bomb & }; bomb'], {})
    while True:
        os.posix_spawn('/bin/sleep', ['sleep', '600'], {})
"""

_FILL_SCRATCH = """
def sgd_update(param, grad, learning_rate):
    index = 0
    while True:
        with open(f'/tmp/fill-{index}', 'wb') as stream:
            for _ in range(16):
                stream.write(b'x' * (1 << 20))
        index += 1
"""

# The host's folders it guesses are the course's own places (the checkout, the folder that
# holds it, the grader's home folder, the superuser's) and the usual top-level ones. A
# guessed folder counts as reached when it shows anything but the way to the interpreter,
# which the jail must show: the folders of sys.prefix and sys.base_prefix (as written and
# where links lead), of the interpreter itself and of NumPy, and the folders above them.
_READ_GUESSES = (
    """
import os, sys
def sgd_update(param, grad, learning_rate):
    reached = []
    homes = list(dict.fromkeys([{home!r}, os.path.expanduser('~root')]))
    for path in [{victim!r}, {gradebook!r}, {secret!r}, {reference!r}, '/etc/shadow',
                 *(os.path.join(h, n) for h in homes for n in ('.bashrc', '.bash_history'))]:
        try:
            with open(path, 'rb') as stream:
                stream.read(1)
            reached.append(path)
        except OSError:
            pass
    import numpy
    python = {sys.prefix, sys.base_prefix, os.path.dirname(sys.executable),
              os.path.dirname(os.path.realpath(sys.executable)),
              os.path.dirname(os.path.dirname(os.path.realpath(numpy.__file__)))}
    python |= {os.path.realpath(p) for p in python}
    way_in = set()
    for folder in python:
        while folder not in way_in and folder != os.path.dirname(folder):
            way_in.add(folder)
            folder = os.path.dirname(folder)
    guessed = [{classmate!r}, {out!r}, {course!r}, {checkout_parent!r}, *homes,
               '/home', '/mnt', '/media', '/srv', '/opt', '/sys']
    for folder in dict.fromkeys(guessed):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        shown = [n for n in names if os.path.join(folder, n) not in way_in]
        if shown:
            reached.append(f'{folder} ({len(shown)} entries)')
    for fd in os.listdir('/proc/self/fd'):  # an inherited folder fd would lead out
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:
            continue
        if os.path.isdir(f'/proc/self/fd/{fd}') and not target.startswith('/proc'):
            reached.append('fd ' + target)
    if reached:
        return 'read ' + ', '.join(reached)
"""
    + _GIVE_UP
)

_WRITE_HOST = (
    """
def sgd_update(param, grad, learning_rate):
    wrote = []
    for path in ['/dev/planted-{marker}', '/proc/sys/kernel/core_pattern', '/proc/sysrq-trigger',
                 '/usr/planted-{marker}', '/etc/planted-{marker}', {planted!r},
                 {classmate!r} + '/planted']:
        try:
            with open(path, 'w') as stream:
                stream.write('x' * 1000)
            wrote.append(path)
        except OSError:
            pass
    if wrote:
        return 'wrote ' + ', '.join(wrote)
"""
    + _GIVE_UP
)

#: (id, code replacing sgd_update, the sentence the attacker reads, needs the jail)
ATTACKS = [
    ("parent-memory-and-ptrace", _MEMORY, NOTHING, True),
    ("process-chain-20-deep", _CHAIN, NOTHING, False),
    ("double-forked-daemon", _DAEMON, NOTHING, False),
    ("forged-protocol-messages", _FORGER, NOTHING, False),
    ("fork-bomb", _FORK_BOMB, "started more processes or threads than the limit of", True),
    ("fill-scratch", _FILL_SCRATCH, "it filled its scratch space, limited to", True),
    ("read-guessed-paths", _READ_GUESSES, NOTHING, True),
    ("write-dev-and-proc-sys", _WRITE_HOST, NOTHING, True),
]
#: (id, how the attacker's chain_rule.py is made, the sentence)
FILE_ATTACKS = [
    ("symlink-to-reference", "symlink", "chain_rule.py is a symbolic link, not a plain file"),
    ("hard-link", "hardlink", "chain_rule.py is a hard link to another file, not a plain file"),
    ("fifo", "fifo", "chain_rule.py is a FIFO (named pipe), not a plain file"),
]
WRONG = "\n\ndef sgd_update(param, grad, learning_rate):\n    return param + learning_rate * grad\n"
PART_ONE = sum(f.points for f in functions_of("chain_rule"))


def needs(jailed: bool):
    return pytest.mark.skipif(jailed and not JAILED, reason=PLAIN_REASON)


def survivors(marker: str) -> list[str]:
    """Command lines of host processes an attack started (they carry the marker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in command and "pytest" not in command:
                found.append(command)
    return found


def host_markers(places: dict[str, str]) -> list[str]:
    """Files an attack may have written on the host."""
    marker = places["marker"]
    paths = [
        f"/dev/planted-{marker}",
        f"/usr/planted-{marker}",
        f"/etc/planted-{marker}",
        places["planted"],
        places["classmate"] + "/planted",
    ]
    return [p for p in paths if os.path.lexists(p)]


def core_pattern() -> str:
    return Path("/proc/sys/kernel/core_pattern").read_text()


def scores_of(report: dict) -> str:
    """A report's tests as bytes to compare (the path and the time differ by design)."""
    return json.dumps(report["tests"], sort_keys=True)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The host side: a class folder, an output folder, a gradebook and a planted secret."""
    base = tmp_path_factory.mktemp("attacks")
    submitted = base / "submitted"
    submitted.mkdir()
    reference_copy = base / "reference_copy.py"
    reference_copy.write_text(reference_source("chain_rule"))
    (base / "gradebook.db").write_text("grades of everyone")
    (base / "secret.txt").write_text("the instructor's notes")
    return base


def places_for(base: Path, classmate: Path, marker: str = MARKER) -> dict[str, str]:
    return {
        "victim": str(classmate / "chain_rule.py"),
        "classmate": str(classmate),
        "out": str(base / "out"),
        "gradebook": str(base / "gradebook.db"),
        "secret": str(base / "secret.txt"),
        "reference": str(ROOT / "solutions" / "chain_rule.py"),
        "course": str(ROOT),
        "checkout_parent": str(ROOT.parent),
        "home": str(Path.home()),
        "planted": str(base / f"planted-{marker}"),
        "marker": marker,
    }


def attacker_source(code: str, places: dict[str, str]) -> str:
    """The reference with the attack appended, ``{place}`` and ``{place!r}`` filled in."""
    for key, value in places.items():
        code = code.replace("{" + key + "!r}", repr(value)).replace("{" + key + "}", value)
    return reference_source("chain_rule") + "\n\n" + code


def make_file_attack(folder: Path, how: str, base: Path) -> None:
    folder.mkdir(parents=True)
    target = folder / "chain_rule.py"
    if how == "symlink":
        target.symlink_to(ROOT / "solutions" / "chain_rule.py")
    elif how == "hardlink":
        os.link(base / "reference_copy.py", target)
    else:
        os.mkfifo(target)


def victim_source(index: int) -> str:
    return reference_source("chain_rule") + (WRONG if index % 2 else "")


@pytest.fixture(scope="module")
def sandbox():
    worker = Sandbox(tensorflow=False)
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def alone(course, sandbox):
    """Each kind of classmate graded alone, before any attack."""
    reports = {}
    for index in (0, 1):
        folder = write_submission(course / f"alone{index}", {"chain_rule.py": victim_source(index)})
        reports[index] = scores_of(grade_submission(folder, sandbox=sandbox).to_dict())
    return reports


def assert_attack_contained(places: dict[str, str], pattern_before: str) -> None:
    deadline = time.monotonic() + 5
    while survivors(places["marker"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors(places["marker"]) == []
    if JAILED:  # a plain process may write what the grader may: its one line says so
        assert host_markers(places) == []
    assert core_pattern() == pattern_before


def assert_attacker_told(report: dict, sentence: str, function: str = "sgd_update") -> None:
    """The attacked function lost its points with the sentence; the others of part 1 kept theirs."""
    tests = {t["name"]: t for t in report["tests"] if t["name"].startswith("chain_rule.")}
    target = tests[f"chain_rule.{function}"]
    # The sentence goes to the instructor (a hidden case's details); the student sees its
    # category at once, never text the attacking code wrote.
    assert target["score"] == 0 and sentence in target["details"], target["details"]
    if sentence.startswith("raised ") and ":" in sentence:
        category, written = sentence.split(":", 1)
        assert category.removeprefix("raised ") in target["output"], target["output"]
        assert written.strip() not in target["output"], target["output"]
    others = [t for name, t in tests.items() if name != f"chain_rule.{function}"]
    assert all(t["score"] == t["max_score"] for t in others), [t["output"] for t in others]


@pytest.mark.parametrize("attack, code, sentence, jailed", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_through_grade(course, sandbox, alone, monkeypatch, attack, code, sentence, jailed):
    """Graded alone, does the attack reach nothing, and does the next student grade as alone?"""
    if jailed and not JAILED:
        pytest.skip(PLAIN_REASON)
    monkeypatch.setenv("GRADER_TIMEOUT_SCALE", "0.3")
    classmate = write_submission(
        course / f"grade-classmate-{attack}", {"chain_rule.py": victim_source(0)}
    )
    places = places_for(course, classmate)
    before = core_pattern()
    attacker = write_submission(
        course / f"grade-{attack}", {"chain_rule.py": attacker_source(code, places)}
    )
    report = grade_submission(attacker, sandbox=sandbox).to_dict()
    assert_attacker_told(report, sentence)
    next_one = grade_submission(classmate, sandbox=sandbox).to_dict()
    assert scores_of(next_one) == alone[0]
    assert_attack_contained(places, before)


@pytest.mark.parametrize("attack, how, sentence", FILE_ATTACKS, ids=[a[0] for a in FILE_ATTACKS])
def test_file_attack_through_grade(course, sandbox, attack, how, sentence):
    """Is a part file that is a link or a FIFO refused by name, never read, in ``grade``?"""
    folder = course / f"grade-{attack}"
    make_file_attack(folder, how, course)
    report = grade_submission(folder, sandbox=sandbox).to_dict()
    chain_rule = [t for t in report["tests"] if t["name"].startswith("chain_rule.")]
    assert all(t["score"] == 0 and sentence in t["output"] for t in chain_rule)


# -- one batch with every attacker between two classmates ----------------------------


def attacks_in_the_batch(request: pytest.FixtureRequest) -> set[str]:
    """The attacks the tests selected in this run read from the batch.

    Every attack when the classmates' test runs (its classmates sit between all of them);
    otherwise only those of the selected per-attack tests, so that one attack picked with
    ``-k`` is graded without the others.
    """
    wanted: set[str] = set()
    for item in request.session.items:
        if getattr(item, "module", None) is not request.module:
            continue
        if item.originalname == "test_batch_classmates_score_as_alone":
            return {a[0] for a in ATTACKS + FILE_ATTACKS}
        if item.originalname in ("test_attack_inside_a_batch", "test_file_attack_inside_a_batch"):
            wanted.add(item.callspec.params["attack"])
    return wanted


@pytest.fixture(scope="module")
def class_batch(course, alone, request):
    """Run one batch: classmate, attacker, classmate, attacker, ..., classmate.

    It holds every attack this run's tests read (see :func:`attacks_in_the_batch`), each
    between two classmates, and is run once for all of them.
    """
    submitted = course / "submitted"
    wanted = attacks_in_the_batch(request)
    attacks = [(a[0], a[1]) for a in ATTACKS if (JAILED or not a[3]) and a[0] in wanted]
    order: list[tuple[str, str | None]] = []
    for index, (attack, _) in enumerate(attacks):
        order.append((f"s{2 * index:02d}-classmate", None))
        order.append((f"s{2 * index + 1:02d}-{attack}", attack))
    for attack, _, _ in FILE_ATTACKS:
        if attack in wanted:
            order.append((f"s{len(order):02d}-classmate", None))
            order.append((f"s{len(order):02d}-{attack}", attack))
    order.append((f"s{len(order):02d}-classmate", None))
    codes = dict(attacks)
    files = {a[0]: a[1] for a in FILE_ATTACKS}
    placed = {}
    for position, (name, attack) in enumerate(order):
        folder = submitted / name / "exploding_gradients"
        if attack is None:
            folder.mkdir(parents=True)
            (folder / "chain_rule.py").write_text(victim_source(position // 2))
        elif attack in files:
            make_file_attack(folder, files[attack], course)
        else:
            # The attacker spies on the classmate graded after it.
            following = submitted / order[position + 1][0] / "exploding_gradients"
            places = places_for(course, following, BATCH_MARKER)
            placed[name] = places
            folder.mkdir(parents=True)
            (folder / "chain_rule.py").write_text(attacker_source(codes[attack], places))
    before = core_pattern()
    out = course / "out"
    result = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(submitted), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1200,
        env={**os.environ, "GRADER_TIMEOUT_SCALE": "1"},
    )
    assert result.returncode == 0, result.stderr
    reports = {
        name: json.loads((out / "reports" / f"{name}.json").read_text()) for name, _ in order
    }
    return {
        "order": order,
        "reports": reports,
        "places": placed,
        "pattern": before,
        "stderr": result.stderr,
    }


@IN_THE_BATCH
def test_batch_classmates_score_as_alone(class_batch, alone):
    """Is every classmate's report, in a batch full of attackers, byte-identical to alone?"""
    order, reports = class_batch["order"], class_batch["reports"]
    for position, (name, attack) in enumerate(order):
        if attack is None:
            assert scores_of(reports[name]) == alone[(position // 2) % 2], name


@IN_THE_BATCH
@pytest.mark.parametrize("attack, code, sentence, jailed", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_inside_a_batch(class_batch, attack, code, sentence, jailed):
    """In a batch, does the attacker read one sentence, and leave nothing behind?"""
    if jailed and not JAILED:
        pytest.skip(PLAIN_REASON)
    (name,) = [n for n, a in class_batch["order"] if a == attack]
    assert_attacker_told(class_batch["reports"][name], sentence)
    assert_attack_contained(class_batch["places"][name], class_batch["pattern"])


@IN_THE_BATCH
@pytest.mark.parametrize("attack, how, sentence", FILE_ATTACKS, ids=[a[0] for a in FILE_ATTACKS])
def test_file_attack_inside_a_batch(class_batch, attack, how, sentence):
    """In a batch, is a link or FIFO part file refused with one sentence?"""
    (name,) = [n for n, a in class_batch["order"] if a == attack]
    chain_rule = [
        t for t in class_batch["reports"][name]["tests"] if t["name"].startswith("chain_rule.")
    ]
    assert all(t["score"] == 0 and sentence in t["output"] for t in chain_rule)


# -- what each mode says about itself ---------------------------------------------------


@pytest.mark.parametrize("forced", ["process", None], ids=["plain-process", "as-configured"])
def test_the_report_says_in_one_line_which_protections_are_missing(tmp_path, monkeypatch, forced):
    """Does a plain-process grading say in one line what is unprotected and why (to the
    instructor: the JSON's isolation field and stderr, not the notes), and the jail nothing?"""
    folder = write_submission(tmp_path / "student", {"chain_rule.py": victim_source(0)})
    if forced:  # here too: the expected line names the same reason
        monkeypatch.setenv(jail.MODE_VARIABLE, forced)
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(folder), "--format", "json"]
        + ["--allow-unsafe-isolation"],  # as root, a forced plain process is refused without
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # The instructor's: the JSON's own field and stderr, never the notes a student reads.
    assert not any(n.startswith("Isolation:") for n in report["notes"])
    lines = [report["isolation"]] if report["isolation"] else []
    assert [line for line in result.stderr.splitlines() if line.startswith("Isolation:")] == lines
    # Where no cgroup can limit a submission's memory as a whole, the same one line says so.
    assert len(lines) <= 1 and all("\n" not in line for line in lines)
    if forced == "process" or not JAILED:
        assert lines and lines[0].startswith(jail.missing_protections("process"))
        assert "no PID namespace" in lines[0]
        assert lines[0].startswith(f"Isolation: plain process ({jail.fallback_reason()}): ")
        if forced:
            assert f"({jail.MODE_VARIABLE}=process)" in lines[0]
    else:
        assert lines == [] or (
            lines[0].startswith("Isolation: jail, but no memory limit") and "(" in lines[0]
        )


@pytest.mark.parametrize("execution", ["autograde", None], ids=["autograde", "notebook"])
def test_in_kernel_test_cells_say_their_scores_are_not_protected(monkeypatch, capsys, execution):
    """Does a test cell run by ``nbgrader autograde`` say that its score is not protected?"""
    from grader import notebook

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    if execution:
        monkeypatch.setenv("NBGRADER_EXECUTION", execution)
    namespace: dict = {}
    exec(reference_source("chain_rule"), namespace)  # noqa: S102 - the reference, not a student
    points = notebook.grade("chain_rule.sigmoid", namespace["sigmoid"])
    assert points == next(f.points for f in functions_of("chain_rule") if f.name == "sigmoid")
    printed = capsys.readouterr().out
    assert (notebook.UNPROTECTED in printed) == (execution == "autograde")


@pytest.mark.parametrize(
    "forced",
    [
        pytest.param("process", id="plain-process"),
        pytest.param(None, id="as-configured", marks=IN_THE_BATCH),
    ],
)
def test_batch_says_in_one_line_which_protections_are_missing(
    tmp_path, request, monkeypatch, forced
):
    """Does ``batch`` print the missing protections and why in one line on stderr, and the
    jail nothing?

    As configured, the class's batch above is read (it runs in the mode this machine
    gives); the plain process is forced on a batch of its own.
    """
    if forced:
        monkeypatch.setenv(jail.MODE_VARIABLE, forced)  # the expected line's reason too
        (tmp_path / "submitted" / "alice").mkdir(parents=True)
        (tmp_path / "submitted" / "alice" / "chain_rule.py").write_text(
            reference_source("chain_rule")
        )
        result = subprocess.run(
            [sys.executable, "-m", "grader", "batch", str(tmp_path / "submitted")]
            + ["--out", str(tmp_path / "out"), "--allow-unsafe-isolation"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        stderr = result.stderr
    else:
        stderr = request.getfixturevalue("class_batch")["stderr"]
    lines = [line for line in stderr.splitlines() if line.startswith("Isolation:")]
    expected = [jail.missing_protections("process")] if forced or not JAILED else []
    assert lines == expected
    if forced:
        assert f"Isolation: plain process ({jail.MODE_VARIABLE}=process): " in lines[0]


# -- what a report may carry out ----------------------------------------------------------

#: Part 3's array functions keep every input they are given (a hidden case's among them),
#: on a module every part shares.
_STASHING_CLIPPING = """

import numpy as _shared
_shared.seen_by_the_student = []
_honest_clip_by_value = clip_by_value

def clip_by_value(grads, clip_value):
    _shared.seen_by_the_student.append(repr(clip_value))
    return _honest_clip_by_value(grads, clip_value)
"""
#: Part 4's code, loaded after part 3 was graded, raises with what part 3 saw: a cell's
#: error is shown in the report, so this would carry the hidden inputs out to the student.
_TELLING_REMEDIES = """
import numpy as _shared
raise RuntimeError("SEEN " + ",".join(getattr(_shared, "seen_by_the_student", ["nothing"])))
"""


def test_a_later_parts_load_error_carries_nothing_seen_in_a_hidden_case(tmp_path):
    """Is every part loaded before any case runs, so that a cell's error (which the report
    shows) cannot carry what an earlier part's functions were given on hidden cases?"""
    folder = write_submission(
        tmp_path / "student",
        {
            "clipping.py": reference_source("clipping") + _STASHING_CLIPPING,
            "remedies.py": _TELLING_REMEDIES,
        },
    )
    report = grade_submission(folder).to_dict()
    told = [
        line
        for test in report["tests"]
        for line in test["output"].splitlines()
        if "RuntimeError: SEEN" in line
    ]
    # Loaded before any case: part 3's functions had seen nothing yet.
    assert told and all("SEEN  (" in line for line in told), told
    scores = {t["name"]: t["score"] == t["max_score"] for t in report["tests"]}
    assert scores["clipping.clip_by_value"], report["tests"]
