"""A throw-away X.509 PKI for tests: one CA, host certificates and user certificates.

Grid services (an ARC CE, an HTTPS storage element, a token issuer) need a
CA they trust, a host certificate whose subject alternative names match the
address the client dials, and a user certificate whose DN the service maps
to a local account. :class:`TestCA` makes all three with the
``cryptography`` library (no ``openssl`` command needed), keys are RSA 2048
and certificates are valid from an hour ago for ``days`` days.

Grid DNs are written the OpenSSL/Globus way, ``/DC=org/DC=test/CN=Test User``
(:func:`grid_dn`, from :mod:`dirac_core.auth.x509.names`), which is how ARC's
``[authgroup] subject`` rules and the registry's ``dns`` name a user. Proxies of
these certificates: :func:`dirac_core.auth.x509.create_proxy`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from attrs import frozen
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from dirac_core.auth.x509.names import grid_dn, parse_grid_dn

__all__ = ["CertFiles", "TestCA", "grid_dn"]


def _name(dn_components: list[tuple[str, str]]) -> x509.Name:
    return parse_grid_dn("".join(f"/{key}={value}" for key, value in dn_components))


@frozen(kw_only=True)
class CertFiles:
    """A certificate and its unencrypted private key, as PEM files (key mode 0600)."""

    cert: Path
    key: Path
    dn: str


class TestCA:
    """A certification authority that signs host and user certificates for one test run.

    ``directory`` receives ``ca.pem`` and ``ca-key.pem``; every certificate
    made later is written next to them unless told otherwise. ``dn_prefix``
    gives the domain components of every subject, so that two CAs of one
    machine (two test sessions) have different names.
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, directory: Path, *, dn_prefix: tuple[str, ...] = ("org", "dirac-test"),
                 days: int = 7) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._prefix = [("DC", component) for component in dn_prefix]
        self._days = days
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = _name([*self._prefix, ("CN", "DIRAC Test CA")])
        self.cert = (
            self._builder(subject, self._key.public_key(), issuer=subject)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()),
                           critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.files = self._write("ca", self.cert, self._key)

    @property
    def dn(self) -> str:
        """The CA's subject in grid slash form."""
        return grid_dn(self.cert.subject)

    @property
    def pem(self) -> bytes:
        """The CA certificate in PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def _builder(self, subject: x509.Name, public_key: rsa.RSAPublicKey, *,
                 issuer: x509.Name) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=self._days)))

    def _leaf(self, subject: x509.Name, usage: list[x509.ObjectIdentifier],
              san: list[x509.GeneralName] | None) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        builder = (
            self._builder(subject, key.public_key(), issuer=self.cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=True, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                           critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(self._key, hashes.SHA256()), key

    def host_cert(self, hostnames: list[str], *, stem: str = "host") -> CertFiles:
        """A server certificate for ``hostnames`` (DNS names or IP addresses, all in the SAN).

        The subject's CN is the first name. Written to ``<stem>cert.pem`` and
        ``<stem>key.pem``.
        """
        if not hostnames:
            raise ValueError("a host certificate needs at least one name")
        san: list[x509.GeneralName] = []
        for host in dict.fromkeys(hostnames):
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                san.append(x509.DNSName(host))
        subject = _name([*self._prefix, ("CN", hostnames[0])])
        cert, key = self._leaf(subject, [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
                               san)
        return self._write(stem, cert, key)

    def user_cert(self, common_name: str = "Test User", *, stem: str = "user") -> CertFiles:
        """A client certificate with subject ``<prefix>/CN=<common_name>``.

        Written to ``<stem>cert.pem`` and ``<stem>key.pem``.
        """
        subject = _name([*self._prefix, ("CN", common_name)])
        cert, key = self._leaf(subject, [ExtendedKeyUsageOID.CLIENT_AUTH], None)
        return self._write(stem, cert, key)

    def _write(self, stem: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> CertFiles:
        cert_path = self.directory / ("ca.pem" if stem == "ca" else f"{stem}cert.pem")
        key_path = self.directory / ("ca-key.pem" if stem == "ca" else f"{stem}key.pem")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as stream:
            stream.write(key_bytes)
        return CertFiles(cert=cert_path, key=key_path, dn=grid_dn(cert.subject))
