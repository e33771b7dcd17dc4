"""Signing keys shared through the database: creation, JWKS, rotation, retirement, replicas."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from auth_helpers import jwt_parts
from sqlalchemy import func, select

from dirac_core.auth import AuthManager, KeyStore, TokenService
from dirac_core.config import Config
from dirac_core.db import Database
from dirac_core.db.tables.auth import signing_keys
from dirac_core.errors import NotAuthenticated
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity

ALICE = Identity(user="alice", group="demo_user", vo="demo", properties={"NormalUser"})
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


def _key_rows(database: Database) -> list[dict[str, object]]:
    with database.begin(read_only=True) as conn:
        return [dict(row) for row in conn.execute(select(signing_keys)).mappings()]


def _jwks(keys: KeyStore) -> list[dict[str, Any]]:
    """The keys of the public JWKS document."""
    listed = keys.public_jwks()["keys"]
    assert isinstance(listed, list)
    return listed


def _service(database: Database, auth_config: Config, clock: FakeClock) -> TokenService:
    """A token service with its own key store: one more "replica" on the same database."""
    return TokenService(database=database, settings=auth_config.auth,
                        registry=lambda: auth_config.registry, clock=clock,
                        keys=KeyStore(database, clock))


def test_first_signing_key_creates_one(database: Database, fake_clock: FakeClock) -> None:
    keys = KeyStore(database, fake_clock)
    assert _key_rows(database) == []
    key = keys.signing_key()
    rows = _key_rows(database)
    assert len(rows) == 1
    assert rows[0]["kid"] == key.kid
    assert rows[0]["algorithm"] == "RS256"
    assert rows[0]["retired"] is None
    assert rows[0]["created"] == fake_clock.now()
    assert keys.signing_key().kid == key.kid
    assert KeyStore(database, fake_clock).signing_key().kid == key.kid
    assert len(_key_rows(database)) == 1


def test_public_jwks_has_no_private_parts(database: Database, fake_clock: FakeClock) -> None:
    keys = KeyStore(database, fake_clock)
    (only,) = _jwks(keys)  # creates the first key too
    assert only["kid"] == keys.signing_key().kid
    assert only["kty"] == "RSA" and only["n"] and only["e"]
    assert not PRIVATE_MEMBERS & only.keys()
    keys.rotate()
    listed = _jwks(keys)
    assert len(listed) == 2
    assert {key["kid"] for key in listed} == {row["kid"] for row in _key_rows(database)}
    for key in listed:
        assert not PRIVATE_MEMBERS & key.keys()
    # the private key really is in the table: the JWKS leaves it out on purpose
    assert all('"d"' in str(row["private_jwk"]) for row in _key_rows(database))


def test_rotate_new_kid_and_old_tokens_still_verify(manager: AuthManager, database: Database,
                                                    fake_clock: FakeClock) -> None:
    identity, old = manager.issue("alice", vo="demo")
    old_kid = jwt_parts(old.access_token)[0]["kid"]
    assert old_kid == manager.keys.signing_key().kid
    new_kid = manager.keys.rotate()
    assert new_kid != old_kid
    assert manager.keys.signing_key().kid == new_kid
    _, new = manager.issue("alice", vo="demo")
    assert jwt_parts(new.access_token)[0]["kid"] == new_kid
    assert jwt_parts(new.refresh_token)[0]["kid"] == new_kid
    assert manager.tokens.identity(old.access_token) == identity
    assert manager.tokens.identity(new.access_token) == identity
    retired = {row["kid"]: row["retired"] for row in _key_rows(database)}
    assert retired == {old_kid: fake_clock.now(), new_kid: None}
    # a refresh token signed by the retired key is still good
    assert manager.tokens.refresh(old.refresh_token).access_token


def test_drop_retired_removes_old_keys_and_their_tokens(manager: AuthManager, database: Database,
                                                        fake_clock: FakeClock) -> None:
    _, old = manager.issue("alice", vo="demo", access_minutes=60)
    old_kid = jwt_parts(old.access_token)[0]["kid"]
    new_kid = manager.keys.rotate()
    _, new = manager.issue("alice", vo="demo", access_minutes=60)
    fake_clock.advance(timedelta(minutes=4))
    assert manager.keys.drop_retired(timedelta(minutes=5)) == 0
    assert manager.tokens.identity(old.access_token).user == "alice"
    fake_clock.advance(timedelta(minutes=2))
    assert manager.keys.drop_retired(timedelta(minutes=5)) == 1
    assert [row["kid"] for row in _key_rows(database)] == [new_kid]
    assert old_kid not in {key["kid"] for key in _jwks(manager.keys)}
    with pytest.raises(NotAuthenticated):  # not expired (60 minutes), but its key is gone
        manager.tokens.identity(old.access_token)
    with pytest.raises(NotAuthenticated):
        manager.tokens.refresh(old.refresh_token)
    assert manager.tokens.identity(new.access_token).user == "alice"
    # the signing key is never dropped, however old
    fake_clock.advance(timedelta(days=30))
    assert manager.keys.drop_retired(timedelta(0)) == 0
    assert manager.keys.signing_key().kid == new_kid


def test_two_replicas_verify_each_others_tokens(database: Database, auth_config: Config,
                                                fake_clock: FakeClock) -> None:
    a = _service(database, auth_config, fake_clock)
    b = _service(database, auth_config, fake_clock)
    from_a = a.issue(ALICE, "vo:demo")
    from_b = b.issue(ALICE, "vo:demo")
    assert a.keys.signing_key().kid == b.keys.signing_key().kid
    assert len(_key_rows(database)) == 1
    assert b.identity(from_a.access_token) == ALICE
    assert a.identity(from_b.access_token) == ALICE
    # a refresh token from one replica is spent on the other
    assert b.identity(b.refresh(from_a.refresh_token).access_token) == ALICE
    with pytest.raises(NotAuthenticated):
        a.refresh(from_a.refresh_token)


def test_replicas_after_a_rotation(database: Database, auth_config: Config,
                                   fake_clock: FakeClock) -> None:
    a = _service(database, auth_config, fake_clock)
    b = _service(database, auth_config, fake_clock)
    before = b.issue(ALICE, "vo:demo", access_minutes=60)
    old_kid = b.keys.signing_key().kid
    new_kid = a.keys.rotate()
    after = a.issue(ALICE, "vo:demo", access_minutes=60)
    # b has never seen the new key: it reloads the keys for the unknown kid
    assert b.identity(after.access_token) == ALICE
    assert a.identity(before.access_token) == ALICE
    # once its cache is stale, b signs with the new key too
    fake_clock.advance(timedelta(minutes=2))
    assert jwt_parts(b.issue(ALICE, "vo:demo").access_token)[0]["kid"] == new_kid
    # a drops the old key: b, after its next reload, refuses the old tokens too
    assert a.keys.drop_retired(timedelta(minutes=1)) == 1
    with pytest.raises(NotAuthenticated):
        a.identity(before.access_token)
    fake_clock.advance(timedelta(minutes=2))
    with pytest.raises(NotAuthenticated):
        b.identity(before.access_token)
    assert b.identity(after.access_token) == ALICE
    assert old_kid != new_kid
    with database.begin(read_only=True) as conn:
        assert conn.execute(select(func.count()).select_from(signing_keys)).scalar_one() == 1
