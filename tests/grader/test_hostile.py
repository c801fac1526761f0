"""Does the grader keep working, and say what happened, whatever a submission does?

Each case replaces one function of part 1 (or the module around it) with hostile or broken
code. The grader must report it in one clear sentence, score the other functions of the
part in full, and leave no process or file behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
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
needs_jail = pytest.mark.skipif(not JAILED, reason=jail.missing_protections() or "needs the jail")
MARKER = "987654321"

# (id, code appended to the reference, function that must lose points, text its feedback holds)
CASES = [
    (
        "endless-loop",
        "def sgd_update(param, grad, learning_rate):\n    while True:\n        pass\n",
        "sgd_update",
        "ran past the time limit",
    ),
    (
        "memory-8gb",
        "def sgd_update(param, grad, learning_rate):\n    import numpy as np\n"
        "    return np.ones(10**9) + 1\n",
        "sgd_update",
        "needed more memory than the limit",
    ),
    (
        "huge-output",
        "def sgd_update(param, grad, learning_rate):\n    while True:\n"
        "        print('x' * 1_000_000)\n",
        "sgd_update",
        "wrote more than the output limit",
    ),
    (
        "sys-exit",
        "def sgd_update(param, grad, learning_rate):\n    import sys\n    sys.exit(4)\n",
        "sgd_update",
        "raised SystemExit",
    ),
    (
        "os-exit",
        "def sgd_update(param, grad, learning_rate):\n    import os\n    os._exit(3)\n",
        "sgd_update",
        "exited with status 3",
    ),
    (
        "keyboard-interrupt",
        "def sgd_update(param, grad, learning_rate):\n    raise KeyboardInterrupt\n",
        "sgd_update",
        "raised KeyboardInterrupt",
    ),
    (
        "signal",
        "def sgd_update(param, grad, learning_rate):\n    import os, signal\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n",
        "sgd_update",
        "killed by SIGTERM",
    ),
    (
        "segfault",
        "def sgd_update(param, grad, learning_rate):\n    import ctypes\n"
        "    return ctypes.string_at(0)\n",
        "sgd_update",
        "killed by SIGSEGV",
    ),
    (
        "import-solutions",
        "def sgd_update(param, grad, learning_rate):\n"
        "    from solutions.chain_rule import sgd_update as ref\n    return ref(param, grad, learning_rate)\n",
        "sgd_update",
        "No module named",
    ),
    (
        "read-secret-seed",
        "def sgd_update(param, grad, learning_rate):\n    import os\n"
        "    return float(os.environ['GRADER_SEED'])\n",
        "sgd_update",
        "raised KeyError",
    ),
    (
        "patched-numpy",
        "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "def sgd_update(param, grad, learning_rate):\n    return param\n",
        "sgd_update",
        "Expected:",
    ),
    (
        "always-equal",
        "class Equal:\n    def __eq__(self, other):\n        return True\n"
        "def sgd_update(param, grad, learning_rate):\n    return Equal()\n",
        "sgd_update",
        "an object of type",
    ),
    (
        "lying-ndarray",
        "import numpy as np\nclass Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n"
        "def sgd_update(param, grad, learning_rate):\n    return np.zeros(np.shape(param)).view(Liar)\n",
        "sgd_update",
        "values differ",
    ),
    (
        "returns-string",
        "def sgd_update(param, grad, learning_rate):\n    return 'param - lr * grad'\n",
        "sgd_update",
        "a str",
    ),
    (
        "returns-none",
        "def sgd_update(param, grad, learning_rate):\n    pass\n",
        "sgd_update",
        "received None",
    ),
    (
        "returns-nan",
        "import numpy as np\ndef sgd_update(param, grad, learning_rate):\n"
        "    return np.full(np.shape(param), np.nan)\n",
        "sgd_update",
        "NaN or infinite",
    ),
    (
        "enormous-array",
        "import numpy as np\ndef sgd_update(param, grad, learning_rate):\n"
        "    return np.zeros(30_000_000)\n",
        "sgd_update",
        "over the limit",
    ),
    (
        "wrong-signature",
        "def sgd_update(param, grad):\n    return param - grad\n",
        "sgd_update",
        "Keep the contract's signature: sgd_update(param, grad, learning_rate)",
    ),
    (
        "changes-its-input",
        "def sgd_update(param, grad, learning_rate):\n"
        "    param -= learning_rate * grad\n    return param\n",
        "sgd_update",
        "[update_in_place]",
    ),
]


@pytest.fixture(scope="module")
def numpy_sandbox():
    """A worker without TensorFlow: part 1 needs none, and a restart stays quick."""
    sandbox = Sandbox(tensorflow=False)
    yield sandbox
    sandbox.close()


@pytest.fixture
def grade_part_one(tmp_path, numpy_sandbox, monkeypatch):
    monkeypatch.setenv("GRADER_TIMEOUT_SCALE", "0.2")  # 2 s per call instead of 10

    def grade(files: dict[str, str | bytes], folder: str = "student"):
        target = write_submission(tmp_path / folder, files)
        return grade_submission(target, sandbox=numpy_sandbox)

    return grade


def assert_only(report, function: str, text: str) -> None:
    """The named function lost points with ``text`` in its feedback; the part's others did not."""
    target = report.test(f"chain_rule.{function}")
    assert target.score < target.max_score
    assert text in target.full_output, target.full_output  # hidden cases: details deferred
    for spec in functions_of("chain_rule"):
        if spec.name != function:
            assert report.test(spec.test_name).status == "passed", report.test(
                spec.test_name
            ).output


@pytest.mark.parametrize("case_id, code, function, text", CASES, ids=[c[0] for c in CASES])
def test_hostile_function_costs_only_its_own_points(grade_part_one, case_id, code, function, text):
    """Is this hostile function reported in one clear sentence, the rest of the part graded in full?"""
    report = grade_part_one({"chain_rule.py": reference_source("chain_rule") + "\n\n" + code})
    assert_only(report, function, text)


def _processes_with(marker: str) -> list[str]:
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


@pytest.mark.parametrize("how", ["child", "daemon"])
def test_background_processes_do_not_survive_grading(grade_part_one, how):
    """Are a child process and a double-forked daemon gone when the grading ends?"""
    start = (
        "subprocess.Popen(['sleep', '" + MARKER + "'])"
        if how == "child"
        else "subprocess.Popen(['setsid', 'sh', '-c', 'sleep " + MARKER + " &'])"
    )
    code = f"import subprocess\n{start}\n"
    report = grade_part_one({"chain_rule.py": reference_source("chain_rule") + "\n\n" + code})
    assert report.score == sum(f.points for f in functions_of("chain_rule"))
    import time

    deadline = time.monotonic() + 5
    while _processes_with(MARKER) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(MARKER) == []


def test_module_that_exits_on_import_loses_its_part_only(grade_part_one):
    """Does a module that kills its process on import lose that part, with a sentence saying so?"""
    code = reference_source("chain_rule") + "\nimport os\nos._exit(9)\n"
    report = grade_part_one({"chain_rule.py": code, "remedies.py": reference_source("remedies")})
    assert report.test("chain_rule.sigmoid").score == 0
    assert "stopped the grading process" in report.test("chain_rule.sigmoid").output
    assert report.test("remedies.glorot_uniform_limit").status == "passed"


@pytest.mark.parametrize(
    "content, text",
    [
        (b"", "is empty"),
        (b'{"cells": [{"cell_type": "code", "sou', "not a readable notebook"),
        (bytes(range(256)) * 4, "not a readable notebook"),
    ],
    ids=["empty", "truncated-json", "binary-garbage"],
)
def test_unreadable_notebooks_get_a_clear_message(grade_part_one, content, text):
    """Does an unreadable notebook score 0 for its part with a sentence saying why?"""
    report = grade_part_one({"chain_rule.ipynb": content})
    for spec in functions_of("chain_rule"):
        assert text in report.test(spec.test_name).output


def test_syntax_error_module_says_where(grade_part_one):
    """Does a .py with a syntax error name the error, and cost its functions only?"""
    report = grade_part_one({"chain_rule.py": "import numpy as np\ndef sigmoid(z:\n    return z\n"})
    sigmoid = report.test("chain_rule.sigmoid").output
    assert "does not parse: SyntaxError" in sigmoid
    # a module that does not parse runs none of its code: the note says so, not "the rest counts"
    assert "none of the file's code ran" in sigmoid and "still counts" not in sigmoid
    derivative = report.test("chain_rule.sigmoid_derivative").output
    assert "see the note on loading chain_rule under chain_rule.sigmoid" in derivative
    assert report.test("remedies.he_normal_stddev").output.startswith("Part remedies was not found")


def test_non_utf8_text_and_odd_file_names_are_graded(grade_part_one):
    """Are a Latin-1 module named 'Chain Rule.PY' graded, with a note about the encoding?"""
    source = reference_source("chain_rule").replace("chain rule by hand", "chain rule \xe0 la main")
    report = grade_part_one({"Chain Rule.PY": source.encode("latin-1")})
    assert report.score == sum(f.points for f in functions_of("chain_rule"))
    assert "not valid UTF-8" in report.test("chain_rule.sigmoid").output


def test_edited_and_deleted_test_cells_are_flagged(grade_part_one):
    """Is a notebook whose locked test cells were edited or deleted graded with the original tests, and flagged?"""
    notebook = nbformat.read(ROOT / "examples/correct/chain_rule.ipynb", 4)
    tests = [c for c in notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    tests[0].source = "4.0  # full marks, surely"
    notebook.cells.remove(tests[1])
    report = grade_part_one({"chain_rule.ipynb": nbformat.writes(notebook)})
    assert report.score == sum(f.points for f in functions_of("chain_rule"))
    note = report.test("chain_rule.sigmoid").output
    assert "Flagged" in note and "chain_rule-sigmoid-tests" in note and "edited or deleted" in note


@needs_jail
def test_files_outside_the_scratch_directory_are_out_of_reach(grade_part_one, tmp_path):
    """Can the student's code neither read the reference nor another student's work, nor write outside its scratch?"""
    other = tmp_path / "other_student"
    other.mkdir()
    (other / "chain_rule.py").write_text("SECRET = 1\n")
    code = (
        "import os\n"
        "def sgd_update(param, grad, learning_rate):\n"
        f"    for path in [{str(ROOT / 'solutions' / 'chain_rule.py')!r}, {str(other / 'chain_rule.py')!r}]:\n"
        "        try:\n"
        "            open(path).read()\n"
        "            return 'read ' + path\n"
        "        except OSError:\n"
        "            pass\n"
        f"    for path in [{str(tmp_path / 'planted.txt')!r}, '/usr/planted.txt']:\n"
        "        try:\n"
        "            open(path, 'w').write('x')\n"
        "            return 'wrote ' + path\n"
        "        except OSError:\n"
        "            pass\n"
        "    raise PermissionError('nothing reachable')\n"
    )
    report = grade_part_one({"chain_rule.py": reference_source("chain_rule") + "\n\n" + code})
    assert_only(report, "sgd_update", "raised PermissionError: nothing reachable")
    assert not (tmp_path / "planted.txt").exists()


@needs_jail
def test_no_network(grade_part_one):
    """Is the host's network out of reach: a port listening on the host's loopback refuses?"""
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        code = (
            "import socket\n"
            "def sgd_update(param, grad, learning_rate):\n"
            f"    socket.create_connection(('127.0.0.1', {server.getsockname()[1]}), timeout=1)\n"
            "    return 'connected'\n"
        )
        report = grade_part_one({"chain_rule.py": reference_source("chain_rule") + "\n\n" + code})
    # The jail's own loopback has nothing listening (or no network at all).
    output = report.test("chain_rule.sgd_update").output
    assert "raised ConnectionRefusedError" in output or "raised OSError" in output, output
    assert_only(report, "sgd_update", "raised")


def test_the_cli_never_ends_in_a_traceback(tmp_path):
    """Does the CLI answer garbage input with a report, not a traceback?"""
    import subprocess
    import sys

    (tmp_path / "clipping.ipynb").write_bytes(os.urandom(2048))
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0
    assert "Traceback" not in result.stdout + result.stderr
    assert "not a readable notebook" in result.stdout
