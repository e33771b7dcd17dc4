"""The ``oidc`` driver against a real OpenID provider (npm oidc-provider), and one scripted one."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from dirac_core.auth.codes import s256
from dirac_core.auth.id_tokens import InvalidIdToken
from dirac_core.auth.oidc import OidcProvider
from dirac_core.config import Registry
from dirac_core.config.identity import OidcIdentityProvider
from dirac_core.model import FakeClock
from dirac_core.plugins.identity import DevicePending, IdentityProviderUnavailable, ProviderRefused
from dirac_core.testing._daemons import free_port
from dirac_core.testing.oidc import (
    ComponentUnavailable,
    OidcServer,
    RegisteredClient,
    oidc_missing,
    oidc_provider,
)

CALLBACK = "http://127.0.0.1:9/api/auth/authorize/complete"  # never reached: browse() stops there
SCOPES = ("openid", "email", "groups")


class Counting(httpx.BaseTransport):
    """The network, with a list of the paths asked for."""

    def __init__(self, verify: str | bool = True) -> None:
        self.inner = httpx.HTTPTransport(verify=verify)  # type: ignore[arg-type]
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def client(oidc_server: OidcServer) -> RegisteredClient:
    return oidc_server.register_client([CALLBACK])


@pytest.fixture
def subject(oidc_server: OidcServer) -> str:
    """A person of this test only at the provider, in two groups, with a verified e-mail."""
    sub = f"alice-{uuid.uuid4().hex[:8]}"
    oidc_server.add_account(sub, email=f"{sub}@example.org", email_verified=True,
                            groups=["/demo", "/demo/prod"])
    return sub


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC))  # the provider's tokens carry the real time


def _driver(server: OidcServer, client: RegisteredClient, clock: FakeClock,
            transport: httpx.BaseTransport | None = None, **options: object) -> OidcProvider:
    section = OidcIdentityProvider(issuer=server.issuer, client_id=client.client_id,
                                   client_secret=client.client_secret, scopes=SCOPES, groups_claim="groups",
                                   **options)  # type: ignore[arg-type]
    return OidcProvider(Registry, section, clock=clock, transport=transport)


@pytest.fixture
def provider(oidc_server: OidcServer, client: RegisteredClient, clock: FakeClock) -> Iterator[OidcProvider]:
    with _driver(oidc_server, client, clock) as driver:
        yield driver


def test_discovery_is_cached_for_its_ttl(oidc_server: OidcServer, client: RegisteredClient,
                                        clock: FakeClock) -> None:
    counting = Counting()
    with _driver(oidc_server, client, clock, counting, discovery_ttl=600) as driver:
        doc = driver.discovery()
        assert doc["issuer"] == oidc_server.issuer
        assert doc["device_authorization_endpoint"] == f"{oidc_server.issuer}/device/auth"
        assert "S256" in doc["code_challenge_methods_supported"]
        driver.discovery()
        clock.advance(599)
        driver.login_url(state="s", nonce="n", code_challenge=s256("v" * 43), redirect_uri=CALLBACK)
        assert counting.paths == ["/.well-known/openid-configuration"]
        clock.advance(2)
        driver.discovery()
        assert counting.paths == ["/.well-known/openid-configuration"] * 2


def test_browser_login(oidc_server: OidcServer, provider: OidcProvider, subject: str) -> None:
    verifier, nonce, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    url = provider.login_url(state=state, nonce=nonce, code_challenge=s256(verifier), redirect_uri=CALLBACK)
    with httpx.Client() as browser:
        back = httpx.URL(oidc_server.browse(browser, url, subject, stop_at=CALLBACK))
    assert back.params["state"] == state
    person = provider.complete(code=back.params["code"], code_verifier=verifier, redirect_uri=CALLBACK,
                               nonce=nonce)
    assert person.subject == subject
    assert person.groups == {"/demo", "/demo/prod"}
    assert person.email == f"{subject}@example.org"
    assert person.claims["iss"] == oidc_server.issuer
    # the code was spent: a second use is the provider's refusal, not an outage
    with pytest.raises(ProviderRefused) as info:
        provider.complete(code=back.params["code"], code_verifier=verifier, redirect_uri=CALLBACK,
                          nonce=nonce)
    assert info.value.error == "invalid_grant"


def test_a_wrong_nonce_or_verifier_fails(oidc_server: OidcServer, provider: OidcProvider,
                                         subject: str) -> None:
    verifier = secrets.token_urlsafe(48)
    for wrong in ("nonce", "verifier"):
        url = provider.login_url(state="st", nonce="the-nonce", code_challenge=s256(verifier),
                                 redirect_uri=CALLBACK)
        with httpx.Client() as browser:
            code = httpx.URL(oidc_server.browse(browser, url, subject, stop_at=CALLBACK)).params["code"]
        if wrong == "nonce":
            with pytest.raises(InvalidIdToken, match="its nonce is not the one of this login"):
                provider.complete(code=code, code_verifier=verifier, redirect_uri=CALLBACK, nonce="another")
        else:
            with pytest.raises(ProviderRefused, match="invalid_grant"):
                provider.complete(code=code, code_verifier="x" * 43, redirect_uri=CALLBACK, nonce="the-nonce")


def test_device_flow(oidc_server: OidcServer, provider: OidcProvider, subject: str) -> None:
    started = provider.start_device()
    assert started.verification_uri == f"{oidc_server.issuer}/device"
    assert started.verification_uri_complete == f"{started.verification_uri}?user_code={started.user_code}"
    assert started.expires_in > 0 and started.interval == 5  # RFC 8628's default: the provider names none
    assert provider.poll_device(started.device_code) == DevicePending()
    assert "Sign-in Success" in oidc_server.approve_device(started.user_code, subject)
    person = provider.poll_device(started.device_code)
    assert not isinstance(person, DevicePending)
    assert (person.subject, person.groups) == (subject, {"/demo", "/demo/prod"})
    with pytest.raises(ProviderRefused) as info:  # used once
        provider.poll_device(started.device_code)
    assert info.value.error == "invalid_grant"


def test_an_unreachable_provider_is_a_clear_error(clock: FakeClock) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    section = OidcIdentityProvider(issuer=url, client_id="c", client_secret="s")
    expected = rf"the identity provider {url} cannot be reached \(ConnectError"
    with OidcProvider(Registry, section, clock=clock) as driver, pytest.raises(IdentityProviderUnavailable,
                                                                                match=expected):
        driver.start_device()


def test_a_provider_calling_itself_otherwise_is_refused(oidc_server: OidcServer, client: RegisteredClient,
                                                        clock: FakeClock) -> None:
    localhost = oidc_server.issuer.replace("127.0.0.1", "localhost")
    section = OidcIdentityProvider(issuer=localhost, client_id=client.client_id)
    with OidcProvider(Registry, section, clock=clock) as driver, pytest.raises(
            IdentityProviderUnavailable, match=f"calls itself '{oidc_server.issuer}'"):
        driver.discovery()


def test_https_provider_needs_its_ca(tmp_path: Path, clock: FakeClock) -> None:
    with oidc_provider(tmp_path, tls=True) as server:
        assert server.issuer.startswith("https://") and server.ca_file is not None
        client = server.register_client([CALLBACK])
        plain = OidcIdentityProvider(issuer=server.issuer, client_id=client.client_id)
        with OidcProvider(Registry, plain, clock=clock) as driver, pytest.raises(
                IdentityProviderUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            driver.discovery()
        trusted = OidcIdentityProvider(issuer=server.issuer, client_id=client.client_id,
                                       client_secret=client.client_secret, ca_file=str(server.ca_file))
        with OidcProvider(Registry, trusted, clock=clock) as driver:
            assert driver.start_device().verification_uri.startswith(server.issuer)


# -- a scripted provider: claims from userinfo, client_secret_post -------------------------------


def test_missing_claims_come_from_userinfo(clock: FakeClock) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k", "alg": "RS256"})
    issuer = "https://op.test"
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": issuer, "authorization_endpoint": f"{issuer}/auth",
                "token_endpoint": f"{issuer}/token", "jwks_uri": f"{issuer}/jwks",
                "userinfo_endpoint": f"{issuer}/me",
                "token_endpoint_auth_methods_supported": ["client_secret_post"]})
        if path == "/jwks":
            return httpx.Response(200, json={"keys": [key.as_dict(private=False),
                                                      {"kty": "RSA", "use": "enc", "n": "x", "e": "AQAB"}]})
        if path == "/token":
            now = int(clock.now().timestamp())
            claims = {"iss": issuer, "aud": "c", "sub": "opaque-123", "iat": now, "exp": now + 60,
                      "nonce": "n"}
            id_token = jwt.encode({"alg": "RS256", "kid": "k"}, claims, key)
            return httpx.Response(200, json={"id_token": id_token, "access_token": "at",
                                             "token_type": "Bearer"})
        if path == "/me":
            assert request.headers["authorization"] == "Bearer at"
            return httpx.Response(200, json={"sub": "opaque-123", "eduperson_unique_id": "alice@uni.example",
                                             "wlcg.groups": ["/demo"], "email": "a@uni.example",
                                             "email_verified": False})
        return httpx.Response(404)

    section = OidcIdentityProvider(issuer=issuer, client_id="c", client_secret="s e/cret",
                                   subject_claim="eduperson_unique_id", groups_claim="wlcg.groups",
                                   match_email=True)
    with OidcProvider(Registry, section, clock=clock, transport=httpx.MockTransport(answer)) as driver:
        person = driver.complete(code="abc", code_verifier="v" * 43, redirect_uri=CALLBACK, nonce="n")
    # the e-mail is not verified: it is not passed on
    assert (person.subject, person.groups, person.email) == ("alice@uni.example", {"/demo"}, None)
    token_request = next(r for r in seen if r.url.path == "/token")
    form = dict(httpx.QueryParams(token_request.content.decode()))
    assert form["client_secret"] == "s e/cret" and form["client_id"] == "c"  # client_secret_post
    assert "authorization" not in token_request.headers


def test_the_harness_says_what_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no node, no npm
    assert oidc_missing() == "missing programs: node, npm (Debian's nodejs and npm)"
    with pytest.raises(ComponentUnavailable, match="missing programs: node, npm"), oidc_provider(tmp_path):
        pass
