"""The SQL file catalog: DIRAC's file catalog model on SQLite, MariaDB or PostgreSQL.

:class:`SQLFileCatalog` implements the :class:`~dirac_core.plugins.catalog.Catalog`
and :class:`~dirac_core.plugins.metadata.MetadataCatalog` contracts over the
tables of :mod:`dirac_core.db.tables.catalog` (migrations 0007 and 0008).
Every call is bulk and fails per item: an invalid LFN fails with
``InvalidLFN`` before any SQL, a refused one with ``PermissionDenied``, a
missing one (where it matters) with ``NotFound``; the other items go on.
Results are keyed by the LFNs as given. Each call is one transaction.

The modules of the package, by concern: :mod:`.paths` (LFN checks, hashing),
:mod:`.namespace` (directories), :mod:`.files`, :mod:`.replicas`,
:mod:`.usage`, :mod:`.access` (the policy), :mod:`.metadata`,
:mod:`.query` (metadata queries to SQL), :mod:`.datasets`.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, update

from dirac_core.config.sections import SqlCatalog
from dirac_core.db import Database
from dirac_core.db.tables.catalog import directories, files
from dirac_core.errors import BulkResult, CatalogError, NotFound
from dirac_core.model.catalog import VISIBLE_STATUSES, FileStatus
from dirac_core.model.clock import Clock
from dirac_core.plugins.catalog import Catalog, DirectoryListing, FileEntry
from dirac_plugins_catalog.sql import files as file_ops
from dirac_plugins_catalog.sql import namespace
from dirac_plugins_catalog.sql import replicas as replica_ops
from dirac_plugins_catalog.sql.access import Action
from dirac_plugins_catalog.sql.core import Items
from dirac_plugins_catalog.sql.lookups import group_ids, se_names, user_ids
from dirac_plugins_catalog.sql.metadata_api import MetadataMethods
from dirac_plugins_catalog.sql.options import CatalogOptions
from dirac_plugins_catalog.sql.paths import ROOT
from dirac_plugins_catalog.sql.usage import LOGICAL, DirectoryUsage, read_usage, recompute

__all__ = ["SQLFileCatalog"]

_MAX_SE_NAME = 128


def _se_list(value: object) -> tuple[str, ...]:
    """Storage element names, duplicates dropped; ``CatalogError`` for anything else."""
    names = ((value,) if isinstance(value, str)
             else tuple(value) if isinstance(value, Sequence | set | frozenset) else None)
    if names is None or not all(isinstance(n, str) and 0 < len(n) <= _MAX_SE_NAME for n in names):
        raise CatalogError(f"storage elements must be names of 1 to {_MAX_SE_NAME} characters, got {value!r}")
    return tuple(dict.fromkeys(names))


class _SELists:
    """:func:`_se_list` of many values, each distinct list checked once (bulk calls repeat them)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def __call__(self, value: object) -> tuple[str, ...]:
        if type(value) is not list and type(value) is not tuple:
            return _se_list(value)
        key = tuple(value)
        try:
            return self._seen[key]
        except KeyError:
            checked = self._seen[key] = _se_list(value)
            return checked
        except TypeError:  # unhashable members: checked (and refused) below
            return _se_list(value)


def _plain_plan(entries: list[Any], given: list[Any], items: Items, wanted: Mapping[str, Any],
                se_list: _SELists) -> dict[str, tuple[FileEntry, tuple[str, ...]]] | None:
    """The registration plan when every entry is a valid :class:`FileEntry` with a canonical LFN,
    each given once: checked column by column at C speed (``map``, ``set``, ``max``). None when
    anything is off: the caller then checks entry by entry."""
    if not items.plain or len(items.lfn_of) != len(entries) or set(map(type, entries)) != {FileEntry}:
        return None
    sizes = list(map(_SIZE, entries))
    if set(map(type, sizes)) != {int} or min(sizes, default=0) < 0 or max(sizes, default=0) >= 2**63:
        return None
    for getter in (_CHECKSUM, _GUID):
        values = list(map(getter, entries))
        if not set(map(type, values)) <= {str, type(None)} or "" in values:
            return None
        if max(map(len, filter(None, values)), default=0) > file_ops.MAX_FIELD:
            return None
    try:
        ses = list(map(se_list, map(wanted.get, given, itertools.repeat(()))))
    except CatalogError:
        return None
    return dict(zip(given, zip(entries, ses, strict=True), strict=True))


_SIZE, _CHECKSUM, _GUID = attrgetter("size"), attrgetter("checksum"), attrgetter("guid")


def _entry_ok(entry: Any) -> bool:
    """The common case of :func:`~dirac_plugins_catalog.sql.files.validate_entry`, quickly."""
    return (type(entry) is FileEntry and type(entry.size) is int and 0 <= entry.size < 2**63
            and (entry.checksum is None or (type(entry.checksum) is str and 0 < len(entry.checksum) <= 64))
            and (entry.guid is None or (type(entry.guid) is str and 0 < len(entry.guid) <= 64)))


class SQLFileCatalog(MetadataMethods, Catalog):
    """The SQL file catalog (see the module docstring); ``acting_as`` gives access-checked views."""

    @classmethod
    def from_section(cls, section: SqlCatalog, database: Database, clock: Clock) -> SQLFileCatalog:
        """The catalog configured by ``section``, in ``database`` unless the section names its own
        ``db_url`` (then migrated to head, and closed with the catalog). ``ConfigError`` for bad options."""
        options = CatalogOptions.from_options(section.options,
                                              where=f"resources.catalogs.{section.name}.options")
        own = section.db_url is not None
        db = Database(section.db_url) if section.db_url is not None else database
        if own:
            db.upgrade()
        catalog = cls(db, clock=clock, options=options, name=section.name)
        catalog._owns_database = own
        return catalog

    # -- files --------------------------------------------------------------------

    def add_files(self, files: Sequence[FileEntry], *,
                  replicas: Mapping[str, Sequence[str]] | None = None) -> BulkResult[str, None]:
        """Register files; an identical existing entry succeeds, a different one fails (``CatalogError``).

        ``replicas`` maps an entry's LFN (as given) to the storage elements
        holding it, the first being the master replica. Missing directories
        are created, owned by the identity. Re-registering an existing file
        with storage elements it has not all got fails ("alternative replicas").
        """
        entries = list(files)
        given = [getattr(e, "lfn", e) for e in entries]
        items = Items(given)
        wanted = replicas or {}
        se_list = _SELists()
        plan = _plain_plan(entries, given, items, wanted, se_list) or {}
        failed, lfn_of = items.failed, items.lfn_of
        for entry, lfn_given in zip(entries, given, strict=True) if not plan else ():
            key = lfn_given if isinstance(lfn_given, str) else repr(lfn_given)
            if key in failed:
                continue
            try:
                if not _entry_ok(entry):
                    file_ops.validate_entry(entry)
                ses = se_list(wanted[key]) if key in wanted else ()
            except CatalogError as exc:
                failed[key] = exc
                continue
            lfn = lfn_of[key]
            prior = plan.get(lfn)
            if prior is None:
                plan[lfn] = (entry, ses)
            elif (prior[0].size, prior[0].checksum, prior[0].guid, prior[1]) != (
                    entry.size, entry.checksum, entry.guid, ses):
                failed[key] = CatalogError(f"{lfn!r} is given twice with different attributes", lfn=lfn)
        now = self.clock.now()

        def work(conn: Connection) -> None:
            alive = self._check(conn, items, Action.CREATE, plan)
            errors = file_ops.add_files(conn, {lfn: plan[lfn] for lfn in alive}, owner=self._owner(conn),
                                        now=now, unique_guid=self.options.unique_guid)
            items.fail(errors)

        if plan:
            self._writing(work, items)
        return items.result()

    def get_files(self, lfns: Sequence[str]) -> BulkResult[str, FileEntry]:
        """The entry of each LFN, whatever its status; ``NotFound`` for a missing one."""
        items = Items(lfns)
        with self._reading() as conn:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.READ))
        entries = {lfn: FileEntry(lfn=lfn, size=row.size, checksum=row.checksum, guid=row.guid)
                   for lfn, row in found.items()}
        return items.result(entries, missing=replica_ops.missing_file)

    def remove_files(self, lfns: Sequence[str]) -> BulkResult[str, None]:
        """Remove files with their replicas and metadata; removing a missing file succeeds."""
        items = Items(lfns)

        def work(conn: Connection) -> None:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.REMOVE))
            file_ops.remove_files(conn, found)

        self._writing(work, items)
        return items.result()

    def file_status(self, lfns: Sequence[str]) -> BulkResult[str, FileStatus]:
        """The status of each file; ``NotFound`` for a missing one."""
        items = Items(lfns)
        with self._reading() as conn:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.READ))
        return items.result({lfn: row.status for lfn, row in found.items()}, missing=replica_ops.missing_file)

    def set_file_status(self, statuses: Mapping[str, str]) -> BulkResult[str, None]:
        """Set ``{lfn: status}``; an invalid status fails its item (``CatalogError``), a missing file
        ``NotFound``."""
        items = Items(statuses)
        parsed = self._statuses(items, statuses)

        def work(conn: Connection) -> None:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.WRITE_FILE, parsed))
            items.fail({lfn: replica_ops.missing_file(lfn) for lfn in parsed if lfn not in found})
            file_ops.set_status(conn, found, parsed,
                                self.clock.now())

        self._writing(work, items)
        return items.result()

    @staticmethod
    def _statuses(items: Items, given: Mapping[str, Any]) -> dict[str, FileStatus]:
        parsed: dict[str, FileStatus] = {}
        for key, value in given.items():
            if key not in items.failed:
                try:
                    parsed[items.lfn_of[key]] = FileStatus.parse(value)
                except CatalogError as exc:
                    items.failed[key] = exc
        return parsed

    def lfn_for_guid(self, guids: Sequence[str]) -> BulkResult[str, str]:
        """The LFN of the file having each GUID; ``NotFound`` for an unknown one."""
        result: BulkResult[str, str] = BulkResult()
        with self._reading() as conn:
            found = replica_ops.lfn_for_guid(conn, [g for g in guids if isinstance(g, str)])
            refused = self._guard.refused(conn, Action.READ, found.values())
        for guid in guids:
            lfn = found.get(guid)
            if lfn is None:
                result.add_failed(str(guid), NotFound(f"GUID {guid} does not exist", guid=guid))
            elif lfn in refused:
                result.add_failed(guid, refused[lfn])
            else:
                result.add_ok(guid, lfn)
        return result

    # -- replicas -----------------------------------------------------------------

    def _replica_items(self, given: Mapping[str, Any]) -> tuple[Items, dict[str, tuple[str, ...]]]:
        items = Items(given)
        wanted: dict[str, tuple[str, ...]] = {}
        for key, value in given.items():
            if key not in items.failed:
                try:
                    ses = _se_list(value)
                except CatalogError as exc:
                    items.failed[key] = exc
                    continue
                lfn = items.lfn_of[key]
                wanted[lfn] = tuple(dict.fromkeys((*wanted.get(lfn, ()), *ses)))
        return items, wanted

    def add_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        """Record copies on the named storage elements (created on first use); an existing replica
        succeeds, a missing file fails (``NotFound``)."""
        items, wanted = self._replica_items(replicas)

        def work(conn: Connection) -> None:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.WRITE_FILE, wanted))
            items.fail({lfn: replica_ops.missing_file(lfn) for lfn in wanted if lfn not in found})
            replica_ops.add_replicas(conn, found, wanted)

        self._writing(work, items)
        return items.result()

    def remove_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        """Forget copies; a copy (or file) that is not recorded succeeds, the last copy may go."""
        items, wanted = self._replica_items(replicas)

        def work(conn: Connection) -> None:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.WRITE_FILE, wanted))
            replica_ops.remove_replicas(conn, found, wanted)

        self._writing(work, items)
        return items.result()

    def get_replicas(self, lfns: Sequence[str], *, all_status: bool = False
                     ) -> BulkResult[str, frozenset[str]]:
        """The storage elements holding each LFN; ``NotFound`` for a missing file.

        Unless ``all_status``, a file whose status is not visible is as
        missing and replicas whose status is not visible are left out.
        """
        items = Items(lfns)
        with self._reading() as conn:
            found = replica_ops.get_replicas(conn, self._check(conn, items, Action.READ_FILE, keys=True),
                                              all_status=all_status)
        return items.result(found, missing=replica_ops.missing_file)

    def replica_status(self, lfns: Sequence[str]) -> BulkResult[str, dict[str, FileStatus]]:
        """``{se: status}`` of every replica (any status) of each visible file; ``NotFound`` for a
        missing or hidden file."""
        items = Items(lfns)
        with self._reading() as conn:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.READ_FILE))
            found = {lfn: row for lfn, row in found.items() if row.status in VISIBLE_STATUSES}
            statuses = replica_ops.replica_statuses(conn, found)
        return items.result(statuses, missing=replica_ops.missing_file)

    def set_replica_status(self, statuses: Mapping[str, Mapping[str, str]]) -> BulkResult[str, None]:
        """Set ``{lfn: {se: status}}``; an invalid status fails its item (``CatalogError``), a missing
        file or replica ``NotFound``."""
        items = Items(statuses)
        parsed: dict[str, dict[str, FileStatus]] = {}
        for key, per_se in statuses.items():
            if key in items.failed:
                continue
            try:
                parsed[items.lfn_of[key]] = {se: FileStatus.parse(s) for se, s in dict(per_se).items()}
            except (CatalogError, TypeError, ValueError) as exc:
                items.failed[key] = exc if isinstance(exc, CatalogError) else CatalogError(str(exc))

        def work(conn: Connection) -> None:
            found, _ = file_ops.locate(conn, self._check(conn, items, Action.WRITE_FILE, parsed))
            items.fail({lfn: replica_ops.missing_file(lfn) for lfn in parsed if lfn not in found})
            items.fail(replica_ops.set_replica_statuses(conn, found, parsed, self.clock.now()))

        self._writing(work, items)
        return items.result()

    # -- directories ----------------------------------------------------------------

    def exists(self, paths: Sequence[str]) -> BulkResult[str, str | None]:
        """``"file"``, ``"directory"`` or None for each path, whatever its status."""
        items = Items(paths, root=True)
        with self._reading() as conn:
            alive = self._check(conn, items, Action.READ)
            kinds: dict[str, str] = dict.fromkeys([*namespace.find_directories(conn, alive),
                                                   *([ROOT] if ROOT in alive else [])], "directory")
            found, _ = file_ops.locate(conn, [p for p in alive if p not in kinds])
        kinds.update(dict.fromkeys(found, "file"))
        return items.result(kinds)

    def create_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        """Create directories and their missing parents (owned by the identity); an existing one
        succeeds, a path that is a file (or under one) fails."""
        items = Items(paths, root=True)

        def work(conn: Connection) -> None:
            alive = self._check(conn, items, Action.CREATE)
            _, errors = namespace.ensure_directories(conn, alive, self._owner(conn), self.clock.now())
            items.fail(errors)

        self._writing(work, items)
        return items.result()

    def list_directory(self, paths: Sequence[str]) -> BulkResult[str, DirectoryListing]:
        """Files and subdirectories directly under each directory, full paths, sorted; ``NotFound``
        for a missing directory (or a file)."""
        items = Items(paths, root=True)
        with self._reading() as conn:
            dirs = self._directories(conn, self._check(conn, items, Action.LIST))
            content = namespace.children(conn, {d.dir_id: path for path, d in dirs.items()})
        listings = {}
        for path, d in dirs.items():
            names, subdirs = content[d.dir_id]
            prefix = "/" if path == "/" else path + "/"
            listings[path] = DirectoryListing(files=tuple(sorted(prefix + name for name in names)),
                                              subdirectories=tuple(sorted(subdirs)))
        return items.result(listings, missing=lambda p: NotFound(f"no such directory {p!r}", lfn=p))

    def remove_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        """Remove empty directories; a missing one succeeds, a non-empty one or a file fails
        (``CatalogError``)."""
        items = Items(paths, root=True)

        def work(conn: Connection) -> None:
            alive = [p for p in self._check(conn, items, Action.REMOVE) if p != ROOT]  # it stays
            dirs = namespace.find_directories(conn, alive)
            found, _ = file_ops.locate(conn, [p for p in alive if p not in dirs])
            items.fail({p: CatalogError(f"{p!r} is a file, not a directory", lfn=p) for p in found})
            items.fail(namespace.remove_directories(conn, dirs))

        self._writing(work, items)
        return items.result()

    def directory_usage(self, paths: Sequence[str]) -> BulkResult[str, DirectoryUsage]:
        """Files and bytes under each directory (whole subtree): logical, and per SE; ``NotFound``
        for a missing directory."""
        items = Items(paths, root=True)
        with self._reading() as conn:
            dirs = self._directories(conn, self._check(conn, items, Action.READ))
            figures = read_usage(conn, [d.dir_id for d in dirs.values()])
            names = se_names(conn, [se for per in figures.values() for se in per if se > LOGICAL])
        out = {}
        for path, d in dirs.items():
            per = figures.get(d.dir_id, {})
            logical = per.get(LOGICAL)
            out[path] = DirectoryUsage(files=logical.files if logical else 0,
                                       size=logical.size if logical else 0,
                                       replicas={names[se]: u for se, u in per.items() if se > LOGICAL})
        return items.result(out, missing=lambda p: NotFound(f"no such directory {p!r}", lfn=p))

    @staticmethod
    def _directories(conn: Connection, paths: Sequence[str]) -> dict[str, namespace.Directory]:
        """The existing directories among ``paths``; the root always exists (id -1 until written to)."""
        dirs = namespace.find_directories(conn, paths)
        if ROOT in paths and ROOT not in dirs:
            dirs[ROOT] = namespace.Directory(-1, ROOT, *namespace.ROOT_OWNER, 0o775)
        return dirs

    def rebuild_directory_usage(self) -> None:
        """Recompute every directory's usage from the files and replicas (administrators only)."""
        self._admin_only("rebuild the directory usage")
        self._writing(lambda conn: recompute(conn, store=True))

    # -- ownership and modes ---------------------------------------------------------

    def change_owner(self, owners: Mapping[str, str]) -> BulkResult[str, None]:
        """Give ``{path: user}`` (files or directories, not recursive); administrators only."""
        return self._change(owners, Action.ADMIN, user_ids, "owner_id")

    def change_group(self, groups: Mapping[str, str]) -> BulkResult[str, None]:
        """Give ``{path: group}`` (files or directories, not recursive); administrators only."""
        return self._change(groups, Action.ADMIN, group_ids, "group_id")

    def change_mode(self, modes: Mapping[str, int]) -> BulkResult[str, None]:
        """Set ``{path: mode}`` (``0`` to ``0o777``); needs write permission on the path itself."""
        return self._change(modes, Action.WRITE_PATH, lambda conn, values: {v: v for v in values}, "mode")

    def _change(self, values: Mapping[str, Any], action: Action, resolve: Any, column: str
                ) -> BulkResult[str, None]:
        items = Items(values)
        wanted: dict[str, Any] = {}
        for key, value in values.items():
            if key in items.failed:
                continue
            valid = (isinstance(value, str) and 0 < len(value) <= 64 if column != "mode"
                     else type(value) is int and 0 <= value <= 0o777)
            if not valid:
                items.failed[key] = CatalogError(f"invalid {column.removesuffix('_id')} {value!r}")
            else:
                wanted[items.lfn_of[key]] = value

        def work(conn: Connection) -> None:
            alive = self._check(conn, items, action, wanted)
            dirs = namespace.find_directories(conn, alive)
            found, _ = file_ops.locate(conn, [p for p in alive if p not in dirs])
            items.fail({p: NotFound(f"no such file or directory {p!r}", lfn=p) for p in alive
                        if p not in dirs and p not in found})
            ids = resolve(conn, {wanted[p] for p in [*dirs, *found]})
            now = self.clock.now()
            for path, d in dirs.items():
                conn.execute(update(directories).where(directories.c.dir_id == d.dir_id)
                             .values({column: ids[wanted[path]], "modified": now}))
            for path, row in found.items():
                conn.execute(update(files).where(files.c.file_id == row.file_id)
                             .values({column: ids[wanted[path]], "modified": now}))

        self._writing(work, items)
        return items.result()

