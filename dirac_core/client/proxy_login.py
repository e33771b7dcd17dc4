"""Logging in to a server with an X.509 proxy file (``POST /api/auth/proxy``).

:func:`proxy_login` asks for a challenge, signs it with the proxy's private key
(which never leaves this process) and sends the certificate chain with the
signature; the answer is DiracX's token response. :class:`ProxyCredentials` does
that lazily for a :class:`~dirac_core.client.RemoteInterware` and again whenever
the access token has expired or is refused, until the proxy itself expires.

The signature covers the server's token issuer URL. The client checks that it
names the server it dialed (scheme, host and port), so that a server cannot
relay another server's challenge and log in there as the user; give
``issuer`` when a server is reached under another name than its issuer's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from dirac_core.auth.x509.challenges import b64encode, sign_challenge, signed_message
from dirac_core.auth.x509.proxy import ProxyCredential, load_credential
from dirac_core.client.credentials import EXPIRY_MARGIN, Credentials
from dirac_core.client.errors import ServerUnreachable, error_for
from dirac_core.errors import NotAuthenticated

__all__ = ["ProxyCredentials", "proxy_login", "read_proxy"]


def read_proxy(path: str | os.PathLike[str]) -> ProxyCredential:
    """The proxy file at ``path`` (certificate, key, chain); ``NotAuthenticated`` when unusable."""
    try:
        return load_credential(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise NotAuthenticated(f"cannot use the proxy file {path}: {exc}", path=str(path)) from None


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)


def proxy_login(http: httpx.Client, proxy: ProxyCredential, *, pilot_stamp: str | None = None,
                issuer: str | None = None) -> dict[str, Any]:
    """Log in at ``http``'s base URL with ``proxy``; DiracX's token response.

    ``pilot_stamp``: the pilot this login is for (a proxy of a ``GenericPilot``
    group). ``issuer``: the issuer URL expected when it differs from the base URL.
    Raises ``NotAuthenticated`` (the server's reason in the message), ``PermissionDenied``,
    ``NotFound`` (proxy login off), :class:`ServerUnreachable`.
    """
    try:
        answer = http.post("/api/auth/proxy/challenge")
        if not answer.is_success:
            raise error_for(answer)
        offer = answer.json()
        nonce, claimed = str(offer["challenge"]), str(offer["issuer"])
        if _origin(claimed) != _origin(issuer or str(http.base_url)):
            raise NotAuthenticated(f"the server at {http.base_url} presents itself as {claimed}: not "
                                   "signing its challenge (give issuer= if that is expected)")
        signature = sign_challenge(proxy.key, signed_message(claimed, nonce))
        body: dict[str, Any] = {"challenge": nonce, "chain": proxy.chain_pem().decode(),
                                "signature": b64encode(signature)}
        if pilot_stamp is not None:
            body["pilot_stamp"] = pilot_stamp
        answer = http.post("/api/auth/proxy", json=body)
    except httpx.TransportError as exc:
        raise ServerUnreachable(f"proxy login at {http.base_url}: {type(exc).__name__}: {exc}",
                                status=None, attempts=1) from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise NotAuthenticated(f"unexpected challenge from {http.base_url}: {exc}") from None
    if not answer.is_success:
        raise error_for(answer)
    tokens: dict[str, Any] = answer.json()
    return tokens


class ProxyCredentials(Credentials):
    """Bearer tokens obtained by proxy logins: the first request logs in, an expired or refused
    access token logs in again (refresh tokens are not used: the proxy is the credential).

    ``login`` returns a token response (:func:`proxy_login` bound to a client and a proxy).
    """

    def __init__(self, login: Callable[[], Mapping[str, Any]], *,
                 now: Callable[[], float] = time.time) -> None:
        super().__init__(now=now)
        self._login = login
        self.expires_on = 0.0  # expired: the first request logs in
        self.pilot_stamp: str | None = None

    @property
    def refreshable(self) -> bool:
        """Always: a new login replaces the token."""
        return True

    def reload(self) -> None:
        """Log in again (the transport calls this when the token expired or was refused)."""
        answer = self._login()
        try:
            access, lifetime = str(answer["access_token"]), int(answer["expires_in"])
        except (KeyError, TypeError, ValueError):
            raise NotAuthenticated("the proxy login's answer has no access token") from None
        with self.lock:
            self.access_token = access
            self.expires_on = float(int(self._now()) + lifetime - EXPIRY_MARGIN)
            stamp = answer.get("pilot_stamp")
            self.pilot_stamp = str(stamp) if stamp is not None else self.pilot_stamp
