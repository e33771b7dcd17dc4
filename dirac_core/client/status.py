"""The resource status system through a server (``/api/status``), with the embedded engine's
method names and return types.

:class:`RemoteStatus` stands for :class:`~dirac_core.rss.ResourceStatusSystem` (``iw.status``)
where the routes reach: reading (:meth:`~RemoteStatus.statuses`, :meth:`~RemoteStatus.status_of`,
:meth:`~RemoteStatus.history`, ``elements.get``) and manual statuses
(:meth:`~RemoteStatus.set_status`, :meth:`~RemoteStatus.release`). Evaluation, expiry and test
transfers run in the server. The differences from the engine:

- the bearer token decides who acts: ``owner`` (of ``set_status``) and ``by`` (of ``release``)
  are accepted, so that code runs unchanged on both, and ignored; the server makes the token's
  user the owner, and refuses a change without ``status.change`` (``PermissionDenied``);
- :meth:`~RemoteStatus.status_of` reads the table at each call (the engine reads its cached view);
- a refused argument (a status type the element does not have, a naive or past ``until``, a name
  several element types share) is :class:`BadStatusRequest`, a ``DiracError`` that is also the
  ``ValueError`` the engine raises, with the server's ``parameter`` and ``status`` fields; an
  unknown element is ``NotFound`` as on the engine;
- an element called ``history`` cannot be shown (``GET /api/status/history`` is the history).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from dirac_core.client.errors import error_for
from dirac_core.client.transport import Transport
from dirac_core.dms.catalog_wire import error
from dirac_core.errors import DiracError
from dirac_core.model.clock import ensure_utc
from dirac_core.model.resource_status import ALL, Element, ElementKey, ElementType, ResourceStatus, StatusType
from dirac_core.rss.records import HistoryEntry, StatusRecord
from dirac_core.rss.wire import element_from_json, entry_from_json, key_from_json, record_from_json

__all__ = ["BadStatusRequest", "RemoteElements", "RemoteStatus"]

PREFIX = "/api/status"


class BadStatusRequest(DiracError, ValueError):
    """The server refused an argument (400, 422): ``parameter`` names it when the server did."""


def _error(response: httpx.Response) -> DiracError:
    """The exception of an error answer: the route's typed ``error`` (a refused argument as
    :class:`BadStatusRequest`), else by status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    typed = body.get("error") if isinstance(body, dict) else None
    exc = (error(typed) if isinstance(typed, dict) and "type" in typed
           else error_for(response, BadStatusRequest))
    if response.status_code in (400, 422) and not isinstance(exc, BadStatusRequest):
        exc = BadStatusRequest(exc.message, **exc.fields)
    if isinstance(exc, BadStatusRequest) and "parameter" not in exc.fields and exc.fields.get("field"):
        # FastAPI's 422 names ``body.seconds`` or ``query.limit``: the parameter is the last part
        parameter = str(exc.fields["field"]).rsplit(".", 1)[-1]
        exc.fields["parameter"] = parameter
        exc.parameter = parameter  # type: ignore[attr-defined]
    if "status" not in exc.fields:  # as every client error does: the HTTP code
        exc.fields["status"] = response.status_code
        exc.status = response.status_code  # type: ignore[attr-defined]
    return exc


def _kind(value: ElementType | str | None) -> str | None:
    return None if value is None else ElementType(value).value


def _type(value: StatusType | str | None) -> str | None:
    return None if value is None else StatusType(value).value


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _Remote:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> Any:
        response = self.transport.request(method, path, idempotent=idempotent, accept=range(400, 600),
                                          **kwargs)
        if not response.is_success:
            raise _error(response)
        return response.json()

    def _show(self, name: str, element_type: ElementType | str | None, limit: int) -> Any:
        return self._call("GET", f"{PREFIX}/{quote(name, safe='')}", idempotent=True,
                          params=_params(element_type=_kind(element_type), limit=limit))


class RemoteElements(_Remote):
    """The server's element catalogue, as the engine's ``elements`` where it is read by name."""

    def get(self, name: str, element_type: ElementType | str | None = None) -> Element:
        """The element called ``name`` (of ``element_type`` when given); ``NotFound`` for an
        unknown name, :class:`BadStatusRequest` for one several element types share."""
        return element_from_json(self._show(name, element_type, 0)["element"])


class RemoteStatus(_Remote):
    """Resource statuses on a server (see the module docstring)."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(transport)
        #: the elements of the server's configuration (``get`` by name)
        self.elements = RemoteElements(transport)

    # -- reading --------------------------------------------------------------------------

    def statuses(self, *, element_type: ElementType | str | None = None, name: str | None = None
                 ) -> list[StatusRecord]:
        """The stored statuses (of one type / element when given), in key order."""
        data = self._call("GET", PREFIX, idempotent=True,
                          params=_params(element_type=_kind(element_type), name=name))
        return [record_from_json(item) for item in data]

    def status_of(self, name: str, status_type: StatusType | str = StatusType.ALL, *,
                  element_type: ElementType | str | None = None, vo: str = ALL) -> ResourceStatus | None:
        """The element's status for ``status_type`` and ``vo`` (its own row, else the row for every
        VO); None when it has none. ``NotFound`` for an element the configuration does not have."""
        wanted = StatusType(status_type)
        found = {(r.key.status_type, r.key.vo): r.status
                 for r in map(record_from_json, self._show(name, element_type, 0)["statuses"])}
        if vo != ALL and (wanted, vo) in found:
            return found[wanted, vo]
        return found.get((wanted, ALL))

    def history(self, name: str | None = None, *, element_type: ElementType | str | None = None,
                limit: int = 100) -> list[HistoryEntry]:
        """The latest ``limit`` status changes (of the element ``name`` when given), oldest first
        (at most 10,000: the server's limit)."""
        data = self._call("GET", f"{PREFIX}/history", idempotent=True,
                          params=_params(name=name, element_type=_kind(element_type), limit=limit))
        return [entry_from_json(item) for item in data]

    # -- manual statuses ------------------------------------------------------------------

    def set_status(self, name: str, status: ResourceStatus | str, *, reason: str, owner: str | None = None,
                   status_type: StatusType | str | None = None, until: datetime | timedelta | None = None,
                   element_type: ElementType | str | None = None, vo: str = ALL) -> list[StatusRecord]:
        """Set an element's status by hand, owned by the token's user (``owner`` is ignored);
        the records set. ``until`` is a time (with its zone) or a duration from the server's now;
        default the server's ``token_lifetime``. ``NotFound``, ``PermissionDenied``,
        :class:`BadStatusRequest` (a ``ValueError``) for a refused argument."""
        body: dict[str, Any] = _params(status=ResourceStatus(status).value, reason=reason, vo=vo,
                                       status_type=_type(status_type), element_type=_kind(element_type))
        if isinstance(until, timedelta):
            body["seconds"] = until.total_seconds()
        elif until is not None:
            body["until"] = ensure_utc(until, name="until").isoformat()
        # not repeated after a lost answer: each change writes a history row
        data = self._call("POST", f"{PREFIX}/{quote(name, safe='')}", idempotent=False, json=body)
        return [record_from_json(item) for item in data]

    def release(self, name: str, *, status_type: StatusType | str | None = None,
                element_type: ElementType | str | None = None, vo: str = ALL,
                by: str = "") -> list[ElementKey]:
        """Hand a manual status back to the policies now (``by`` is the token's user); the keys
        released (none the second time)."""
        data = self._call("DELETE", f"{PREFIX}/{quote(name, safe='')}", idempotent=True,
                          params=_params(status_type=_type(status_type), element_type=_kind(element_type),
                                         vo=vo))
        return [key_from_json(item) for item in data]
