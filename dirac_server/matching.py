"""Concurrent pilots' match requests claimed together: one transaction for a batch.

A commit is the dearest part of a claim on a database server, so the first
request to arrive becomes the leader: it takes every request waiting
(up to ``limit``) and claims for all of them with ``match_many``, then
serves whatever arrived meanwhile, and hands over when none is left. The
others wait for their answer. A batch that fails (one pilot's description
refused, say) is retried one request at a time, so one bad request only
fails itself.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import attrs

from dirac_core.model.identity import Identity
from dirac_core.wms.engine import WorkloadManager
from dirac_core.wms.matcher import MatchedJob
from dirac_core.wms.resource import ResourceDescription

__all__ = ["MatchBatcher"]


@attrs.define
class _Request:
    resource: ResourceDescription
    identity: Identity
    done: threading.Event = attrs.Factory(threading.Event)
    result: MatchedJob | None = None
    error: BaseException | None = None


class MatchBatcher:
    """Group commits for :meth:`WorkloadManager.match`; thread-safe."""

    def __init__(self, wms: WorkloadManager, *, limit: int = 16) -> None:
        self._wms = wms
        self._limit = limit
        self._lock = threading.Lock()
        self._pending: list[_Request] = []
        self._leading = False
        #: batches claimed and requests served, for the curious
        self.batches = 0
        self.served = 0

    def match(self, resource: ResourceDescription, identity: Identity) -> MatchedJob | None:
        """A job for this pilot, or None; errors as :meth:`WorkloadManager.match`."""
        request = _Request(resource, identity)
        with self._lock:
            self._pending.append(request)
            lead = not self._leading
            self._leading = True
        if lead:
            self._lead()
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _lead(self) -> None:
        while True:
            with self._lock:
                batch = self._pending[:self._limit]
                del self._pending[:self._limit]
                if not batch:
                    self._leading = False
                    return
            try:
                self._serve(batch)
            except BaseException as exc:
                for request in batch:
                    if request.result is None and request.error is None:
                        request.error = exc
            finally:
                for request in batch:
                    request.done.set()

    def _serve(self, batch: list[_Request]) -> None:
        by_identity: dict[Identity, list[_Request]] = defaultdict(list)
        for request in batch:
            by_identity[request.identity].append(request)
        for identity, requests in by_identity.items():
            self.batches += 1
            self.served += len(requests)
            try:
                found = self._wms.match_many([r.resource for r in requests], identity)
            except Exception:
                if len(requests) == 1:
                    self._one(requests[0])
                    continue
                for request in requests:
                    self._one(request)
                continue
            for request, job in zip(requests, found, strict=True):
                request.result = job

    def _one(self, request: _Request) -> None:
        try:
            request.result = self._wms.match(request.resource, request.identity)
        except BaseException as exc:
            request.error = exc
