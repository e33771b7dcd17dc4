"""``/api/requests``: the request store (the to-do list and failover) over HTTP. Our own routes:
DiracX has no request management yet.

- ``POST /api/requests``: store requests (a JSON list, at most :data:`MAX_REQUESTS`); each is
  owned by the identity the call acts as: the caller, or, for a pilot naming one of its jobs in
  ``X-Dirac-Job``, that job's owner, with the job id set. Whatever owner or job a body claims is
  replaced. The answer is a bulk result by position: the new id, or why the request was refused.
- ``GET /api/requests/{id}``: a request, whole; ``GET /api/requests?job_id=N``: the ids of a job's
  requests; ``GET /api/requests?status=Waiting&page=1&per_page=100``: a page of the caller's
  requests (summaries, newest first).
- ``POST /api/requests/cancel``: cancel requests (a bulk result by id).

Owners see and cancel their requests; ``ServiceAdministrator`` and ``JobAdministrator`` see
and cancel every request of their VO (``request.*`` of :mod:`dirac_core.authorization`). Anyone
else's request is answered as missing (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request

from dirac_core.authorization import Action, allowed, request_search_scope, require
from dirac_core.dms.catalog_wire import bulk_json
from dirac_core.errors import BulkResult, DiracError, NotFound
from dirac_core.model.identity import Identity
from dirac_core.model.request import RequestStatus
from dirac_core.rms.request import Request as RmsRequest
from dirac_core.rms.wire import request_from_json, request_to_json, summary_to_json
from dirac_server.deps import Acting, Caller, Iw, acting_job
from dirac_server.errors import BadRequest
from dirac_server.limits import MAX_ID, MAX_PAGE

router = APIRouter(prefix="/api/requests", tags=["requests"])

#: requests per call
MAX_REQUESTS = 1000


def _visible(identity: Identity, request: RmsRequest, action: Action = Action.REQUEST_READ) -> bool:
    return allowed(identity, action, request).allowed


@router.post("")
def submit_requests(iw: Iw, http: Request, caller: Caller, identity: Acting,
                    body: Annotated[list[Any], Body()]) -> dict[str, Any]:
    """Store requests as the acting identity; a bulk result by position."""
    require(identity, Action.REQUEST_SUBMIT)
    if len(body) > MAX_REQUESTS:
        raise BadRequest(f"at most {MAX_REQUESTS} requests per call, got {len(body)}")
    job_id = acting_job(http, caller)
    result: BulkResult[int, int] = BulkResult()
    good: list[tuple[int, RmsRequest]] = []
    for index, item in enumerate(body):
        try:
            request = request_from_json(item)
        except DiracError as exc:
            result.add_failed(index, exc)
            continue
        request.owner, request.owner_group, request.vo = identity.user, identity.group, identity.vo
        if job_id is not None:
            request.job_id = job_id
        elif request.job_id is not None and not _owns_job(iw, identity, request.job_id):
            result.add_failed(index, NotFound(f"job {request.job_id} not found", job=request.job_id))
            continue
        good.append((index, request))
    stored = iw.requests.submit([r for _, r in good])
    for position, (index, _) in enumerate(good):
        if position in stored.ok:
            result.add_ok(index, stored.ok[position])
        else:
            result.add_failed(index, stored.failed[position])
    return bulk_json(result, lambda request_id: request_id)


def _owns_job(iw: Any, identity: Identity, job_id: int) -> bool:
    job = iw.wms.get_jobs([job_id]).get(job_id)
    return job is not None and allowed(identity, Action.REQUEST_SUBMIT, job).allowed


@router.get("")
def list_requests(iw: Iw, identity: Acting, *, job_id: Annotated[int | None, Query(ge=1, lt=2**63)] = None,
                  status: Annotated[list[RequestStatus] | None, Query()] = None,
                  page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
                  per_page: Annotated[int, Query(ge=1, le=MAX_REQUESTS)] = 100) -> list[Any]:
    """With ``job_id``: the ids of that job's requests the caller may see, oldest first.
    Without: one page of the caller's requests (a VO administrator's: the VO's), newest first,
    as summaries, optionally only those in the given ``status`` values."""
    if job_id is not None:
        ids = iw.requests.for_jobs([job_id]).get(job_id, [])
        found = iw.requests.get(ids).ok
        return [i for i in ids if i in found and _visible(identity, found[i])]
    owner, vo = request_search_scope(identity)
    return [summary_to_json(s) for s in iw.requests.search(owner=owner, vo=vo, statuses=status or (),
                                                            page=page, per_page=per_page)]


@router.get("/{request_id}")
def get_request(iw: Iw, identity: Acting, request_id: Annotated[int, Path(ge=1, le=MAX_ID)]
                ) -> dict[str, Any]:
    """One request, whole."""
    request = iw.requests.get([request_id]).ok.get(request_id)
    if request is None or not _visible(identity, request):
        raise NotFound(f"request {request_id} not found", request=request_id)
    return request_to_json(request)


@router.post("/cancel")
def cancel_requests(iw: Iw, identity: Acting,
                    request_ids: Annotated[list[Annotated[int, Query(ge=1, le=MAX_ID)]],
                                           Body(max_length=MAX_REQUESTS)],
                    ) -> dict[str, Any]:
    """Cancel requests the caller may see; a bulk result by id."""
    found = iw.requests.get(request_ids)
    result: BulkResult[int, None] = BulkResult()
    permitted = []
    for request_id in dict.fromkeys(request_ids):
        request = found.ok.get(request_id)
        if request is None or not _visible(identity, request, Action.REQUEST_CANCEL):
            result.add_failed(request_id, NotFound(f"request {request_id} not found", request=request_id))
        else:
            permitted.append(request_id)
    canceled = iw.requests.cancel(permitted)
    for request_id in permitted:
        if request_id in canceled.ok:
            result.add_ok(request_id, None)
        else:
            result.add_failed(request_id, canceled.failed[request_id])
    return bulk_json(result, lambda _: None)
