"""Datasets: named, stored metadata queries whose file list can be frozen.

A dataset lives in a directory (created with it) under the last part of its
name. Its query is stored as JSON with the search path; a live dataset's
figures (files, bytes, checksum of the sorted LFNs) are computed by running
the query when asked. Freezing stores the file list as it is then (the LFNs
themselves, so a frozen list keeps files removed later) and the figures;
releasing forgets them. Freezing a frozen dataset keeps its snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import attrs
from sqlalchemy import Connection, delete, insert, select, update

from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.catalog import dataset_files, datasets
from dirac_core.dms.datasets import dataset_checksum
from dirac_core.errors import AlreadyExists, CatalogError, NotFound
from dirac_core.plugins.metadata import DatasetInfo
from dirac_plugins_catalog.sql.namespace import Owner, ensure_directories, find_directories
from dirac_plugins_catalog.sql.paths import split

__all__ = ["Runner", "StoredDataset", "add", "freeze", "info", "lfns", "load", "remove"]

#: Runs a stored query: ``(query, path) -> [(lfn, size)]`` sorted.
Runner = Callable[[Mapping[str, Any], str], list[tuple[str, int]]]


@attrs.frozen
class StoredDataset:
    """A dataset row."""

    dataset_id: int
    name: str
    query: dict[str, Any]
    path: str
    frozen: bool
    files: int
    size: int
    checksum: str


def _json_default(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=repr) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a dataset query")


def load(conn: Connection, name: str) -> StoredDataset:
    """The dataset named ``name`` (canonical); ``NotFound`` if there is none."""
    head, last = split(name)
    directory = find_directories(conn, [head]).get(head)
    row = None
    if directory is not None:
        ds = datasets.c
        row = conn.execute(select(ds.dataset_id, ds.query, ds.path, ds.frozen, ds.files, ds.size, ds.checksum)
                           .where(ds.dir_id == directory.dir_id, ds.name == last)).first()
    if row is None:
        raise NotFound(f"no dataset {name!r}", name=name)
    return StoredDataset(row[0], name, json.loads(row[1]), row[2], bool(row[3]), int(row[4]), int(row[5]),
                         row[6])


def info(stored: StoredDataset, run: Runner) -> DatasetInfo:
    """What a dataset holds: its snapshot if frozen, else its query run now."""
    if stored.frozen:
        files, size, checksum = stored.files, stored.size, stored.checksum
    else:
        found = run(stored.query, stored.path)
        files, size = len(found), sum(s for _, s in found)
        checksum = dataset_checksum(lfn for lfn, _ in found)
    return DatasetInfo(name=stored.name, query=stored.query, path=stored.path, frozen=stored.frozen,
                       files=files, size=size, checksum=checksum)


def add(conn: Connection, name: str, query: Mapping[str, Any], path: str, *, owner: Owner,
        now: datetime) -> StoredDataset:
    """Store a new dataset (its directory is created); ``AlreadyExists`` if the name is taken,
    ``CatalogError`` if the directory cannot be made or the query cannot be stored."""
    try:
        text = json.dumps(dict(query), default=_json_default, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"cannot store the query of dataset {name!r}: {exc}", name=name) from exc
    head, last = split(name)
    dirs, errors = ensure_directories(conn, [head], owner, now)
    if head in errors:
        raise CatalogError(f"cannot make dataset {name!r}: {errors[head]}", name=name)
    ds = datasets.c
    dir_id = dirs[head].dir_id
    if conn.execute(select(ds.dataset_id).where(ds.dir_id == dir_id, ds.name == last)).first() is not None:
        raise AlreadyExists(f"dataset {name!r} exists", name=name)
    conn.execute(insert(datasets).values(
        dir_id=dir_id, name=last, query=text, path=path, frozen=False, files=0, size=0,
        checksum=dataset_checksum([]), owner_id=owner.user_id, group_id=owner.group_id, created=now,
        modified=now))
    return load(conn, name)


def lfns(conn: Connection, stored: StoredDataset, run: Runner) -> list[str]:
    """The files of a dataset: the frozen list, or its query run now."""
    if not stored.frozen:
        return [lfn for lfn, _ in run(stored.query, stored.path)]
    f = dataset_files.c
    return list(conn.execute(select(f.lfn).where(f.dataset_id == stored.dataset_id).order_by(f.position))
                .scalars())


def freeze(conn: Connection, stored: StoredDataset, run: Runner, *, frozen: bool, now: datetime
           ) -> StoredDataset:
    """Snapshot the file list (kept if already frozen), or release it (``frozen=False``)."""
    ds = datasets.c
    if frozen and not stored.frozen:
        found = run(stored.query, stored.path)
        bulk_insert(conn, dataset_files, [{"dataset_id": stored.dataset_id, "position": i, "lfn": lfn}
                                          for i, (lfn, _) in enumerate(found)])
        conn.execute(update(datasets).where(ds.dataset_id == stored.dataset_id).values(
            frozen=True, files=len(found), size=sum(s for _, s in found),
            checksum=dataset_checksum(lfn for lfn, _ in found), modified=now))
    elif not frozen and stored.frozen:
        conn.execute(delete(dataset_files).where(dataset_files.c.dataset_id == stored.dataset_id))
        conn.execute(update(datasets).where(ds.dataset_id == stored.dataset_id).values(
            frozen=False, files=0, size=0, checksum=dataset_checksum([]), modified=now))
    return load(conn, stored.name)


def remove(conn: Connection, name: str) -> None:
    """Forget a dataset and its snapshot; a missing one is removed already."""
    try:
        stored = load(conn, name)
    except NotFound:
        return
    conn.execute(delete(dataset_files).where(dataset_files.c.dataset_id == stored.dataset_id))
    conn.execute(delete(datasets).where(datasets.c.dataset_id == stored.dataset_id))
