"""The file catalog's JSON wire format: what ``/api/catalog`` and :class:`~dirac_core.client.RemoteCatalog`
exchange, written once for both sides so that a value survives the trip unchanged.

- **Values** are JSON, except times: a ``datetime`` travels as ``{"$datetime": "<ISO 8601>"}`` and a
  ``date`` as ``{"$date": "<ISO 8601>"}`` (metadata values, query terms, error fields); tuples and
  sets travel as lists. A mapping with a ``$`` key is never anything else: metadata field names
  and query operators cannot start with ``$``.
- **Errors** travel as ``{"type": name, "message": text, "fields": {...}, "notes": [...]}``;
  ``type`` is the name of the error's class, or of its nearest base in :data:`ERROR_TYPES` (a
  driver's own ``CatalogError`` subclass arrives as ``CatalogError``). :func:`error` rebuilds the
  exception, with its structured fields as attributes, as the local catalog would have raised it.
- **Bulk results** travel as ``{"ok": {item: value}, "failed": {item: error}}``.
- :class:`~dirac_core.plugins.catalog.FileEntry`,
  :class:`~dirac_core.plugins.catalog.DirectoryListing`,
  :class:`~dirac_core.plugins.metadata.MetadataField` and
  :class:`~dirac_core.plugins.metadata.DatasetInfo` travel as objects keyed by attribute names.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

from dirac_core import errors as _errors
from dirac_core.dms.metafields import QueryError
from dirac_core.errors import BulkResult, DiracError
from dirac_core.model.lfn import InvalidLFN
from dirac_core.plugins.catalog import DirectoryListing, FileEntry
from dirac_core.plugins.metadata import DatasetInfo, MetadataField

__all__ = [
    "ERROR_TYPES",
    "bulk",
    "bulk_json",
    "dataset",
    "dataset_json",
    "entry",
    "entry_json",
    "error",
    "error_json",
    "field",
    "field_json",
    "listing",
    "listing_json",
    "value",
    "value_json",
]

V = TypeVar("V")

#: The error classes that cross the wire by name: the library's, and the catalog's own.
ERROR_TYPES: Mapping[str, type[DiracError]] = {
    **{name: cls for name, cls in vars(_errors).items()
       if inspect.isclass(cls) and issubclass(cls, DiracError)},
    "InvalidLFN": InvalidLFN,
    "QueryError": QueryError,
}

_DATETIME, _DATE = "$datetime", "$date"


# --- values ----------------------------------------------------------------------------------


def value_json(item: Any) -> Any:
    """``item`` as JSON: times tagged, tuples and sets as lists, mapping keys as text."""
    if isinstance(item, datetime):
        return {_DATETIME: item.isoformat()}
    if isinstance(item, date):
        return {_DATE: item.isoformat()}
    if isinstance(item, Mapping):
        return {str(k): value_json(v) for k, v in item.items()}
    if isinstance(item, list | tuple):
        return [value_json(v) for v in item]
    if isinstance(item, set | frozenset):
        return [value_json(v) for v in sorted(item, key=repr)]
    return item


#: how deep a value may nest (metadata values and queries are flat; a body is not a stack bomb)
MAX_NESTING = 32


def value(data: Any, _depth: int = 0) -> Any:
    """The inverse of :func:`value_json` (lists stay lists).

    Raises :class:`~dirac_core.errors.CatalogError` for a tagged time that is no ISO 8601 text,
    or a value nested deeper than :data:`MAX_NESTING`.
    """
    if _depth > MAX_NESTING and isinstance(data, dict | list):
        raise _errors.CatalogError(f"a value nested more than {MAX_NESTING} levels deep")
    if isinstance(data, dict):
        try:
            if len(data) == 1 and _DATETIME in data and isinstance(data[_DATETIME], str):
                return datetime.fromisoformat(data[_DATETIME])
            if len(data) == 1 and _DATE in data and isinstance(data[_DATE], str):
                return date.fromisoformat(data[_DATE])
        except ValueError:
            shown = str(next(iter(data.values())))[:64]
            raise _errors.CatalogError(f"not an ISO 8601 time: {shown!r}") from None
        return {k: value(v, _depth + 1) for k, v in data.items()}
    if isinstance(data, list):
        return [value(v, _depth + 1) for v in data]
    return data


def _field_json(item: Any) -> Any:
    """An error field as JSON: what :func:`value_json` keeps, anything else as its text."""
    if item is None or isinstance(item, bool | int | float | str | datetime | date):
        return value_json(item)
    if isinstance(item, Mapping):
        return {str(k): _field_json(v) for k, v in item.items()}
    if isinstance(item, list | tuple | set | frozenset):
        return [_field_json(v) for v in item]
    return str(item)


# --- errors ----------------------------------------------------------------------------------


def _wire_name(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if ERROR_TYPES.get(cls.__name__) is cls:
            return cls.__name__
    return "DiracError"


def error_json(exc: DiracError) -> dict[str, Any]:
    """An error as JSON (see the module docstring)."""
    out: dict[str, Any] = {"type": _wire_name(exc), "message": exc.message,
                           "fields": {str(k): _field_json(v) for k, v in exc.fields.items()}}
    notes = getattr(exc, "__notes__", None)
    if notes:
        out["notes"] = [str(n) for n in notes]
    return out


def error(data: Mapping[str, Any]) -> DiracError:
    """The exception :func:`error_json` described (``DiracError`` for an unknown type)."""
    cls = ERROR_TYPES.get(str(data.get("type")), DiracError)
    fields = data.get("fields")
    fields = {str(k): value(v) for k, v in fields.items()} if isinstance(fields, Mapping) else {}
    # the classes with their own constructor (ConfigError, PluginNotFound, ...) are rebuilt as
    # pickling rebuilds them: the message and fields as they were, no constructor logic again
    exc = cls.__new__(cls)
    DiracError.__init__(exc, str(data.get("message", "")), **fields)
    for note in data.get("notes") or ():
        exc.add_note(str(note))
    return exc


# --- bulk results ----------------------------------------------------------------------------


def bulk_json(result: BulkResult[Any, V], encode: Callable[[V], Any]) -> dict[str, Any]:
    """A bulk result as JSON, each value through ``encode``."""
    return {"ok": {str(k): encode(v) for k, v in result.ok.items()},
            "failed": {str(k): error_json(e) for k, e in result.failed.items()}}


def bulk(data: Mapping[str, Any], decode: Callable[[Any], V]) -> BulkResult[str, V]:
    """The inverse of :func:`bulk_json`, each value through ``decode``."""
    return BulkResult(ok={k: decode(v) for k, v in (data.get("ok") or {}).items()},
                      failed={k: error(e) for k, e in (data.get("failed") or {}).items()})


# --- the contract's value classes ------------------------------------------------------------


def entry_json(item: FileEntry) -> dict[str, Any]:
    """A file entry as JSON."""
    return {"lfn": item.lfn, "size": item.size, "checksum": item.checksum, "guid": item.guid}


def entry(data: Mapping[str, Any]) -> FileEntry:
    """A file entry from JSON."""
    return FileEntry(lfn=data["lfn"], size=data["size"], checksum=data.get("checksum"),
                     guid=data.get("guid"))


def listing_json(item: DirectoryListing) -> dict[str, Any]:
    """A directory listing as JSON."""
    return {"files": list(item.files), "subdirectories": list(item.subdirectories)}


def listing(data: Mapping[str, Any]) -> DirectoryListing:
    """A directory listing from JSON."""
    return DirectoryListing(files=tuple(data.get("files", ())),
                            subdirectories=tuple(data.get("subdirectories", ())))


def field_json(item: MetadataField) -> dict[str, Any]:
    """A declared metadata field as JSON."""
    return {"name": item.name, "type": item.type, "for_files": item.for_files}


def field(data: Mapping[str, Any]) -> MetadataField:
    """A declared metadata field from JSON."""
    return MetadataField(name=data["name"], type=data["type"], for_files=data["for_files"])


def dataset_json(item: DatasetInfo) -> dict[str, Any]:
    """A dataset's state as JSON."""
    return {"name": item.name, "query": value_json(item.query), "path": item.path, "frozen": item.frozen,
            "files": item.files, "size": item.size, "checksum": item.checksum}


def dataset(data: Mapping[str, Any]) -> DatasetInfo:
    """A dataset's state from JSON."""
    return DatasetInfo(name=data["name"], query=value(data["query"]), path=data["path"],
                       frozen=data["frozen"], files=data["files"], size=data["size"],
                       checksum=data["checksum"])
