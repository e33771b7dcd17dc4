"""The transformation and production systems through a server (``/api/transformations``,
``/api/productions``), with the embedded engines' method names and return types.

:class:`RemoteTransformations` stands for :class:`~dirac_core.transformation.TransformationSystem`
and :class:`RemoteProductions` for :class:`~dirac_core.transformation.productions.ProductionSystem`
where the routes reach: defining, reading, status changes and files. The periodic cycles
(splitting, submission, monitoring) run in the server. The differences from the engines:

- the bearer token decides who acts: the ``author``/``identity`` arguments are accepted, so that
  code runs unchanged on both, and ignored; the server applies
  :mod:`dirac_core.authorization` to the token's identity (another VO's transformation
  is ``NotFound``, a change without ``ProductionManagement`` or ``ServiceAdministrator`` is
  ``PermissionDenied``);
- errors come back as the engine raised them, with their fields (an ``InvalidTransformation``
  naming its ``parameter``, an ``InvalidTransition``, ``AlreadyExists``, ...);
- :meth:`RemoteTransformations.add_files` and :meth:`~RemoteTransformations.set_file_status` send
  at most ``batch_size`` LFNs per request, each its own transaction on the server;
  :meth:`~RemoteTransformations.files` and :meth:`~RemoteTransformations.tasks` read page after
  page, so a listing taken while the transformation moves may miss or repeat an item;
- a transformation is named by id, or by a name without ``/`` (the name is part of the URL).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from dirac_core.client.errors import error_for
from dirac_core.client.transport import Transport
from dirac_core.dms.catalog_wire import bulk, error
from dirac_core.errors import BulkResult, DiracError, InvalidTransformation
from dirac_core.model.identity import Identity
from dirac_core.model.transformation import (
    FileAddition,
    TaskStatus,
    TransformationFileStatus,
    TransformationStatus,
)
from dirac_core.transformation.productions import Production, ProductionProgress, ProductionStep
from dirac_core.transformation.records import (
    Task,
    Transformation,
    TransformationFile,
    TransformationSpec,
    TransformationStats,
)
from dirac_core.transformation.wire import decode, definition_to_json, spec_to_json

__all__ = ["RemoteProductions", "RemoteTransformations"]

V = TypeVar("V")
Key = int | str

#: LFNs per request (the server's limit), files and tasks per page
BATCH = 10_000
TASKS_PER_PAGE = 1_000


def _error(response: httpx.Response) -> DiracError:
    """The exception of an error answer: the typed ``error`` of the route, else by status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    typed = body.get("error") if isinstance(body, dict) else None
    exc = error(typed) if isinstance(typed, dict) and "type" in typed else error_for(response,
                                                                                    InvalidTransformation)
    if "status" not in exc.fields:  # as every client error does: the HTTP code
        exc.fields["status"] = response.status_code
        exc.status = response.status_code  # type: ignore[attr-defined]
    return exc


class _Remote:
    """Requests to one prefix of the server, errors raised as the engine's."""

    prefix = ""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _path(self, key: Key, *rest: str) -> str:
        return "/".join((self.prefix, quote(str(key), safe=""), *rest))

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> Any:
        response = self.transport.request(method, path, idempotent=idempotent, accept=range(400, 600),
                                          **kwargs)
        if not response.is_success:
            raise _error(response)
        return response.json()


class RemoteTransformations(_Remote):
    """Transformations on a server (see the module docstring); ``batch_size``: LFNs per request,
    ``files_per_page``, ``tasks_per_page``: what one listing request asks for (at most the
    server's limits, 10,000 and 1,000)."""

    prefix = "/api/transformations"

    def __init__(self, transport: Transport, *, batch_size: int = BATCH, files_per_page: int = BATCH,
                 tasks_per_page: int = TASKS_PER_PAGE) -> None:
        if min(batch_size, files_per_page, tasks_per_page) < 1:
            raise ValueError("batch_size, files_per_page and tasks_per_page must be at least 1")
        super().__init__(transport)
        self.batch_size = batch_size
        self.files_per_page = files_per_page
        self.tasks_per_page = tasks_per_page

    # -- defining and reading ---------------------------------------------------------------

    def create(self, spec: TransformationSpec, author: Identity | None = None) -> Transformation:
        """Create a transformation (New) owned by the token's identity; ``InvalidTransformation``
        naming the parameter, ``AlreadyExists``, ``PermissionDenied``."""
        data = self._call("POST", self.prefix, idempotent=False, json=spec_to_json(spec))
        return decode(data, Transformation)

    def get(self, key: Key) -> Transformation:
        """One transformation by id or name; ``NotFound``."""
        return decode(self._call("GET", self._path(key), idempotent=True), Transformation)

    def transformations(self, *, statuses: Collection[TransformationStatus] | None = None,
                        types: Collection[str] | None = None) -> list[Transformation]:
        """The transformations of the token's VO, in id order, optionally of some statuses and types."""
        params: dict[str, Any] = {}
        if statuses:
            params["status"] = [TransformationStatus(s).value for s in statuses]
        if types:
            params["type"] = list(types)
        data = self._call("GET", self.prefix, idempotent=True, params=params)
        return [decode(item, Transformation) for item in data]

    def files(self, key: Key, *, statuses: Collection[TransformationFileStatus] | None = None
              ) -> list[TransformationFile]:
        """A transformation's files, in the order they were added (every page)."""
        wanted = [TransformationFileStatus(s).value for s in statuses or ()]
        return self._pages(self._path(key, "files"), wanted, self.files_per_page,
                           lambda item: decode(item, TransformationFile))

    def tasks(self, key: Key, *, statuses: Collection[TaskStatus] | None = None) -> list[Task]:
        """A transformation's tasks with their files, in id order (every page)."""
        wanted = [TaskStatus(s).value for s in statuses or ()]
        return self._pages(self._path(key, "tasks"), wanted, self.tasks_per_page,
                           lambda item: decode(item, Task))

    def _pages(self, path: str, statuses: list[str], per_page: int, read: Callable[[Any], V]) -> list[V]:
        out: list[V] = []
        page = 1
        while True:
            params: dict[str, Any] = {"page": page, "per_page": per_page}
            if statuses:
                params["status"] = statuses
            items = self._call("GET", path, idempotent=True, params=params)
            out.extend(read(item) for item in items)
            if len(items) < per_page:
                return out
            page += 1

    def stats(self, key: Key) -> TransformationStats:
        """Files and tasks per status, and the processed percentage."""
        return decode(self._call("GET", self._path(key, "stats"), idempotent=True), TransformationStats)

    # -- status -----------------------------------------------------------------------------

    def _action(self, key: Key, action: str) -> Transformation:
        # not repeated after a lost answer: the second call could meet the status the first set
        return decode(self._call("POST", self._path(key, action), idempotent=False), Transformation)

    def start(self, key: Key) -> Transformation:
        """Active and Automatic: its tasks are made and submitted."""
        return self._action(key, "start")

    def stop(self, key: Key) -> Transformation:
        """Stopped and Manual: nothing new is made or submitted."""
        return self._action(key, "stop")

    def flush(self, key: Key) -> Transformation:
        """Flush: incomplete groups become tasks too, then back to Active."""
        return self._action(key, "flush")

    def complete(self, key: Key) -> Transformation:
        """Completed."""
        return self._action(key, "complete")

    def clean(self, key: Key) -> Transformation:
        """TransformationCleaned, its files and tasks forgotten."""
        return self._action(key, "clean")

    # -- files ------------------------------------------------------------------------------

    def add_files(self, key: Key, lfns: Iterable[str]) -> BulkResult[str, FileAddition]:
        """Attach files (Unused): per LFN as given, ``Added`` or ``Present`` (a request repeated
        after a lost answer reports the files it had added as ``Present``)."""
        items = list(lfns)
        return self._bulk("POST", key, items, FileAddition, idempotent=True, params={})

    def set_file_status(self, key: Key, statuses: Mapping[str, TransformationFileStatus | str], *,
                        force: bool = False) -> BulkResult[str, TransformationFileStatus]:
        """Ask for file statuses (by LFN); per LFN the status the file has afterwards.
        ``InvalidTransformation`` for an unknown status, before anything is sent."""
        try:
            wanted = {lfn: TransformationFileStatus(status).value for lfn, status in statuses.items()}
        except ValueError as exc:
            raise InvalidTransformation(f"unknown file status: {exc}", parameter="statuses") from exc
        return self._bulk("PATCH", key, list(wanted.items()), TransformationFileStatus, idempotent=False,
                          params={"force": force}, pack=dict)

    def _bulk(self, method: str, key: Key, items: Sequence[Any], value: Callable[[Any], V], *,
              idempotent: bool, params: dict[str, Any],
              pack: Callable[[Sequence[Any]], Any] = list) -> BulkResult[str, V]:
        result: BulkResult[str, V] = BulkResult()
        for start in range(0, max(len(items), 1), self.batch_size):  # an empty call still names the key
            answer = self._call(method, self._path(key, "files"), idempotent=idempotent, params=params,
                                json=pack(items[start:start + self.batch_size]))
            part = bulk(answer, value)
            result.ok.update(part.ok)
            result.failed.update(part.failed)
        return result


class RemoteProductions(_Remote):
    """Productions on a server (see the module docstring)."""

    prefix = "/api/productions"

    def create(self, name: str, steps: Sequence[ProductionStep], author: Identity | None = None, *,
               description: str = "") -> Production:
        """Store a New production owned by the token's identity; ``InvalidTransformation`` naming
        the step and what is wrong, ``AlreadyExists``, ``PermissionDenied``."""
        data = self._call("POST", self.prefix, idempotent=False,
                          json=definition_to_json(name, steps, description))
        return decode(data, Production)

    def get(self, key: Key) -> Production:
        """One production by id or name; ``NotFound``."""
        return decode(self._call("GET", self._path(key), idempotent=True), Production)

    def productions(self) -> list[Production]:
        """The productions of the token's VO, in id order."""
        return [decode(item, Production) for item in self._call("GET", self.prefix, idempotent=True)]

    def progress(self, key: Key) -> ProductionProgress:
        """Each step's progress and the production's."""
        return decode(self._call("GET", self._path(key, "progress"), idempotent=True), ProductionProgress)

    def _action(self, key: Key, action: str) -> Production:
        return decode(self._call("POST", self._path(key, action), idempotent=False), Production)

    def start(self, key: Key, identity: Identity | None = None) -> Production:
        """Create a transformation per step the first time, and start them all."""
        return self._action(key, "start")

    def stop(self, key: Key, identity: Identity | None = None) -> Production:
        """Stop every transformation."""
        return self._action(key, "stop")

    def flush(self, key: Key, identity: Identity | None = None) -> Production:
        """Flush every transformation."""
        return self._action(key, "flush")

    def complete(self, key: Key, identity: Identity | None = None) -> Production:
        """Complete every transformation."""
        return self._action(key, "complete")

    def clean(self, key: Key, identity: Identity | None = None) -> Production:
        """Clean every transformation."""
        return self._action(key, "clean")
