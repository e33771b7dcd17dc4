"""The built-in identity provider (registry passwords) and the AuthManager around it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from auth_helpers import ADMIN_PROPS, PASSWORDS, make_config
from sqlalchemy import select

from dirac_core.auth import AuthManager, InvalidScope, hash_password
from dirac_core.auth.registry_idp import RegistryPasswords
from dirac_core.config import Config
from dirac_core.db import Database
from dirac_core.db.tables.auth import refresh_tokens
from dirac_core.errors import NotAuthenticated, PermissionDenied
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity
from dirac_core.plugins import PluginGroup, load_driver
from dirac_core.plugins.identity import IdentityProvider


def _failure(provider: IdentityProvider, credentials: Mapping[str, str]) -> str:
    with pytest.raises(NotAuthenticated) as info:
        provider.authenticate(credentials)
    return str(info.value)


def test_right_password_gives_the_user_name(auth_config: Config) -> None:
    provider = RegistryPasswords(lambda: auth_config.registry)
    for name, password in PASSWORDS.items():
        assert provider.authenticate({"username": name, "password": password}) == name


def test_failures_all_say_the_same(auth_config: Config) -> None:
    provider = RegistryPasswords(lambda: auth_config.registry)
    failures = [
        {"username": "alice", "password": "wrong"},
        {"username": "alice", "password": PASSWORDS["bob"]},  # another user's password
        {"username": "alice", "password": ""},
        {"username": "alice"},
        {"username": "nobody", "password": PASSWORDS["alice"]},  # unknown user
        {"username": "carol", "password": ""},  # a user without a hash
        {"username": "carol", "password": "anything"},
        {"password": PASSWORDS["alice"]},
        {},
    ]
    messages = {_failure(provider, credentials) for credentials in failures}
    assert messages == {"wrong user name or password"}


def test_the_registry_is_read_at_each_attempt(auth_config: Config) -> None:
    current = [auth_config]
    provider = RegistryPasswords(lambda: current[0].registry)
    assert provider.authenticate({"username": "alice", "password": PASSWORDS["alice"]}) == "alice"
    current[0] = make_config(hashes={"alice": hash_password("new-password", iterations=1000)})
    assert _failure(provider, {"username": "alice", "password": PASSWORDS["alice"]})
    assert provider.authenticate({"username": "alice", "password": "new-password"}) == "alice"
    assert _failure(provider, {"username": "bob", "password": PASSWORDS["bob"]})  # bob lost his hash


def test_registry_provider_is_the_registry_entry_point() -> None:
    assert load_driver(PluginGroup.IDENTITY_PROVIDERS, "registry") is RegistryPasswords
    assert list(RegistryPasswords.fields) == ["username", "password"]


def test_manager_authenticate(manager: AuthManager) -> None:
    assert manager.authenticate({"username": "bob", "password": PASSWORDS["bob"]}) == "bob"
    messages = set()
    for credentials in ({"username": "bob", "password": "nope"}, {"username": "zed", "password": "x"},
                        {"username": "carol", "password": "x"}):
        with pytest.raises(NotAuthenticated) as info:
            manager.authenticate(credentials)
        messages.add(str(info.value))
    assert len(messages) == 1
    # a new configuration is used at once
    manager.config = make_config(hashes={"bob": hash_password("changed", iterations=1000)})
    with pytest.raises(NotAuthenticated):
        manager.authenticate({"username": "bob", "password": PASSWORDS["bob"]})
    assert manager.authenticate({"username": "bob", "password": "changed"}) == "bob"


class _Always(IdentityProvider):
    """A provider that proves everybody is carol."""

    def authenticate(self, credentials: Mapping[str, str]) -> str:
        return "carol"


def test_manager_uses_the_provider_it_is_given(database: Database, auth_config: Config,
                                               fake_clock: FakeClock) -> None:
    provider = _Always(lambda: auth_config.registry)
    manager = AuthManager(database=database, config=auth_config, clock=fake_clock, provider=provider)
    assert manager.provider is provider
    assert manager.authenticate({}) == "carol"


def test_manager_issue(manager: AuthManager, database: Database) -> None:
    identity, pair = manager.issue("alice", vo="demo")
    assert identity == Identity(user="alice", group="demo_user", vo="demo", properties={"NormalUser"})
    assert manager.tokens.identity(pair.access_token) == identity
    identity, pair = manager.issue("admin", vo="demo", group="demo_admin")
    assert manager.tokens.identity(pair.access_token) == Identity(
        user="admin", group="demo_admin", vo="demo", properties=set(ADMIN_PROPS))
    identity, pair = manager.issue("admin", vo="demo", group="demo_admin",
                                   properties=frozenset({"JobAdministrator"}))
    assert manager.tokens.identity(pair.access_token).properties == {"JobAdministrator"}
    with database.begin(read_only=True) as conn:
        rows = conn.execute(select(refresh_tokens)).mappings().all()
    found = sorted((row["user"], row["vo"], row["owner_group"], row["scope"], row["status"]) for row in rows)
    assert found == [
        ("admin", "demo", "demo_admin", "vo:demo group:demo_admin", "active"),
        ("admin", "demo", "demo_admin", "vo:demo group:demo_admin property:JobAdministrator", "active"),
        ("alice", "demo", "demo_user", "vo:demo", "active"),
    ]


def test_manager_issue_refuses_like_a_login(manager: AuthManager, database: Database) -> None:
    with pytest.raises(InvalidScope):
        manager.issue("alice", vo="nope")
    with pytest.raises(InvalidScope):
        manager.issue("alice", vo="demo", group="nope")
    with pytest.raises(PermissionDenied):
        manager.issue("alice", vo="demo", group="demo_admin")
    with pytest.raises(PermissionDenied):
        manager.issue("alice", vo="demo", properties=frozenset({"Operator"}))
    with database.begin(read_only=True) as conn:
        assert conn.execute(select(refresh_tokens)).all() == []
