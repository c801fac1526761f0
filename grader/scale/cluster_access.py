"""Which clusters the batch agrees to send the secret and the class to, and how it connects.

The batch sends the hidden cases' secret and every student's files to the cluster, and
whoever can reach a Dask scheduler can run code on its workers and read them. So
``--scheduler`` takes:

- ``tls://HOST:PORT`` with ``--certificates DIR`` (the folder that
  ``python -m grader certificates --out DIR`` wrote): mutual TLS, the connection encrypted
  and each side holding a certificate of the cluster's own CA
  (:class:`distributed.security.Security` with ``require_encryption=True``);
- any other scheme (``tcp://``, a bare ``HOST:PORT``, ``ws://``) only for a scheduler on this
  machine's loopback (``127.0.0.0/8``, ``::1``, ``localhost``) and with
  ``--insecure-local-cluster``: every user of this machine can still connect to it.

Everything else is refused by :func:`check_access`, before anything is sent.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from distributed.security import Security

from grader.escaping import for_terminal
from grader.scale.certificates import CertificateFolder

#: The option that allows an unencrypted scheduler on the loopback.
INSECURE_FLAG = "--insecure-local-cluster"
_HINT = (
    "Hint: python -m grader certificates --out DIR makes the certificates and prints the "
    "commands that start the scheduler and the workers with them"
)


class AccessRefused(ValueError):
    """The batch will not use this scheduler address (the message says why)."""


@dataclass(frozen=True)
class SchedulerAccess:
    """A scheduler's address, checked, and the client's side of its security.

    Made by :func:`check_access` (and by :func:`grader.scale.cluster.local_cluster`).
    """

    address: str
    certificates: CertificateFolder | None

    def security(self) -> Security:
        """The client's :class:`~distributed.security.Security`: mutual TLS, or nothing."""
        if self.certificates is None:
            return Security(require_encryption=False)
        c = self.certificates
        return Security(
            require_encryption=True,
            tls_ca_file=str(c.ca),
            tls_client_cert=str(c.cert("client")),
            tls_client_key=str(c.key("client")),
        )


def _scheme_and_host(address: str) -> tuple[str, str]:
    scheme, separator, location = address.partition("://")
    if not separator:
        scheme, location = "tcp", address  # Dask's default scheme
    try:
        host = urlsplit(f"//{location}").hostname or ""
    except ValueError:
        host = ""
    return scheme.lower(), host


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine's loopback, by its text (no name is looked up)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_access(
    address: str, certificates: Path | None = None, insecure_local: bool = False
) -> SchedulerAccess:
    """The scheduler's address if the batch may use it as asked, else why not.

    Args:
        address: ``--scheduler``.
        certificates: ``--certificates``: the folder of ``python -m grader certificates``.
        insecure_local: ``--insecure-local-cluster`` was given.

    Returns:
        the address and the certificates to connect with.

    Raises:
        AccessRefused: a scheme other than ``tls://`` off the loopback or without the flag,
            ``tls://`` without certificates, or a certificate file missing.
    """
    scheme, host = _scheme_and_host(address)
    shown = for_terminal(address)
    if scheme == "tls":
        if certificates is None:
            raise AccessRefused(
                f"the scheduler {shown} speaks TLS, and the batch needs the cluster's "
                "certificates to connect. Expected: --certificates DIR, the folder the "
                f"certificates command wrote. Received: no --certificates. {_HINT}"
            )
        folder = CertificateFolder(Path(certificates))
        needed = [folder.ca, folder.cert("client"), folder.key("client")]
        missing = [p.name for p in needed if not p.is_file()]
        if missing:
            raise AccessRefused(
                f"the certificates folder {for_terminal(certificates)} lacks what the batch "
                f"connects with. Expected: {', '.join(p.name for p in needed)}. Received: "
                f"no {', '.join(missing)}. {_HINT}"
            )
        return SchedulerAccess(address, folder)
    if certificates is not None:
        raise AccessRefused(
            f"--certificates was given for the scheduler {shown}, which is not a TLS "
            f"address. Expected: tls://HOST:PORT. Received: {shown}. Hint: start the "
            "scheduler with the printed tls command and give its tls:// address"
        )
    if not (insecure_local and is_loopback(host)):
        where = "on this machine's loopback" if is_loopback(host) else "on the network"
        raise AccessRefused(
            f"the scheduler {shown} is neither encrypted nor authenticated ({where}): "
            "whoever reaches it could read the hidden cases' secret and the students' "
            "files, run code on the workers and forge any report. Expected: "
            "tls://HOST:PORT with --certificates DIR, or, for a cluster on this machine "
            f"only, a loopback address (127.0.0.1, ::1, localhost) with {INSECURE_FLAG}. "
            f"Received: {shown}{' without ' + INSECURE_FLAG if is_loopback(host) else ''}. "
            f"{_HINT}"
        )
    return SchedulerAccess(address, None)
