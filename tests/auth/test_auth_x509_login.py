"""Proxy login over HTTP against a running server, on every backend: challenge, chain, signature."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from wms_helpers import GRID, resource
from x509_helpers import VOMS_ROLE, credential, grid_config, write_ca_dir

from dirac_core.auth.x509 import ProxyAttributes, ProxyCredential, create_proxy, grid_dn
from dirac_core.auth.x509.challenges import b64encode, sign_challenge, signed_message
from dirac_core.client import RemoteInterware
from dirac_core.client.proxy_login import proxy_login
from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.errors import NotAuthenticated, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model.clock import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.pki import TestCA
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

CHALLENGE_SECONDS = 60


@attrs.frozen
class Site:
    """A running server, its interware and clock, and the users' credentials."""

    url: str
    iw: Interware
    clock: FakeClock
    users: dict[str, ProxyCredential]
    other_ca: TestCA

    def proxy(self, user: str, attributes: ProxyAttributes | None = None, **options: Any) -> ProxyCredential:
        return create_proxy(self.users[user], clock=self.clock, key_size=1024, attributes=attributes,
                            **options)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestCA, TestCA, dict[str, ProxyCredential]]:
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    other = TestCA(tmp_path_factory.mktemp("other"), dn_prefix=("org", "elsewhere"))
    users = {name: credential(ca.user_cert(name.title(), stem=name)) for name in ("alice", "bob", "carol",
                                                                                    "pilot", "admin")}
    return ca, other, users


@pytest.fixture
def site(database: Database, pki: tuple[TestCA, TestCA, dict[str, ProxyCredential]],
         tmp_path: Path) -> Iterator[Site]:
    ca, other, users = pki
    sock = bind()
    url = url_of(sock)
    clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    dns = {name: grid_dn(cred.cert.subject) for name, cred in users.items() if name != "carol"}
    config = grid_config(db_url=database.url.render_as_string(hide_password=False), issuer=url, ca=ca,
                         dns=dns, other_ca_dn=other.dn, ca_dir=write_ca_dir(tmp_path / "cas", ca),
                         challenge_seconds=CHALLENGE_SECONDS)
    iw = Interware(config=config, database=database, clock=clock, hooks=make_plugin_manager(()))
    with running(create_app(iw), sock):
        yield Site(url=url, iw=iw, clock=clock, users=users, other_ca=other)


def _login(site: Site, proxy: ProxyCredential, **options: Any) -> dict[str, Any]:
    with httpx.Client(base_url=site.url, timeout=30) as http:
        return proxy_login(http, proxy, **options)


def _whoami(site: Site, token: str) -> dict[str, Any]:
    answer = httpx.get(f"{site.url}/api/auth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    info: dict[str, Any] = answer.json()
    return info


def _answer(site: Site, proxy: ProxyCredential, *, signer: Any = None, **extra: Any
            ) -> tuple[httpx.Client, dict[str, Any]]:
    """A client and the body answering a fresh challenge (signed by ``signer``, default the proxy)."""
    nonce = httpx.post(f"{site.url}/api/auth/proxy/challenge").json()["challenge"]
    http = httpx.Client(base_url=site.url, timeout=30)
    signature = sign_challenge(signer or proxy.key, signed_message(site.url, nonce))
    return http, {"challenge": nonce, "chain": proxy.chain_pem().decode(), "signature": b64encode(signature),
                  **extra}


def test_a_proxy_logs_in_as_its_user_in_the_group_it_asks_for(site: Site) -> None:
    proxy = site.proxy("alice", ProxyAttributes(vo="demo", group="demo_shared"),
                       lifetime=dt.timedelta(minutes=5))
    tokens = _login(site, proxy)
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    assert tokens["expires_in"] == 5 * 60  # never beyond the proxy (the server gives 20 minutes)
    info = _whoami(site, tokens["access_token"])
    assert (info["preferred_username"], info["dirac_group"], info["vo"]) == ("alice", "demo_shared", "demo")
    # the refresh token works like any login's
    refreshed = httpx.post(f"{site.url}/api/auth/token", data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": "x"})
    assert refreshed.status_code == 200, refreshed.text
    assert _whoami(site, refreshed.json()["access_token"])["dirac_group"] == "demo_shared"


def test_the_group_comes_from_the_fqan_or_the_vo_default(site: Site) -> None:
    by_role = site.proxy("alice", ProxyAttributes(vo="demo", fqans=(VOMS_ROLE,)))
    assert _whoami(site, _login(site, by_role)["access_token"])["dirac_group"] == "demo_shared"
    plain = site.proxy("alice")  # no attributes: the default group of alice's only VO
    assert _whoami(site, _login(site, plain)["access_token"])["dirac_group"] == "demo_user"
    of_a_proxy = create_proxy(by_role, clock=site.clock, key_size=1024)  # a proxy of a proxy keeps them
    assert _whoami(site, _login(site, of_a_proxy)["access_token"])["dirac_group"] == "demo_shared"
    # and the client's RemoteInterware does the same with a proxy file
    path = of_a_proxy.write(Path(site.iw.config.auth.x509.ca_dir or "").parent / "x509up")
    with RemoteInterware(site.url, proxy=path) as remote:
        answer = remote.transport.request("GET", "/api/auth/userinfo", idempotent=True).json()
    assert (answer["preferred_username"], answer["dirac_group"]) == ("alice", "demo_shared")


def test_groups_the_registry_does_not_grant_are_refused(site: Site) -> None:
    with pytest.raises(PermissionDenied, match="not in group 'demo_admin'"):
        _login(site, site.proxy("alice", ProxyAttributes(vo="demo", group="demo_admin")))
    with pytest.raises(PermissionDenied, match="no group of VO 'demo' has the VOMS role"):
        _login(site, site.proxy("alice", ProxyAttributes(vo="demo", fqans=("/demo/Role=boss",))))
    with pytest.raises(Exception, match="unknown group 'nogroup'") as info:
        _login(site, site.proxy("alice", ProxyAttributes(vo="demo", group="nogroup")))
    assert info.value.status == 400  # type: ignore[attr-defined]
    with pytest.raises(NotAuthenticated, match="no registry user has the DN"):
        _login(site, site.proxy("carol"))  # carol has no DN in the registry
    with pytest.raises(NotAuthenticated, match="registered with CA"):
        _login(site, site.proxy("bob"))  # bob's DN is registered with another CA


def test_a_challenge_is_answered_once(site: Site) -> None:
    http, body = _answer(site, site.proxy("alice"))
    with http:
        assert http.post("/api/auth/proxy", json=body).status_code == 200
        again = http.post("/api/auth/proxy", json=body)
        assert again.status_code == 401 and "already used" in again.json()["detail"]
        unknown = http.post("/api/auth/proxy", json={**body, "challenge": "x" * 43})
        assert unknown.status_code == 401


def test_an_expired_challenge_is_refused(site: Site) -> None:
    http, body = _answer(site, site.proxy("alice"))
    site.clock.advance(CHALLENGE_SECONDS + 1)
    with http:
        late = http.post("/api/auth/proxy", json=body)
        assert late.status_code == 401 and "expired" in late.json()["detail"]
        assert http.post("/api/auth/proxy", json=body).status_code == 401  # and it is spent


def test_a_signature_by_another_key_is_refused(site: Site) -> None:
    proxy = site.proxy("alice")
    http, body = _answer(site, proxy, signer=rsa.generate_private_key(public_exponent=65537, key_size=1024))
    with http:
        wrong = http.post("/api/auth/proxy", json=body)
        assert wrong.status_code == 401 and "bad_signature" in wrong.json()["detail"]
    # signing the nonce alone (not bound to this server) fails the same way
    http, body = _answer(site, proxy)
    with http:
        body["signature"] = b64encode(sign_challenge(proxy.key, body["challenge"].encode()))
        assert http.post("/api/auth/proxy", json=body).status_code == 401


def test_invalid_chains_are_refused_with_their_reason(site: Site) -> None:
    stranger = credential(site.other_ca.user_cert("Alice", stem="alice-elsewhere"))
    http, body = _answer(site, create_proxy(stranger, clock=site.clock, key_size=1024))
    with http:
        untrusted = http.post("/api/auth/proxy", json=body)
    assert untrusted.status_code == 401 and "untrusted_ca" in untrusted.json()["detail"]
    proxy = site.proxy("alice", lifetime=dt.timedelta(minutes=10))
    site.clock.advance(dt.timedelta(minutes=11))
    with pytest.raises(NotAuthenticated, match="expired"):
        _login(site, proxy)
    http, body = _answer(site, site.proxy("alice"))
    with http:
        assert http.post("/api/auth/proxy", json={**body, "chain": "garbage"}).status_code == 401
        assert http.post("/api/auth/proxy", json={**body, "signature": "@@@"}).status_code in (400, 401)


def test_a_pilot_logs_in_with_its_proxy_and_matches_a_job(site: Site, tmp_path: Path) -> None:
    iw = site.iw
    [job] = iw.wms.submit('[Executable = "/bin/echo"; Site = "DIRAC.A.ch";]', iw.identity("alice"))
    path = site.proxy("pilot").write(tmp_path / "pilot-proxy")
    with RemoteInterware(site.url, proxy=path, pilot_stamp="x509-pilot-1") as remote:
        matched = remote.wms.match(resource())
        assert matched is not None and matched.job_id == job.job_id
        assert remote.transport.credentials.pilot_stamp == "x509-pilot-1"  # type: ignore[attr-defined]
        # the pilot token expires; the client logs in again with the proxy
        site.clock.advance(dt.timedelta(minutes=iw.config.auth.pilot_token_minutes, seconds=31))
        assert remote.wms.match(resource()) is None  # authenticated again: no more work
    assert iw.wms.jobs_of_pilot("x509-pilot-1") == {job.job_id}
    pilot_tokens = _login(site, site.proxy("pilot"), pilot_stamp="x509-pilot-2")
    assert "refresh_token" not in pilot_tokens and pilot_tokens["pilot_stamp"] == "x509-pilot-2"
    headers = {"Authorization": f"Bearer {pilot_tokens['access_token']}"}
    assert httpx.post(f"{site.url}/api/jobs/jdl", json=["[Executable = \"/bin/true\";]"],
                      headers=headers).status_code == 403  # a pilot token does not submit
    with pytest.raises(PermissionDenied, match="cannot log in as a pilot"):
        _login(site, site.proxy("alice"), pilot_stamp="x509-pilot-3")


def test_a_client_does_not_sign_for_another_server(site: Site) -> None:
    with httpx.Client(base_url=site.url.replace("127.0.0.1", "localhost"), timeout=30) as http, \
            pytest.raises(NotAuthenticated, match="presents itself as"):
        proxy_login(http, site.proxy("alice"))


def test_proxy_login_is_off_without_a_ca_dir(database: Database, fake_clock: FakeClock) -> None:
    db_url = database.url.render_as_string(hide_password=False)
    config = load_config(GRID + f'\n[database]\nurl = "{db_url}"\n', format="toml")
    iw = Interware(config=config, database=database, clock=fake_clock, hooks=make_plugin_manager(()))
    with TestClient(create_app(iw)) as client:
        answer = client.post("/api/auth/proxy/challenge")
    assert answer.status_code == 404 and "not enabled" in answer.json()["detail"]
