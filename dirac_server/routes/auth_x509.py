"""``/api/auth/proxy``: log in with an X.509 proxy chain, by challenge and response.

1. ``POST /api/auth/proxy/challenge`` -> ``{"challenge", "expires_in", "issuer"}``: a nonce,
   usable once, for ``[auth] x509.challenge_seconds``;
2. ``POST /api/auth/proxy`` with JSON ``{"challenge", "chain", "signature"[, "pilot_stamp"]}``:
   ``chain`` is the proxy's certificates in PEM, leaf first (never the key), ``signature`` the
   base64url signature of :func:`~dirac_core.auth.x509.challenges.signed_message` made with the
   proxy's private key -> DiracX's token response.

Refusals: 401 for a spent, expired or unknown challenge, an invalid chain (``detail`` says why:
expired, untrusted CA, ...) or signature, a DN the registry does not know; 403 for a group the
user is not in; 400 for an unknown VO or group; 404 when proxy login is not configured.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dirac_core.auth.x509.challenges import b64decode
from dirac_core.auth.x509.login import ProxyLogin
from dirac_server.deps import Iw
from dirac_server.errors import BadRequest

router = APIRouter(prefix="/api/auth/proxy", tags=["auth"])

#: a chain of ``max_chain`` (at most 100) certificates of a few KiB each fits
MAX_CHAIN_CHARS = 512 * 1024


class ProxyLoginBody(BaseModel):
    """The answer to a challenge."""

    challenge: Annotated[str, Field(min_length=16, max_length=128)]
    chain: Annotated[str, Field(min_length=1, max_length=MAX_CHAIN_CHARS)]
    signature: Annotated[str, Field(min_length=1, max_length=2048)]
    pilot_stamp: Annotated[str | None, Field(min_length=1, max_length=64)] = None


def proxy_login(request: Request, iw: Iw) -> ProxyLogin:
    """The app's :class:`ProxyLogin` (made at first use: it caches the trusted CAs)."""
    found = getattr(request.app.state, "proxy_login", None)
    if not isinstance(found, ProxyLogin):
        found = ProxyLogin(database=iw.database, tokens=iw.auth.tokens, settings=iw.config.auth.x509,
                           registry=lambda: iw.config.registry, clock=iw.clock)
        request.app.state.proxy_login = found
    return found


@router.post("/challenge")
def challenge(request: Request, iw: Iw) -> dict[str, Any]:
    """A new one-time challenge for the proxy's key to sign."""
    return proxy_login(request, iw).challenge()


@router.post("")
def login(request: Request, iw: Iw, body: ProxyLoginBody) -> JSONResponse:
    """Tokens for the registry user and group the proxy chain proves (module doc)."""
    try:
        signature = b64decode(body.signature)
    except ValueError as exc:
        raise BadRequest(f"signature: {exc}") from None
    _, tokens = proxy_login(request, iw).login(challenge=body.challenge, chain_pem=body.chain.encode(),
                                               signature=signature, pilot_stamp=body.pilot_stamp)
    return JSONResponse(tokens)
