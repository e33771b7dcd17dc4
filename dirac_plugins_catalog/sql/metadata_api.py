"""The :class:`~dirac_core.plugins.metadata.MetadataCatalog` half of the SQL catalog.

Declared fields, values on directories and files, queries and datasets;
see :mod:`.metadata`, :mod:`.query` and :mod:`.datasets` for the rules.
Declaring a field is for administrators; setting or removing values needs
write permission on the path itself; adding, freezing or removing a
dataset write permission on its directory. Paths here may be the root
(``/``). A bad query raises ``QueryError`` (nothing stored), a bad name or
path ``InvalidLFN``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from dirac_core.dms.metaquery import Term, normalize_query
from dirac_core.errors import BulkResult, CatalogError, NotFound
from dirac_core.model.lfn import normalize_lfn
from dirac_core.plugins.metadata import DatasetInfo, MetadataCatalog, MetadataField
from dirac_plugins_catalog.sql import datasets
from dirac_plugins_catalog.sql import files as file_ops
from dirac_plugins_catalog.sql import metadata as meta
from dirac_plugins_catalog.sql import query as compiled
from dirac_plugins_catalog.sql.access import Action
from dirac_plugins_catalog.sql.core import CatalogCore, Items
from dirac_plugins_catalog.sql.namespace import find_directories
from dirac_plugins_catalog.sql.paths import ROOT, is_root

__all__ = ["MetadataMethods"]


def _missing_path(path: str) -> NotFound:
    return NotFound(f"no such file or directory {path!r}", lfn=path)


class MetadataMethods(CatalogCore, MetadataCatalog):
    """Metadata, queries and datasets of the SQL catalog."""

    # -- fields -------------------------------------------------------------------

    def add_metadata_field(self, name: str, type: str, *, for_files: bool) -> MetadataField:
        """Declare a field (administrators only: ``PermissionDenied``); the same declaration again
        succeeds; a bad name or type, a standard key or a clash raises ``CatalogError``."""
        self._admin_only("declare metadata fields")
        field = self._writing(lambda conn: meta.declare_field(conn, name, type, for_files=for_files))
        return MetadataField(name=field.name, type=field.type, for_files=field.for_files)

    def metadata_fields(self) -> list[MetadataField]:
        """Every declared field, by name."""
        with self._reading() as conn:
            fields = meta.load_fields(conn)
        return [MetadataField(name=f.name, type=f.type, for_files=f.for_files)
                for f in sorted(fields.values(), key=lambda f: f.name)]

    # -- values ---------------------------------------------------------------------

    def _targets(self, conn: Connection, items: Items, paths: Sequence[str]) -> list[meta.Target]:
        """The directories and files among ``paths``; the others fail with ``NotFound``."""
        dirs = find_directories(conn, paths)
        found, _ = file_ops.locate(conn, [p for p in paths if p not in dirs])
        items.fail({p: _missing_path(p) for p in paths if p not in dirs and p not in found})
        return [meta.Target(p, dirs[p].dir_id, False) if p in dirs else meta.Target(p, found[p].file_id, True)
                for p in paths if p in dirs or p in found]

    def set_metadata(self, values: Mapping[str, Mapping[str, Any]]) -> BulkResult[str, None]:
        """Set ``{path: {field: value}}``, all of a path's values or none: ``NotFound`` for a missing
        path, ``CatalogError`` for an undeclared field, one of the other namespace, a value that is
        not of the field's type, or a directory field set above or below already ("conflict")."""
        items = Items(values, root=True)
        wanted: dict[str, dict[str, Any]] = {}
        for key, given in values.items():
            if key not in items.failed:
                if isinstance(given, Mapping):
                    wanted.setdefault(items.lfn_of[key], {}).update(given)
                else:
                    items.failed[key] = CatalogError(f"metadata of {key!r} must be a mapping, got {given!r}")

        def work(conn: Connection) -> None:
            targets = self._targets(conn, items, self._check(conn, items, Action.WRITE_PATH, wanted))
            items.fail(meta.set_values(conn, targets, wanted, meta.load_fields(conn)))

        self._writing(work, items)
        return items.result()

    def remove_metadata(self, keys: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        """Remove ``{path: [field, ...]}``; an absent value or undeclared field is removed already,
        a missing path fails (``NotFound``)."""
        items = Items(keys, root=True)
        bad = {k: CatalogError(f"{k}: the fields to remove must be a list of names, not {type(v).__name__}",
                               lfn=k) for k, v in keys.items()
               if k not in items.failed and (isinstance(v, str | bytes) or not isinstance(v, Iterable))}
        items.failed.update(bad)
        names = {items.lfn_of[k]: {n for n in v if isinstance(n, str)} for k, v in keys.items()
                 if k not in items.failed}

        def work(conn: Connection) -> None:
            targets = self._targets(conn, items, self._check(conn, items, Action.WRITE_PATH, names))
            fields = meta.load_fields(conn)
            meta.remove_values(conn, {t.item_id: [fields[n] for n in names[t.path]
                                                  if n in fields and fields[n].for_files == t.is_file]
                                      for t in targets})

        self._writing(work, items)
        return items.result()

    def get_metadata(self, paths: Sequence[str]) -> BulkResult[str, dict[str, Any]]:
        """A directory's own and inherited values; a file's own and its directory's; ``NotFound``
        for a missing path."""
        items = Items(paths, root=True)
        with self._reading() as conn:
            alive = self._check(conn, items, Action.READ)
            dirs = find_directories(conn, alive)
            found, _ = file_ops.locate(conn, [p for p in alive if p not in dirs])
            dir_values, file_values = meta.get_values(
                conn, dirs={d.dir_id: p for p, d in dirs.items()},
                file_ids={row.file_id: row.dir_id for row in found.values()}, fields=meta.load_fields(conn))
        out = {p: dict(dir_values.get(d.dir_id, {})) for p, d in dirs.items()}
        out.update((lfn, {**dir_values.get(row.dir_id, {}), **file_values.get(row.file_id, {})})
                   for lfn, row in found.items())
        if ROOT in alive and ROOT not in out:
            out[ROOT] = {}  # the root exists before anything is written
        return items.result(out, missing=_missing_path)

    # -- queries ------------------------------------------------------------------------

    def _terms(self, conn: Connection, query: Mapping[str, Any], path: str
               ) -> tuple[tuple[Term, ...], dict[str, meta.Field], int | None]:
        """The query's terms (``QueryError`` if it is bad), the fields, and the id of the directory
        ``path`` (None if missing); ``PermissionDenied`` if the identity may not list it."""
        fields = meta.load_fields(conn)
        terms = normalize_query(query, {n: f.type for n, f in fields.items()},
                                file_fields={n for n, f in fields.items() if f.for_files})
        refused = self._guard.refused(conn, Action.LIST, [path])
        if refused:
            raise refused[path]
        root = find_directories(conn, [path]).get(path)
        return terms, fields, root.dir_id if root is not None else None

    def _run(self, conn: Connection, query: Mapping[str, Any], path: str) -> list[tuple[str, int]]:
        """``[(lfn, size)]`` matching ``query`` under the canonical ``path``, sorted."""
        terms, fields, root_id = self._terms(conn, query, path)
        return [] if root_id is None else compiled.find_sized(conn, terms, root_id=root_id, fields=fields)

    @staticmethod
    def _directory(path: str) -> str:
        return ROOT if is_root(path) else normalize_lfn(path)

    def find_files(self, query: Mapping[str, Any], path: str = "/") -> list[str]:
        """The LFNs under ``path`` satisfying every term, sorted (an empty query finds nothing);
        ``QueryError`` for a bad query."""
        directory = self._directory(path)
        with self._reading() as conn:
            terms, fields, root_id = self._terms(conn, query, directory)
            return [] if root_id is None else compiled.find_files(conn, terms, root_id=root_id, fields=fields)

    # -- datasets -----------------------------------------------------------------------

    def _dataset_check(self, conn: Connection, name: str) -> None:
        refused = self._guard.refused(conn, Action.CREATE, [name])
        if refused:
            raise refused[name]

    def add_dataset(self, name: str, query: Mapping[str, Any], path: str = "/") -> DatasetInfo:
        """Store a named query (its directory is created); ``AlreadyExists`` if the name is taken,
        ``QueryError`` for a bad query."""
        key, directory = normalize_lfn(name), self._directory(path)

        def work(conn: Connection) -> DatasetInfo:
            fields = meta.load_fields(conn)
            normalize_query(query, {n: f.type for n, f in fields.items()})
            self._dataset_check(conn, key)
            stored = datasets.add(conn, key, query, directory, owner=self._owner(conn), now=self.clock.now())
            return datasets.info(stored, lambda q, p: self._run(conn, q, p))

        return self._writing(work)

    def dataset(self, name: str) -> DatasetInfo:
        """A dataset's state, counted again unless frozen; ``NotFound`` if unknown."""
        key = normalize_lfn(name)
        with self._reading() as conn:
            return datasets.info(datasets.load(conn, key), lambda q, p: self._run(conn, q, p))

    def dataset_files(self, name: str) -> list[str]:
        """The frozen list, or the query run now; ``NotFound`` if unknown."""
        key = normalize_lfn(name)
        with self._reading() as conn:
            return datasets.lfns(conn, datasets.load(conn, key), lambda q, p: self._run(conn, q, p))

    def freeze_dataset(self, name: str, frozen: bool = True) -> DatasetInfo:
        """Snapshot the file list (kept if frozen already), or release it; ``NotFound`` if unknown."""
        key = normalize_lfn(name)

        def work(conn: Connection) -> DatasetInfo:
            self._dataset_check(conn, key)

            def run(q: Mapping[str, Any], p: str) -> list[tuple[str, int]]:
                return self._run(conn, q, p)

            stored = datasets.freeze(conn, datasets.load(conn, key), run, frozen=frozen, now=self.clock.now())
            return datasets.info(stored, run)

        return self._writing(work)

    def remove_dataset(self, name: str) -> None:
        """Forget a dataset; a missing one is removed already."""
        key = normalize_lfn(name)

        def work(conn: Connection) -> None:
            self._dataset_check(conn, key)
            datasets.remove(conn, key)

        self._writing(work)
