"""``RemoteInterware.catalog``: a dirac-core server's file catalog, with the catalog contracts.

:class:`RemoteCatalog` implements :class:`~dirac_core.plugins.catalog.Catalog` and
:class:`~dirac_core.plugins.metadata.MetadataCatalog` over ``/api/catalog`` (the wire format is
:mod:`dirac_core.dms.catalog_wire`): results come back as the same types, bulk failures as the
same exception classes (``NotFound``, ``PermissionDenied``, ``InvalidLFN``, ``CatalogError``, ...)
and whole-call errors are raised as the server's catalog raised them (``QueryError``,
``AlreadyExists``, ...). The differences from an in-process catalog:

- the bearer token decides who acts: :meth:`RemoteCatalog.acting_as` returns the catalog itself,
  and the server applies the policy of the token's identity (a view for another identity cannot
  be made from the client). A pilot acts for one of its jobs, as the job's owner, through
  :meth:`RemoteCatalog.for_job` (the ``X-Dirac-Job`` header);
- a call with more items than the server takes in one request (``catalog_max_items``, 10,000 by
  default) is sent in several requests, each its own transaction on the server: a failure
  between two requests leaves the first ones done (their items are in the answer of nothing: the
  exception propagates);
- items that cannot be sent (an LFN that is not text, an entry that is not a ``FileEntry``) fail
  here, as the catalog would fail them, without a request;
- every call but ``add_dataset`` is repeated after a lost connection or a 502/503/504 (they are
  all idempotent in the catalog's semantics: re-adding an identical file, removing a missing
  one, declaring a field again all succeed).

It is also the ``remote`` driver of the ``dirac.catalogs`` group (section
:class:`~dirac_core.config.sections.RemoteCatalogSection`: ``url``, ``credentials_path``), so an
embedded interware's configuration may point its catalog at a server.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from dirac_core.client.credentials import Credentials
from dirac_core.client.errors import error_for
from dirac_core.client.transport import Transport
from dirac_core.config.sections import RemoteCatalogSection
from dirac_core.db.database import Database
from dirac_core.dms import catalog_wire as wire
from dirac_core.dms.metafields import QueryError
from dirac_core.errors import BulkResult, CatalogError, DiracError
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.lfn import InvalidLFN, normalize_lfn
from dirac_core.plugins.catalog import Catalog, DirectoryListing, FileEntry
from dirac_core.plugins.metadata import DatasetInfo, MetadataCatalog, MetadataField

__all__ = ["RemoteCatalog"]

V = TypeVar("V")

API = "/api/catalog"
#: Items per request unless the server says it takes fewer (its default limit).
BATCH = 10_000


def _none(_: Any) -> None:
    return None


def _sendable(item: Any) -> bool:
    """Whether JSON can carry ``item`` (after :func:`~dirac_core.dms.catalog_wire.value_json`)."""
    if item is None or isinstance(item, bool | int | str):
        return True
    if isinstance(item, float):
        return math.isfinite(item)
    if isinstance(item, list):
        return all(_sendable(v) for v in item)
    if isinstance(item, dict):
        return all(isinstance(k, str) and _sendable(v) for k, v in item.items())
    return False


def _key(item: object) -> str:
    """How a catalog keys an item in its answer: the text given, else its ``repr``."""
    return item if isinstance(item, str) else repr(item)


def _not_text(item: object) -> InvalidLFN:
    try:
        normalize_lfn(item)
    except InvalidLFN as exc:
        return exc
    raise AssertionError("only called for items that are not text")  # pragma: no cover


class RemoteCatalog(Catalog, MetadataCatalog):
    """The catalog of the server ``transport`` talks to (see the module docstring).

    ``batch_size``: the most items sent in one request (lowered to the server's limit when it
    answers 413). ``job_id``: act for that job of the calling pilot. Closing it closes the
    transport only when it made it (:meth:`from_section`).
    """

    def __init__(self, transport: Transport, *, batch_size: int = BATCH, name: str = "remote",
                 job_id: int | None = None) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.transport = transport
        self.name = name
        self.batch_size = batch_size
        self.job_id = job_id
        self._owns_transport = False

    @classmethod
    def from_section(cls, section: RemoteCatalogSection, database: Database, clock: Clock) -> RemoteCatalog:
        """The catalog of the server ``section.url`` (the driver's constructor for configurations;
        ``database`` and ``clock`` are not used: the server has its own)."""
        credentials = Credentials(path=section.credentials_path) if section.credentials_path else None
        catalog = cls(Transport(section.url, credentials=credentials, timeout=float(section.timeout)),
                      name=section.name)
        catalog._owns_transport = True
        return catalog

    def acting_as(self, identity: Identity | None) -> RemoteCatalog:
        """This catalog: the server decides who acts from the bearer token, not the client."""
        return self

    def for_job(self, job_id: int) -> RemoteCatalog:
        """The same catalog, acting for ``job_id``: the server checks that the token is the pilot
        holding that job, and acts as the job's owner (403 for any other caller or job)."""
        return RemoteCatalog(self.transport, batch_size=self.batch_size, name=self.name, job_id=job_id)

    def close(self) -> None:
        """Close the connections if this catalog opened them."""
        if self._owns_transport:
            self.transport.close()

    def __repr__(self) -> str:
        return f"RemoteCatalog({self.transport.url!r})"

    # --- requests ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any) -> Any:
        """The JSON answer of one request; an error answer raised as the server's exception."""
        headers = {"X-Dirac-Job": str(self.job_id)} if self.job_id is not None else {}
        response = self.transport.request(method, API + path, idempotent=idempotent,
                                          accept=range(400, 600), headers=headers, **kwargs)
        if response.is_success:
            return None if response.status_code == 204 else response.json()
        raise _error(response)

    def _bulk(self, path: str, name: str, items: Sequence[Any], decode: Callable[[Any], V],
              pack: Callable[[Sequence[Any]], Any] = list) -> BulkResult[str, V]:
        """A bulk call, in as many requests as the server's limit needs; the answers merged."""
        result: BulkResult[str, V] = BulkResult()
        start = 0
        while start < len(items):
            chunk = items[start:start + self.batch_size]
            try:
                answer = self._call("POST", path, json={name: pack(chunk)})
            except DiracError as exc:
                if getattr(exc, "status", None) != 413 or len(chunk) == 1:
                    raise
                fits = getattr(exc, "max_items", None)
                # the server's item limit, or (a body over its byte limit) half as many items
                self.batch_size = fits if isinstance(fits, int) and 0 < fits < len(chunk) else len(chunk) // 2
                continue
            part = wire.bulk(answer, decode)
            for key, error in part.failed.items():
                result.add_failed(key, error)
            result.ok.update((k, v) for k, v in part.ok.items() if k not in result.failed)
            start += len(chunk)
        return result

    def _keyed(self, path: str, name: str, given: Sequence[object] | Mapping[Any, Any],
               decode: Callable[[Any], V], encode: Callable[[Any], Any] | None = None) -> BulkResult[str, V]:
        """A bulk call on LFNs or paths (a list, or a mapping keyed by them): items that are not
        text fail here with ``InvalidLFN``, as the catalog fails them."""
        keys = list(given)
        sendable = list(dict.fromkeys(k for k in keys if isinstance(k, str)))
        refused: dict[str, DiracError] = {_key(k): _not_text(k) for k in keys if not isinstance(k, str)}
        if isinstance(given, Mapping):
            pairs = [(k, encode(given[k]) if encode else given[k]) for k in sendable]
            for k, v in pairs:
                if not _sendable(v):
                    refused[k] = CatalogError(f"{k!r}: {given[k]!r} cannot be sent to the server", lfn=k)
            result = self._bulk(path, name, [(k, v) for k, v in pairs if k not in refused], decode, pack=dict)
        else:
            result = self._bulk(path, name, sendable, decode)
        for key, error in refused.items():
            result.add_failed(key, error)
        return result

    # --- Catalog -----------------------------------------------------------------------------

    def add_files(self, files: Sequence[FileEntry]) -> BulkResult[str, None]:
        sendable: list[dict[str, Any]] = []
        refused: dict[str, DiracError] = {}
        for item in files:
            lfn = getattr(item, "lfn", item)
            if not isinstance(item, FileEntry):
                refused[_key(lfn)] = CatalogError(f"expected a FileEntry, got {type(item).__name__}")
            elif not isinstance(lfn, str):
                refused[_key(lfn)] = _not_text(lfn)
            elif not all(_sendable(v) for v in (item.size, item.checksum, item.guid)):
                refused[lfn] = CatalogError(f"{lfn!r}: size, checksum and guid must be numbers or text",
                                            lfn=lfn)
            else:
                sendable.append(wire.entry_json(item))
        result = self._bulk("/files", "files", sendable, _none)
        for key, error in refused.items():
            result.add_failed(key, error)
        return result

    def add_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        return self._keyed("/replicas", "replicas", replicas, _none, encode=wire.value_json)

    def get_replicas(self, lfns: Sequence[str]) -> BulkResult[str, frozenset[str]]:
        return self._keyed("/replicas/get", "lfns", lfns, frozenset)

    def get_files(self, lfns: Sequence[str]) -> BulkResult[str, FileEntry]:
        return self._keyed("/files/get", "lfns", lfns, wire.entry)

    def remove_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        return self._keyed("/replicas/remove", "replicas", replicas, _none, encode=wire.value_json)

    def remove_files(self, lfns: Sequence[str]) -> BulkResult[str, None]:
        return self._keyed("/files/remove", "lfns", lfns, _none)

    def exists(self, paths: Sequence[str]) -> BulkResult[str, str | None]:
        return self._keyed("/exists", "paths", paths, lambda kind: kind)

    def create_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        return self._keyed("/directories", "paths", paths, _none)

    def list_directory(self, paths: Sequence[str]) -> BulkResult[str, DirectoryListing]:
        return self._keyed("/directories/list", "paths", paths, wire.listing)

    def remove_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        return self._keyed("/directories/remove", "paths", paths, _none)

    # --- MetadataCatalog ---------------------------------------------------------------------

    def add_metadata_field(self, name: str, type: str, *, for_files: bool) -> MetadataField:
        answer = self._call("POST", "/metadata/fields",
                            json={"name": name, "type": type, "for_files": for_files})
        return wire.field(answer)

    def metadata_fields(self) -> list[MetadataField]:
        return [wire.field(f) for f in self._call("GET", "/metadata/fields")]

    def set_metadata(self, values: Mapping[str, Mapping[str, Any]]) -> BulkResult[str, None]:
        return self._keyed("/metadata", "values", values, _none, encode=wire.value_json)

    def remove_metadata(self, keys: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        # a name where a list of names belongs fails its item here, as the catalogs fail it
        bad = {k: v for k, v in keys.items() if isinstance(v, str | bytes) or not isinstance(v, Iterable)}
        result = self._keyed("/metadata/remove", "keys", {k: v for k, v in keys.items() if k not in bad},
                             _none, encode=wire.value_json)
        for k, v in bad.items():
            result.add_failed(k, CatalogError(
                f"{k}: the fields to remove must be a list of names, not {type(v).__name__}", lfn=k))
        return result

    def get_metadata(self, paths: Sequence[str]) -> BulkResult[str, dict[str, Any]]:
        return self._keyed("/metadata/get", "paths", paths, wire.value)

    def find_files(self, query: Mapping[str, Any], path: str = "/") -> list[str]:
        found: list[str] = self._call("POST", "/find", json={"query": _query(query), "path": path})
        return found

    def add_dataset(self, name: str, query: Mapping[str, Any], path: str = "/") -> DatasetInfo:
        # not repeated: a repeat after the server stored it would answer AlreadyExists
        answer = self._call("POST", "/datasets", idempotent=False,
                            json={"name": name, "query": _query(query), "path": path})
        return wire.dataset(answer)

    def dataset(self, name: str) -> DatasetInfo:
        return wire.dataset(self._call("GET", "/datasets", params={"name": name}))

    def dataset_files(self, name: str) -> list[str]:
        found: list[str] = self._call("GET", "/datasets/files", params={"name": name})
        return found

    def freeze_dataset(self, name: str, frozen: bool = True) -> DatasetInfo:
        return wire.dataset(self._call("POST", "/datasets/freeze", json={"name": name, "frozen": frozen}))

    def remove_dataset(self, name: str) -> None:
        self._call("DELETE", "/datasets", params={"name": name})


def _query(query: Mapping[str, Any]) -> Any:
    """A query as JSON; ``QueryError`` for a value JSON cannot carry (the catalog refuses those too)."""
    sent = wire.value_json(query)
    if not isinstance(query, Mapping) or not _sendable(sent):
        raise QueryError(f"a query is a mapping of field names to values, numbers, text and times; "
                         f"got {query!r}")
    return sent


def _error(response: httpx.Response) -> DiracError:
    """The exception of an error answer: the typed ``error`` of a catalog route, else by status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    typed = body.get("error") if isinstance(body, dict) else None
    if isinstance(typed, dict) and "type" in typed:
        exc = wire.error(typed)
    else:
        exc = error_for(response, CatalogError)
    if "status" not in exc.fields:  # as every client error does: the HTTP code
        exc.fields["status"] = response.status_code
        exc.status = response.status_code  # type: ignore[attr-defined]
    return exc
