"""Does a grading cluster refuse whoever lacks its certificates, and does a worker that holds
one but answers with pickles (a rogue or compromised worker) run nothing in the batch and
cost only the students it answered so?

The cluster (a scheduler and a worker, with mutual TLS) is started with the ``dask``
command line by :func:`grader.scale.cluster.local_cluster`. Its worker is made rogue by a
``--preload`` script: it grades nobody (no sandbox, no TensorFlow: the test is quick), and
answers each student by the student's name: a valid report, or one of the hostile answers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from distributed import Client
from distributed.security import Security

from grader.scale.batch import grade_class
from grader.scale.certificates import write_certificates
from grader.scale.cluster import local_cluster

#: The worker's preload: GradingPlugin's warm-up and grading replaced by a rogue's answers.
#: Every payload makes the folder ROGUE_MARKER + the pid of the process that unpickled it.
ROGUE = """
import json, os, pickle

from distributed import get_worker
from distributed.protocol.serialize import Serialized

from grader.results import ungraded_report
from grader.scale import cluster

MARKER = os.environ["ROGUE_MARKER"]


RUN = "import os; os.mkdir(MARKER + str(os.getpid()))"  # which process ran it


class Payload:
    def __reduce__(self):
        return (exec, (RUN, {"MARKER": MARKER}))


class HostileError(Exception):
    def __reduce__(self):
        return (exec, (RUN, {"MARKER": MARKER}))


def _start(self):
    return {"ok": True, "error": ""}


def grade(self, label, files):
    name = os.path.basename(label)
    if name == "rogue-object":  # not msgpack: Dask on the worker cannot send it as data
        return Payload()
    if name == "rogue-pickle":  # pickle bytes sent as they are, through the scheduler
        header = {"serializer": "pickle", "writeable": ()}
        return Serialized(header, [pickle.dumps(Payload())])
    if name == "rogue-error":  # the exception travels pickled in the scheduler's report
        raise HostileError()
    if name == "rogue-warning":  # every Dask client unpickles a worker's warn event
        get_worker().log_event("warn", {"message": pickle.dumps(Payload())})
    report = ungraded_report(label, "answered by the rogue worker")
    report["tests"][0]["score"] = report["score"] = 7.0
    return json.dumps({"report": report, "html": "<p>fake page</p>"})


cluster.GradingPlugin._start = _start
cluster.GradingPlugin.grade = grade
"""
STUDENTS = ("fine-1", "rogue-object", "rogue-pickle", "rogue-error", "rogue-warning", "fine-2")


@pytest.fixture(scope="module")
def rogue_cluster(tmp_path_factory):
    """A TLS cluster whose one worker answers as :data:`ROGUE` says, its processes, and the
    start of its markers' paths."""
    root = tmp_path_factory.mktemp("rogue")
    preload = root / "rogue.py"
    preload.write_text(ROGUE)
    marker = str(root / "payload-ran-in-")
    workers = {"rogue": {"ROGUE_MARKER": marker}}
    with local_cluster(workers, root / "cluster", worker_arguments=("--preload", str(preload))) as (
        access,
        processes,
    ):
        yield access, processes, marker


def _connects(address: str, security: Security | None) -> bool:
    try:
        client = Client(address, security=security, timeout=3)
    except (OSError, TimeoutError, ValueError):
        return False
    client.close()
    return True


def _security(folder: Path, ca: Path | None = None) -> Security:
    return Security(
        require_encryption=True,
        tls_ca_file=str(ca or folder / "ca.pem"),
        tls_client_cert=str(folder / "client.pem"),
        tls_client_key=str(folder / "client-key.pem"),
    )


def test_only_a_client_with_the_clusters_certificate_connects(rogue_cluster, tmp_path):
    """Is a client refused without TLS, with another cluster's certificates, or with its own
    certificate and this cluster's CA, and does the client with the cluster's connect?"""
    access, _, _ = rogue_cluster
    ours = access.certificates.folder
    other = write_certificates(tmp_path / "other").folder
    plain = access.address.replace("tls://", "tcp://")
    assert not _connects(plain, None)
    assert not _connects(access.address, _security(other))
    assert not _connects(access.address, _security(other, ca=ours / "ca.pem"))
    assert _connects(access.address, _security(ours))


def test_hostile_answers_run_nothing_in_the_batch_and_cost_only_their_students(
    rogue_cluster, tmp_path, monkeypatch
):
    """Are the pickles a worker sends refused or read as inert data (no payload runs in the
    batch's process), each such student's report a cluster fault, and every other student
    graded as the worker said?"""
    access, processes, marker = rogue_cluster
    for name in STUDENTS:
        (tmp_path / "submitted" / name).mkdir(parents=True)
        (tmp_path / "submitted" / name / "chain_rule.py").write_text("x = 1\n")
    summary = grade_class(
        tmp_path / "submitted", tmp_path / "out", scheduler=access, progress=False
    )
    ran = {int(p.name.rsplit("-", 1)[1]) for p in Path(marker).parent.glob("payload-ran-in-*")}
    assert ran <= {processes["rogue"].pid}, "a payload ran outside the rogue worker"
    assert summary["reported"] == len(STUDENTS)
    reports = {
        name: json.loads((tmp_path / "out" / "reports" / f"{name}.json").read_text())
        for name in STUDENTS
    }
    for name in ("fine-1", "fine-2", "rogue-warning"):
        assert reports[name]["score"] == 7.0, reports[name]
    for name in ("rogue-object", "rogue-pickle"):
        assert reports[name]["score"] == 0
        assert "answer was refused unread" in json.dumps(reports[name]["notes"])
    assert reports["rogue-error"]["score"] == 0
    assert "the cluster gave up on this submission" in json.dumps(reports["rogue-error"]["notes"])
    assert not Path(f"{marker}{os.getpid()}").exists()  # the batch's process, above all
