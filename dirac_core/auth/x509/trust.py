"""Trusted certification authorities: a directory of PEM files or a list of certificates.

A grid host keeps its CAs in ``/etc/grid-security/certificates`` (IGTF's
distribution): ``<hash>.0`` and ``<name>.pem`` files with the CA certificate,
next to ``.signing_policy``, ``.namespaces``, ``.crl_url`` and ``.info``
files. :meth:`TrustStore.from_directory` reads every certificate found in
any file of the directory and keeps those that are CAs (basic constraints
``cA=TRUE``); other files are skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["TrustStore"]

log = logging.getLogger(__name__)

_MAX_FILE = 1 << 20  # a CA file is a few KiB; anything this large is not one


def is_ca(cert: x509.Certificate) -> bool:
    """True when ``cert`` says it is a CA (basic constraints ``cA=TRUE``)."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


class TrustStore:
    """The CA certificates a verification may end at, found by subject name.

    Certificates that are not CAs are left out (a user certificate dropped in
    the directory by mistake never becomes a trust anchor).
    """

    def __init__(self, certificates: Iterable[x509.Certificate]) -> None:
        self._by_subject: dict[bytes, list[x509.Certificate]] = {}
        self._fingerprints: set[bytes] = set()
        for cert in certificates:
            if not is_ca(cert):
                log.warning("not a CA, not trusted: %s", cert.subject.rfc4514_string())
                continue
            der = cert.public_bytes(serialization.Encoding.DER)
            if der in self._fingerprints:
                continue  # <hash>.0 and <name>.pem hold the same certificate
            self._fingerprints.add(der)
            self._by_subject.setdefault(cert.subject.public_bytes(), []).append(cert)

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> TrustStore:
        """The CAs in the files of directory ``path`` (not its subdirectories).

        Raises ``OSError`` when the directory cannot be listed.
        """
        found: list[x509.Certificate] = []
        for entry in sorted(Path(path).iterdir()):
            if not entry.is_file() or entry.suffix in (".signing_policy", ".namespaces", ".crl_url",
                                                       ".info", ".r0", ".crl"):
                continue
            try:
                if entry.stat().st_size > _MAX_FILE:
                    continue
                data = entry.read_bytes()
            except OSError as exc:
                log.warning("cannot read %s: %s", entry, exc)
                continue
            if b"-----BEGIN CERTIFICATE" not in data:
                continue
            try:
                found.extend(x509.load_pem_x509_certificates(data))
            except ValueError as exc:
                log.warning("no certificate read from %s: %s", entry, exc)
        return cls(found)

    @classmethod
    def from_pem(cls, *pems: bytes) -> TrustStore:
        """The CAs in PEM texts."""
        return cls(cert for pem in pems for cert in x509.load_pem_x509_certificates(pem))

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        """The trusted CAs whose subject is ``cert``'s issuer (several during a CA's key rollover)."""
        return list(self._by_subject.get(cert.issuer.public_bytes(), ()))

    def contains(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` itself is one of the trusted CAs (a client may send its CA along)."""
        return cert.public_bytes(serialization.Encoding.DER) in self._fingerprints

    def __len__(self) -> int:
        return len(self._fingerprints)

    def __repr__(self) -> str:
        return f"TrustStore({len(self)} CA(s))"
