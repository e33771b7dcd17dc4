"""The request store through a server: what :class:`~dirac_core.rms.store.RequestStore` offers
to its owners (``/api/requests``).

``job_id`` makes every call act for that job (``X-Dirac-Job``): a pilot stores the failover
requests of the job it runs, owned by the job's owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dirac_core.client.transport import Transport
from dirac_core.dms.catalog_wire import bulk
from dirac_core.errors import BulkResult, InvalidRequest
from dirac_core.rms.request import Request
from dirac_core.rms.store import RequestSummary
from dirac_core.rms.wire import request_from_json, request_to_json, summary_from_json

__all__ = ["RemoteRequests"]


class RemoteRequests:
    """Requests on a server; ``job_id``: act for that job of the calling pilot."""

    def __init__(self, transport: Transport, *, job_id: int | None = None) -> None:
        self._transport = transport
        self.job_id = job_id

    def for_job(self, job_id: int) -> RemoteRequests:
        """The same, acting for ``job_id`` (a pilot's job)."""
        return RemoteRequests(self._transport, job_id=job_id)

    def _headers(self) -> dict[str, str]:
        return {"X-Dirac-Job": str(self.job_id)} if self.job_id is not None else {}

    def submit(self, requests: Sequence[Request]) -> BulkResult[int, int]:
        """Store ``requests``; their ids by position, or why each was refused."""
        body = [request_to_json(r) for r in requests]
        answer = self._transport.request("POST", "/api/requests", idempotent=False, json=body,
                                         headers=self._headers(), bad_request=InvalidRequest)
        result = bulk(answer.json(), int)
        return BulkResult(ok={int(k): v for k, v in result.ok.items()},
                          failed={int(k): e for k, e in result.failed.items()})

    def get(self, request_id: int) -> Request:
        """One request, whole (``NotFound`` if absent or not the caller's)."""
        answer = self._transport.request("GET", f"/api/requests/{int(request_id)}", idempotent=True,
                                         headers=self._headers())
        return request_from_json(answer.json())

    def for_jobs(self, job_ids: Iterable[int]) -> dict[int, list[int]]:
        """The requests of each job that has some, oldest first."""
        out: dict[int, list[int]] = {}
        for job_id in sorted(set(job_ids)):
            answer = self._transport.request("GET", "/api/requests", idempotent=True,
                                             params={"job_id": job_id}, headers=self._headers())
            if ids := answer.json():
                out[job_id] = [int(i) for i in ids]
        return out

    def search(self, *, statuses: Iterable[str] = (), page: int = 1, per_page: int = 100
               ) -> list[RequestSummary]:
        """One page of the caller's requests (a VO administrator's: the VO's), newest first."""
        params: dict[str, Any] = {"page": page, "per_page": per_page}
        if wanted := [str(s) for s in statuses]:
            params["status"] = wanted
        answer = self._transport.request("GET", "/api/requests", idempotent=True, params=params,
                                         headers=self._headers())
        return [summary_from_json(item) for item in answer.json()]

    def cancel(self, request_ids: Iterable[int]) -> BulkResult[int, Any]:
        """Cancel requests; a bulk result by id."""
        answer = self._transport.request("POST", "/api/requests/cancel", idempotent=True,
                                         json=sorted(set(request_ids)), headers=self._headers())
        result = bulk(answer.json(), lambda v: v)
        return BulkResult(ok={int(k): v for k, v in result.ok.items()},
                          failed={int(k): e for k, e in result.failed.items()})
