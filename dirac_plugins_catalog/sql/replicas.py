"""Replicas: one per storage element per file, with a status and a master/replica kind.

Storage elements are created on first use. Adding a replica that exists
succeeds; adding one to a missing file fails that item (``NotFound``);
removing a missing replica, or one of a missing file, succeeds; removing
the last replica is allowed (the file stays, with none). A file's first
replica is its ``Master``. Default reads show only visible files and
replicas (status ``AprioriGood``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update

from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.catalog import directories, files, replicas
from dirac_core.errors import DiracError, NotFound
from dirac_core.model.catalog import VISIBLE_STATUSES, FileStatus, ReplicaType
from dirac_plugins_catalog.sql.files import FileRow, hidden_lfns, lfn_rows
from dirac_plugins_catalog.sql.lookups import chunked, fetch, member, se_ids, se_names
from dirac_plugins_catalog.sql.usage import UsageDelta

__all__ = ["add_replicas", "get_replicas", "lfn_for_guid", "missing_file", "remove_replicas",
           "replica_statuses", "set_replica_statuses"]


def missing_file(lfn: str) -> NotFound:
    """The error of an item naming a file the catalog does not have."""
    return NotFound(f"no such file {lfn!r}", lfn=lfn)


def _existing(conn: Connection, file_ids: Iterable[int]) -> dict[int, dict[int, FileStatus]]:
    """``{file_id: {se_id: status}}`` of the files given that have replicas."""
    r = replicas.c
    out: dict[int, dict[int, FileStatus]] = {}
    for part in chunked(sorted(set(file_ids))):
        for file_id, se_id, status in conn.execute(select(r.file_id, r.se_id, r.status)
                                                   .where(member(conn, r.file_id, part))):
            out.setdefault(file_id, {})[se_id] = status
    return out


def add_replicas(conn: Connection, found: Mapping[str, FileRow], wanted: Mapping[str, Sequence[str]]
                 ) -> None:
    """Record the replicas ``{lfn: [se, ...]}`` of the files ``found``; existing ones are kept."""
    have = _existing(conn, (row.file_id for row in found.values()))
    se_of = se_ids(conn, {se for lfn in found for se in wanted[lfn]})
    rows: list[dict[str, Any]] = []
    delta = UsageDelta()
    for lfn, row in found.items():
        present = have.get(row.file_id, {})
        for se in dict.fromkeys(wanted[lfn]):
            se_id = se_of[se]
            if se_id in present:
                continue
            kind = ReplicaType.REPLICA if present else ReplicaType.MASTER
            present = {**present, se_id: FileStatus.APRIORI_GOOD}
            rows.append({"file_id": row.file_id, "se_id": se_id, "status": FileStatus.APRIORI_GOOD,
                         "kind": kind})
            delta.add(row.dir_id, se_id, 1, row.size)
    bulk_insert(conn, replicas, rows)
    delta.apply(conn)


def remove_replicas(conn: Connection, found: Mapping[str, FileRow], wanted: Mapping[str, Sequence[str]]
                    ) -> None:
    """Forget the replicas ``{lfn: [se, ...]}`` of the files ``found`` that exist."""
    have = _existing(conn, (row.file_id for row in found.values()))
    se_of = se_ids(conn, {se for lfn in found for se in wanted[lfn]}, create=False)
    by_se: dict[int, list[int]] = {}
    delta = UsageDelta()
    for lfn, row in found.items():
        present = have.get(row.file_id, {})
        for se in set(wanted[lfn]):
            se_id = se_of.get(se)
            if se_id is not None and se_id in present:
                by_se.setdefault(se_id, []).append(row.file_id)
                delta.add(row.dir_id, se_id, -1, -row.size)
    r = replicas.c
    for se_id, ids in sorted(by_se.items()):
        for part in chunked(sorted(ids)):
            conn.execute(delete(replicas).where(r.se_id == se_id, member(conn, r.file_id, part)))
    delta.apply(conn)


def id_ranges(ids: Iterable[int], *, gap: int = 16) -> list[tuple[int, int]]:
    """Sorted ``ids`` as ``(first, last)`` runs, ids less than ``gap`` apart joined in one run."""
    runs: list[tuple[int, int]] = []
    first = last = None
    for value in sorted(ids):
        if last is not None and value - last <= gap:
            last = value
            continue
        if first is not None and last is not None:
            runs.append((first, last))
        first = last = value
    if first is not None and last is not None:
        runs.append((first, last))
    return runs


def _replica_rows(conn: Connection, file_ids: Iterable[int], *, visible_only: bool
                  ) -> Iterator[tuple[int, int]]:
    """``(file_id, se_id)`` of the replicas of the files given (and of others with ids in between:
    the caller filters), each query a set of id ranges of the clustered primary key."""
    r = replicas.c
    shown = [s.value for s in sorted(VISIBLE_STATUSES)] if visible_only else None
    for part in chunked(id_ranges(file_ids), 100):
        stmt = select(r.file_id, r.se_id).where(or_(*(r.file_id.between(lo, hi) for lo, hi in part)))
        if shown is not None:
            stmt = stmt.where(r.status.in_(shown))
        yield from fetch(conn, stmt)


def get_replicas(conn: Connection, lfns: Collection[str], *, all_status: bool
                 ) -> dict[str, frozenset[str]]:
    """``{lfn: SE names}`` of the canonical ``lfns`` that exist (a missing one: not in the result).

    Without ``all_status``, files and replicas whose status is not visible
    are left out (a hidden file is as missing). On SQLite files and replicas
    come in one join; a server answers a join with a primary-key probe per
    file, slower than a second range scan: there the replicas are read by
    ranges of file ids. Whole columns are handled at a time (``map``,
    ``zip``, ``dict.update``): no Python code runs per file, except for
    files with several replicas.
    """
    names = se_names(conn)
    single: dict[int | None, frozenset[str]] = {se_id: frozenset((name,)) for se_id, name in names.items()}
    single[None] = frozenset()
    more: dict[str, set[int]] = {}
    if conn.dialect.name == "sqlite":
        out, dir_ids = _joined(conn, lfns, all_status=all_status, single=single, more=more)
    else:
        out, dir_ids = _by_ranges(conn, lfns, all_status=all_status, single=single, more=more)
    if not all_status:
        for lfn in hidden_lfns(conn, dir_ids):
            out.pop(lfn, None)
            more.pop(lfn, None)
    for lfn, ses in more.items():
        out[lfn] = frozenset(names[i] for i in ses)
    return out


_ONE, _TWO = itemgetter(0), itemgetter(1)


def _joined(conn: Connection, lfns: Collection[str], *, all_status: bool,
            single: Mapping[int | None, frozenset[str]], more: dict[str, set[int]]
            ) -> tuple[dict[str, frozenset[str]], list[int]]:
    r = replicas.c
    on = r.file_id == files.c.file_id
    if not all_status:
        on = and_(on, r.status.in_([s.value for s in sorted(VISIBLE_STATUSES)]))
    batches, dir_ids = lfn_rows(conn, lfns, (r.se_id,), join=lambda source: source.outerjoin(replicas, on))
    out: dict[str, frozenset[str]] = {}
    for rows in batches:
        before = len(out)
        out.update(zip(map(_ONE, rows), map(single.__getitem__, map(_TWO, rows)), strict=True))
        if len(out) - before != len(rows):
            _extra(rows, dict(rows), more)
    return out, dir_ids


def _by_ranges(conn: Connection, lfns: Collection[str], *, all_status: bool,
               single: Mapping[int | None, frozenset[str]], more: dict[str, set[int]]
               ) -> tuple[dict[str, frozenset[str]], list[int]]:
    ids: dict[str, int] = {}
    batches, dir_ids = lfn_rows(conn, lfns, (files.c.file_id,))
    for rows in batches:
        ids.update(rows)
    rows = list(_replica_rows(conn, ids.values(), visible_only=not all_status))
    se_of = dict(rows)
    first = list(map(se_of.get, ids.values()))
    if len(se_of) != len(rows):
        by_id = {file_id: lfn for lfn, file_id in ids.items()}
        _extra([(by_id[i], s) for i, s in rows if i in by_id], dict(zip(ids, first, strict=True)), more)
    return dict(zip(ids, map(single.__getitem__, first), strict=True)), dir_ids


def _extra(rows: Iterable[tuple[str, int | None]], first: Mapping[str, int | None],
           more: dict[str, set[int]]) -> None:
    """Files of ``rows`` with several replicas (``first``: one SE id of each): all their SE ids
    into ``more``."""
    for lfn, se_id in rows:
        if se_id is not None and first[lfn] != se_id:
            more.setdefault(lfn, {se for se in (first[lfn],) if se is not None}).add(se_id)


def replica_statuses(conn: Connection, found: Mapping[str, FileRow]) -> dict[str, dict[str, FileStatus]]:
    """``{lfn: {se: status}}`` of every replica, whatever its status, of the files ``found``."""
    have = _existing(conn, (row.file_id for row in found.values()))
    names = se_names(conn, [se for ses in have.values() for se in ses])
    return {lfn: {names[se]: status for se, status in have.get(row.file_id, {}).items()}
            for lfn, row in found.items()}


def set_replica_statuses(conn: Connection, found: Mapping[str, FileRow],
                         wanted: Mapping[str, Mapping[str, FileStatus]], now: datetime
                         ) -> dict[str, DiracError]:
    """Set ``{lfn: {se: status}}`` on replicas of the files ``found``; ``NotFound`` per missing replica."""
    del now  # replicas carry no modification time
    have = _existing(conn, (row.file_id for row in found.values()))
    se_of = se_ids(conn, {se for lfn in found for se in wanted[lfn]}, create=False)
    errors: dict[str, DiracError] = {}
    changes: dict[tuple[int, FileStatus], list[int]] = {}
    for lfn, row in found.items():
        present = have.get(row.file_id, {})
        absent = [se for se in wanted[lfn] if se_of.get(se) not in present]
        if absent:
            errors[lfn] = NotFound(f"{lfn!r} has no replica at {', '.join(sorted(absent))}", lfn=lfn,
                                   se=absent[0])
            continue
        for se, status in wanted[lfn].items():
            changes.setdefault((se_of[se], status), []).append(row.file_id)
    r = replicas.c
    for (se_id, status), ids in sorted(changes.items()):
        for part in chunked(sorted(ids)):
            conn.execute(update(replicas).where(r.se_id == se_id, member(conn, r.file_id, part))
                         .values(status=status))
    return errors


def lfn_for_guid(conn: Connection, guids: Sequence[str]) -> dict[str, str]:
    """``{guid: lfn}`` of the GUIDs some file has (the oldest such file when several do)."""
    f, d = files.c, directories.c
    out: dict[str, tuple[int, str]] = {}
    for part in chunked(sorted(set(guids))):
        for guid, file_id, path, name in conn.execute(
                select(f.guid, f.file_id, d.path, f.name).join_from(files, directories, d.dir_id == f.dir_id)
                .where(member(conn, f.guid, part))):
            if guid not in out or file_id < out[guid][0]:
                out[guid] = (file_id, f"{path.rstrip('/')}/{name}")
    return {guid: lfn for guid, (_, lfn) in out.items()}
