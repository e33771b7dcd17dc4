"""Directories: found by path, created with their parents, listed, removed when empty.

A directory row carries its full path and the hash of it (``path_key``,
unique); the closure table ``catalog_dir_closure`` holds every
(ancestor, descendant, depth) pair. Ancestors of a path are known from the
string (:func:`~dirac_plugins_catalog.sql.paths.ancestors`), so finding or
creating a set of directories with all their parents is one indexed query
plus, for the missing ones, two bulk inserts (rows and closure pairs). The
closure serves the subtree queries (metadata inheritance, ``find_files``,
usage roll-up on removals).

The root ``/`` exists from the first write on, owned by ``root:root``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import Connection, delete, exists, select

from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.catalog import (
    datasets,
    dir_closure,
    directories,
    files,
    groups,
    meta_date,
    meta_fields,
    meta_float,
    meta_int,
    meta_string,
    usage,
    users,
)
from dirac_core.errors import CatalogError
from dirac_plugins_catalog.sql.lookups import allocate_ids, chunked, group_ids, member, user_ids
from dirac_plugins_catalog.sql.paths import ROOT, ancestors, path_key, split

__all__ = [
    "ROOT_OWNER",
    "Directory",
    "Owner",
    "children",
    "ensure_directories",
    "find_directories",
    "remove_directories",
    "resolve_owner",
]

#: Owner and group of the root directory, and of what the trusted catalog (no identity) creates.
ROOT_OWNER = ("root", "root")


@attrs.frozen
class Directory:
    """A directory as the catalog logic needs it."""

    dir_id: int
    path: str
    owner: str
    group: str
    mode: int


@attrs.frozen
class Owner:
    """Who new entries belong to: names and their ids, and the mode they get."""

    user: str
    group: str
    user_id: int
    group_id: int
    mode: int


def resolve_owner(conn: Connection, user: str, group: str, mode: int) -> Owner:
    """The :class:`Owner` for ``user`` and ``group``, creating their rows on first use."""
    return Owner(user=user, group=group, user_id=user_ids(conn, [user])[user],
                 group_id=group_ids(conn, [group])[group], mode=mode)


def find_directories(conn: Connection, paths: Iterable[str]) -> dict[str, Directory]:
    """The existing directories among ``paths`` (canonical), by path."""
    keys = {path_key(p): p for p in set(paths)}
    d, u, g = directories.c, users.c, groups.c
    found: dict[str, Directory] = {}
    for part in chunked(keys):
        stmt = (select(d.dir_id, d.path, u.name, g.name, d.mode)
                .join_from(directories, users, u.user_id == d.owner_id)
                .join(groups, g.group_id == d.group_id)
                .where(member(conn, d.path_key, part)))
        for dir_id, path, owner, group, mode in conn.execute(stmt):
            if keys.get(path_key(path)) == path:
                found[path] = Directory(dir_id, path, owner, group, mode)
    return found


def _file_names(conn: Connection, pairs: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which of the ``(dir_id, name)`` pairs are files."""
    by_dir: dict[int, list[str]] = {}
    for dir_id, name in pairs:
        by_dir.setdefault(dir_id, []).append(name)
    f = files.c
    found: set[tuple[int, str]] = set()
    for dir_id, names in by_dir.items():
        for part in chunked(names):
            found.update((dir_id, name) for (name,) in conn.execute(
                select(f.name).where(f.dir_id == dir_id, member(conn, f.name, part))))
    return found


def ensure_directories(conn: Connection, paths: Iterable[str], owner: Owner, now: datetime
                       ) -> tuple[dict[str, Directory], dict[str, CatalogError]]:
    """Find ``paths`` and their ancestors, creating the missing ones (owned by ``owner``).

    Returns every directory involved (ancestors too) by path, and a
    ``CatalogError`` for each requested path that cannot be a directory
    because it, or one of its ancestors, is a file.
    """
    requested = set(paths)
    wanted = set(requested)
    for path in requested:
        wanted.update(ancestors(path))
    found = find_directories(conn, wanted)
    missing = sorted(wanted - found.keys(), key=lambda p: (p.count("/") if p != ROOT else 0, p))
    if not missing:
        return found, {}
    # a missing directory whose parent exists may be a file
    candidates = {(found[split(p)[0]].dir_id, split(p)[1]): p for p in missing
                  if p != ROOT and split(p)[0] in found}
    blocked = {candidates[pair] for pair in _file_names(conn, candidates)}
    errors: dict[str, CatalogError] = {}
    creatable: list[str] = []
    for path in missing:
        file_above = next((a for a in [*ancestors(path), path] if a in blocked), None)
        if file_above is None:
            creatable.append(path)
        elif path in requested:
            errors[path] = CatalogError(f"cannot create directory {path!r}: {file_above!r} is a file",
                                        lfn=path)
    if not creatable:
        return found, errors
    first = allocate_ids(conn, "dir_id", len(creatable))
    ids = {path: first + i for i, path in enumerate(creatable)}
    ids.update((path, d.dir_id) for path, d in found.items())
    root_owner = resolve_owner(conn, *ROOT_OWNER, 0o775) if ROOT in ids and ROOT not in found else owner
    rows: list[dict[str, Any]] = []
    closure: list[dict[str, Any]] = []
    for path in creatable:
        who = root_owner if path == ROOT else owner
        rows.append({"dir_id": ids[path], "parent_id": ids[split(path)[0]] if path != ROOT else None,
                     "path": path, "path_key": path_key(path), "owner_id": who.user_id,
                     "group_id": who.group_id, "mode": who.mode, "created": now, "modified": now})
        chain = [*ancestors(path), path]
        closure.extend({"ancestor_id": ids[a], "descendant_id": ids[path], "depth": len(chain) - 1 - i}
                       for i, a in enumerate(chain))
        found[path] = Directory(ids[path], path, who.user, who.group, who.mode)
    bulk_insert(conn, directories, rows)
    bulk_insert(conn, dir_closure, closure)
    return found, errors


def children(conn: Connection, dirs: Mapping[int, str]) -> dict[int, tuple[list[str], list[str]]]:
    """``{dir_id: (file names, subdirectory paths)}`` of the directories ``{dir_id: path}``, unsorted."""
    out: dict[int, tuple[list[str], list[str]]] = {dir_id: ([], []) for dir_id in dirs}
    f, d = files.c, directories.c
    for dir_id in dirs:
        out[dir_id][0].extend(name for (name,) in conn.execute(select(f.name).where(f.dir_id == dir_id)))
    for part in chunked(dirs):
        stmt = select(d.parent_id, d.path).where(member(conn, d.parent_id, part))
        for parent_id, path in conn.execute(stmt):
            out[parent_id][1].append(path)
    return out


def _non_empty(conn: Connection, dir_ids: list[int]) -> set[int]:
    """Which of the directories hold files, subdirectories or datasets."""
    d, f, ds = directories.c, files.c, datasets.c
    busy: set[int] = set()
    for part in chunked(dir_ids):
        busy.update(conn.execute(select(d.parent_id).where(member(conn, d.parent_id, part))
                                 .distinct()).scalars())
        busy.update(conn.execute(select(ds.dir_id).where(member(conn, ds.dir_id, part)).distinct()).scalars())
        for dir_id in part:
            if conn.execute(select(exists().where(f.dir_id == dir_id))).scalar():
                busy.add(dir_id)
    return busy


def remove_directories(conn: Connection, dirs: Mapping[str, Directory]) -> dict[str, CatalogError]:
    """Delete the empty directories of ``dirs`` with their closure, usage and metadata rows.

    Returns a ``CatalogError`` for each non-empty one (left in place). A
    directory emptied by this call (a subdirectory removed with it) counts
    as non-empty: remove the deepest first, in separate calls.
    """
    by_id = {d.dir_id: path for path, d in dirs.items()}
    busy = _non_empty(conn, list(by_id))
    errors = {by_id[i]: CatalogError(f"directory {by_id[i]!r} is not empty", lfn=by_id[i]) for i in busy}
    gone = [i for i in by_id if i not in busy]
    dir_fields = select(meta_fields.c.field_id).where(meta_fields.c.for_files.is_(False))
    for part in chunked(gone):
        conn.execute(delete(dir_closure).where(member(conn, dir_closure.c.descendant_id, part)))
        conn.execute(delete(usage).where(member(conn, usage.c.dir_id, part)))
        for table in (meta_int, meta_float, meta_string, meta_date):
            conn.execute(delete(table).where(table.c.field_id.in_(dir_fields),
                                             member(conn, table.c.item_id, part)))
        conn.execute(delete(directories).where(member(conn, directories.c.dir_id, part)))
    return errors
