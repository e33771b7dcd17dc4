"""Signing keys encrypted at rest: AES-256-GCM under a key derived from an operator's secret.

The database row of a signing key holds its private JWK. Whoever reads that
row (a backup, a read-only replica, a support dump) could sign tokens for
anyone, so with ``[auth] key_encryption_secret`` (or ``key_encryption_secret_file``)
set, the row holds ``aesgcm1:<base64url(nonce + ciphertext)>`` instead. The
key id is the associated data: a ciphertext copied onto another key's row does
not decrypt. A row without the prefix is a key stored before the secret was
set; :class:`KeyCipher` still reads it, and the key store encrypts it in place.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dirac_core.config.auth import AuthSettings
from dirac_core.errors import ConfigError

__all__ = ["PREFIX", "KeyCipher", "cipher_for", "is_encrypted"]

#: What an encrypted row starts with (the version names the scheme, should it ever change).
PREFIX = "aesgcm1:"
_INFO = b"dirac-core signing-key encryption v1"
_NONCE_BYTES = 12
#: The shortest secret accepted: 16 characters (a random one from ``secrets.token_urlsafe(32)``).
MIN_SECRET_CHARS = 16


def is_encrypted(stored: str) -> bool:
    """True for a row written by :meth:`KeyCipher.encrypt`."""
    return stored.startswith(PREFIX)


class KeyCipher:
    """Encrypts and decrypts private JWKs with a key derived (HKDF-SHA256) from ``secret``.

    ``secret=None`` stores keys in the clear (development); it still reads
    clear rows and refuses encrypted ones with a :class:`ConfigError` saying
    which setting is missing.
    """

    def __init__(self, secret: str | None) -> None:
        if secret is not None and len(secret) < MIN_SECRET_CHARS:
            raise ConfigError([("auth.key_encryption_secret",
                                f"too short: at least {MIN_SECRET_CHARS} characters")])
        self._aead = None if secret is None else AESGCM(HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret.encode()))

    @property
    def enabled(self) -> bool:
        """Whether new keys are stored encrypted."""
        return self._aead is not None

    def encrypt(self, kid: str, private_jwk: str) -> str:
        """The text to store for ``private_jwk`` (itself when no secret is configured)."""
        if self._aead is None:
            return private_jwk
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, private_jwk.encode(), kid.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, kid: str, stored: str) -> str:
        """The private JWK of a stored row; :class:`ConfigError` when it cannot be read (no
        secret configured, or another secret: the message never shows either)."""
        if not is_encrypted(stored):
            return stored
        if self._aead is None:
            raise ConfigError([("auth.key_encryption_secret",
                                f"signing key {kid} is stored encrypted: set key_encryption_secret "
                                "(or key_encryption_secret_file) to the secret that encrypted it")])
        try:
            raw = base64.urlsafe_b64decode(stored[len(PREFIX):])
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], kid.encode()).decode()
        except (InvalidTag, ValueError, binascii.Error):
            raise ConfigError([("auth.key_encryption_secret",
                                f"signing key {kid} does not decrypt with the configured secret "
                                "(another secret encrypted it, or the row was altered)")]) from None


def cipher_for(settings: AuthSettings) -> KeyCipher:
    """The cipher of ``[auth]``: its ``key_encryption_secret_file`` (read now, surrounding
    whitespace stripped) or ``key_encryption_secret``; none without either.

    Raises :class:`ConfigError` when both are set, or the file cannot be read or is empty.
    """
    if settings.key_encryption_secret_file is None:
        return KeyCipher(settings.key_encryption_secret)
    if settings.key_encryption_secret is not None:
        raise ConfigError([("auth.key_encryption_secret_file",
                            "give either key_encryption_secret or key_encryption_secret_file, not both")])
    try:
        secret = Path(settings.key_encryption_secret_file).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([("auth.key_encryption_secret_file",
                            f"cannot read {settings.key_encryption_secret_file}: "
                            f"{getattr(exc, 'strerror', None) or type(exc).__name__}")]) from None
    if not secret:
        raise ConfigError([("auth.key_encryption_secret_file",
                            f"{settings.key_encryption_secret_file} is empty")])
    return KeyCipher(secret)
