"""Does ``python -m grader certificates`` make a working CA and certificates with private keys,
print commands whose options Dask has, and does ``batch --scheduler`` take only a TLS
scheduler with certificates, or a loopback one with ``--insecure-local-cluster``?
"""

from __future__ import annotations

import re
import shlex
import stat
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from grader.cli import main
from grader.course.sources import reference_source
from grader.scale.certificates import CertificateFolder, write_certificates
from grader.scale.cluster_access import AccessRefused, check_access

ROLES = ("scheduler", "worker", "client")


def _certificate(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_command_writes_a_ca_and_each_roles_certificate_with_a_private_key(tmp_path, capsys):
    """Are the three certificates issued by the new CA (and not by another one), the keys and
    the folder readable by their owner only, and the CA's key nowhere?"""
    out = tmp_path / "certs"
    assert main(["certificates", "--out", str(out)]) == 0
    folder = CertificateFolder(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in folder.files())
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    ca = _certificate(folder.ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    other = _certificate(write_certificates(tmp_path / "other").ca)
    for role in ROLES:
        assert stat.S_IMODE(folder.key(role).stat().st_mode) == 0o600
        assert stat.S_IMODE(folder.cert(role).stat().st_mode) == 0o644
        cert = _certificate(folder.cert(role))
        cert.verify_directly_issued_by(ca)  # raises if not
        with pytest.raises(InvalidSignature):
            cert.verify_directly_issued_by(other)  # another CA's cluster does not accept it
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "PRIVATE KEY" not in folder.ca.read_text()
    printed = capsys.readouterr().out
    assert str(out) in printed and "CA's key is not kept" in printed


def test_a_second_run_into_the_same_folder_overwrites_nothing(tmp_path, capsys):
    """Is a folder that holds certificates refused (status 2, one line), its files unchanged?"""
    out = tmp_path / "certs"
    assert main(["certificates", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert main(["certificates", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "already holds certificates" in error and "Expected:" in error and "Hint:" in error
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def _help(verb: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "dask", verb, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def test_the_printed_commands_use_options_dask_has_and_the_written_files(tmp_path, capsys):
    """Does each printed dask command name only options of the installed ``dask`` command
    line, with the right role's files, and the batch command the folder?"""
    out = tmp_path / "a folder with spaces"
    assert main(["certificates", "--out", str(out)]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    folder = CertificateFolder(out)
    commands = {
        verb: shlex.split(next(line for line in lines if line.startswith(f"dask {verb} ")))
        for verb in ("scheduler", "worker")
    }
    for verb, role in (("scheduler", "scheduler"), ("worker", "worker")):
        words = commands[verb]
        options = {w.split("=")[0] for w in words if w.startswith("--")}
        known = set(re.findall(r"(--[a-z][a-z-]+)", _help(verb)))
        assert options <= known, options - known
        value = {words[i]: words[i + 1] for i in range(len(words) - 1)}
        assert value["--tls-ca-file"] == str(folder.ca)
        assert value["--tls-cert"] == str(folder.cert(role))
        assert value["--tls-key"] == str(folder.key(role))
    assert commands["worker"][2].startswith("tls://")
    batch = shlex.split(next(line for line in lines if " grader batch " in line))
    assert batch[batch.index("--certificates") + 1] == str(out)
    assert batch[batch.index("--scheduler") + 1].startswith("tls://")


def test_only_tls_with_certificates_or_a_loopback_cluster_named_insecure_is_accepted(tmp_path):
    """Is every scheduler refused, with what was checked, Expected, Received and a Hint, but a
    tls:// one with the folder's files, or a loopback one with --insecure-local-cluster?"""
    certs = write_certificates(tmp_path / "certs").folder
    access = check_access("tls://10.0.0.1:8786", certs)
    assert access.address == "tls://10.0.0.1:8786" and access.certificates.folder == certs
    security = access.security()
    assert security.require_encryption is True
    assert security.tls_client_key == str(certs / "client-key.pem")
    for loopback in (
        "tcp://127.0.0.1:8786",
        "tcp://127.8.9.10:8786",
        "127.0.0.1:8786",  # Dask's default scheme is tcp
        "tcp://[::1]:8786",
        "tcp://localhost:8786",
    ):
        assert check_access(loopback, insecure_local=True).certificates is None, loopback
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())
    refused = {
        ("tcp://10.0.0.1:8786", None, False): "neither encrypted nor authenticated",
        ("tcp://10.0.0.1:8786", None, True): "neither encrypted nor authenticated",
        ("10.0.0.1:8786", None, True): "neither encrypted nor authenticated",
        ("tcp://127.0.0.1:8786", None, False): "without --insecure-local-cluster",
        ("tcp://127.0.0.1.attacker.example:8786", None, True): "on the network",
        ("tcp://0.0.0.0:8786", None, True): "on the network",
        ("tcp://[::ffff:10.0.0.1]:8786", None, True): "on the network",
        ("ws://10.0.0.1:8786", None, True): "neither encrypted nor authenticated",
        ("tls://10.0.0.1:8786", None, False): "needs the cluster's certificates",
        ("tls://10.0.0.1:8786", incomplete, False): "no client.pem, client-key.pem",
        ("tcp://127.0.0.1:8786", certs, True): "not a TLS address",
        ("tcp://10.0.0.1:8786\x1b]0;owned\x07", None, False): "\\x1b]0;owned\\x07",
    }
    for (address, folder, insecure), expected in refused.items():
        with pytest.raises(AccessRefused) as caught:
            check_access(address, folder, insecure)
        message = str(caught.value)
        assert expected in message, (address, message)
        assert "Expected:" in message and "Received:" in message and "Hint:" in message
        assert "\x1b" not in message


def test_the_batch_refuses_a_plain_scheduler_before_sending_anything(tmp_path, capsys):
    """Is ``--scheduler tcp://...`` a usage error (status 2) naming the fix, nothing written,
    and are the cluster options refused without --scheduler?"""
    student = tmp_path / "submitted" / "alice"
    student.mkdir(parents=True)
    (student / "chain_rule.py").write_text(reference_source("chain_rule"))
    out = tmp_path / "out"
    batch = ["batch", str(tmp_path / "submitted"), "--out", str(out)]
    assert main([*batch, "--scheduler", "tcp://10.0.0.1:8786", "--insecure-local-cluster"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "--certificates DIR" in error
    assert "python -m grader certificates --out DIR" in error
    assert main([*batch, "--certificates", str(tmp_path)]) == 2
    assert "Expected: --scheduler ADDRESS" in capsys.readouterr().err
    assert not out.exists()
