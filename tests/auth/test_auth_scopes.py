"""OAuth scopes: parsing ``vo:X group:Y property:Z`` and resolving them against the registry."""

from __future__ import annotations

import pytest
from auth_helpers import ADMIN_PROPS, make_config

from dirac_core.auth import InvalidScope, Scope, parse_scope, resolve
from dirac_core.config import Registry
from dirac_core.errors import PermissionDenied
from dirac_core.model.identity import Identity


@pytest.fixture
def registry() -> Registry:
    return make_config().registry


def test_parse_full_scope() -> None:
    assert parse_scope("vo:demo group:demo_admin property:A property:B") == Scope(
        "demo", "demo_admin", frozenset({"A", "B"}))


def test_parse_is_order_insensitive_and_ignores_openid() -> None:
    expected = Scope("demo", "demo_admin", frozenset({"A", "B"}))
    for text in ("property:B openid vo:demo property:A group:demo_admin",
                 "openid offline_access group:demo_admin property:A vo:demo property:B",
                 "  vo:demo\tgroup:demo_admin   property:A property:B property:A  "):
        assert parse_scope(text) == expected, text


def test_parse_vo_only() -> None:
    assert parse_scope("openid vo:demo") == Scope("demo")
    assert parse_scope("vo:demo").group is None
    assert parse_scope("vo:demo").properties == frozenset()


@pytest.mark.parametrize("text", ["", "openid", "group:demo_user", "vo:", "vo:a vo:b", "vo:a vo:a"])
def test_parse_needs_exactly_one_vo(text: str) -> None:
    with pytest.raises(InvalidScope, match="exactly one VO"):
        parse_scope(text)


def test_parse_refuses_two_groups() -> None:
    with pytest.raises(InvalidScope, match="more than one group"):
        parse_scope("vo:demo group:demo_user group:demo_admin")


@pytest.mark.parametrize("scope", [
    Scope("demo"),
    Scope("demo", "demo_admin"),
    Scope("demo", "demo_admin", frozenset({"Operator", "JobAdministrator"})),
    Scope("other", None, frozenset({"NormalUser"})),
])
def test_text_round_trip(scope: Scope) -> None:
    assert parse_scope(scope.text()) == scope


def test_text_is_canonical() -> None:
    scope = Scope("demo", "demo_admin", frozenset({"Operator", "JobAdministrator"}))
    assert scope.text() == "vo:demo group:demo_admin property:JobAdministrator property:Operator"
    assert Scope("demo").text() == "vo:demo"


def test_resolve_default_group_of_the_vo(registry: Registry) -> None:
    assert resolve(Scope("demo"), "alice", registry) == Identity(
        user="alice", group="demo_user", vo="demo", properties={"NormalUser"})


def test_resolve_explicit_group_gets_all_its_properties(registry: Registry) -> None:
    assert resolve(parse_scope("vo:demo group:demo_admin"), "admin", registry) == Identity(
        user="admin", group="demo_admin", vo="demo", properties=set(ADMIN_PROPS))


def test_resolve_properties_subset(registry: Registry) -> None:
    identity = resolve(parse_scope("vo:demo group:demo_admin property:Operator"), "admin", registry)
    assert identity.properties == {"Operator"}
    assert identity.group == "demo_admin"


def test_resolve_without_default_group_takes_the_users_first_group(registry: Registry) -> None:
    assert resolve(Scope("other"), "alice", registry).group == "other_b"
    assert resolve(Scope("other"), "bob", registry).group == "other_c"
    with pytest.raises(PermissionDenied, match="no group of VO"):
        resolve(Scope("other"), "carol", registry)


def test_resolve_unknown_vo(registry: Registry) -> None:
    with pytest.raises(InvalidScope, match="unknown VO"):
        resolve(Scope("nope"), "alice", registry)


@pytest.mark.parametrize("scope", [Scope("demo", "no_such_group"), Scope("demo", "other_b")])
def test_resolve_unknown_group_or_group_of_another_vo(registry: Registry, scope: Scope) -> None:
    with pytest.raises(InvalidScope, match="unknown group"):
        resolve(scope, "alice", registry)


def test_resolve_user_not_in_the_group(registry: Registry) -> None:
    with pytest.raises(PermissionDenied, match="not in group"):
        resolve(Scope("demo", "demo_admin"), "alice", registry)
    with pytest.raises(PermissionDenied, match="not in group"):
        resolve(Scope("demo"), "admin", registry)  # default group demo_user
    with pytest.raises(PermissionDenied, match="not in group"):
        resolve(Scope("demo"), "nobody", registry)


def test_resolve_property_not_granted(registry: Registry) -> None:
    with pytest.raises(PermissionDenied, match="does not grant JobAdministrator"):
        resolve(parse_scope("vo:demo property:JobAdministrator"), "alice", registry)
    with pytest.raises(PermissionDenied, match="does not grant"):
        resolve(parse_scope("vo:demo group:demo_admin property:Operator property:Pilot"), "admin",
                registry)
