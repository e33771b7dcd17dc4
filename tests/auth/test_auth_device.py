"""The OAuth device flow: start, approve, redeem once, expiry, purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auth_helpers import ADMIN_PROPS, CLIENT, DEVICE_SECONDS, make_config
from sqlalchemy import select

from dirac_core.auth import AuthManager, DeviceFlowError, InvalidScope
from dirac_core.auth.device import _ALPHABET
from dirac_core.db import Database
from dirac_core.db.tables.auth import device_flows
from dirac_core.errors import NotFound, PermissionDenied
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity

ADMIN_SCOPE = "openid vo:demo group:demo_admin property:Operator"


def _redeem_error(manager: AuthManager, device_code: str, client_id: str = CLIENT) -> str:
    with pytest.raises(DeviceFlowError) as info:
        manager.device.redeem(device_code, client_id, manager.config.registry)
    return info.value.error


def _flow_count(database: Database) -> int:
    with database.begin(read_only=True) as conn:
        return len(conn.execute(select(device_flows.c.user_code)).all())


def test_start(manager: AuthManager, database: Database) -> None:
    start = manager.device.start(CLIENT, ADMIN_SCOPE, manager.config.registry)
    assert len(start.user_code) == 8
    assert set(start.user_code) <= set(_ALPHABET) and start.user_code.isupper()
    assert len(start.device_code) >= 40
    assert start.expires_in == DEVICE_SECONDS
    assert manager.device.scope_of(start.user_code) == ADMIN_SCOPE
    again = manager.device.start(CLIENT, ADMIN_SCOPE, manager.config.registry)
    assert (again.user_code, again.device_code) != (start.user_code, start.device_code)
    assert _flow_count(database) == 2


def test_redeem_before_approval_is_pending(manager: AuthManager) -> None:
    start = manager.device.start(CLIENT, "vo:demo", manager.config.registry)
    assert _redeem_error(manager, start.device_code) == "authorization_pending"
    assert _redeem_error(manager, start.device_code) == "authorization_pending"  # poll again


def test_approve_then_redeem_once(manager: AuthManager) -> None:
    registry = manager.config.registry
    start = manager.device.start(CLIENT, ADMIN_SCOPE, registry)
    expected = Identity(user="admin", group="demo_admin", vo="demo", properties={"Operator"})
    assert manager.device.approve(start.user_code, "admin", registry) == expected
    assert manager.device.redeem(start.device_code, CLIENT, registry) == (expected, ADMIN_SCOPE)
    assert _redeem_error(manager, start.device_code) == "invalid_grant"
    with pytest.raises(NotFound):  # nor can it be approved again
        manager.device.approve(start.user_code, "admin", registry)


def test_the_redeemed_scope_issues_tokens(manager: AuthManager) -> None:
    registry = manager.config.registry
    start = manager.device.start(CLIENT, "vo:demo group:demo_admin", registry)
    manager.device.approve(start.user_code, "admin", registry)
    identity, scope = manager.device.redeem(start.device_code, CLIENT, registry)
    pair = manager.tokens.issue(identity, scope)
    assert manager.tokens.identity(pair.access_token).properties == set(ADMIN_PROPS)
    assert manager.tokens.refresh(pair.refresh_token).access_token


def test_approve_by_a_user_without_the_group(manager: AuthManager) -> None:
    registry = manager.config.registry
    start = manager.device.start(CLIENT, ADMIN_SCOPE, registry)
    with pytest.raises(PermissionDenied):
        manager.device.approve(start.user_code, "alice", registry)
    assert _redeem_error(manager, start.device_code) == "authorization_pending"
    assert manager.device.approve(start.user_code, "admin", registry).user == "admin"


def test_approve_asking_for_an_ungranted_property(manager: AuthManager) -> None:
    registry = manager.config.registry
    start = manager.device.start(CLIENT, "vo:demo property:JobAdministrator", registry)
    with pytest.raises(PermissionDenied):
        manager.device.approve(start.user_code, "alice", registry)


def test_another_client_cannot_redeem(manager: AuthManager) -> None:
    registry = manager.config.registry
    start = manager.device.start(CLIENT, "vo:demo", registry)
    assert _redeem_error(manager, start.device_code, "someone-else") == "invalid_grant"
    manager.device.approve(start.user_code, "alice", registry)
    assert _redeem_error(manager, start.device_code, "someone-else") == "invalid_grant"
    # the failed attempt did not spend the flow
    assert manager.device.redeem(start.device_code, CLIENT, registry)[0].user == "alice"


def test_unknown_device_code(manager: AuthManager) -> None:
    start = manager.device.start(CLIENT, "vo:demo", manager.config.registry)
    manager.device.approve(start.user_code, "alice", manager.config.registry)
    for code in ("", "nope", start.user_code, start.device_code[:-1], start.device_code + "x"):
        assert _redeem_error(manager, code) == "invalid_grant", code


def test_expired_flow(manager: AuthManager, fake_clock: FakeClock) -> None:
    registry = manager.config.registry
    pending = manager.device.start(CLIENT, "vo:demo", registry)
    approved = manager.device.start(CLIENT, "vo:demo", registry)
    manager.device.approve(approved.user_code, "alice", registry)
    fake_clock.advance(timedelta(seconds=DEVICE_SECONDS))
    assert manager.device.scope_of(pending.user_code) == "vo:demo"  # still valid at the deadline
    fake_clock.advance(timedelta(seconds=1))
    assert _redeem_error(manager, pending.device_code) == "expired_token"
    assert _redeem_error(manager, approved.device_code) == "expired_token"
    with pytest.raises(NotFound):
        manager.device.approve(pending.user_code, "alice", registry)
    with pytest.raises(NotFound):
        manager.device.scope_of(pending.user_code)


def test_start_with_an_unknown_vo(manager: AuthManager, database: Database) -> None:
    with pytest.raises(DeviceFlowError) as info:
        manager.device.start(CLIENT, "vo:nope", manager.config.registry)
    assert info.value.error == "invalid_scope"
    with pytest.raises(InvalidScope):
        manager.device.start(CLIENT, "openid group:demo_user", manager.config.registry)
    assert _flow_count(database) == 0


def test_user_code_is_case_insensitive(manager: AuthManager) -> None:
    registry = manager.config.registry
    start = manager.device.start(CLIENT, "vo:demo", registry)
    assert manager.device.scope_of(f" {start.user_code.lower()} ") == "vo:demo"
    assert manager.device.approve(f"  {start.user_code.lower()}\n", "bob", registry).user == "bob"
    assert manager.device.redeem(start.device_code, CLIENT, registry)[0].user == "bob"


def test_unknown_user_code(manager: AuthManager) -> None:
    manager.device.start(CLIENT, "vo:demo", manager.config.registry)
    with pytest.raises(NotFound):
        manager.device.approve("BCDFGHJK", "alice", manager.config.registry)
    with pytest.raises(NotFound):
        manager.device.scope_of("")


def test_user_removed_between_approval_and_redeem(manager: AuthManager) -> None:
    start = manager.device.start(CLIENT, "vo:demo", manager.config.registry)
    manager.device.approve(start.user_code, "alice", manager.config.registry)
    manager.config = make_config(demo_user=("bob",))
    assert _redeem_error(manager, start.device_code) == "access_denied"


def test_purge_deletes_old_flows(manager: AuthManager, database: Database, fake_clock: FakeClock) -> None:
    registry = manager.config.registry
    manager.device.start(CLIENT, "vo:demo", registry)  # expires at 00:05
    fake_clock.advance(timedelta(minutes=30))
    recent = manager.device.start(CLIENT, "vo:demo", registry)  # expires at 00:35
    assert manager.device.purge() == 0
    fake_clock.advance(timedelta(minutes=40))  # 01:10: the first expired 65 minutes ago
    assert manager.device.purge() == 1
    assert _flow_count(database) == 1
    assert _redeem_error(manager, recent.device_code) == "expired_token"  # kept
    assert manager.device.purge(older_than=timedelta(minutes=36)) == 0
    assert manager.device.purge(older_than=timedelta(minutes=30)) == 1
    assert _flow_count(database) == 0
