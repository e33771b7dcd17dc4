"""The in-memory file catalog (driver ``memory``): files, replicas, directories, metadata, datasets.

It implements :class:`~dirac_core.plugins.catalog.Catalog` and
:class:`~dirac_core.plugins.metadata.MetadataCatalog` completely and passes
both conformance suites; queries are evaluated with
:func:`dirac_core.dms.metaquery.matches`. Paths go through
:func:`~dirac_core.model.lfn.normalize_lfn` (``/`` is accepted where a
directory is meant); results are keyed by the spelling the caller gave.

Standard file keys: ``Size``, ``Checksum``, ``GUID``, ``Name``, ``SE`` (the
replicas), ``Status`` (always ``AprioriGood``), ``CreationDate`` and
``ModificationDate`` (the clock's time when the file was added). The catalog
has no owners, so ``User`` and ``Group`` are always missing.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from dirac_core.dms.datasets import dataset_checksum
from dirac_core.dms.metaquery import (
    STANDARD_FILE_KEYS,
    STANDARD_KEY_ALIASES,
    QueryError,
    canonical_type,
    coerce,
    matches,
    normalize_query,
)
from dirac_core.errors import AlreadyExists, BulkResult, CatalogError, NotFound
from dirac_core.model.clock import Clock, SystemClock
from dirac_core.model.lfn import InvalidLFN, lfn_parent, normalize_lfn
from dirac_core.plugins.catalog import Catalog, DirectoryListing, FileEntry
from dirac_core.plugins.metadata import DatasetInfo, MetadataCatalog, MetadataField

__all__ = ["MemoryCatalog"]

_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def normalize_path(path: object) -> str:
    """:func:`normalize_lfn`, except that the root (``/``, ``LFN:/``, ``/grid/``) is ``/``."""
    if isinstance(path, str):
        text = path.strip()
        text = text[4:] if text[:4].lower() == "lfn:" else text
        if text.startswith("/") and text.strip("/") in ("", "grid"):
            return "/"
    return normalize_lfn(path)


@attrs.define
class _Dataset:
    query: dict[str, Any]
    path: str
    frozen_files: tuple[str, ...] | None = None
    frozen_size: int = 0


class MemoryCatalog(Catalog, MetadataCatalog):
    """A catalog in dicts: entries, replica sets, directories, metadata values, datasets."""

    def __init__(self, name: str = "memory-catalog", *, clock: Clock | None = None) -> None:
        self.name = name
        self._clock = clock or SystemClock()
        self._files: dict[str, FileEntry] = {}
        self._created: dict[str, datetime] = {}
        self._replicas: dict[str, set[str]] = {}
        self._directories: set[str] = {"/"}
        self._fields: dict[str, MetadataField] = {}
        self._values: dict[str, dict[str, Any]] = {}  # a path's own metadata
        self._datasets: dict[str, _Dataset] = {}
        self._lock = threading.Lock()

    # --- helpers (called with the lock held) ---------------------------------------

    @staticmethod
    def _paths(items: Iterable[str], result: BulkResult[str, Any]) -> Iterator[tuple[str, str]]:
        """``(given, canonical)`` for each item; an invalid one fails with ``InvalidLFN``."""
        for given in items:
            try:
                yield given, normalize_path(given)
            except InvalidLFN as exc:
                result.add_failed(given, exc)

    def _add_parents(self, path: str) -> None:
        while path != "/":
            path = lfn_parent(path)
            self._directories.add(path)

    def _missing(self, lfn: str) -> NotFound:
        return NotFound(f"no such file {lfn!r} in {self.name}", lfn=lfn)

    def _children(self, path: str) -> DirectoryListing:
        def under(name: str) -> bool:
            return name != path and lfn_parent(name) == path
        return DirectoryListing(files=tuple(sorted(f for f in self._files if under(f))),
                                subdirectories=tuple(sorted(d for d in self._directories if under(d))))

    # --- the catalog ------------------------------------------------------------------

    def add_files(self, files: Sequence[FileEntry]) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given in files:
                try:
                    lfn = normalize_lfn(given.lfn)
                except InvalidLFN as exc:
                    result.add_failed(given.lfn, exc)
                    continue
                entry = attrs.evolve(given, lfn=lfn)
                old = self._files.get(lfn)
                if old is not None and old != entry:
                    result.add_failed(given.lfn, CatalogError(
                        f"{lfn!r} exists with different attributes", lfn=lfn))
                elif lfn in self._directories:
                    result.add_failed(given.lfn, CatalogError(f"{lfn!r} is a directory", lfn=lfn))
                else:
                    self._files[lfn] = entry
                    self._created.setdefault(lfn, self._clock.now())
                    self._replicas.setdefault(lfn, set())
                    self._add_parents(lfn)
                    result.add_ok(given.lfn, None)
        return result

    def add_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given, lfn in self._paths(replicas, result):
                if lfn not in self._files:
                    result.add_failed(given, self._missing(lfn))
                else:
                    self._replicas[lfn].update(replicas[given])
                    result.add_ok(given, None)
        return result

    def get_replicas(self, lfns: Sequence[str]) -> BulkResult[str, frozenset[str]]:
        result: BulkResult[str, frozenset[str]] = BulkResult()
        with self._lock:
            for given, lfn in self._paths(lfns, result):
                if lfn in self._files:
                    result.add_ok(given, frozenset(self._replicas[lfn]))
                else:
                    result.add_failed(given, self._missing(lfn))
        return result

    def get_files(self, lfns: Sequence[str]) -> BulkResult[str, FileEntry]:
        result: BulkResult[str, FileEntry] = BulkResult()
        with self._lock:
            for given, lfn in self._paths(lfns, result):
                if lfn in self._files:
                    result.add_ok(given, self._files[lfn])
                else:
                    result.add_failed(given, self._missing(lfn))
        return result

    def remove_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given, lfn in self._paths(replicas, result):
                self._replicas.get(lfn, set()).difference_update(replicas[given])
                result.add_ok(given, None)
        return result

    def remove_files(self, lfns: Sequence[str]) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given, lfn in self._paths(lfns, result):
                if lfn in self._files:
                    del self._files[lfn], self._replicas[lfn], self._created[lfn]
                    self._values.pop(lfn, None)
                result.add_ok(given, None)
        return result

    def exists(self, paths: Sequence[str]) -> BulkResult[str, str | None]:
        result: BulkResult[str, str | None] = BulkResult()
        with self._lock:
            for given, path in self._paths(paths, result):
                result.add_ok(given, "file" if path in self._files
                              else "directory" if path in self._directories else None)
        return result

    def create_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given, path in self._paths(paths, result):
                if path in self._files:
                    result.add_failed(given, CatalogError(f"{path!r} is a file", lfn=path))
                    continue
                self._directories.add(path)
                self._add_parents(path)
                result.add_ok(given, None)
        return result

    def list_directory(self, paths: Sequence[str]) -> BulkResult[str, DirectoryListing]:
        result: BulkResult[str, DirectoryListing] = BulkResult()
        with self._lock:
            for given, path in self._paths(paths, result):
                if path in self._directories:
                    result.add_ok(given, self._children(path))
                else:
                    result.add_failed(given, NotFound(f"no such directory {path!r} in {self.name}", lfn=path))
        return result

    def remove_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given, path in self._paths(paths, result):
                if path in self._directories and path != "/":
                    listing = self._children(path)
                    if listing.files or listing.subdirectories:
                        result.add_failed(given, CatalogError(f"directory {path!r} is not empty", lfn=path))
                        continue
                    self._directories.discard(path)
                    self._values.pop(path, None)
                result.add_ok(given, None)
        return result

    # --- metadata -------------------------------------------------------------------

    def add_metadata_field(self, name: str, type: str, *, for_files: bool) -> MetadataField:
        """Declare a field (names: a letter then letters, digits, ``_``; at most 64 characters).

        Raises ``CatalogError`` for a bad name or type, a standard file key,
        or a name declared with another type or for the other namespace.
        """
        if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
            raise CatalogError(f"invalid metadata field name {name!r}", field=name)
        if name in STANDARD_FILE_KEYS or name in STANDARD_KEY_ALIASES:
            raise CatalogError(f"{name!r} is a standard file key and cannot be declared", field=name)
        try:
            kind = canonical_type(type)
        except QueryError as exc:
            raise CatalogError(str(exc), field=name) from exc
        field = MetadataField(name=name, type=kind, for_files=for_files)
        with self._lock:
            old = self._fields.setdefault(name, field)
        if old.for_files != for_files:
            where = "Files" if old.for_files else "Directories"
            raise CatalogError(f"The metadata {name} is already defined for {where}", field=name)
        if old.type != kind:
            raise CatalogError(f"The metadata {name} is already defined with type {old.type}", field=name)
        return old

    def metadata_fields(self) -> list[MetadataField]:
        with self._lock:
            return sorted(self._fields.values(), key=lambda f: f.name)

    def _types(self) -> dict[str, str]:
        return {name: field.type for name, field in self._fields.items()}

    def _effective(self, directory: str) -> dict[str, Any]:
        """A directory's metadata: its ancestors', then its own (the nearest wins)."""
        chain = [directory]
        while chain[-1] != "/":
            chain.append(lfn_parent(chain[-1]))
        merged: dict[str, Any] = {}
        for path in reversed(chain):
            merged.update(self._values.get(path, {}))
        return merged

    def _check_values(self, path: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """The typed values to store on ``path``; ``CatalogError`` when one cannot be."""
        is_file = path in self._files
        typed: dict[str, Any] = {}
        for name, value in values.items():
            field = self._fields.get(name)
            if field is None:
                raise CatalogError(f"metadata field {name!r} is not declared", lfn=path, field=name)
            if field.for_files != is_file:
                kind = "file" if field.for_files else "directory"
                raise CatalogError(f"{name!r} is a {kind} field; {path!r} is not a {kind}",
                                   lfn=path, field=name)
            try:
                typed[name] = coerce(value, field.type, field=name)
            except QueryError as exc:
                raise CatalogError(str(exc), lfn=path, field=name) from exc
            ancestor = path
            while not is_file and ancestor != "/":
                ancestor = lfn_parent(ancestor)
                if name in self._values.get(ancestor, {}):
                    raise CatalogError(f"Metadata conflict detected: {name} is set on {ancestor}",
                                       lfn=path, field=name)
        return typed

    def set_metadata(self, values: Mapping[str, Mapping[str, Any]]) -> BulkResult[str, None]:
        """Set values (all or none per path): ``NotFound`` for a missing path, ``CatalogError`` for an
        undeclared field, a field of the other namespace, a bad value, or a directory field an
        ancestor sets already ("Metadata conflict")."""
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given, path in self._paths(values, result):
                if path not in self._files and path not in self._directories:
                    result.add_failed(given, NotFound(f"no such file or directory {path!r}", lfn=path))
                    continue
                try:
                    typed = self._check_values(path, values[given])
                except CatalogError as exc:
                    result.add_failed(given, exc)
                    continue
                self._values.setdefault(path, {}).update(typed)
                result.add_ok(given, None)
        return result

    def remove_metadata(self, keys: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        """Remove values; ``NotFound`` for a missing path."""
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for given, path in self._paths(keys, result):
                if path not in self._files and path not in self._directories:
                    result.add_failed(given, NotFound(f"no such file or directory {path!r}", lfn=path))
                    continue
                names = keys[given]
                if isinstance(names, str | bytes) or not isinstance(names, Iterable):
                    result.add_failed(given, CatalogError(
                        f"{given}: the fields to remove must be a list of names, not {type(names).__name__}",
                        lfn=path))
                    continue
                own = self._values.get(path, {})
                for name in names:
                    own.pop(name, None)
                result.add_ok(given, None)
        return result

    def get_metadata(self, paths: Sequence[str]) -> BulkResult[str, dict[str, Any]]:
        """Own and inherited values; ``NotFound`` for a missing path."""
        result: BulkResult[str, dict[str, Any]] = BulkResult()
        with self._lock:
            for given, path in self._paths(paths, result):
                if path in self._files:
                    result.add_ok(given, {**self._effective(lfn_parent(path)), **self._values.get(path, {})})
                elif path in self._directories:
                    result.add_ok(given, self._effective(path))
                else:
                    result.add_failed(given, NotFound(f"no such file or directory {path!r}", lfn=path))
        return result

    def _standard(self, lfn: str) -> dict[str, Any]:
        entry = self._files[lfn]
        return {"Size": entry.size, "Checksum": entry.checksum, "GUID": entry.guid,
                "Name": lfn.rsplit("/", 1)[1], "SE": frozenset(self._replicas[lfn]), "Status": "AprioriGood",
                "CreationDate": self._created[lfn], "ModificationDate": self._created[lfn]}

    def _find(self, query: Mapping[str, Any], path: str) -> list[str]:
        types = self._types()
        terms = normalize_query(query, types, file_fields={n for n, f in self._fields.items() if f.for_files})
        if not terms:
            return []
        prefix = "/" if path == "/" else path + "/"
        inherited: dict[str, dict[str, Any]] = {}
        found = []
        for lfn in self._files:
            if not lfn.startswith(prefix):
                continue
            parent = lfn_parent(lfn)
            if parent not in inherited:
                inherited[parent] = self._effective(parent)
            metadata = {**inherited[parent], **self._values.get(lfn, {}), **self._standard(lfn)}
            if matches(terms, metadata, types):
                found.append(lfn)
        return sorted(found)

    def find_files(self, query: Mapping[str, Any], path: str = "/") -> list[str]:
        """Matching LFNs under ``path``; an empty query finds nothing. Raises ``QueryError``
        for a bad query and ``InvalidLFN`` for a bad path."""
        directory = normalize_path(path)
        with self._lock:
            return self._find(query, directory)

    # --- datasets -------------------------------------------------------------------

    def _dataset(self, name: str) -> tuple[str, _Dataset]:
        key = normalize_lfn(name)
        try:
            return key, self._datasets[key]
        except KeyError:
            raise NotFound(f"no dataset {key!r} in {self.name}", name=key) from None

    def _info(self, name: str, dataset: _Dataset) -> DatasetInfo:
        if dataset.frozen_files is not None:
            files, size = list(dataset.frozen_files), dataset.frozen_size
        else:
            files = self._find(dataset.query, dataset.path)
            size = sum(self._files[lfn].size for lfn in files)
        return DatasetInfo(name=name, query=copy.deepcopy(dataset.query), path=dataset.path,
                           frozen=dataset.frozen_files is not None, files=len(files), size=size,
                           checksum=dataset_checksum(files))

    def add_dataset(self, name: str, query: Mapping[str, Any], path: str = "/") -> DatasetInfo:
        """Store the query (checked now: ``QueryError``); the name's directory is created."""
        key, directory = normalize_lfn(name), normalize_path(path)
        with self._lock:
            normalize_query(query, self._types())
            if key in self._datasets:
                raise AlreadyExists(f"dataset {key!r} exists in {self.name}", name=key)
            parent = lfn_parent(key)
            if parent in self._files:
                raise CatalogError(f"{parent!r} is a file", name=key)
            self._directories.add(parent)
            self._add_parents(parent)
            self._datasets[key] = dataset = _Dataset(query=copy.deepcopy(dict(query)), path=directory)
            return self._info(key, dataset)

    def dataset(self, name: str) -> DatasetInfo:
        with self._lock:
            return self._info(*self._dataset(name))

    def dataset_files(self, name: str) -> list[str]:
        with self._lock:
            _, dataset = self._dataset(name)
            if dataset.frozen_files is not None:
                return list(dataset.frozen_files)
            return self._find(dataset.query, dataset.path)

    def freeze_dataset(self, name: str, frozen: bool = True) -> DatasetInfo:
        """Freeze (a frozen dataset keeps its first snapshot) or release; ``NotFound`` if unknown."""
        with self._lock:
            key, dataset = self._dataset(name)
            if not frozen:
                dataset.frozen_files, dataset.frozen_size = None, 0
            elif dataset.frozen_files is None:
                files = self._find(dataset.query, dataset.path)
                dataset.frozen_files = tuple(files)
                dataset.frozen_size = sum(self._files[lfn].size for lfn in files)
            return self._info(key, dataset)

    def remove_dataset(self, name: str) -> None:
        with self._lock:
            self._datasets.pop(normalize_lfn(name), None)
