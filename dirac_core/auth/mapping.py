"""From a provider's person to a registry user acting in one registry group.

A redirect identity provider (``dirac_core.plugins.identity``) proves a
:class:`ProviderIdentity`: a subject, maybe groups and a verified e-mail. The
registry decides what that person may do: :func:`registry_user` finds the
user (by ``User.sub``, or by verified e-mail when the rules allow it) and
:func:`login_identity` picks the group of the login: the one the client asked
for, or the VO's default group, or the first (by name) of the user's groups in
the VO, always among the groups both the registry (membership) and the
provider (its groups through ``group_map``) grant. Refusals are
:class:`LoginRefused`, whose message says which of the two said no.
"""

from __future__ import annotations

from dirac_core.auth.scopes import InvalidScope, Scope, resolve
from dirac_core.config.identity import MappingRules
from dirac_core.config.registry import Registry
from dirac_core.errors import PermissionDenied
from dirac_core.model.identity import Identity
from dirac_core.plugins.identity import ProviderIdentity

__all__ = ["LoginRefused", "allowed_groups", "login_identity", "registry_user"]


class LoginRefused(PermissionDenied):
    """The provider proved who the person is, but the registry gives them nothing here."""


def registry_user(person: ProviderIdentity, registry: Registry, rules: MappingRules) -> str:
    """The registry user of ``person``; :class:`LoginRefused` when none (or several) match."""
    by_sub = sorted(name for name, user in registry.users.items() if user.sub == person.subject)
    if len(by_sub) == 1:
        return by_sub[0]
    if len(by_sub) > 1:
        raise LoginRefused(f"the identity provider's subject {person.subject!r} belongs to several "
                           f"registry users ({', '.join(by_sub)}); ask the administrators",
                           subject=person.subject)
    if rules.match_email and person.email:
        wanted = person.email.casefold()
        by_email = sorted(name for name, user in registry.users.items()
                          if user.email is not None and user.email.casefold() == wanted)
        if len(by_email) == 1:
            return by_email[0]
    raise LoginRefused(f"the identity provider's user {person.subject!r} is not registered here "
                       "(no registry user has this sub" + (" or e-mail" if rules.match_email else "")
                       + "); ask the administrators to add it", subject=person.subject)


def allowed_groups(person: ProviderIdentity, rules: MappingRules) -> frozenset[str] | None:
    """The registry groups the provider grants ``person``; None when it is not asked for groups."""
    if person.groups is None:
        return None
    if not rules.group_map:
        return frozenset(person.groups)
    return frozenset(rules.group_map[group] for group in person.groups if group in rules.group_map)


def login_identity(person: ProviderIdentity, scope: Scope, registry: Registry,
                   rules: MappingRules) -> Identity:
    """The identity of ``person`` for ``scope`` (the group picked as the module says).

    Raises :class:`LoginRefused` (unknown person, no group allowed),
    ``PermissionDenied`` or ``InvalidScope`` as :func:`~dirac_core.auth.scopes.resolve` does.
    """
    if scope.vo not in registry.vos:
        raise InvalidScope(f"unknown VO {scope.vo!r}; known: {', '.join(sorted(registry.vos))}")
    user = registry_user(person, registry, rules)
    granted = allowed_groups(person, rules)
    if granted is None:
        return resolve(scope, user, registry)
    members = {g.name for g in registry.groups_of(user) if g.vo == scope.vo}
    usable = members & granted
    if scope.group is not None:
        if scope.group in members and scope.group not in granted:
            raise LoginRefused(f"the identity provider does not put {user!r} in a group that maps to "
                               f"{scope.group!r}", user=user, group=scope.group)
        return resolve(scope, user, registry)
    if not usable:
        raise LoginRefused(f"user {user!r} has no group of VO {scope.vo!r} that both the registry and "
                           f"the identity provider grant (the provider says: "
                           f"{', '.join(sorted(person.groups or ())) or 'no group'})", user=user)
    default = registry.vos[scope.vo].default_group
    chosen = default if default in usable else sorted(usable)[0]
    return resolve(Scope(scope.vo, chosen, scope.properties), user, registry)
