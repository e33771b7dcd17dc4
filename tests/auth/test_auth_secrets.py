"""Secrets hygiene: refresh tokens and device codes never reach the database in the clear."""

from __future__ import annotations

from auth_helpers import CLIENT
from sqlalchemy import Table, select

from dirac_core.auth import AuthManager
from dirac_core.db import Database
from dirac_core.db.tables.auth import device_flows, refresh_tokens, signing_keys


def _all_text(database: Database, *tables: Table) -> str:
    with database.begin(read_only=True) as conn:
        return "\n".join(repr(tuple(row)) for table in tables for row in conn.execute(select(table)))


def test_refresh_tokens_are_not_stored(manager: AuthManager, database: Database) -> None:
    _, first = manager.issue("alice", vo="demo")
    second = manager.tokens.refresh(first.refresh_token)
    _, other = manager.issue("admin", vo="demo", group="demo_admin")
    stored = _all_text(database, refresh_tokens, device_flows, signing_keys)
    assert "demo_admin" in stored and "alice" in stored  # the rows are there
    for pair in (first, second, other):
        for token in (pair.refresh_token, pair.access_token):
            for part in (token, *token.split(".")[1:]):  # the whole token, its payload, its signature
                assert part not in stored


def test_device_codes_are_not_stored(manager: AuthManager, database: Database) -> None:
    registry = manager.config.registry
    starts = [manager.device.start(CLIENT, "vo:demo", registry) for _ in range(3)]
    manager.device.approve(starts[0].user_code, "alice", registry)
    manager.device.approve(starts[1].user_code, "bob", registry)
    manager.device.redeem(starts[1].device_code, CLIENT, registry)
    stored = _all_text(database, refresh_tokens, device_flows, signing_keys)
    assert all(start.user_code in stored for start in starts)  # the rows are there
    for start in starts:
        assert start.device_code not in stored
        assert start.device_code[:16] not in stored
