"""Who may do what: POSIX-like modes under the policy of DIRAC's ``VOMSSecurityManager``.

Every directory and file has an owner, a group and a mode (``rwx`` bits
for owner, group and others). An identity gets the owner bits when its
user owns the entry, else the group bits when its group is the entry's,
else the other bits. What must be allowed on which entry depends on the
action (:data:`POLICY`):

======================  ========  =======================================================
action                  needs     on
======================  ========  =======================================================
``CREATE``              write     the nearest existing directory above the path (add a
                                  file, create a directory; nothing at all yet: allowed)
``REMOVE``              write     the parent directory (a missing path: allowed)
``WRITE_FILE``          write     the file itself (replicas, statuses; missing: allowed)
``WRITE_PATH``          write     the file or directory itself (mode, metadata; missing:
                                  allowed, the operation itself fails)
``LIST``                read      the directory itself
``READ_FILE``           read      the file itself (its replicas)
``READ``                read      the parent directory (any other read)
``ADMIN``               --        administrators only (owners, metadata fields, repair)
======================  ========  =======================================================

Who bypasses the modes is the interware's policy (``catalog.admin`` of
:mod:`dirac_core.authorization`): a holder of ``FileCatalogManagement``
administers the catalog as a whole (metadata fields, usage) and may do
everything to the entries under ``/<its VO>``; elsewhere the modes apply to
it as to anyone. With ``global_read`` (the default) every read is allowed;
identity None is the trusted catalog itself. A refused item fails with
``PermissionDenied``; the others go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import IntFlag, StrEnum

import attrs
from sqlalchemy import Connection

from dirac_core.authorization import catalog_administers
from dirac_core.db.tables.catalog import files, groups, users
from dirac_core.errors import PermissionDenied
from dirac_core.model.identity import Identity
from dirac_plugins_catalog.sql.files import group_by_directory, name_lookup
from dirac_plugins_catalog.sql.namespace import find_directories
from dirac_plugins_catalog.sql.paths import ROOT, ancestors, split

__all__ = ["POLICY", "Action", "Guard", "Need", "Rule", "Target", "permits"]


class Need(IntFlag):
    """Mode bits."""

    READ = 4
    WRITE = 2
    EXECUTE = 1


class Target(StrEnum):
    """Whose mode decides."""

    NEAREST_ABOVE = "nearest existing directory above"
    PARENT = "parent directory"
    FILE = "file"
    SELF = "file or directory"
    DIRECTORY = "directory"
    NOBODY = "administrators only"


class Action(StrEnum):
    """The kinds of catalog operations, as the policy tells them apart."""

    CREATE = "create"
    REMOVE = "remove"
    WRITE_FILE = "write file"
    WRITE_PATH = "write path"
    LIST = "list"
    READ_FILE = "read file"
    READ = "read"
    ADMIN = "administer"


@attrs.frozen
class Rule:
    """What an action needs, on which entry."""

    need: Need
    target: Target


POLICY: Mapping[Action, Rule] = {
    Action.CREATE: Rule(Need.WRITE, Target.NEAREST_ABOVE),
    Action.REMOVE: Rule(Need.WRITE, Target.PARENT),
    Action.WRITE_FILE: Rule(Need.WRITE, Target.FILE),
    Action.WRITE_PATH: Rule(Need.WRITE, Target.SELF),
    Action.LIST: Rule(Need.READ, Target.DIRECTORY),
    Action.READ_FILE: Rule(Need.READ, Target.FILE),
    Action.READ: Rule(Need.READ, Target.PARENT),
    Action.ADMIN: Rule(Need.WRITE, Target.NOBODY),
}


def permits(identity: Identity, entry: tuple[str, str, int], need: Need) -> bool:
    """Whether ``identity`` has the ``need`` bits on an entry ``(owner, group, mode)``."""
    owner, group, mode = entry
    if identity.user == owner:
        bits = mode >> 6
    elif identity.group == group:
        bits = mode >> 3
    else:
        bits = mode
    return (bits & need) == need


class Guard:
    """Applies :data:`POLICY` for one identity (None: trusted, everything allowed)."""

    def __init__(self, identity: Identity | None, *, global_read: bool) -> None:
        self.identity = identity
        self.global_read = global_read

    def administers(self, path: str | None = None) -> bool:
        """Whether the identity bypasses the modes on ``path`` (None: the catalog as a whole)."""
        return self.identity is None or catalog_administers(self.identity, path)

    def allows_all(self, action: Action) -> bool:
        """Whether every path is allowed ``action`` whatever its entry (trusted, or a global read)."""
        return self.identity is None or (POLICY[action].need is Need.READ and self.global_read)

    def refused(self, conn: Connection, action: Action, paths: Iterable[str]) -> dict[str, PermissionDenied]:
        """``{path: PermissionDenied}`` for the canonical ``paths`` the identity may not ``action``."""
        identity = self.identity
        if identity is None or self.allows_all(action):
            return {}
        rule = POLICY[action]
        paths = list(dict.fromkeys(paths))
        if catalog_administers(identity):  # an administrator: of some paths (its VO's) only
            paths = [p for p in paths if not catalog_administers(identity, p)]
        if not paths:
            return {}
        if rule.target is Target.NOBODY:
            return {p: self._denied(p, action, "administrators of the path's VO only") for p in paths}
        entries = self._entries(conn, rule.target, paths)
        need = "read" if rule.need is Need.READ else "write"
        return {p: self._denied(p, action, f"no {need} permission on the {rule.target}")
                for p in paths if p in entries and not permits(identity, entries[p], rule.need)}

    def _denied(self, path: str, action: Action, why: str) -> PermissionDenied:
        user = self.identity.user if self.identity else None
        group = self.identity.group if self.identity else None
        return PermissionDenied(f"permission denied: {user} ({group}) may not {action} {path!r}: {why}",
                                lfn=path, user=user, group=group, action=str(action))

    def _entries(self, conn: Connection, target: Target, paths: Sequence[str]
                 ) -> dict[str, tuple[str, str, int]]:
        """``{path: (owner, group, mode)}`` of the entry deciding for each path (absent: allowed)."""
        if target is Target.NEAREST_ABOVE:
            parents = {split(p)[0] for p in paths}
            chains = {parent: [parent, *ancestors(parent)[::-1]] for parent in parents}
            dirs = find_directories(conn, {a for chain in chains.values() for a in chain})
            deciding = {}
            for parent, chain in chains.items():
                nearest = next((dirs[a] for a in chain if a in dirs), None)
                if nearest is not None:
                    deciding[parent] = (nearest.owner, nearest.group, nearest.mode)
            return {p: deciding[parent] for p in paths if (parent := split(p)[0]) in deciding}
        if target is Target.DIRECTORY:
            return {p: (d.owner, d.group, d.mode) for p, d in find_directories(conn, paths).items()}
        owners = file_owners(conn, paths)
        if target is Target.FILE:
            return owners
        if target is Target.SELF:
            dirs = find_directories(conn, [p for p in paths if p not in owners])
            return {**owners, **{p: (d.owner, d.group, d.mode) for p, d in dirs.items()}}
        # PARENT, for paths that exist
        existing = set(owners) | set(find_directories(conn, [p for p in paths if p not in owners]))
        above = find_directories(conn, {split(p)[0] for p in existing})
        return {p: (d.owner, d.group, d.mode) for p in existing
                if p != ROOT and (d := above.get(split(p)[0])) is not None}


def file_owners(conn: Connection, lfns: Iterable[str]) -> dict[str, tuple[str, str, int]]:
    """``{lfn: (owner, group, mode)}`` of the existing files among canonical ``lfns``."""
    by_dir = group_by_directory(lfns)
    dirs = find_directories(conn, by_dir)
    names_of = {dirs[path].dir_id: names for path, names in by_dir.items() if path in dirs}
    f, u, g = files.c, users.c, groups.c
    source = files.join(users, u.user_id == f.owner_id).join(groups, g.group_id == f.group_id)
    out: dict[str, tuple[str, str, int]] = {}
    for dir_id, name, owner, group, mode in name_lookup(conn, names_of, (f.dir_id, f.name, u.name, g.name,
                                                                         f.mode), source=source):
        lfn = names_of[dir_id].get(name)
        if lfn is not None:
            out[lfn] = (owner, group, mode)
    return out
