"""``/api/catalog``: the file catalog over HTTP (our namespace: DiracX has no catalog API).

Every route calls the interware's catalog as the identity the call acts as
(``iw.catalog.acting_as(identity)``): the caller, or, for a pilot naming one of its jobs in
``X-Dirac-Job``, that job's owner (:data:`~dirac_server.deps.Acting`). Directory modes and ACLs
apply as they do in-process, and who bypasses them is ``catalog.admin`` of
:mod:`dirac_core.authorization` (``FileCatalogManagement``, under its VO's directory): an item that
identity may not touch fails with ``PermissionDenied`` and the other items go on.

Bulk routes answer 200 with ``{"ok": {item: value}, "failed": {item: error}}``; other errors
answer with DiracX's ``{"detail": text}`` plus ``"error"``, the typed form of
:mod:`dirac_core.dms.catalog_wire`, so that :class:`~dirac_core.client.RemoteCatalog` raises
the exception the catalog raised (``QueryError``, ``AlreadyExists``, ...). Statuses: 400 a
refused query or field, 403 an administrator's call by someone else, 404 an unknown dataset,
409 a dataset name taken, 413 more than ``ServerSettings.catalog_max_items`` items in one call
(``fields.max_items`` says how many fit), 503 a server without a catalog.

=========================================  ===================================================
route                                      catalog method (body)
=========================================  ===================================================
``POST /files``                            ``add_files`` (``{"files": [entry, ...]}``)
``POST /files/get``, ``/files/remove``     ``get_files``, ``remove_files`` (``{"lfns": [...]}``)
``POST /replicas``, ``/replicas/remove``   ``add_replicas``, ``remove_replicas``
                                           (``{"replicas": {lfn: [se, ...]}}``)
``POST /replicas/get``                     ``get_replicas`` (``{"lfns": [...]}``)
``POST /exists``                           ``exists`` (``{"paths": [...]}``)
``POST /directories``, ``.../list``,       ``create_directories``, ``list_directory``,
``.../remove``                             ``remove_directories`` (``{"paths": [...]}``)
``GET|POST /metadata/fields``              ``metadata_fields``, ``add_metadata_field``
``POST /metadata``, ``/metadata/remove``   ``set_metadata`` (``{"values": {path: {f: v}}}``),
                                           ``remove_metadata`` (``{"keys": {path: [f]}}``)
``POST /metadata/get``                     ``get_metadata`` (``{"paths": [...]}``)
``POST /find``                             ``find_files`` (``{"query": {...}, "path": "/"}``)
``POST /datasets``                         ``add_dataset`` (``{"name", "query", "path"}``)
``GET|DELETE /datasets?name=``             ``dataset``, ``remove_dataset``
``GET /datasets/files?name=``              ``dataset_files``
``POST /datasets/freeze``                  ``freeze_dataset`` (``{"name", "frozen"}``)
=========================================  ===================================================
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sized
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from dirac_core.dms import catalog_wire as wire
from dirac_core.dms.filecatalog import FileCatalog
from dirac_core.errors import CatalogError, DatabaseUnavailable, DiracError, NotAuthenticated
from dirac_core.model.identity import Identity
from dirac_core.plugins.catalog import FileEntry
from dirac_server.deps import Acting, Iw, Settings
from dirac_server.errors import status_of
from dirac_server.settings import ServerSettings

__all__ = ["NoCatalog", "TooManyItems", "router"]


class NoCatalog(CatalogError):
    """The server has no file catalog (503)."""


class TooManyItems(CatalogError):
    """More items in one call than the server takes (413); ``max_items`` is its limit."""


def _status(exc: DiracError) -> int:
    if isinstance(exc, NoCatalog):
        return 503
    if isinstance(exc, TooManyItems):
        return 413
    return status_of(exc)


class _TypedErrors(APIRoute):
    """A route answering a :class:`DiracError` with its type and fields besides ``detail``.

    A missing token (401, with ``WWW-Authenticate``) and a lost database (503, details hidden)
    are left to the app's handlers.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def typed(request: Request) -> Response:
            try:
                return await handler(request)
            except (NotAuthenticated, DatabaseUnavailable):
                raise
            except DiracError as exc:
                return JSONResponse({"detail": str(exc), "error": wire.error_json(exc)},
                                    status_code=_status(exc))

        return typed


router = APIRouter(prefix="/api/catalog", tags=["catalog"], route_class=_TypedErrors)


# --- bodies --------------------------------------------------------------------------------
# Values are checked by the catalog, item by item (a bad size fails its file, not the call);
# only the shape of the body is checked here.


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entry(_Body):
    """A file to register (``FileEntry``)."""

    lfn: str
    size: Any
    checksum: Any = None
    guid: Any = None


class Files(_Body):
    """``{"files": [...]}``."""

    files: list[Entry]


class LFNs(_Body):
    """``{"lfns": [...]}``."""

    lfns: list[str]


class Paths(_Body):
    """``{"paths": [...]}``."""

    paths: list[str]


class Replicas(_Body):
    """``{"replicas": {lfn: [se, ...]}}``."""

    replicas: dict[str, Any]


class MetadataValues(_Body):
    """``{"values": {path: {field: value}}}`` (times tagged as in :mod:`catalog_wire`)."""

    values: dict[str, Any]


class MetadataKeys(_Body):
    """``{"keys": {path: [field, ...]}}`` (lists of names: the catalog takes any other value whole)."""

    keys: dict[str, list[str]]


class NewField(_Body):
    """A field to declare."""

    name: str
    type: str
    for_files: bool


class Find(_Body):
    """A query, and the directory to search under."""

    query: dict[str, Any]
    path: str = "/"


class NewDataset(Find):
    """A dataset to store: its name (a full path), query and directory."""

    name: str


class Freeze(_Body):
    """Freeze (or release) a dataset."""

    name: str
    frozen: bool = True


DatasetName = Annotated[str, Query(min_length=1, max_length=1024)]


# --- helpers -------------------------------------------------------------------------------


def _catalog(iw: Iw, identity: Identity) -> FileCatalog:
    if iw.catalog is None:
        raise NoCatalog("this server has no file catalog (configure [resources.catalogs])")
    return iw.catalog.acting_as(identity)


def _limit(settings: ServerSettings, items: Sized) -> None:
    most = settings.catalog_max_items
    if len(items) > most:
        raise TooManyItems(f"at most {most} items per catalog call, got {len(items)}: split the call",
                           max_items=most, items=len(items))


def _none(_: None) -> None:
    return None


def _replicas(ses: frozenset[str]) -> list[str]:
    return sorted(ses)


def _decoded(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: wire.value(v) for k, v in mapping.items()}


# --- Catalog -------------------------------------------------------------------------------


@router.post("/files")
def add_files(iw: Iw, identity: Acting, settings: Settings, body: Files) -> dict[str, Any]:
    """Register files (an identical existing entry succeeds, a different one fails)."""
    _limit(settings, body.files)
    entries = [FileEntry(lfn=f.lfn, size=f.size, checksum=f.checksum, guid=f.guid) for f in body.files]
    return wire.bulk_json(_catalog(iw, identity).add_files(entries), _none)


@router.post("/files/get")
def get_files(iw: Iw, identity: Acting, settings: Settings, body: LFNs) -> dict[str, Any]:
    """The entry of each LFN."""
    _limit(settings, body.lfns)
    return wire.bulk_json(_catalog(iw, identity).get_files(body.lfns), wire.entry_json)


@router.post("/files/remove")
def remove_files(iw: Iw, identity: Acting, settings: Settings, body: LFNs) -> dict[str, Any]:
    """Remove files and their replicas (a missing file succeeds)."""
    _limit(settings, body.lfns)
    return wire.bulk_json(_catalog(iw, identity).remove_files(body.lfns), _none)


@router.post("/replicas")
def add_replicas(iw: Iw, identity: Acting, settings: Settings, body: Replicas) -> dict[str, Any]:
    """Record replicas."""
    _limit(settings, body.replicas)
    return wire.bulk_json(_catalog(iw, identity).add_replicas(body.replicas), _none)


@router.post("/replicas/get")
def get_replicas(iw: Iw, identity: Acting, settings: Settings, body: LFNs) -> dict[str, Any]:
    """The storage elements holding each LFN (sorted)."""
    _limit(settings, body.lfns)
    return wire.bulk_json(_catalog(iw, identity).get_replicas(body.lfns), _replicas)


@router.post("/replicas/remove")
def remove_replicas(iw: Iw, identity: Acting, settings: Settings, body: Replicas) -> dict[str, Any]:
    """Forget replicas (one not recorded succeeds)."""
    _limit(settings, body.replicas)
    return wire.bulk_json(_catalog(iw, identity).remove_replicas(body.replicas), _none)


@router.post("/exists")
def exists(iw: Iw, identity: Acting, settings: Settings, body: Paths) -> dict[str, Any]:
    """``"file"``, ``"directory"`` or null for each path."""
    _limit(settings, body.paths)
    return wire.bulk_json(_catalog(iw, identity).exists(body.paths), lambda kind: kind)


@router.post("/directories")
def create_directories(iw: Iw, identity: Acting, settings: Settings, body: Paths) -> dict[str, Any]:
    """Create directories and their missing parents."""
    _limit(settings, body.paths)
    return wire.bulk_json(_catalog(iw, identity).create_directories(body.paths), _none)


@router.post("/directories/list")
def list_directory(iw: Iw, identity: Acting, settings: Settings, body: Paths) -> dict[str, Any]:
    """What is directly under each directory."""
    _limit(settings, body.paths)
    return wire.bulk_json(_catalog(iw, identity).list_directory(body.paths), wire.listing_json)


@router.post("/directories/remove")
def remove_directories(iw: Iw, identity: Acting, settings: Settings, body: Paths) -> dict[str, Any]:
    """Remove empty directories (a missing one succeeds)."""
    _limit(settings, body.paths)
    return wire.bulk_json(_catalog(iw, identity).remove_directories(body.paths), _none)


# --- MetadataCatalog -----------------------------------------------------------------------


@router.get("/metadata/fields")
def metadata_fields(iw: Iw, identity: Acting) -> list[dict[str, Any]]:
    """Every declared field."""
    return [wire.field_json(f) for f in _catalog(iw, identity).metadata_fields()]


@router.post("/metadata/fields")
def add_metadata_field(iw: Iw, identity: Acting, body: NewField) -> dict[str, Any]:
    """Declare a field (administrators; the same declaration again succeeds)."""
    field = _catalog(iw, identity).add_metadata_field(body.name, body.type, for_files=body.for_files)
    return wire.field_json(field)


@router.post("/metadata")
def set_metadata(iw: Iw, identity: Acting, settings: Settings, body: MetadataValues) -> dict[str, Any]:
    """Set metadata values on directories and files."""
    _limit(settings, body.values)
    values = {path: wire.value(v) for path, v in body.values.items()}
    return wire.bulk_json(_catalog(iw, identity).set_metadata(values), _none)


@router.post("/metadata/remove")
def remove_metadata(iw: Iw, identity: Acting, settings: Settings, body: MetadataKeys) -> dict[str, Any]:
    """Remove metadata values (an absent one succeeds)."""
    _limit(settings, body.keys)
    return wire.bulk_json(_catalog(iw, identity).remove_metadata(body.keys), _none)


@router.post("/metadata/get")
def get_metadata(iw: Iw, identity: Acting, settings: Settings, body: Paths) -> dict[str, Any]:
    """Each path's metadata, inherited values included."""
    _limit(settings, body.paths)
    return wire.bulk_json(_catalog(iw, identity).get_metadata(body.paths), wire.value_json)


@router.post("/find")
def find_files(iw: Iw, identity: Acting, body: Find) -> list[str]:
    """The LFNs under ``path`` satisfying every term of ``query``, sorted."""
    return _catalog(iw, identity).find_files(_decoded(body.query), body.path)


@router.post("/datasets", status_code=201)
def add_dataset(iw: Iw, identity: Acting, body: NewDataset) -> dict[str, Any]:
    """Store a named query: 201 and the dataset (409 if the name is taken)."""
    info = _catalog(iw, identity).add_dataset(body.name, _decoded(body.query), body.path)
    return wire.dataset_json(info)


@router.get("/datasets")
def dataset(iw: Iw, identity: Acting, name: DatasetName) -> dict[str, Any]:
    """A dataset's state (404 if unknown)."""
    return wire.dataset_json(_catalog(iw, identity).dataset(name))


@router.get("/datasets/files")
def dataset_files(iw: Iw, identity: Acting, name: DatasetName) -> list[str]:
    """The files of a dataset: the frozen list, or its query run now."""
    return _catalog(iw, identity).dataset_files(name)


@router.post("/datasets/freeze")
def freeze_dataset(iw: Iw, identity: Acting, body: Freeze) -> dict[str, Any]:
    """Snapshot a dataset's file list (``frozen: false`` releases it)."""
    return wire.dataset_json(_catalog(iw, identity).freeze_dataset(body.name, body.frozen))


@router.delete("/datasets", status_code=204)
def remove_dataset(iw: Iw, identity: Acting, name: DatasetName) -> Response:
    """Forget a dataset (a missing one is removed already): 204."""
    _catalog(iw, identity).remove_dataset(name)
    return Response(status_code=204)
