"""Which identity provider proves who people are: ``[auth.identity_provider]``.

A plugin section (tagged by ``type``, also the driver's name in
``dirac.identity_providers``): ``registry`` (the default: user names and password
hashes of the registry) or ``oidc`` (an OpenID Connect provider)::

    [auth.identity_provider]
    type = "oidc"
    issuer = "https://iam.example.org/"
    client_id = "dirac"
    client_secret = "..."
    scopes = ["openid", "profile", "email", "wlcg.groups"]
    groups_claim = "wlcg.groups"
    group_map = { "/demo" = "demo_user", "/demo/admins" = "demo_admin" }

:class:`MappingRules` (the fields ``group_map``, ``match_email``) say how the
provider's people become registry users and groups; see docs/server.md.
"""

from __future__ import annotations

import attrs
from attrs import validators as v

from dirac_core.config._validators import NAME, OptionValue

__all__ = ["IdentityProviderSection", "MappingRules", "OidcIdentityProvider", "RegistryIdentityProvider"]

_POSITIVE_NUMBER = v.and_(v.instance_of(float | int), v.gt(0))
_CLAIM = v.and_(v.instance_of(str), v.min_len(1))


@attrs.frozen(kw_only=True)
class IdentityProviderSection:
    """Base of every identity-provider section; ``options`` holds a third party's free settings."""

    type: str = attrs.field(validator=NAME)
    options: dict[str, OptionValue] = attrs.field(factory=dict, validator=v.instance_of(dict))


@attrs.frozen(kw_only=True)
class RegistryIdentityProvider(IdentityProviderSection):
    """The built-in provider: ``User.password_hash`` of the registry (embedded use, tests)."""

    type: str = "registry"


@attrs.frozen(kw_only=True)
class MappingRules:
    """How a provider's person becomes a registry user in some registry groups.

    The user is the one whose ``sub`` is the provider's subject; with
    ``match_email``, failing that, the one whose ``email`` is the provider's
    *verified* address. Groups: when the provider is asked for groups, a
    login may only use a registry group that the provider's groups map to
    (``group_map``: provider group -> registry group; when it is empty,
    provider group names are registry group names). The registry's membership
    is required in any case.
    """

    group_map: dict[str, str] = attrs.field(factory=dict, validator=v.deep_mapping(_CLAIM, NAME))
    match_email: bool = attrs.field(default=False, validator=v.instance_of(bool))


@attrs.frozen(kw_only=True)
class OidcIdentityProvider(IdentityProviderSection):
    """An OpenID Connect provider (INDIGO IAM, EGI Check-in, Keycloak...).

    ``issuer`` is the provider's issuer URL (its discovery document is at
    ``<issuer>/.well-known/openid-configuration``, cached ``discovery_ttl``
    seconds); ``client_id``/``client_secret`` the client registered there for
    this server (redirect URI ``<auth.issuer>/api/auth/authorize/complete``;
    grants ``authorization_code`` and
    ``urn:ietf:params:oauth:grant-type:device_code``); no secret makes a public
    client. ``ca_file`` verifies an https provider (default: the system's CAs).
    ``subject_claim`` and ``groups_claim`` name the claims read (``groups_claim``
    unset: the provider's groups are not used); a dotted name such as
    ``wlcg.groups`` is first taken as one claim name, then as a path.
    ``leeway`` is the clock skew tolerated on the ID token's times, in seconds.
    """

    type: str = "oidc"
    issuer: str = attrs.field(validator=v.matches_re(r"https?://[^\s/]+(/[^\s]*)?"))
    client_id: str = attrs.field(validator=_CLAIM)
    client_secret: str | None = attrs.field(default=None, repr=False,
                                            validator=v.optional(v.instance_of(str)))
    ca_file: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    scopes: tuple[str, ...] = attrs.field(default=("openid", "profile", "email"),
                                          validator=v.deep_iterable(_CLAIM))
    subject_claim: str = attrs.field(default="sub", validator=_CLAIM)
    groups_claim: str | None = attrs.field(default=None, validator=v.optional(_CLAIM))
    group_map: dict[str, str] = attrs.field(factory=dict, validator=v.deep_mapping(_CLAIM, NAME))
    match_email: bool = attrs.field(default=False, validator=v.instance_of(bool))
    discovery_ttl: int = attrs.field(default=3600, validator=v.and_(v.instance_of(int), v.ge(0)))
    timeout: float = attrs.field(default=10.0, validator=_POSITIVE_NUMBER)
    leeway: int = attrs.field(default=60, validator=v.and_(v.instance_of(int), v.ge(0)))

    @scopes.validator
    def _has_openid(self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]) -> None:
        if "openid" not in value:
            raise ValueError("'scopes' must contain 'openid' (without it there is no ID token)")

    @property
    def rules(self) -> MappingRules:
        """The mapping part of these settings."""
        return MappingRules(group_map=self.group_map, match_email=self.match_email)
