"""Files: located by (directory, name), registered and removed in bulk.

Lookups group the LFNs by directory; a directory whose files are mostly
asked for is read whole (one range scan of its ``(dir_id, name)`` index),
otherwise its names go in chunked ``IN`` lists. Registration inserts every
new file (and its replicas) with set-based inserts, ids reserved in one
block; it never reads what it does not need: a directory with no files yet
(its usage row says so) is not searched at all.

Per-item outcomes follow DIRAC: an identical re-registration succeeds, one
with another size, checksum or GUID fails ("already registered with
alternative metadata"), as does one whose storage elements are not all
registered already ("alternative replicas"); removing a missing file
succeeds.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from datetime import datetime
from itertools import compress
from operator import attrgetter, itemgetter
from typing import Any

import attrs
from sqlalchemy import Connection, delete, literal, select, update

from dirac_core.db.tables.catalog import (
    directories,
    files,
    meta_date,
    meta_fields,
    meta_float,
    meta_int,
    meta_string,
    replicas,
)
from dirac_core.errors import CatalogError, DiracError
from dirac_core.model.catalog import VISIBLE_STATUSES, FileStatus, ReplicaType
from dirac_core.plugins.catalog import FileEntry
from dirac_plugins_catalog.sql.columns import insert_columns
from dirac_plugins_catalog.sql.lookups import allocate_ids, chunked, fetch, member, se_ids
from dirac_plugins_catalog.sql.namespace import Directory, Owner, ensure_directories, find_directories
from dirac_plugins_catalog.sql.usage import HIDDEN, LOGICAL, UsageDelta, read_usage

__all__ = [
    "FileRow",
    "add_files",
    "file_fields",
    "group_by_directory",
    "hidden_lfns",
    "lfn_rows",
    "locate",
    "name_lookup",
    "remove_files",
    "set_status",
    "validate_entry",
]

#: Longest checksum and GUID stored.
MAX_FIELD = 64


@attrs.frozen
class FileRow:
    """What the logic needs of a file row."""

    file_id: int
    dir_id: int
    size: int
    checksum: str | None
    guid: str | None
    status: FileStatus


def validate_entry(entry: object) -> FileEntry:
    """``entry`` if it is a storable :class:`FileEntry`; ``CatalogError`` saying why not."""
    if not isinstance(entry, FileEntry):
        raise CatalogError(f"expected a FileEntry, got {type(entry).__name__}")
    if type(entry.size) is not int or not 0 <= entry.size < 2**63:  # a BIGINT on every backend
        raise CatalogError(f"{entry.lfn!r}: size must be a non-negative 64-bit int, "
                           f"got {str(entry.size)[:40]}", lfn=entry.lfn)
    for name, value in (("checksum", entry.checksum), ("guid", entry.guid)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > MAX_FIELD):
            raise CatalogError(f"{entry.lfn!r}: {name} must be a string of 1 to {MAX_FIELD} characters, "
                               f"got {value!r}", lfn=entry.lfn)
    return entry


def group_by_directory(lfns: Iterable[str]) -> dict[str, dict[str, str]]:
    """``{directory: {name: lfn}}`` of canonical LFNs."""
    out: dict[str, dict[str, str]] = {}
    for lfn in lfns:
        head, _, name = lfn.rpartition("/")
        names = out.get(head)
        if names is None:
            names = out[head] = {}
        names[name] = lfn
    if "" in out:  # files directly under the root
        out["/"] = out.pop("")
    return out


def name_lookup(conn: Connection, wanted: Mapping[int, Collection[str]], columns: Sequence[Any], *,
                where: Sequence[Any] = (), source: Any = None) -> Iterator[tuple[Any, ...]]:
    """Rows of ``columns`` (the first two must be ``files.dir_id, files.name``) for the names wanted,
    as plain tuples (values as the driver returns them: no enum or timestamp conversion).

    ``wanted`` maps directory ids to the names asked. A directory whose
    logical file count is at most four times the number of names asked is
    read whole, so rows of names not asked come back too: the caller filters
    them. A directory without files is not read. ``where`` adds conditions,
    ``source`` replaces ``files`` as the FROM clause (a join starting at it).
    """
    counts = read_usage(conn, wanted)
    whole: list[int] = []
    partial: list[int] = []
    for dir_id, names in wanted.items():
        logical = counts.get(dir_id, {}).get(LOGICAL)
        if logical is None:
            continue
        (whole if logical.files <= 4 * len(names) else partial).append(dir_id)
    f = files.c
    base = select(*columns).select_from(files if source is None else source)
    for part in chunked(whole, 100):
        yield from fetch(conn, base.where(member(conn, f.dir_id, part), *where))
    for dir_id in partial:
        for names in chunked(wanted[dir_id]):
            yield from fetch(conn, base.where(f.dir_id == dir_id, member(conn, f.name, names), *where))


def lfn_rows(conn: Connection, lfns: Collection[str], columns: Sequence[Any], *,
             join: Callable[[Any], Any] | None = None) -> tuple[Iterator[list[tuple[Any, ...]]], list[int]]:
    """Batches of rows ``(lfn, *columns)`` of the existing files among the canonical ``lfns``, and
    the ids of the directories they are in: the path of large lookups.

    The database builds the LFNs (directory path, ``/``, name); rows of names
    not asked are dropped by whole columns at C speed (``map``,
    ``compress``): no Python code runs per row. A directory is read whole
    when the files under it are at most four times the names asked, else by
    chunked name lists. ``join`` extends the FROM clause (``files`` joined to
    ``directories``), e.g. with replicas.
    """
    wanted = lfns if isinstance(lfns, AbstractSet | dict) else set(lfns)
    dirs = find_directories(conn, {lfn[:lfn.rindex("/")] or "/" for lfn in wanted})
    usage = read_usage(conn, [d.dir_id for d in dirs.values()])
    held = {path: u[LOGICAL].files for path, d in dirs.items() if LOGICAL in (u := usage.get(d.dir_id, {}))}
    whole: list[str] = []
    partial: list[str] = []
    if sum(held.values()) <= 4 * len(wanted):  # reading every directory whole wastes little
        whole = list(held)
    else:
        counts = Counter([lfn[:lfn.rindex("/")] or "/" for lfn in wanted])
        for path, n in held.items():
            (whole if n <= 4 * counts[path] else partial).append(path)
    ids = [dirs[path].dir_id for path in (*whole, *partial)]
    return _lfn_batches(conn, wanted, dirs, whole, partial, columns, join), ids


def _lfn_batches(conn: Connection, wanted: Collection[str], dirs: Mapping[str, Directory],  # noqa: PLR0917
                 whole: Sequence[str], partial: Sequence[str], columns: Sequence[Any],
                 join: Callable[[Any], Any] | None) -> Iterator[list[tuple[Any, ...]]]:
    f, d = files.c, directories.c
    source = files.join(directories, d.dir_id == f.dir_id)
    source = join(source) if join is not None else source
    asked = wanted.__contains__
    first = itemgetter(0)

    def kept(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if all(map(asked, map(first, rows))):
            return rows
        return list(compress(rows, map(asked, map(first, rows))))

    full_name = d.path + literal("/") + f.name
    for part in chunked([dirs[p].dir_id for p in whole if p != "/"], 100):
        yield kept(fetch(conn, select(full_name, *columns).select_from(source)
                         .where(member(conn, f.dir_id, part))))
    if "/" in whole:
        yield kept(fetch(conn, select(literal("/") + f.name, *columns).select_from(source)
                         .where(f.dir_id == dirs["/"].dir_id)))
    if partial:
        names = group_by_directory(lfn for lfn in wanted if (lfn[:lfn.rindex("/")] or "/") in partial)
        for path, some in names.items():
            prefix = "/" if path == "/" else path + "/"
            for chunk in chunked(some):
                yield kept(fetch(conn, select(literal(prefix) + f.name, *columns).select_from(source).where(
                    f.dir_id == dirs[path].dir_id, member(conn, f.name, chunk))))


def hidden_lfns(conn: Connection, dir_ids: Sequence[int]) -> list[str]:
    """LFNs of the files in the directories given whose status is not visible. Only directories
    whose usage counts hidden files are read: usually none."""
    f, d = files.c, directories.c
    hidden = [s.value for s in FileStatus if s not in VISIBLE_STATUSES]
    holding = [dir_id for dir_id, per_se in read_usage(conn, dir_ids).items() if HIDDEN in per_se]
    out: list[str] = []
    for part in chunked(holding):
        stmt = (select(d.path, f.name).join_from(files, directories, d.dir_id == f.dir_id)
                .where(f.status.in_(hidden), member(conn, f.dir_id, part)))
        for path, name in fetch(conn, stmt):
            out.append(f"{'' if path == '/' else path}/{name}")
    return out


_FIRST, _SECOND = itemgetter(0), itemgetter(1)
_SIZE, _CHECKSUM, _GUID = attrgetter("size"), attrgetter("checksum"), attrgetter("guid")

_ROW = (files.c.dir_id, files.c.name, files.c.file_id, files.c.size, files.c.checksum, files.c.guid,
        files.c.status)


def locate(conn: Connection, lfns: Iterable[str]) -> tuple[dict[str, FileRow], dict[str, Directory]]:
    """The existing files among canonical ``lfns`` (``{lfn: FileRow}``) and their directories."""
    by_dir = group_by_directory(lfns)
    dirs = find_directories(conn, by_dir)
    names_of = {dirs[path].dir_id: names for path, names in by_dir.items() if path in dirs}
    found: dict[str, FileRow] = {}
    for dir_id, name, file_id, size, checksum, guid, status in name_lookup(conn, names_of, _ROW):
        lfn = names_of[dir_id].get(name)
        if lfn is not None:
            found[lfn] = FileRow(file_id, dir_id, size, checksum, guid, FileStatus(status))
    return found, dirs


def _replica_ses(conn: Connection, file_ids: Iterable[int]) -> dict[int, set[int]]:
    """``{file_id: {se_id, ...}}`` of the files given that have replicas."""
    r = replicas.c
    out: dict[int, set[int]] = {}
    for part in chunked(sorted(set(file_ids))):
        for file_id, se_id in conn.execute(select(r.file_id, r.se_id).where(member(conn, r.file_id, part))):
            out.setdefault(file_id, set()).add(se_id)
    return out


def add_files(conn: Connection, items: Mapping[str, tuple[FileEntry, Sequence[str]]], *, owner: Owner,
              now: datetime, unique_guid: bool) -> dict[str, DiracError]:
    """Register ``{canonical lfn: (entry, storage elements)}``; the errors of the items that failed.

    Missing directories are created (owned by ``owner``); the first storage
    element of an item holds its master replica. Every other item succeeded.
    """
    by_dir = group_by_directory(items)
    dirs, dir_errors = ensure_directories(conn, by_dir, owner, now)
    errors: dict[str, DiracError] = {}
    for path, error in dir_errors.items():
        for lfn in by_dir[path].values():
            errors[lfn] = CatalogError(f"cannot register {lfn!r}: {error}", lfn=lfn)
    names_of = {dirs[path].dir_id: names for path, names in by_dir.items() if path not in dir_errors}
    d = directories.c
    for part in chunked(names_of):
        for (path,) in conn.execute(select(d.path).where(member(conn, d.parent_id, part))):
            if path in items:
                errors[path] = CatalogError(f"{path!r} is a directory", lfn=path)
    existing: dict[str, FileRow] = {}
    for dir_id, name, file_id, size, checksum, guid, status in name_lookup(conn, names_of, _ROW):
        known = names_of[dir_id].get(name)
        if known is not None:
            existing[known] = FileRow(file_id, dir_id, size, checksum, guid, FileStatus(status))
    if existing:
        errors.update(_compare_existing(conn, items, existing))
    skip = existing.keys() | errors.keys()
    if unique_guid:
        errors.update(_guid_clashes(conn, [(lfn, items[lfn][0].guid) for names in names_of.values()
                                           for lfn in names.values() if lfn not in skip]))
        skip = existing.keys() | errors.keys()
    new = {dir_id: [(name, lfn) for name, lfn in names.items() if lfn not in skip] if skip
           else list(names.items()) for dir_id, names in names_of.items()}
    if any(new.values()):
        _insert(conn, new, items, owner=owner, now=now)
    return errors


def _compare_existing(conn: Connection, items: Mapping[str, tuple[FileEntry, Sequence[str]]],
                      existing: Mapping[str, FileRow]) -> dict[str, DiracError]:
    errors: dict[str, DiracError] = {}
    with_ses = [row.file_id for lfn, row in existing.items() if items[lfn][1]]
    registered = _replica_ses(conn, with_ses) if with_ses else {}
    wanted_ses = se_ids(conn, {se for lfn in existing for se in items[lfn][1]}, create=False)
    for lfn, row in existing.items():
        entry, ses = items[lfn]
        if (row.size, row.checksum, row.guid) != (entry.size, entry.checksum, entry.guid):
            errors[lfn] = CatalogError(f"{lfn!r} is already registered with alternative metadata "
                                       f"(size {row.size}, checksum {row.checksum}, GUID {row.guid})",
                                       lfn=lfn)
        elif ses and not all(wanted_ses.get(se) in registered.get(row.file_id, ()) for se in ses):
            errors[lfn] = CatalogError(f"{lfn!r} is already registered with alternative replicas", lfn=lfn)
    return errors


def _guid_clashes(conn: Connection, new: Sequence[tuple[str, str | None]]) -> dict[str, DiracError]:
    """Errors for new files whose GUID another file (existing, or earlier in ``new``) has."""
    errors: dict[str, DiracError] = {}
    first: dict[str, str] = {}
    for lfn, guid in new:
        if guid is None:
            continue
        if guid in first:
            errors[lfn] = CatalogError(f"GUID {guid} is given for {first[guid]!r} too", lfn=lfn, guid=guid)
        else:
            first[guid] = lfn
    f = files.c
    for part in chunked(first):
        for guid, file_id in conn.execute(select(f.guid, f.file_id).where(member(conn, f.guid, part))):
            lfn = first[guid]
            errors[lfn] = CatalogError(f"GUID {guid} is already registered for another file ({file_id})",
                                       lfn=lfn, guid=guid)
    return errors


#: From this many rows on, SQLite gets a bigger page cache for the insert: the GUID index takes
#: rows at random places, and with the default 2 MB cache most of them cost a page read.
_BIG_INSERT = 10_000
_BIG_CACHE_KIB = 65_536


@contextmanager
def _page_cache(conn: Connection, rows: int) -> Iterator[None]:
    """SQLite: a page cache of :data:`_BIG_CACHE_KIB` while a large insert runs, the connection's
    own setting back afterwards. Other backends: nothing."""
    if conn.dialect.name != "sqlite" or rows < _BIG_INSERT:
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{_BIG_CACHE_KIB:d}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(before):d}")


@attrs.define
class _Columns:
    """The rows to insert, one list per column, and the usage they add."""

    dir_ids: list[int] = attrs.Factory(list)
    names: list[str] = attrs.Factory(list)
    sizes: list[int] = attrs.Factory(list)
    checksums: list[str | None] = attrs.Factory(list)
    guids: list[str | None] = attrs.Factory(list)
    replica_files: list[int] = attrs.Factory(list)
    replica_ses: list[int] = attrs.Factory(list)
    kinds: list[ReplicaType] = attrs.Factory(list)
    delta: UsageDelta = attrs.Factory(UsageDelta)

    def add_directory(self, dir_id: int, pairs: Sequence[tuple[str, str]], first: int,
                      planned: Sequence[tuple[FileEntry, Sequence[str]]], se_of: Mapping[str, int]) -> None:
        """The files ``pairs`` (``(name, lfn)``) of one directory, ids from ``first`` on.

        Whole columns at a time (``map``, ``attrgetter``): no Python code runs per file, except
        when the files do not all have the same single storage element.
        """
        entries = list(map(_FIRST, planned))
        sizes = list(map(_SIZE, entries))
        total = sum(sizes)
        self.dir_ids.extend(itertools.repeat(dir_id, len(pairs)))
        self.names.extend(map(_FIRST, pairs))
        self.sizes.extend(sizes)
        self.checksums.extend(map(_CHECKSUM, entries))
        self.guids.extend(map(_GUID, entries))
        self.delta.add(dir_id, LOGICAL, len(pairs), total)
        same = set(map(_SECOND, planned))
        if len(same) == 1 and len(only := next(iter(same))) <= 1:  # one SE for all of them, or none
            if only:
                self.replica_files.extend(range(first, first + len(pairs)))
                self.replica_ses.extend(itertools.repeat(se_of[only[0]], len(pairs)))
                self.kinds.extend(itertools.repeat(ReplicaType.MASTER, len(pairs)))
                self.delta.add(dir_id, se_of[only[0]], len(pairs), total)
            return
        for file_id, (entry, ses) in enumerate(planned, first):
            for i, se in enumerate(ses):
                self.replica_files.append(file_id)
                self.replica_ses.append(se_of[se])
                self.kinds.append(ReplicaType.MASTER if i == 0 else ReplicaType.REPLICA)
                self.delta.add(dir_id, se_of[se], 1, entry.size)


def _insert(conn: Connection, new: Mapping[int, Sequence[tuple[str, str]]],
            items: Mapping[str, tuple[FileEntry, Sequence[str]]], *, owner: Owner, now: datetime) -> None:
    """Insert the files ``new`` (``{dir_id: [(name, lfn)]}``) with their replicas, and count them
    in the usage."""
    count = sum(map(len, new.values()))
    first = allocate_ids(conn, "file_id", count)
    all_ses = {se for pairs in new.values() for _, lfn in pairs for se in items[lfn][1]}
    se_of = se_ids(conn, all_ses) if all_ses else {}
    cols = _Columns()
    file_id = first
    for dir_id, pairs in new.items():
        cols.add_directory(dir_id, pairs, file_id, list(map(items.__getitem__, map(_SECOND, pairs))), se_of)
        file_id += len(pairs)
    good = FileStatus.APRIORI_GOOD
    with _page_cache(conn, count):
        insert_columns(conn, files, {"file_id": range(first, first + count), "dir_id": cols.dir_ids,
                                     "name": cols.names, "size": cols.sizes, "checksum": cols.checksums,
                                     "guid": cols.guids},
                       {"owner_id": owner.user_id, "group_id": owner.group_id, "mode": owner.mode,
                        "status": good, "created": now, "modified": now})
        insert_columns(conn, replicas, {"file_id": cols.replica_files, "se_id": cols.replica_ses,
                                        "kind": cols.kinds}, {"status": good})
    cols.delta.apply(conn)


def file_fields() -> Any:
    """The ids of the metadata fields of files (a subquery)."""
    return select(meta_fields.c.field_id).where(meta_fields.c.for_files.is_(True))


def remove_files(conn: Connection, found: Mapping[str, FileRow]) -> None:
    """Delete the files ``found`` (from :func:`locate`) with their replicas and metadata."""
    ids = sorted(row.file_id for row in found.values())
    delta = UsageDelta()
    for row in found.values():
        delta.add(row.dir_id, LOGICAL, -1, -row.size)
        if row.status not in VISIBLE_STATUSES:
            delta.add(row.dir_id, HIDDEN, -1, -row.size)
    sizes = {row.file_id: (row.dir_id, row.size) for row in found.values()}
    for file_id, ses in _replica_ses(conn, ids).items():
        dir_id, size = sizes[file_id]
        for se_id in ses:
            delta.add(dir_id, se_id, -1, -size)
    for part in chunked(ids):
        conn.execute(delete(replicas).where(member(conn, replicas.c.file_id, part)))
        for table in (meta_int, meta_float, meta_string, meta_date):
            conn.execute(delete(table).where(table.c.field_id.in_(file_fields()),
                                             member(conn, table.c.item_id, part)))
        conn.execute(delete(files).where(member(conn, files.c.file_id, part)))
    delta.apply(conn)


def set_status(conn: Connection, found: Mapping[str, FileRow], statuses: Mapping[str, FileStatus],
               now: datetime) -> None:
    """Set the status of the files ``found`` (from :func:`locate`) to ``statuses[lfn]``; files
    becoming hidden or visible again are counted in the usage (:data:`~.usage.HIDDEN`)."""
    by_status: dict[FileStatus, list[int]] = {}
    delta = UsageDelta()
    for lfn, row in found.items():
        status = statuses[lfn]
        by_status.setdefault(status, []).append(row.file_id)
        was, now_hidden = row.status not in VISIBLE_STATUSES, status not in VISIBLE_STATUSES
        if was != now_hidden:
            step = 1 if now_hidden else -1
            delta.add(row.dir_id, HIDDEN, step, step * row.size)
    for status, ids in by_status.items():
        for part in chunked(sorted(ids)):
            conn.execute(update(files).where(member(conn, files.c.file_id, part))
                         .values(status=status, modified=now))
    delta.apply(conn)
