"""From a provider's person to a registry user and group; the ``[auth.identity_provider]`` section."""

from __future__ import annotations

import pytest

from dirac_core.auth.manager import build_provider
from dirac_core.auth.mapping import LoginRefused, allowed_groups, login_identity, registry_user
from dirac_core.auth.oidc import OidcProvider
from dirac_core.auth.registry_idp import RegistryPasswords
from dirac_core.auth.scopes import InvalidScope, Scope
from dirac_core.config import Config, dump_config, load_config
from dirac_core.config.identity import MappingRules, OidcIdentityProvider, RegistryIdentityProvider
from dirac_core.errors import ConfigError, PermissionDenied
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity
from dirac_core.plugins import PluginGroup, load_driver
from dirac_core.plugins.identity import ProviderIdentity

GRID = """
[registry.vos.demo]
name = "demo"
default_group = "demo_user"

[registry.vos.other]
name = "other"

[registry.users.alice]
name = "alice"
sub = "sub-alice"
email = "Alice@Example.org"

[registry.users.bob]
name = "bob"
sub = "sub-bob"

[registry.users.twin1]
name = "twin1"
sub = "sub-twin"

[registry.users.twin2]
name = "twin2"
sub = "sub-twin"

[registry.groups.demo_user]
name = "demo_user"
vo = "demo"
users = ["alice", "bob"]
properties = ["NormalUser"]

[registry.groups.demo_prod]
name = "demo_prod"
vo = "demo"
users = ["alice"]
properties = ["NormalUser", "ProductionManagement"]

[registry.groups.other_user]
name = "other_user"
vo = "other"
users = ["alice"]
properties = ["NormalUser"]
"""

MAP = MappingRules(group_map={"/demo": "demo_user", "/demo/prod": "demo_prod", "/other": "other_user"})


@pytest.fixture
def config() -> Config:
    return load_config(GRID, format="toml")


def person(subject: str = "sub-alice", groups: frozenset[str] | None = None,
           email: str | None = None) -> ProviderIdentity:
    return ProviderIdentity(subject=subject, groups=groups, email=email)


def test_the_user_is_found_by_subject_then_by_verified_email(config: Config) -> None:
    registry = config.registry
    assert registry_user(person(), registry, MappingRules()) == "alice"
    stranger = person("sub-unknown", email="alice@example.ORG")
    with pytest.raises(LoginRefused, match="'sub-unknown' is not registered here"):
        registry_user(stranger, registry, MappingRules())
    assert registry_user(stranger, registry, MappingRules(match_email=True)) == "alice"
    # the driver passes an e-mail only when the provider says it is verified
    with pytest.raises(LoginRefused, match="no registry user has this sub or e-mail"):
        registry_user(person("sub-unknown"), registry, MappingRules(match_email=True))
    with pytest.raises(LoginRefused, match="belongs to several registry users"):
        registry_user(person("sub-twin"), registry, MappingRules())


def test_provider_groups_map_to_registry_groups() -> None:
    assert allowed_groups(person(), MAP) is None  # the provider is not asked for groups
    assert allowed_groups(person(groups=frozenset({"/demo/prod", "/unmapped"})), MAP) == {"demo_prod"}
    assert allowed_groups(person(groups=frozenset({"demo_user", "x"})), MappingRules()) == {"demo_user", "x"}
    assert allowed_groups(person(groups=frozenset()), MAP) == frozenset()


def test_the_login_group_must_be_granted_by_both(config: Config) -> None:
    registry = config.registry
    demo = Scope("demo")
    # no groups asked of the provider: the registry alone decides
    assert login_identity(person(), demo, registry, MAP).group == "demo_user"
    # the provider grants both groups: the VO's default one, or the one asked for
    both = person(groups=frozenset({"/demo", "/demo/prod"}))
    assert login_identity(both, demo, registry, MAP).group == "demo_user"
    got = login_identity(both, Scope("demo", "demo_prod"), registry, MAP)
    assert got == Identity(user="alice", group="demo_prod", vo="demo",
                           properties={"NormalUser", "ProductionManagement"})
    # only production at the provider: no default group, the granted one instead; asking the
    # default group is refused, saying the provider is why
    prod_only = person(groups=frozenset({"/demo/prod"}))
    assert login_identity(prod_only, demo, registry, MAP).group == "demo_prod"
    with pytest.raises(LoginRefused, match="does not put 'alice' in a group that maps to 'demo_user'"):
        login_identity(prod_only, Scope("demo", "demo_user"), registry, MAP)
    # a provider group the registry does not grant gives nothing
    bob = person("sub-bob", groups=frozenset({"/demo/prod"}))
    with pytest.raises(LoginRefused, match="no group of VO 'demo' that both the registry and the identity "
                                           r"provider grant \(the provider says: /demo/prod\)"):
        login_identity(bob, demo, registry, MAP)
    with pytest.raises(PermissionDenied, match="'bob' is not in group 'demo_prod'"):
        login_identity(bob, Scope("demo", "demo_prod"), registry, MAP)
    with pytest.raises(InvalidScope, match="unknown VO 'nope'"):
        login_identity(both, Scope("nope"), registry, MAP)
    # VO without a default group: the first granted group by name
    assert login_identity(person(groups=frozenset({"/other"})), Scope("other"), registry, MAP).group == \
        "other_user"


def test_the_section_is_a_plugin_section(config: Config) -> None:
    assert config.auth.identity_provider == RegistryIdentityProvider()
    cfg = load_config(GRID + """
[auth.identity_provider]
type = "oidc"
issuer = "https://iam.example.org/"
client_id = "dirac"
client_secret = "s3cret"
scopes = ["openid", "email", "wlcg.groups"]
groups_claim = "wlcg.groups"
match_email = true
group_map = { "/demo" = "demo_user" }
""", format="toml")
    section = cfg.auth.identity_provider
    assert isinstance(section, OidcIdentityProvider)
    assert section.rules == MappingRules(group_map={"/demo": "demo_user"}, match_email=True)
    assert "s3cret" not in repr(section)
    assert load_config(dump_config(cfg), format="toml") == cfg
    assert "identity_provider" not in dump_config(config)  # the default is not written


@pytest.mark.parametrize(("body", "problem"), [
    ('type = "oidc"\nclient_id = "c"', "auth.identity_provider.issuer: required field missing"),
    ('type = "oidc"\nissuer = "ftp://x"\nclient_id = "c"', "auth.identity_provider.issuer: must match"),
    ('type = "oidc"\nissuer = "https://x"\nclient_id = "c"\nscopes = ["email"]',
     "auth.identity_provider.scopes: must contain 'openid'"),
    ('type = "saml"', "unknown identity_provider type 'saml'; known types: oidc, registry"),
    ('type = "registry"\nissuer = "https://x"', "auth.identity_provider.issuer: unknown key"),
])
def test_section_errors_name_the_key(body: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(GRID + "\n[auth.identity_provider]\n" + body + "\n", format="toml")
    assert problem in str(info.value)


def test_the_driver_comes_from_the_entry_point(config: Config) -> None:
    assert load_driver(PluginGroup.IDENTITY_PROVIDERS, "oidc") is OidcProvider
    assert isinstance(build_provider(RegistryIdentityProvider(), lambda: config.registry, FakeClock()),
                      RegistryPasswords)
    section = OidcIdentityProvider(issuer="https://iam.example.org", client_id="dirac")
    with build_provider(section, lambda: config.registry, FakeClock()) as provider:
        assert isinstance(provider, OidcProvider) and provider.fields == {}
        assert provider.rules == MappingRules()
    unreadable = OidcIdentityProvider(issuer="https://iam.example.org", client_id="dirac",
                                      ca_file="/nonexistent/ca.pem")
    with pytest.raises(ConfigError, match=r"ca_file: cannot read '/nonexistent/ca\.pem'"):
        build_provider(unreadable, lambda: config.registry, FakeClock())
