"""Do the grader's own costs stay bounded whatever a submission sends back?

The worker is the student's side of the boundary: its own limits (the 4,096 MB address
space, the 2,000-character cut of an error text) are not relied on. Each attack here
writes straight onto its channel, as code that bypasses the worker's encoding would, and
the grader's peak memory, CPU time and report size are measured in a process of their own
and compared with an honest submission's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.course.sources import reference_source
from tests.grader.conftest import write_submission
from tests.paths import ROOT

pytestmark = pytest.mark.slow

#: Writes one frame onto the submission's channel (its one socket) by hand.
_FRAME = """
import json as _json, os as _os, struct as _struct

def _channel():
    for fd in _os.listdir("/proc/self/fd"):
        try:
            if _os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                return int(fd)
        except OSError:
            pass

def _send(body, claimed=None):
    fd = _channel()
    _os.write(fd, _struct.pack(">Q", len(body) if claimed is None else claimed))
    view = memoryview(body)
    while view:
        view = view[_os.write(fd, view[: 1 << 20]):]
"""

#: sgd_update answers with 200 MB of plain JSON (a list of floats), under the protocol's
#: 256 MB message limit: the reviewer's case cost the grader 4.6 GB and 46 s.
OVERSIZED_ANSWER = (
    _FRAME
    + """
def sgd_update(param, grad, learning_rate):
    item = b"0.123456789012345,"
    body = b'{"ok": true, "result": [' + item * (200_000_000 // len(item)) + b'0]}'
    _send(body)
    import time
    time.sleep(60)
"""
)

#: Loading the part sends a forged load answer holding a 32 MB error text (the worker's
#: own code would cut it at 2,000 characters): the reviewer's case made a 384 MB report.
OVERSIZED_LOAD_ERROR = (
    _FRAME
    + """
_send(_json.dumps({
    "ok": True,
    "errors": [{"label": "cell 1", "type": "E", "message": "A" * 32_000_000}],
    "functions": ["sigmoid"],
}).encode())
"""
)

#: A thousand cells that raise long errors while loading, through the worker's own code.
MANY_FAILING_CELLS = "".join(
    f"\n\ndef _fail_{index}():\n    raise ValueError('x' * 100_000)\n\n_fail_{index}()\n"
    for index in range(1000)
)

MEASURE = """
import json, resource, sys, time
from pathlib import Path
from grader.grade import grade_submission
started = time.process_time()
report = grade_submission(Path(sys.argv[1])).to_dict()
usage = resource.getrusage(resource.RUSAGE_SELF)
# VmHWM, not ru_maxrss: the latter keeps the peak of the process this one was forked from.
peak = [line for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")][0]
print(json.dumps({
    "rss_mb": int(peak.split()[1]) / 1024,
    "cpu_s": usage.ru_utime + usage.ru_stime,
    "report_bytes": len(json.dumps(report)),
    "score": report["score"],
    "outputs": {t["name"]: t.get("output", "") for t in report["tests"]},
}))
"""


def measure(folder: Path) -> dict:
    """Grade ``folder`` in a fresh process; its peak RSS, CPU time and report size."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("honest") / "submission"
    return measure(write_submission(folder, {"chain_rule.py": reference_source("chain_rule")}))


#: The grader's own costs a submission may add, whatever it sends: memory (MB) and CPU (s)
#: above an honest submission's, and the size of its report (bytes).
EXTRA_RSS_MB = 64
EXTRA_CPU_S = 5.0
MAX_REPORT_BYTES = 256 * 1024


@pytest.mark.parametrize(
    "attack, source",
    [
        ("oversized-answer", OVERSIZED_ANSWER),
        ("oversized-load-error", OVERSIZED_LOAD_ERROR),
        ("a-thousand-failing-cells", MANY_FAILING_CELLS),
    ],
    ids=lambda value: value if "\n" not in value else "",
)
def test_a_submission_cannot_inflate_the_graders_costs(tmp_path, honest, attack, source):
    """Are the grader's peak RSS, CPU time and report size within the stated bounds above
    an honest submission's, whatever the submission sends back?"""
    code = reference_source("chain_rule") + "\n" + source
    costs = measure(write_submission(tmp_path / "submission", {"chain_rule.py": code}))
    assert costs["rss_mb"] <= honest["rss_mb"] + EXTRA_RSS_MB, (costs, honest)
    assert costs["cpu_s"] <= honest["cpu_s"] + EXTRA_CPU_S, (costs, honest)
    assert costs["report_bytes"] <= MAX_REPORT_BYTES, costs["report_bytes"]
    if attack == "oversized-answer":
        told = costs["outputs"]["chain_rule.sgd_update"]
        assert "more than the" in told or "malformed" in told or "answer" in told, told
