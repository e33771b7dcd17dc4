"""The ``oidc`` identity provider: people log in at an OpenID Connect provider.

The driver speaks to the provider over httpx (TLS verified with the system's
CAs or ``ca_file``) and holds only caches: the discovery document
(``<issuer>/.well-known/openid-configuration``, whose ``issuer`` must be the
configured one) and the provider's public keys (``jwks_uri``), both kept
``discovery_ttl`` seconds, the keys fetched again at once when an ID token
names an unknown ``kid``.

- Browser: :meth:`OidcProvider.login_url` is the provider's authorization
  endpoint with ``response_type=code``, PKCE S256, ``state`` and ``nonce``;
  :meth:`OidcProvider.complete` redeems the code with the verifier.
- CLI: :meth:`OidcProvider.start_device` asks the provider's device
  authorization endpoint; :meth:`OidcProvider.poll_device` asks its token
  endpoint with the device-code grant.

Both end with an ID token, checked by :func:`~dirac_core.auth.id_tokens.verify_id_token`.
Claims the ID token lacks (the subject claim, groups, e-mail) are taken from
the userinfo endpoint when the provider has one (only if its ``sub`` is the ID
token's). The client authenticates with HTTP Basic (``client_secret_basic``)
or, if that is all the provider supports, in the body (``client_secret_post``);
without a secret it is a public client.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from joserfc.jwk import KeySet

from dirac_core.auth.id_tokens import verify_id_token
from dirac_core.config.identity import OidcIdentityProvider
from dirac_core.config.registry import Registry
from dirac_core.errors import ConfigError, NotAuthenticated
from dirac_core.model.clock import Clock
from dirac_core.plugins.identity import (
    DevicePending,
    IdentityProviderUnavailable,
    ProviderDeviceStart,
    ProviderIdentity,
    ProviderRefused,
    RedirectIdentityProvider,
)

__all__ = ["OidcProvider"]

log = logging.getLogger(__name__)

_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_KEY_TYPES = ("RSA", "EC", "OKP")


def _claim(claims: Mapping[str, Any], name: str) -> Any:
    """``claims[name]``, or, for a dotted name that is not a claim itself, the nested value."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


class OidcProvider(RedirectIdentityProvider):
    """An OpenID Connect provider (see the module docstring); settings :class:`OidcIdentityProvider`."""

    settings: OidcIdentityProvider

    def __init__(self, registry: Callable[[], Registry], settings: OidcIdentityProvider | None = None, *,
                 clock: Clock | None = None, transport: httpx.BaseTransport | None = None) -> None:
        """``transport`` replaces the network (tests). Raises ``ConfigError`` for a wrong
        section or an unreadable ``ca_file``."""
        if not isinstance(settings, OidcIdentityProvider):
            raise ConfigError([("auth.identity_provider", "the oidc provider needs its settings "
                                                          "(issuer, client_id, ...)")])
        super().__init__(registry, settings, clock=clock)
        self.rules = settings.rules
        verify: ssl.SSLContext | bool = True
        if settings.ca_file:
            try:
                verify = ssl.create_default_context(cafile=settings.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError([("auth.identity_provider.ca_file",
                                    f"cannot read {settings.ca_file!r}: {exc}")]) from exc
        self._http = httpx.Client(verify=verify, timeout=settings.timeout, transport=transport,
                                  headers={"Accept": "application/json"})
        self._lock = threading.Lock()
        self._discovery: tuple[dict[str, Any], datetime] | None = None
        self._jwks: tuple[KeySet, datetime] | None = None

    # -- talking to the provider ------------------------------------------------

    def _unavailable(self, why: str) -> IdentityProviderUnavailable:
        log.warning("identity provider %s: %s", self.settings.issuer, why)
        return IdentityProviderUnavailable(f"the identity provider {self.settings.issuer} {why}",
                                           provider=self.settings.issuer)

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unavailable(f"cannot be reached ({type(exc).__name__}: {exc})") from exc

    def _json(self, answer: httpx.Response, what: str) -> dict[str, Any]:
        try:
            data = answer.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self._unavailable(f"answered {what} with {answer.status_code} and no JSON object")
        return data

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        answer = self._send("GET", url)
        if answer.status_code != 200:
            raise self._unavailable(f"answered {what} with HTTP {answer.status_code}")
        return self._json(answer, what)

    def _fresh(self, fetched: datetime) -> bool:
        return self.clock.now() - fetched < timedelta(seconds=self.settings.discovery_ttl)

    def discovery(self) -> dict[str, Any]:
        """The provider's discovery document (cached ``discovery_ttl`` seconds)."""
        with self._lock:
            if self._discovery is not None and self._fresh(self._discovery[1]):
                return self._discovery[0]
        configured = self.settings.issuer
        doc = self._get_json(f"{configured.rstrip('/')}/.well-known/openid-configuration", "discovery")
        if not isinstance(doc.get("issuer"), str) or doc["issuer"].rstrip("/") != configured.rstrip("/"):
            raise self._unavailable(f"calls itself {doc.get('issuer')!r} in its discovery document")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(name), str):
                raise self._unavailable(f"has no {name} in its discovery document")
        with self._lock:
            self._discovery = (doc, self.clock.now())
        return doc

    def _keys(self, refresh: bool) -> KeySet:
        with self._lock:
            if not refresh and self._jwks is not None and self._fresh(self._jwks[1]):
                return self._jwks[0]
        data = self._get_json(self.discovery()["jwks_uri"], "its key set (jwks_uri)")
        usable = [key for key in data.get("keys", []) if isinstance(key, dict)
                  and key.get("kty") in _KEY_TYPES and key.get("use", "sig") == "sig"]
        try:
            keys = KeySet.import_key_set({"keys": usable})
        except (ValueError, TypeError) as exc:
            raise self._unavailable(f"publishes a key set that cannot be read ({exc})") from exc
        with self._lock:
            self._jwks = (keys, self.clock.now())
        return keys

    def _client_auth(self, data: dict[str, str]) -> dict[str, Any]:
        secret = self.settings.client_secret
        if secret is None:
            return {"data": {**data, "client_id": self.settings.client_id}}
        methods = self.discovery().get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" not in methods and "client_secret_post" in methods:
            return {"data": {**data, "client_id": self.settings.client_id, "client_secret": secret}}
        # RFC 6749 2.3.1: both parts are form-encoded before they are joined
        return {"data": data, "auth": (quote(self.settings.client_id, safe=""), quote(secret, safe=""))}

    def _post(self, url: str, data: dict[str, str], what: str) -> tuple[int, dict[str, Any]]:
        answer = self._send("POST", url, **self._client_auth(data))
        if answer.status_code >= 500:
            raise self._unavailable(f"answered {what} with HTTP {answer.status_code}")
        return answer.status_code, self._json(answer, what)

    # -- from tokens to a person ----------------------------------------------------

    def _person(self, tokens: dict[str, Any], nonce: str | None) -> ProviderIdentity:
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise self._unavailable("sent no ID token (is 'openid' among the scopes?)")
        doc = self.discovery()
        settings = self.settings
        claims = verify_id_token(id_token, self._keys, issuer=doc["issuer"], client_id=settings.client_id,
                                 now=self.clock.now(), nonce=nonce, leeway=settings.leeway)
        wanted = [settings.subject_claim, *([settings.groups_claim] if settings.groups_claim else []),
                  *(["email"] if self.rules.match_email else [])]
        access = tokens.get("access_token")
        if any(_claim(claims, name) is None for name in wanted) and doc.get("userinfo_endpoint") \
                and isinstance(access, str):
            claims = {**self._userinfo(doc["userinfo_endpoint"], access, claims["sub"]), **claims}
        subject = _claim(claims, self.settings.subject_claim)
        if not isinstance(subject, str | int) or isinstance(subject, bool) or subject == "":
            raise NotAuthenticated(f"the identity provider gives no {self.settings.subject_claim!r} claim")
        groups: frozenset[str] | None = None
        if self.settings.groups_claim:
            raw = _claim(claims, self.settings.groups_claim)
            items = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
            groups = frozenset(item for item in items if isinstance(item, str))
        verified = claims.get("email_verified") in (True, "true")
        email = claims.get("email") if verified and isinstance(claims.get("email"), str) else None
        return ProviderIdentity(subject=str(subject), groups=groups, email=email, claims=claims)

    def _userinfo(self, url: str, access_token: str, subject: str) -> dict[str, Any]:
        answer = self._send("GET", url, headers={"Authorization": f"Bearer {access_token}"})
        if answer.status_code != 200:
            log.warning("userinfo of %s answered %s", self.settings.issuer, answer.status_code)
            return {}
        info = self._json(answer, "userinfo")
        if info.get("sub") != subject:  # OIDC Core 5.3.4: else the answer may be substituted
            raise self._unavailable("answered userinfo for another subject")
        return info

    def _refused(self, status: int, data: dict[str, Any], what: str) -> ProviderRefused:
        error = data.get("error")
        if not isinstance(error, str):
            raise self._unavailable(f"answered {what} with HTTP {status} and no OAuth error")
        detail = data.get("error_description")
        return ProviderRefused(error, f"the identity provider refused the login: {error}"
                               + (f" ({detail})" if isinstance(detail, str) else ""))

    # -- the contract ---------------------------------------------------------------

    def login_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        """The authorization request (code flow, PKCE S256) to send the browser to."""
        endpoint = httpx.URL(self.discovery()["authorization_endpoint"])
        return str(endpoint.copy_merge_params({
            "response_type": "code", "client_id": self.settings.client_id, "redirect_uri": redirect_uri,
            "scope": " ".join(self.settings.scopes), "state": state, "nonce": nonce,
            "code_challenge": code_challenge, "code_challenge_method": "S256"}))

    def complete(self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str) -> ProviderIdentity:
        """Redeem the authorization code; the person of its checked ID token."""
        status, data = self._post(self.discovery()["token_endpoint"], {
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier}, "the code exchange")
        if status != 200:
            raise self._refused(status, data, "the code exchange")
        return self._person(data, nonce)

    def start_device(self) -> ProviderDeviceStart:
        """A device flow at the provider (RFC 8628)."""
        endpoint = self.discovery().get("device_authorization_endpoint")
        if not isinstance(endpoint, str):
            raise self._unavailable("offers no device flow (no device_authorization_endpoint)")
        status, data = self._post(endpoint, {"scope": " ".join(self.settings.scopes)},
                                  "the device authorization request")
        if status != 200:
            raise self._refused(status, data, "the device authorization request")
        uri = data.get("verification_uri") or data.get("verification_url")  # the latter: Google's name
        expires, interval = data.get("expires_in"), data.get("interval", 5)
        if not (isinstance(data.get("device_code"), str) and isinstance(data.get("user_code"), str)
                and isinstance(uri, str) and isinstance(expires, int) and isinstance(interval, int)):
            raise self._unavailable("answered the device authorization request without its fields")
        complete = data.get("verification_uri_complete")
        return ProviderDeviceStart(device_code=data["device_code"], user_code=data["user_code"],
                                   verification_uri=uri, expires_in=expires, interval=max(interval, 1),
                                   verification_uri_complete=complete if isinstance(complete, str) else None)

    def poll_device(self, device_code: str) -> ProviderIdentity | DevicePending:
        """Whether the person approved the device flow at the provider."""
        status, data = self._post(self.discovery()["token_endpoint"],
                                  {"grant_type": _DEVICE_GRANT, "device_code": device_code},
                                  "the device code poll")
        if status == 200:
            return self._person(data, None)
        if data.get("error") in ("authorization_pending", "slow_down"):
            return DevicePending(slow_down=data["error"] == "slow_down")
        raise self._refused(status, data, "the device code poll")

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()
