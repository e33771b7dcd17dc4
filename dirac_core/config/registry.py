"""The registry: virtual organisations, users, groups and their properties.

It mirrors DIRAC's ``/Registry`` section. Users, groups and VOs are keyed by
name; in a config file the key is the name, so the classes' ``name`` field is
filled from it. Group properties stay plain strings so that an experiment can
grant its own; :class:`Property` lists DIRAC's standard ones.
"""

from __future__ import annotations

from enum import StrEnum

import attrs
from attrs import validators as v

from dirac_core.config._validators import NAME as _NAME
from dirac_core.config._validators import NON_NEGATIVE, STR_SET
from dirac_core.errors import ConfigError

__all__ = ["VO", "Group", "Property", "Registry", "User"]

_EMAIL = v.optional(v.matches_re(r"[^@\s]+@[^@\s]+"))
_DN = v.deep_iterable(v.matches_re(r"/.+"), v.instance_of(tuple))


class Property(StrEnum):
    """DIRAC's standard group properties (a group may hold others, as plain strings)."""

    NORMAL_USER = "NormalUser"
    GENERIC_PILOT = "GenericPilot"
    PILOT = "Pilot"
    LIMITED_DELEGATION = "LimitedDelegation"
    PRIVATE_LIMITED_DELEGATION = "PrivateLimitedDelegation"
    FULL_DELEGATION = "FullDelegation"
    PROXY_MANAGEMENT = "ProxyManagement"
    JOB_ADMINISTRATOR = "JobAdministrator"
    JOB_MONITOR = "JobMonitor"
    JOB_SHARING = "JobSharing"
    PRODUCTION_MANAGEMENT = "ProductionManagement"
    PRODUCTION_SHARING = "ProductionSharing"
    PRODUCTION_USER = "ProductionUser"
    FILE_CATALOG_MANAGEMENT = "FileCatalogManagement"
    SERVICE_ADMINISTRATOR = "ServiceAdministrator"
    SITE_MANAGER = "SiteManager"
    OPERATOR = "Operator"
    TRUSTED_HOST = "TrustedHost"
    CS_ADMINISTRATOR = "CSAdministrator"
    ALARMS_MANAGEMENT = "AlarmsManagement"


@attrs.frozen(kw_only=True)
class VO:
    """A virtual organisation.

    ``voms_name`` is the VO's name in VOMS when it differs from ``name``;
    ``default_group`` is the group a member lands in when none is asked for.
    """

    name: str = attrs.field(validator=_NAME)
    voms_name: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    default_group: str | None = attrs.field(default=None, validator=v.optional(_NAME))
    admin: str | None = attrs.field(default=None, validator=v.optional(_NAME))
    description: str = attrs.field(default="", validator=v.instance_of(str))


@attrs.frozen(kw_only=True)
class User:
    """A person: X.509 DNs (OpenSSL ``/O=.../CN=...`` form), e-mail, OIDC subject, and a
    password hash for the built-in identity provider (embedded and test use)."""

    name: str = attrs.field(validator=_NAME)
    dns: tuple[str, ...] = attrs.field(default=(), validator=_DN)
    email: str | None = attrs.field(default=None, validator=_EMAIL)
    sub: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    ca: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    #: for the built-in identity provider: ``dirac_core.auth.passwords.hash_password``'s output
    password_hash: str | None = attrs.field(default=None, repr=False,
                                            validator=v.optional(v.instance_of(str)))


@attrs.frozen(kw_only=True)
class Group:
    """A group of users of one VO, with the properties it grants and its fair share.

    ``job_share`` is the group's weight in the fair share (DIRAC's default is
    1000); ``job_sharing`` lets members see and manage each other's jobs.
    """

    name: str = attrs.field(validator=_NAME)
    vo: str = attrs.field(validator=_NAME)
    users: frozenset[str] = attrs.field(default=frozenset(), validator=STR_SET)
    properties: frozenset[str] = attrs.field(default=frozenset(), validator=STR_SET)
    job_share: int = attrs.field(default=1000, validator=NON_NEGATIVE)
    job_sharing: bool = attrs.field(default=False, validator=v.instance_of(bool))
    voms_role: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))

    def has_property(self, prop: str) -> bool:
        """True when the group grants ``prop`` (a :class:`Property` or any string)."""
        return prop in self.properties


@attrs.frozen(kw_only=True)
class Registry:
    """All VOs, users and groups, keyed by name.

    Raises :class:`ConfigError` (key paths relative to the registry) when a
    group names a user or VO that does not exist, or a default group is unknown.
    """

    vos: dict[str, VO] = attrs.Factory(dict)
    users: dict[str, User] = attrs.Factory(dict)
    groups: dict[str, Group] = attrs.Factory(dict)
    default_group: str | None = None

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        for kind, table in (("vos", self.vos), ("users", self.users), ("groups", self.groups)):
            for key, item in table.items():
                if item.name != key:
                    problems.append((f"{kind}.{key}.name", f"{item.name!r} differs from its key"))
        for gname, group in self.groups.items():
            if group.vo not in self.vos:
                problems.append((f"groups.{gname}.vo", f"unknown VO {group.vo!r}"))
            for user in sorted(group.users - self.users.keys()):
                problems.append((f"groups.{gname}.users", f"unknown user {user!r}"))
        for vname, vo in self.vos.items():
            if vo.default_group is None:
                continue
            default = self.groups.get(vo.default_group)
            if default is None:
                problems.append((f"vos.{vname}.default_group",
                                 f"unknown group {vo.default_group!r}"))
            elif default.vo != vname:
                problems.append((f"vos.{vname}.default_group",
                                 f"group {vo.default_group!r} belongs to VO {default.vo!r}"))
        if self.default_group is not None and self.default_group not in self.groups:
            problems.append(("default_group", f"unknown group {self.default_group!r}"))
        if problems:
            raise ConfigError(problems)

    def groups_of(self, user: str) -> list[Group]:
        """The groups ``user`` belongs to, sorted by name."""
        return [g for _, g in sorted(self.groups.items()) if user in g.users]

    def user_by_dn(self, dn: str) -> User | None:
        """The user holding X.509 ``dn``, or None."""
        return next((u for u in self.users.values() if dn in u.dns), None)

    def user_by_sub(self, sub: str) -> User | None:
        """The user whose OIDC subject is ``sub``, or None."""
        return next((u for u in self.users.values() if u.sub == sub), None)
