"""Password hashes for the built-in identity provider (PBKDF2-SHA256 from the standard library).

The stored form is ``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``; a
hash made with more iterations later still verifies older ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password"]

_SCHEME = "pbkdf2_sha256"
#: OWASP's 2023 figure for PBKDF2-HMAC-SHA256
DEFAULT_ITERATIONS = 600_000


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    """A salted hash of ``password`` to store in the registry (``User.password_hash``)."""
    if not password:
        raise ValueError("an empty password cannot be hashed")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"{_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; False for no hash or a malformed one."""
    if not stored or not password:
        return False
    try:
        scheme, iterations, salt, digest = stored.split("$")
        rounds = int(iterations)
        expected = _unb64(digest)
        if scheme != _SCHEME or not 1 <= rounds <= 10_000_000:
            return False
        got = hashlib.pbkdf2_hmac("sha256", password.encode(), _unb64(salt), rounds)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)
