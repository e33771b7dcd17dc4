"""Proof of possession for a proxy login: a one-time challenge the proxy's key signs.

The private key never leaves the client. The server hands out a random
nonce (:meth:`ProxyChallenges.issue`), recorded in the database by its
SHA-256 with an expiry, so that every replica knows it; the client signs
:func:`signed_message` (the nonce bound to this server's issuer URL, so a
signature made for one server is useless at another) with the proxy's key;
the server spends the nonce (:meth:`ProxyChallenges.spend`: once, before
looking at anything else, so a captured answer cannot be replayed) and then
checks the chain and the signature.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import Certificate
from sqlalchemy import delete, insert, select

from dirac_core.db.database import Database
from dirac_core.db.tables.auth import proxy_challenges
from dirac_core.errors import NotAuthenticated
from dirac_core.model.clock import Clock

__all__ = ["ProxyChallenges", "b64decode", "b64encode", "sign_challenge", "signature_valid", "signed_message"]

_PREFIX = b"dirac-core proxy login v1\n"


def signed_message(issuer: str, nonce: str) -> bytes:
    """What the client signs: a fixed prefix, the server's token issuer URL, the nonce."""
    return _PREFIX + issuer.rstrip("/").encode() + b"\n" + nonce.encode()


def sign_challenge(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """The signature of ``message``: RSA PKCS#1 v1.5 or ECDSA, both with SHA-256."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return key.sign(message, ec.ECDSA(hashes.SHA256()))


def signature_valid(cert: Certificate, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` of ``message`` verifies with ``cert``'s public key."""
    public = cert.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def b64encode(data: bytes) -> str:
    """Unpadded base64url, as JWTs write it."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64decode(text: str) -> bytes:
    """The inverse of :func:`b64encode` (padding optional); ``ValueError`` when malformed."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not base64url: {exc}") from None


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


class ProxyChallenges:
    """One-time login challenges kept in the ``auth_proxy_challenges`` table."""

    def __init__(self, *, database: Database, clock: Clock, lifetime: timedelta) -> None:
        self._database = database
        self._clock = clock
        self.lifetime = lifetime

    def issue(self) -> str:
        """A new nonce, valid for :attr:`lifetime`; expired ones are deleted on the way."""
        nonce = secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._database.begin() as conn:
            conn.execute(delete(proxy_challenges).where(proxy_challenges.c.expires < now))
            conn.execute(insert(proxy_challenges).values(nonce_hash=_digest(nonce), created=now,
                                                         expires=now + self.lifetime))
        return nonce

    def spend(self, nonce: str) -> None:
        """Use ``nonce`` up; raises :class:`NotAuthenticated` when it is unknown, spent or expired."""
        digest = _digest(nonce)
        now = self._clock.now()
        with self._database.begin() as conn:
            expires = conn.execute(select(proxy_challenges.c.expires)
                                   .where(proxy_challenges.c.nonce_hash == digest)).scalar()
            # the delete decides: of two concurrent answers, one deletes the row, the other nothing
            gone = conn.execute(delete(proxy_challenges)
                                .where(proxy_challenges.c.nonce_hash == digest)).rowcount
        if expires is None or gone != 1:
            raise NotAuthenticated("unknown or already used login challenge: ask for a new one")
        if expires < now:
            raise NotAuthenticated("the login challenge expired: ask for a new one")
