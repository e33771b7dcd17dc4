"""Several file catalogs used as one (DIRAC's ``FileCatalog`` multiplexer, with typed results).

A :class:`FileCatalog` is built from ``(settings, catalog)`` pairs, the
settings being a :class:`~dirac_core.config.sections.CatalogSection` (or
anything with ``name``, ``read``, ``write``, ``active`` and ``master``).
Inactive catalogs are left out; at most one active catalog is the master, and
it comes first.

**Writes** (``add_files``, ``add_replicas``, ``remove_replicas``,
``remove_files``, ``create_directories``, ``remove_directories``,
``set_metadata``, ``remove_metadata``) go to every write catalog, master first:

- an exception from the master (a whole-call failure) propagates: nothing
  else runs;
- an item the master fails is not sent to the other catalogs;
- an exception from another catalog fails every item it was given, with a
  ``CatalogError`` caused by it;
- an item succeeds only when every catalog it was sent to succeeded.

A failed item's error is the failing catalog's own, with ``catalog`` (in
``fields`` and as an attribute) naming that catalog; later failures of the
same item are added as notes.

**Reads** (``get_replicas``, ``get_files``, ``exists``, ``list_directory``,
``get_metadata``) ask the read catalogs in order, master first, each for the
items no earlier catalog answered with a success: per item the first success
wins, values are never merged (so a file missing from the master's ``exists``
answer is ``None`` even if a later catalog has it: DIRAC's rule). An item
failed everywhere keeps the first catalog's error. A catalog raising is
skipped; if every catalog raised, the first exception propagates.

**Calls without items** follow the same order: reads (``find_files``,
``metadata_fields``, ``dataset``, ``dataset_files``) return the first read
catalog's answer that is not an exception; writes (``add_metadata_field``,
``add_dataset``, ``freeze_dataset``, ``remove_dataset``) return the first write
catalog's (the master's) answer, its exception propagates and nothing else
runs, and a later catalog's exception is only logged. Metadata calls go to
the catalogs implementing :class:`~dirac_core.plugins.metadata.MetadataCatalog`;
a master that does not implement it, or no catalog that does, makes them
raise ``CatalogError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, cast

from attrs import evolve, frozen

from dirac_core.errors import BulkResult, CatalogError, ConfigError, DiracError
from dirac_core.model.identity import Identity
from dirac_core.plugins.catalog import Catalog, DirectoryListing, FileEntry
from dirac_core.plugins.metadata import DatasetInfo, MetadataCatalog, MetadataField

__all__ = ["CatalogMember", "CatalogSettings", "FileCatalog"]

log = logging.getLogger(__name__)

V = TypeVar("V")
T = TypeVar("T")


class CatalogSettings(Protocol):
    """What the multiplexer reads of a catalog's configuration section."""

    @property
    def name(self) -> str: ...
    @property
    def read(self) -> bool: ...
    @property
    def write(self) -> bool: ...
    @property
    def active(self) -> bool: ...
    @property
    def master(self) -> bool: ...


@frozen(kw_only=True)
class CatalogMember:
    """One active catalog of a :class:`FileCatalog`, with its role."""

    name: str
    catalog: Catalog
    read: bool
    write: bool
    master: bool


def _members(catalogs: Iterable[tuple[CatalogSettings, Catalog]]) -> tuple[CatalogMember, ...]:
    """The active members, master first; ``ConfigError`` listing every problem."""
    members: list[CatalogMember] = []
    problems: list[tuple[str, str]] = []
    for settings, catalog in catalogs:
        if not settings.active:
            continue
        if any(m.name == settings.name for m in members):
            problems.append((f"catalogs.{settings.name}", "the same catalog name is given twice"))
        if settings.master and not settings.write:
            problems.append((f"catalogs.{settings.name}.master", "a master catalog must be writable"))
        members.append(CatalogMember(name=settings.name, catalog=catalog, read=settings.read,
                                     write=settings.write, master=settings.master))
    masters = [m.name for m in members if m.master]
    if len(masters) > 1:
        problems.append(("catalogs", f"more than one master catalog: {', '.join(masters)}"))
    if not members:
        problems.append(("catalogs", "no active catalog"))
    if problems:
        raise ConfigError(problems)
    return tuple(sorted(members, key=lambda m: not m.master))  # stable: the others keep their order


def _tag(error: DiracError, catalog: str) -> DiracError:
    """``error`` with ``catalog`` naming the catalog that produced it (unless it names one already)."""
    if "catalog" not in error.fields:
        error.fields["catalog"] = catalog
        error.catalog = catalog  # type: ignore[attr-defined]
    return error


def _whole_call_failure(op: str, member: CatalogMember, key: str, exc: Exception) -> CatalogError:
    error = CatalogError(f"{op} failed in catalog {member.name}: {exc}", catalog=member.name, lfn=key)
    error.__cause__ = exc
    return error


class FileCatalog(Catalog, MetadataCatalog):
    """Several catalogs as one: writes to all (master first), reads from the first that succeeds.

    Raises ``ConfigError`` when more than one active catalog is the master,
    a master is not writable, a name repeats, or no catalog is active. Closing
    it closes the member catalogs (a view from :meth:`acting_as` closes nothing).
    """

    def __init__(self, catalogs: Iterable[tuple[CatalogSettings, Catalog]]) -> None:
        self.members = _members(catalogs)
        self._owns = True

    @classmethod
    def _view(cls, members: tuple[CatalogMember, ...]) -> FileCatalog:
        view = cls.__new__(cls)
        view.members, view._owns = members, False
        return view

    @property
    def master(self) -> str | None:
        """The master catalog's name, if there is one."""
        return next((m.name for m in self.members if m.master), None)

    @property
    def readers(self) -> tuple[CatalogMember, ...]:
        """The catalogs reads ask, in order."""
        return tuple(m for m in self.members if m.read)

    @property
    def writers(self) -> tuple[CatalogMember, ...]:
        """The catalogs writes go to, in order."""
        return tuple(m for m in self.members if m.write)

    def acting_as(self, identity: Identity | None) -> FileCatalog:
        """The same catalogs, each as ``identity`` may use it."""
        return self._view(tuple(evolve(m, catalog=m.catalog.acting_as(identity)) for m in self.members))

    def close(self) -> None:
        """Close every member (all of them, even when one fails; the first error is raised)."""
        if not self._owns:
            return
        errors = []
        for member in self.members:
            try:
                member.catalog.close()
            except Exception as exc:
                log.exception("closing catalog %s failed", member.name)
                errors.append(exc)
        if errors:
            raise errors[0]

    # --- the two rules ---------------------------------------------------------------

    def _write(self, op: str, keys: Iterable[str], call: Callable[[Any, list[str]], BulkResult[str, None]],
               *, members: Sequence[CatalogMember] | None = None) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        pending = list(dict.fromkeys(keys))
        writers = self.writers if members is None else members
        if not writers:
            raise CatalogError(f"no catalog to write to ({op})")
        for member in writers:
            if not pending:
                break
            try:
                answer = call(member.catalog, pending)
            except Exception as exc:
                if member.master:
                    raise
                log.warning("%s failed in catalog %s: %s", op, member.name, exc)
                answer = BulkResult(failed={k: _whole_call_failure(op, member, k, exc) for k in pending})
            for key, error in answer.failed.items():
                _tag(error, member.name)
                earlier = result.failed.get(key)
                if earlier is None:
                    result.add_failed(key, error)
                else:
                    earlier.add_note(f"also failed in catalog {member.name}: {error}")
            for key, value in answer.ok.items():
                if key not in result.failed:
                    result.add_ok(key, value)
            if member.master:
                pending = [k for k in pending if k not in answer.failed]
        return result

    def _read(self, keys: Iterable[str], call: Callable[[Any, list[str]], BulkResult[str, V]],
              *, members: Sequence[CatalogMember] | None = None) -> BulkResult[str, V]:
        result: BulkResult[str, V] = BulkResult()
        errors: dict[str, DiracError] = {}
        pending = list(dict.fromkeys(keys))
        raised: list[tuple[str, Exception]] = []
        readers = self.readers if members is None else members
        if not readers:
            raise CatalogError("no catalog to read from")
        for member in readers:
            if not pending:
                break
            try:
                answer = call(member.catalog, pending)
            except Exception as exc:
                log.warning("catalog %s failed: %s", member.name, exc)
                raised.append((member.name, exc))
                continue
            for key, value in answer.ok.items():
                if key in pending:
                    result.add_ok(key, value)
            for key, error in answer.failed.items():
                errors.setdefault(key, _tag(error, member.name))
            pending = [k for k in pending if k not in result.ok]
        if raised and len(raised) == len(readers):
            self._raise_first(raised)
        for key in pending:
            if key in errors:
                result.add_failed(key, errors[key])
        return result

    @staticmethod
    def _raise_first(raised: list[tuple[str, Exception]]) -> None:
        first = raised[0][1]
        for name, exc in raised[1:]:
            first.add_note(f"catalog {name} failed too: {exc}")
        raise first

    def _first(self, call: Callable[[MetadataCatalog], T], *, members: Sequence[CatalogMember]) -> T:
        raised: list[tuple[str, Exception]] = []
        for member in members:
            try:
                return call(cast(MetadataCatalog, member.catalog))
            except Exception as exc:
                log.warning("catalog %s failed: %s", member.name, exc)
                raised.append((member.name, exc))
        self._raise_first(raised)
        raise AssertionError("unreachable")  # pragma: no cover - _raise_first raises

    def _master_then_rest(self, op: str, call: Callable[[MetadataCatalog], T]) -> T:
        primary, *others = self._metadata_writers()
        answer = call(cast(MetadataCatalog, primary.catalog))
        for member in others:
            try:
                call(cast(MetadataCatalog, member.catalog))
            except Exception as exc:
                log.warning("%s failed in catalog %s: %s", op, member.name, exc)
        return answer

    def _metadata_writers(self) -> list[CatalogMember]:
        master = next((m for m in self.members if m.master), None)
        if master is not None and not isinstance(master.catalog, MetadataCatalog):
            raise CatalogError(f"the master catalog {master.name} has no metadata", catalog=master.name)
        writers = [m for m in self.writers if isinstance(m.catalog, MetadataCatalog)]
        if not writers:
            raise CatalogError("no write catalog has metadata")
        return writers

    def _metadata_readers(self) -> list[CatalogMember]:
        readers = [m for m in self.readers if isinstance(m.catalog, MetadataCatalog)]
        if not readers:
            raise CatalogError("no read catalog has metadata")
        return readers

    # --- Catalog ---------------------------------------------------------------------

    def add_files(self, files: Sequence[FileEntry]) -> BulkResult[str, None]:
        def call(catalog: Catalog, keys: list[str]) -> BulkResult[str, None]:
            wanted = set(keys)
            return catalog.add_files([f for f in files if f.lfn in wanted])
        return self._write("add_files", (f.lfn for f in files), call)

    def add_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        return self._write("add_replicas", replicas,
                           lambda catalog, keys: catalog.add_replicas({k: replicas[k] for k in keys}))

    def remove_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        return self._write("remove_replicas", replicas,
                           lambda catalog, keys: catalog.remove_replicas({k: replicas[k] for k in keys}))

    def remove_files(self, lfns: Sequence[str]) -> BulkResult[str, None]:
        return self._write("remove_files", lfns, lambda catalog, keys: catalog.remove_files(keys))

    def create_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        return self._write("create_directories", paths,
                           lambda catalog, keys: catalog.create_directories(keys))

    def remove_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        return self._write("remove_directories", paths,
                           lambda catalog, keys: catalog.remove_directories(keys))

    def get_replicas(self, lfns: Sequence[str]) -> BulkResult[str, frozenset[str]]:
        return self._read(lfns, lambda catalog, keys: catalog.get_replicas(keys))

    def get_files(self, lfns: Sequence[str]) -> BulkResult[str, FileEntry]:
        return self._read(lfns, lambda catalog, keys: catalog.get_files(keys))

    def exists(self, paths: Sequence[str]) -> BulkResult[str, str | None]:
        return self._read(paths, lambda catalog, keys: catalog.exists(keys))

    def list_directory(self, paths: Sequence[str]) -> BulkResult[str, DirectoryListing]:
        return self._read(paths, lambda catalog, keys: catalog.list_directory(keys))

    # --- MetadataCatalog ----------------------------------------------------------------

    def add_metadata_field(self, name: str, type: str, *, for_files: bool) -> MetadataField:
        return self._master_then_rest(
            "add_metadata_field", lambda catalog: catalog.add_metadata_field(name, type, for_files=for_files))

    def metadata_fields(self) -> list[MetadataField]:
        return self._first(lambda catalog: catalog.metadata_fields(), members=self._metadata_readers())

    def set_metadata(self, values: Mapping[str, Mapping[str, Any]]) -> BulkResult[str, None]:
        return self._write("set_metadata", values,
                           lambda catalog, keys: catalog.set_metadata({k: values[k] for k in keys}),
                           members=self._metadata_writers())

    def remove_metadata(self, keys: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        return self._write("remove_metadata", keys,
                           lambda catalog, paths: catalog.remove_metadata({p: keys[p] for p in paths}),
                           members=self._metadata_writers())

    def get_metadata(self, paths: Sequence[str]) -> BulkResult[str, dict[str, Any]]:
        return self._read(paths, lambda catalog, keys: catalog.get_metadata(keys),
                          members=self._metadata_readers())

    def find_files(self, query: Mapping[str, Any], path: str = "/") -> list[str]:
        return self._first(lambda catalog: catalog.find_files(query, path), members=self._metadata_readers())

    def directory_usage(self, paths: Sequence[str]) -> BulkResult[str, Any]:
        """Usage from the first read catalog that keeps it (``CatalogError`` when none does)."""
        keepers = [m for m in self.members if m.read and hasattr(m.catalog, "directory_usage")]
        if not keepers:
            raise CatalogError("no catalog here keeps directory usage")
        return self._first(lambda catalog: catalog.directory_usage(paths),  # type: ignore[attr-defined]
                           members=keepers)

    def add_dataset(self, name: str, query: Mapping[str, Any], path: str = "/") -> DatasetInfo:
        return self._master_then_rest("add_dataset", lambda catalog: catalog.add_dataset(name, query, path))

    def dataset(self, name: str) -> DatasetInfo:
        return self._first(lambda catalog: catalog.dataset(name), members=self._metadata_readers())

    def dataset_files(self, name: str) -> list[str]:
        return self._first(lambda catalog: catalog.dataset_files(name), members=self._metadata_readers())

    def freeze_dataset(self, name: str, frozen: bool = True) -> DatasetInfo:
        return self._master_then_rest("freeze_dataset",
                                      lambda catalog: catalog.freeze_dataset(name, frozen))

    def remove_dataset(self, name: str) -> None:
        self._master_then_rest("remove_dataset", lambda catalog: catalog.remove_dataset(name))
