"""The certificates of a grading cluster: ``python -m grader certificates --out DIR``.

A Dask cluster started with these certificates speaks TLS only, and each side proves who it
is (mutual TLS): the scheduler, the workers and the batch all hold a certificate signed by
one certificate authority (CA) made for this cluster, and refuse a peer without one. The
folder holds:

- ``ca.pem``: the CA's certificate, which every machine of the cluster needs;
- ``scheduler.pem`` / ``scheduler-key.pem``, ``worker.pem`` / ``worker-key.pem``,
  ``client.pem`` / ``client-key.pem``: each role's certificate and private key (keys are
  readable by their owner only, ``0600``; the folder is ``0700``).

The CA's own private key is never written: nobody can sign another certificate for this
cluster, so a certificate cannot be added later; running the command again makes a new CA
(the cluster is then restarted with the new files). Dask does not check a peer's role:
whoever holds any of the three keys can join as a worker or connect as a client, so each
key is copied only where its role runs (the worker's to the grading machines).

The certificates are made with ``cryptography``, the library Dask itself uses for
:meth:`distributed.security.Security.temporary` and the reference Python binding of
OpenSSL's X.509 code, rather than by calling the ``openssl`` command (whose presence and
options vary) or by hand.
"""

from __future__ import annotations

import datetime
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from grader.escaping import for_terminal

#: How long the certificates are valid: a course's term, with margin.
VALID_DAYS = 200
#: The CA's certificate.
CA_FILE = "ca.pem"
#: Each role's certificate and key, by role.
ROLE_FILES: dict[str, tuple[str, str]] = {
    role: (f"{role}.pem", f"{role}-key.pem") for role in ("scheduler", "worker", "client")
}
#: The port the documented scheduler listens on.
PORT = 8786


@dataclass(frozen=True)
class CertificateFolder:
    """Where a cluster's certificates are: ``ca.pem`` and each role's pair."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / CA_FILE

    def cert(self, role: str) -> Path:
        return self.folder / ROLE_FILES[role][0]

    def key(self, role: str) -> Path:
        return self.folder / ROLE_FILES[role][1]

    def files(self) -> list[Path]:
        """Every file the folder holds, the CA's first."""
        return [self.ca] + [p for role in ROLE_FILES for p in (self.cert(role), self.key(role))]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "exploding-gradients grading cluster"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),  # the dask command line reads no passphrase
    )


def _builder(subject: str, issuer: x509.Name, public_key, now: datetime.datetime):
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little apart
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def make_certificates(now: datetime.datetime | None = None) -> dict[str, bytes]:
    """A new CA and a certificate and key per role, as PEM bytes by file name.

    Args:
        now: the start of their validity (default: now).

    Returns:
        ``{file name: PEM}`` for ``ca.pem`` and each role's two files; no CA key.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    ca_key = _key()
    ca_name = _name("grading cluster CA")
    ca = (
        _builder("grading cluster CA", ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = {CA_FILE: ca.public_bytes(serialization.Encoding.PEM)}
    authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    for role, (cert_name, key_name) in ROLE_FILES.items():
        key = _key()
        # the scheduler and the workers both listen and connect; the batch only connects
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if role != "client":
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        cert = (
            _builder(f"grading cluster {role}", ca_name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(authority, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files[cert_name] = cert.public_bytes(serialization.Encoding.PEM)
        files[key_name] = _pem_key(key)
    return files


def write_certificates(folder: Path) -> CertificateFolder:
    """Make a new CA and the three roles' certificates, and write them into ``folder``.

    Args:
        folder: where to write them; made (``0700``) if missing.

    Returns:
        the folder's files.

    Raises:
        FileExistsError: when the folder already holds one of the files (nothing is
            overwritten: a cluster may be running with them).
    """
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = CertificateFolder(folder)
    present = [p.name for p in target.files() if os.path.lexists(p)]
    if present:
        raise FileExistsError(
            f"the folder {for_terminal(folder)} already holds certificates ({', '.join(present)}). "
            "Expected: a new or empty folder. Hint: a running cluster may use them; choose "
            "another folder, or remove these files first"
        )
    keys = {name for _, name in ROLE_FILES.values()}
    for name, content in make_certificates().items():
        mode = 0o600 if name in keys else 0o644
        # O_EXCL: never through a link someone planted; the mode is set at creation
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.chmod(folder / name, mode)  # whatever the umask
    return target


def _word(path: Path) -> str:
    """A path as one shell word, every character visible (a control character is escaped)."""
    return shlex.quote(for_terminal(path.resolve()))


def cluster_commands(certificates: CertificateFolder) -> str:
    """The commands that start a cluster with these certificates, and the batch on it."""
    c = certificates

    def tls(role: str) -> str:
        return (
            f"--tls-ca-file {_word(c.ca)} --tls-cert {_word(c.cert(role))} "
            f"--tls-key {_word(c.key(role))}"
        )

    return (
        f"On the scheduler's machine:\n"
        f"  dask scheduler --port {PORT} --dashboard-address 127.0.0.1:8787 {tls('scheduler')}\n"
        f"On every grading machine (copy {CA_FILE}, {ROLE_FILES['worker'][0]} and "
        f"{ROLE_FILES['worker'][1]} there; same folder, or change the paths):\n"
        f"  dask worker tls://SCHEDULER-HOST:{PORT} --nworkers 4 --nthreads 1 --no-dashboard "
        f"{tls('worker')}\n"
        f"On this machine (which keeps {ROLE_FILES['client'][1]}):\n"
        f"  GRADER_SEED=your-secret python -m grader batch submitted --out grading-output "
        f"--scheduler tls://SCHEDULER-HOST:{PORT} --certificates {_word(c.folder)}\n"
    )
