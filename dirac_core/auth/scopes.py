"""OAuth scopes in DiracX's form, ``vo:X [group:Y] [property:Z ...]``, resolved to an identity."""

from __future__ import annotations

import attrs

from dirac_core.config.registry import Registry
from dirac_core.errors import DiracError, PermissionDenied
from dirac_core.model.identity import Identity

__all__ = ["InvalidScope", "Scope", "parse_scope", "resolve"]


class InvalidScope(DiracError):
    """A scope that cannot be parsed or names an unknown VO or group."""


@attrs.frozen
class Scope:
    """What a client asks for: a VO, maybe a group, maybe a subset of the group's properties."""

    vo: str
    group: str | None = None
    properties: frozenset[str] = frozenset()

    def text(self) -> str:
        """The scope as a space-separated string."""
        parts = [f"vo:{self.vo}"]
        if self.group:
            parts.append(f"group:{self.group}")
        parts.extend(f"property:{p}" for p in sorted(self.properties))
        return " ".join(parts)


def parse_scope(text: str) -> Scope:
    """Parse ``vo:X group:Y property:Z ...``; unknown kinds (``openid``, ...) are ignored.

    Raises :class:`InvalidScope` for no VO, two VOs or two groups.
    """
    vos: list[str] = []
    groups: list[str] = []
    properties: set[str] = set()
    for item in text.split():
        kind, _, value = item.partition(":")
        if not value:
            continue
        if kind == "vo":
            vos.append(value)
        elif kind == "group":
            groups.append(value)
        elif kind == "property":
            properties.add(value)
    if len(vos) != 1:
        raise InvalidScope(f"the scope must name exactly one VO (vo:NAME), got {text!r}")
    if len(groups) > 1:
        raise InvalidScope(f"the scope names more than one group: {text!r}")
    return Scope(vos[0], groups[0] if groups else None, frozenset(properties))


def resolve(scope: Scope, user: str, registry: Registry) -> Identity:
    """The identity ``user`` gets for ``scope``: the group asked for (or the VO's default
    group), its properties, or only those asked for.

    Raises :class:`InvalidScope` for an unknown VO or group, ``PermissionDenied``
    when the user is not in the group or asks for a property it does not grant.
    """
    vo = registry.vos.get(scope.vo)
    if vo is None:
        raise InvalidScope(f"unknown VO {scope.vo!r}; known: {', '.join(sorted(registry.vos))}")
    name = scope.group or vo.default_group
    if name is None:
        mine = sorted(g.name for g in registry.groups_of(user) if g.vo == scope.vo)
        if not mine:
            raise PermissionDenied(f"user {user!r} is in no group of VO {scope.vo!r}", user=user)
        name = mine[0]
    group = registry.groups.get(name)
    if group is None or group.vo != scope.vo:
        raise InvalidScope(f"unknown group {name!r} in VO {scope.vo!r}")
    if user not in group.users:
        raise PermissionDenied(f"user {user!r} is not in group {name!r}", user=user, group=name)
    extra = scope.properties - group.properties
    if extra:
        raise PermissionDenied(f"group {name!r} does not grant {', '.join(sorted(extra))}",
                               user=user, group=name)
    return Identity(user=user, group=name, vo=scope.vo,
                    properties=scope.properties or group.properties)
