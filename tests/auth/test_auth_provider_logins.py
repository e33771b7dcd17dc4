"""Logins through a redirect provider, with a scripted provider: the state kept, on every backend."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from auth_helpers import CLIENT, make_config
from sqlalchemy import func, select

from dirac_core.auth import AuthManager
from dirac_core.auth.codes import s256
from dirac_core.auth.device import DeviceFlowError
from dirac_core.auth.mapping import LoginRefused
from dirac_core.auth.provider_logins import ProviderLogins
from dirac_core.config import Config
from dirac_core.db import Database
from dirac_core.db.tables.auth import authorization_codes, provider_logins, refresh_tokens
from dirac_core.model import FakeClock
from dirac_core.plugins.identity import (
    DevicePending,
    IdentityProviderUnavailable,
    ProviderDeviceStart,
    ProviderIdentity,
    ProviderRefused,
    RedirectIdentityProvider,
)

PORTAL = "https://portal.example.org/cb"
CALLBACK = "https://dirac.example.org/api/auth/authorize/complete"
ALICE = ProviderIdentity(subject="sub-alice", groups=None)


class Scripted(RedirectIdentityProvider):
    """A provider that answers what the test lists, and records what it was asked."""

    def __init__(self, config: Config) -> None:
        super().__init__(lambda: config.registry)
        self.polls: list[ProviderIdentity | DevicePending | Exception] = []
        self.asked: list[tuple[str, Any]] = []
        self.person = ALICE

    def login_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        self.asked.append(("login_url", (state, nonce, code_challenge, redirect_uri)))
        return f"https://op.test/auth?state={state}"

    def complete(self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str) -> ProviderIdentity:
        self.asked.append(("complete", (code, code_verifier, redirect_uri, nonce)))
        return self.person

    def start_device(self) -> ProviderDeviceStart:
        return ProviderDeviceStart(device_code="op-device-code", user_code="WDJB-MJHT",
                                   verification_uri="https://op.test/device", verification_uri_complete=None,
                                   expires_in=900, interval=5)

    def poll_device(self, device_code: str) -> ProviderIdentity | DevicePending:
        self.asked.append(("poll", device_code))
        answer = self.polls.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def config() -> Config:
    base = make_config()
    users = {name: attrs.evolve(user, sub=f"sub-{name}") for name, user in base.registry.users.items()}
    return attrs.evolve(base, registry=attrs.evolve(base.registry, users=users),
                        auth=attrs.evolve(base.auth, allowed_redirects=(PORTAL,)))


@pytest.fixture
def op(config: Config) -> Scripted:
    return Scripted(config)


@pytest.fixture
def manager(database: Database, config: Config, fake_clock: FakeClock, op: Scripted) -> AuthManager:
    return AuthManager(database=database, config=config, clock=fake_clock, provider=op)


def _logins(manager: AuthManager) -> ProviderLogins:
    assert manager.logins is not None
    return manager.logins


def _rows(database: Database, table: Any = provider_logins) -> int:
    with database.begin(read_only=True) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _begin(manager: AuthManager, challenge: str = s256("v" * 43), scope: str = "vo:demo") -> str:
    url = _logins(manager).begin_browser(client_id=CLIENT, redirect_uri=PORTAL, code_challenge=challenge,
                                         code_challenge_method="S256", client_state="portal-state",
                                         scope=scope, callback=CALLBACK, registry=manager.config.registry)
    return url.split("state=", 1)[1]


def test_a_form_provider_has_no_provider_logins(database: Database, config: Config,
                                                fake_clock: FakeClock) -> None:
    assert AuthManager(database=database, config=config, clock=fake_clock).logins is None


def test_browser_login_keeps_the_clients_request_and_gives_our_code(manager: AuthManager, op: Scripted,
                                                                    database: Database) -> None:
    state = _begin(manager)
    (_, (sent_state, nonce, challenge, redirect)), = op.asked
    assert (sent_state, redirect) == (state, CALLBACK) and len(nonce) >= 32
    back = _logins(manager).finish_browser(state=state, code="op-code", error=None, callback=CALLBACK,
                                           registry=manager.config.registry)
    assert back.redirect_uri == PORTAL and back.params["state"] == "portal-state"
    _, (code, verifier, _, used_nonce) = op.asked[1]
    assert (code, used_nonce) == ("op-code", nonce) and s256(verifier) == challenge  # our own PKCE pair
    identity, scope = manager.codes.redeem(code=back.params["code"], client_id=CLIENT, redirect_uri=PORTAL,
                                           verifier="v" * 43, registry=manager.config.registry)
    assert (identity.user, identity.group, scope) == ("alice", "demo_user", "vo:demo group:demo_user")
    with pytest.raises(DeviceFlowError, match="unknown, used or expired login state"):  # one use
        _logins(manager).finish_browser(state=state, code="op-code", error=None, callback=CALLBACK,
                                        registry=manager.config.registry)
    assert _rows(database) == 0


def test_browser_refusals(manager: AuthManager, op: Scripted, database: Database,
                          fake_clock: FakeClock) -> None:
    logins, registry = _logins(manager), manager.config.registry
    # the provider's error goes back to the client, with the client's state
    back = logins.finish_browser(state=_begin(manager), code=None, error="access_denied", callback=CALLBACK,
                                 registry=registry)
    assert back.params == {"error": "access_denied", "state": "portal-state"}
    op.person = ProviderIdentity(subject="sub-nobody")
    with pytest.raises(LoginRefused, match="'sub-nobody' is not registered here"):
        logins.finish_browser(state=_begin(manager), code="c", error=None, callback=CALLBACK,
                              registry=registry)
    stale = _begin(manager)
    fake_clock.advance(timedelta(minutes=11))
    with pytest.raises(DeviceFlowError, match="expired"):
        logins.finish_browser(state=stale, code="c", error=None, callback=CALLBACK, registry=registry)
    with pytest.raises(DeviceFlowError, match="redirect_uri is not registered"):
        logins.begin_browser(client_id=CLIENT, redirect_uri="https://evil.example.org/",
                             code_challenge="x" * 43, code_challenge_method="S256", client_state="",
                             scope="vo:demo", callback=CALLBACK, registry=registry)
    with pytest.raises(DeviceFlowError, match="unknown VO 'nope'"):
        _begin(manager, scope="vo:nope")
    assert _rows(database, authorization_codes) == 0 and _rows(database) == 0


def test_device_relay(manager: AuthManager, op: Scripted, database: Database, fake_clock: FakeClock) -> None:
    started = _logins(manager).start_device(CLIENT, "vo:other", manager.config.registry)
    assert started["user_code"] == "WDJB-MJHT" and started["verification_uri"] == "https://op.test/device"
    assert started["verification_uri_complete"] == "https://op.test/device"
    assert started["expires_in"] == 300  # ours (DEVICE_SECONDS) is shorter than the provider's 900
    code = started["device_code"]
    assert code != "op-device-code"  # the provider's code stays here

    def poll() -> str:
        try:
            identity, scope = manager.redeem_device(code, CLIENT)
        except DeviceFlowError as exc:
            return exc.error
        return f"{identity.user} {identity.group} {scope}"

    op.polls = [DevicePending(), DevicePending(slow_down=True), ALICE]
    assert poll() == "authorization_pending"
    assert poll() == "authorization_pending"  # within the interval: the provider is not asked
    fake_clock.advance(5)
    assert poll() == "authorization_pending"  # slow_down: ten seconds now
    fake_clock.advance(9)
    assert poll() == "authorization_pending"
    fake_clock.advance(1)
    assert poll() == "alice other_b vo:other group:other_b"  # the first of her groups (no default)
    assert [what for what, _ in op.asked] == ["poll"] * 3 and op.asked[0][1] == "op-device-code"
    assert poll() == "invalid_grant" and _rows(database) == 0


def test_device_relay_failures(manager: AuthManager, op: Scripted, database: Database,
                               fake_clock: FakeClock) -> None:
    registry = manager.config.registry

    def start() -> str:
        return str(_logins(manager).start_device(CLIENT, "vo:demo", registry)["device_code"])

    refused, expired, down, strangers = start(), start(), start(), start()
    with pytest.raises(DeviceFlowError) as info:
        manager.redeem_device(refused, "another-client")
    assert info.value.error == "invalid_grant"
    op.polls = [ProviderRefused("access_denied", "the person said no"),
                IdentityProviderUnavailable("the identity provider https://op.test cannot be reached"),
                ProviderIdentity(subject="sub-nobody")]
    with pytest.raises(DeviceFlowError) as info:
        manager.redeem_device(refused, CLIENT)
    assert info.value.error == "access_denied"
    with pytest.raises(IdentityProviderUnavailable):
        manager.redeem_device(down, CLIENT)
    with pytest.raises(LoginRefused):
        manager.redeem_device(strangers, CLIENT)
    assert _rows(database) == 2  # the outage keeps its login (the provider may come back)
    # a browser state is not a device code
    state = _begin(manager)
    with pytest.raises(DeviceFlowError) as info:
        manager.redeem_device(state, CLIENT)
    assert info.value.error == "invalid_grant"
    fake_clock.advance(301)
    with pytest.raises(DeviceFlowError) as info:
        manager.redeem_device(expired, CLIENT)
    assert info.value.error == "expired_token"
    assert _rows(database, refresh_tokens) == 0
    # abandoned logins go when new ones start, an hour after they expired
    fake_clock.advance(timedelta(hours=2))
    start()
    assert _rows(database) == 1
    fake_clock.advance(timedelta(hours=2))
    assert _logins(manager).purge() == 1 and _rows(database) == 0
