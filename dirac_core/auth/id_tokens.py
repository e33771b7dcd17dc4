"""Checking an OpenID Connect ID token (OIDC Core 1.0, section 3.1.3.7).

:func:`verify_id_token` accepts a token only when all of these hold: its
algorithm is an asymmetric one of the list (never ``none``, never an HMAC,
which a verifier holding only public keys could be tricked into computing with
a public key as the secret); its signature verifies with the provider's key
named by ``kid`` (the key set is fetched again once when that ``kid`` is
unknown: the provider rotated its keys); ``iss`` is the provider; ``aud`` is,
or contains, our client id (and ``azp``, if present, is our client id);
``exp`` is in the future and ``iat``/``nbf`` are not, within ``leeway``
seconds; and ``nonce`` is the one this login sent. Anything else is
:class:`InvalidIdToken`, whose ``reason`` names the check that failed.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from joserfc import jwt
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import KeySet

from dirac_core.errors import NotAuthenticated

__all__ = ["ASYMMETRIC_ALGORITHMS", "InvalidIdToken", "verify_id_token"]

#: the signature algorithms accepted by default (public-key ones only)
ASYMMETRIC_ALGORITHMS: tuple[str, ...] = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                                          "ES256", "ES384", "ES512", "EdDSA")
_MAX_BYTES = 16384


class InvalidIdToken(NotAuthenticated):
    """The identity provider's ID token fails a check; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the identity provider's ID token is refused: {reason}", reason=reason)


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError, RecursionError):
        raise InvalidIdToken("malformed token") from None
    if not isinstance(header, dict):
        raise InvalidIdToken("malformed token")
    return header


def _check_algorithm(header: dict[str, Any], algorithms: Collection[str]) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise InvalidIdToken("it is not signed (alg none)")
    if alg.upper().startswith("HS"):
        raise InvalidIdToken(f"it is signed with a shared secret ({alg}), not with the provider's key")
    if alg not in algorithms:
        raise InvalidIdToken(f"signature algorithm {alg} is not accepted")
    return alg


def _pick_keys(header: dict[str, Any], keys: Callable[[bool], KeySet]) -> KeySet:
    kid = header.get("kid")
    found = keys(False)
    if isinstance(kid, str) and all(key.kid != kid for key in found.keys):
        found = keys(True)  # the provider may have rotated its keys since we fetched them
        if all(key.kid != kid for key in found.keys):
            raise InvalidIdToken(f"it is signed with an unknown key (kid {kid!r})")
    return found


def _epoch(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidIdToken(f"claim {name} is missing or not a number")
    return int(value)


def _check_claims(claims: dict[str, Any], *, issuer: str, client_id: str, now: int, nonce: str | None,
                  leeway: int) -> None:
    if claims.get("iss") != issuer:
        raise InvalidIdToken(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience
    if not isinstance(audiences, list) or client_id not in audiences:
        raise InvalidIdToken(f"it is not meant for this server (aud {audience!r})")
    if "azp" in claims and claims["azp"] != client_id:
        raise InvalidIdToken(f"it was issued to another client (azp {claims['azp']!r})")
    if _epoch(claims.get("exp"), "exp") + leeway < now:
        raise InvalidIdToken("it has expired")
    if _epoch(claims.get("iat"), "iat") - leeway > now:
        raise InvalidIdToken("it was issued in the future (iat)")
    if "nbf" in claims and _epoch(claims["nbf"], "nbf") - leeway > now:
        raise InvalidIdToken("it is not valid yet (nbf)")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise InvalidIdToken("it has no subject (sub)")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
            raise InvalidIdToken("its nonce is not the one of this login")


def verify_id_token(token: str, keys: Callable[[bool], KeySet], *, issuer: str, client_id: str,
                    now: datetime, nonce: str | None, leeway: int = 60,
                    algorithms: Collection[str] = ASYMMETRIC_ALGORITHMS) -> dict[str, Any]:
    """The claims of ``token`` after every check of the module docstring.

    ``keys(refresh)`` returns the provider's public key set, fetched anew when
    ``refresh`` is true. ``nonce`` None skips the nonce check (the device flow
    has none). Raises :class:`InvalidIdToken`.
    """
    if not isinstance(token, str) or len(token) > _MAX_BYTES or token.count(".") != 2:
        raise InvalidIdToken("malformed token")
    header = _header(token)
    alg = _check_algorithm(header, algorithms)
    key_set = _pick_keys(header, keys)
    try:
        decoded = jwt.decode(token, key_set, algorithms=[alg])
    except BadSignatureError:
        raise InvalidIdToken("its signature does not verify with the provider's key") from None
    except (JoseError, ValueError, TypeError, RecursionError) as exc:
        raise InvalidIdToken(f"it cannot be checked ({type(exc).__name__})") from None
    claims = dict(decoded.claims)
    _check_claims(claims, issuer=issuer, client_id=client_id, now=int(now.timestamp()), nonce=nonce,
                  leeway=leeway)
    return claims
