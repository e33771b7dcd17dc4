"""RFC 3820 proxy certificates: made with ``cryptography``, kept as the usual single PEM file.

A proxy is a short-lived certificate signed by the user's own key (or by an
earlier proxy's key): its subject is the issuer's subject plus
``CN=<serial number>``, it carries the critical ProxyCertInfo extension
(OID 1.3.6.1.5.5.7.1.14) with the policy "inherit all" and maybe a limit on
how many proxies may be made below it, and it never outlives its issuer.
The file (``/tmp/x509up_u<uid>``) holds the proxy certificate, its private
key, then the issuers' certificates, leaf to root: what Globus, VOMS, ARC,
XRootD and Python's ``ssl.SSLContext.load_cert_chain`` read.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID

from dirac_core.auth.x509 import der
from dirac_core.auth.x509.attributes import ProxyAttributes, encode_attributes
from dirac_core.model.clock import Clock

__all__ = ["INHERIT_ALL", "PROXY_CERT_INFO_OID", "PrivateKey", "ProxyCredential", "certificates_from_pem",
           "create_proxy", "load_credential", "proxy_cert_info", "write_private"]

#: RFC 3820 ProxyCertInfo extension
PROXY_CERT_INFO_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.1.14")
#: id-ppl-inheritAll: the proxy has every right of its issuer
INHERIT_ALL = "1.3.6.1.5.5.7.21.1"
#: how far back a new proxy's ``not_before`` is set, for clocks a little behind ours
BACKDATE = timedelta(minutes=5)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def proxy_cert_info(path_length: int | None = None, policy: str = INHERIT_ALL) -> x509.UnrecognizedExtension:
    """The ProxyCertInfo extension (RFC 3820 section 3.8), DER::

        SEQUENCE { pCPathLenConstraint INTEGER OPTIONAL, SEQUENCE { policyLanguage OID } }
    """
    body = b"" if path_length is None else der.encode_integer(path_length)
    body += der.tlv(der.SEQUENCE, der.encode_oid(policy))
    return x509.UnrecognizedExtension(PROXY_CERT_INFO_OID, der.tlv(der.SEQUENCE, body))


@attrs.frozen
class ProxyCredential:
    """A certificate, its private key, and the certificates that issued it (leaf to root).

    For a user certificate ``chain`` is empty (or holds intermediate CAs);
    for a proxy it holds the proxies above it and the user certificate.
    """

    cert: x509.Certificate
    key: PrivateKey = attrs.field(repr=False)
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def certificates(self) -> tuple[x509.Certificate, ...]:
        """The certificate followed by its chain: what a client presents."""
        return (self.cert, *self.chain)

    @property
    def not_after(self) -> datetime:
        """When the first certificate of the chain expires (the credential is useless after)."""
        return min(c.not_valid_after_utc for c in self.certificates)

    def time_left(self, clock: Clock) -> timedelta:
        """How long the credential stays valid (negative once expired)."""
        return self.not_after - clock.now()

    def chain_pem(self) -> bytes:
        """The certificates only, leaf first, in PEM (what is sent to a server)."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.certificates)

    def pem(self) -> bytes:
        """The proxy file: certificate, unencrypted private key (traditional PEM), then the chain."""
        key = self.key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
        return (self.cert.public_bytes(serialization.Encoding.PEM) + key
                + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain))

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`pem` to ``path`` with mode 0600 (replaced atomically); return the path."""
        return write_private(Path(path), self.pem())


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` readable by its owner only (created 0600, then renamed in place)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_credential(cert_pem: bytes, key_pem: bytes | None = None, *, password: bytes | None = None
                    ) -> ProxyCredential:
    """A credential from PEM: a proxy file (``cert_pem`` alone holds certificates and key), or a
    user certificate file and its key file (``userkey.pem``, decrypted with ``password``).

    Raises ``ValueError`` when there is no certificate or no key, when the key does not match
    the first certificate, and ``TypeError`` (from ``cryptography``) when an encrypted key
    has no ``password``.
    """
    certs = x509.load_pem_x509_certificates(cert_pem) if b"-----BEGIN CERTIFICATE" in cert_pem else []
    if not certs:
        raise ValueError("no certificate in the PEM data")
    source = key_pem if key_pem is not None else cert_pem
    start = _key_start(source)
    if start < 0:
        raise ValueError("no private key in the PEM data")
    key = serialization.load_pem_private_key(source[start:], password=password)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"unsupported key type {type(key).__name__}")
    if _spki(key.public_key()) != _spki(certs[0].public_key()):
        raise ValueError("the private key does not belong to the first certificate")
    return ProxyCredential(certs[0], key, tuple(certs[1:]))


def _spki(public_key: CertificatePublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_start(pem: bytes) -> int:
    for marker in (b"-----BEGIN RSA PRIVATE KEY", b"-----BEGIN PRIVATE KEY", b"-----BEGIN EC PRIVATE KEY",
                   b"-----BEGIN ENCRYPTED PRIVATE KEY"):
        found = pem.find(marker)
        if found >= 0:
            return found
    return -1


def create_proxy(issuer: ProxyCredential, *, clock: Clock, lifetime: timedelta = timedelta(hours=12),
                 key_size: int = 2048, path_length: int | None = None,
                 attributes: ProxyAttributes | None = None) -> ProxyCredential:
    """A new RFC 3820 proxy of ``issuer`` (a user credential or a proxy), valid from now.

    The proxy ends after ``lifetime`` or when its chain ends, whichever comes
    first; it has a new RSA key of ``key_size`` bits; ``path_length`` limits the
    proxies that may be made from it (None: no limit); ``attributes`` adds the
    VO/group request (:mod:`dirac_core.auth.x509.attributes`). Raises
    ``ValueError`` for a non-positive lifetime, a key smaller than 1024 bits, or an
    issuer that has already expired.
    """
    if lifetime <= timedelta(0):
        raise ValueError(f"a proxy needs a positive lifetime, got {lifetime}")
    if key_size < 1024:
        raise ValueError(f"key_size {key_size} is too small (at least 1024 bits)")
    now = clock.now()
    not_after = min(now + lifetime, issuer.not_after)
    if not_after <= now:
        raise ValueError(f"the issuing credential expired at {issuer.not_after.isoformat()}")
    not_before = max(now - BACKDATE, issuer.cert.not_valid_before_utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    serial = x509.random_serial_number()
    last = x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, str(serial))])
    subject = x509.Name([*issuer.cert.subject.rdns, last])
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer.cert.subject).public_key(key.public_key())
               .serial_number(serial).not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=True, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=False, crl_sign=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(proxy_cert_info(path_length), critical=True))
    if attributes is not None:
        builder = builder.add_extension(encode_attributes(attributes), critical=False)
    cert = builder.sign(issuer.key, hashes.SHA256())
    return ProxyCredential(cert, key, issuer.certificates)


def certificates_from_pem(pem: bytes, *, limit: int) -> Sequence[x509.Certificate]:
    """The certificates of a PEM text, at most ``limit`` (``ValueError`` beyond, or for none)."""
    if pem.count(b"-----BEGIN CERTIFICATE") > limit:
        raise ValueError(f"more than {limit} certificates")
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"unreadable certificates: {exc}") from None
    return certs
