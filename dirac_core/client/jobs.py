"""``RemoteInterware.wms``: the job routes with :class:`~dirac_core.wms.engine.WorkloadManager`'s API.

Same method names, arguments and return types, so code written against
``Interware.wms`` runs against a server. The differences:

- the bearer token decides who acts: the ``identity`` arguments are
  accepted and ignored, and the server applies its access rules (a job the
  caller may not see is ``NotFound``, in bulk answers too; one it may know of
  but not act on, such as a job its pilot does not hold, ``PermissionDenied``);
- ``submit`` sends at most ``jdls_per_call`` JDLs per request (the server's
  limit, DiracX's 20): all or nothing per request, not per call. An error
  after the first request carries the jobs already submitted (``submitted``);
- ``heartbeat`` answers every job sent as ``ok`` (the server reports commands,
  not failures): a job the caller may not update just gets no command;
- ids no job can have (below 1, over 64 bits) fail with ``NotFound`` without
  being sent, as the engine reports them;
- ``search(after_job_id=...)`` costs two requests (the page, and a count of
  the jobs before it); ``owner`` becomes an ``Owner eq`` filter.

Not here: what only the engine's own process can do (``match_many``,
``get_jobs``, job parameters, hooks, held jobs), and ``force`` for kill,
delete and reschedule, which the server does not offer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from dirac_core.client import codec
from dirac_core.client.errors import error_for
from dirac_core.client.transport import Transport
from dirac_core.errors import BulkResult, DiracError, JDLError
from dirac_core.jdl import dumps
from dirac_core.jdl.builder import Job
from dirac_core.jdl.description import JobDescription
from dirac_core.model.clock import ensure_utc
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.wms.control import JobCommand
from dirac_core.wms.matcher import MatchedJob
from dirac_core.wms.query import COLUMNS, LOGGING_INFO, InvalidQuery, Sort, SortDirection
from dirac_core.wms.resource import ResourceDescription
from dirac_core.wms.sandbox_archives import pack, unpack
from dirac_core.wms.search import Filter, SearchPage
from dirac_core.wms.status_updates import JobState, StatusUpdate
from dirac_core.wms.store import job_not_found
from dirac_core.wms.submission import JobInput, SubmittedJob

__all__ = ["RemoteWMS"]

V = TypeVar("V")

#: Most job ids in one kill, delete or reschedule request (the server's limit).
IDS_PER_CALL = 10_000
#: The largest job id the databases store (signed 64 bits): others cannot exist, nor be sent.
MAX_JOB_ID = 2**63 - 1


def _split(job_ids: Iterable[int]) -> tuple[list[int], BulkResult[int, Any]]:
    """The ids that may exist, sorted, and a result failing the others (``NotFound``, as locally)."""
    ids = sorted(set(job_ids))
    outside = BulkResult[int, Any](failed={j: job_not_found(j) for j in ids if not 1 <= j <= MAX_JOB_ID})
    return [j for j in ids if j not in outside.failed], outside


def _jdl(item: object, index: int) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, JobDescription | Job | dict):
        return dumps(item)
    raise TypeError(f"job {index}: expected JDL text, a JobDescription or a Job, "
                    f"got {type(item).__name__}")


def _range(header: str | None) -> tuple[int | None, int | None, int]:
    """``jobs 0-99/250`` -> (0, 99, 250); ``jobs */250`` -> (None, None, 250)."""
    spec = (header or "").partition(" ")[2]
    span, _, total = spec.partition("/")
    if not total.isdigit():
        raise DiracError(f"the server sent a malformed Content-Range: {header!r}")
    first, _, last = span.partition("-")
    if first.isdigit() and last.isdigit():
        return int(first), int(last), int(total)
    return None, None, int(total)


class RemoteWMS:
    """Submit, match, update, control and find jobs on a server."""

    def __init__(self, transport: Transport, *, jdls_per_call: int = 20) -> None:
        self.transport = transport
        self.jdls_per_call = jdls_per_call

    # -- submission ---------------------------------------------------------

    def submit(self, jobs_in: JobInput | Sequence[JobInput], identity: Identity | None = None
               ) -> list[SubmittedJob]:
        """Submit one job, a list of jobs, or a parametric JDL (``JDLError`` for a bad one)."""
        items: Sequence[JobInput] = ([jobs_in] if isinstance(jobs_in, str | dict | JobDescription | Job)
                                     or not isinstance(jobs_in, Sequence) else jobs_in)
        texts = [_jdl(item, i) for i, item in enumerate(items)]
        out: list[SubmittedJob] = []
        try:
            for start in range(0, len(texts), self.jdls_per_call):
                answer = self.transport.request("POST", "/api/jobs/jdl", idempotent=False,
                                                bad_request=JDLError,
                                                json=texts[start:start + self.jdls_per_call])
                out.extend(SubmittedJob(job_id=int(job["JobID"]), status=JobStatus(job["Status"]),
                                        minor_status=job["MinorStatus"],
                                        timestamp=datetime.fromisoformat(job["TimeStamp"]))
                           for job in answer.json())
        except DiracError as exc:
            if out:
                exc.fields["submitted"] = out
                setattr(exc, "submitted", out)  # noqa: B010 (not a declared attribute)
                exc.add_note(f"jobs submitted by the earlier requests: {[j.job_id for j in out]}")
            raise
        return out

    # -- matching -----------------------------------------------------------

    def match(self, resource: ResourceDescription | Mapping[str, Any],
              identity: Identity | None = None) -> MatchedJob | None:
        """One job for the pilot described by ``resource`` (DIRAC's keys), or None."""
        body = (codec.resource_mapping(resource) if isinstance(resource, ResourceDescription)
                else codec.jsonable(resource))
        answer = self.transport.request("POST", "/api/jobs/match", idempotent=False, json=body)
        if answer.status_code == 204:
            return None
        job = answer.json()
        return MatchedJob(job_id=int(job["JobID"]), jdl=job["JDL"], owner=job["Owner"],
                          owner_group=job["OwnerGroup"], vo=job["VO"], task_queue=int(job["TaskQueue"]))

    # -- status -------------------------------------------------------------

    def set_status(self, updates: Mapping[int, Mapping[datetime, StatusUpdate | Mapping[str, Any]]],
                   *, force: bool = False, identity: Identity | None = None
                   ) -> BulkResult[int, JobState]:
        """Apply status updates (job -> timezone-aware time -> update); ``force`` needs JobAdministrator.

        A naive timestamp or an unknown status raises ``ValueError`` before anything is sent.
        """
        for job_id, by_time in updates.items():
            for when in by_time:
                try:
                    ensure_utc(when)
                except (ValueError, TypeError):
                    raise ValueError(f"job {job_id}: status timestamp {when!r} must be "
                                     "timezone-aware") from None
        ids, result = _split(updates)
        body = {str(job_id): {when.isoformat(): codec.status_update(update)
                              for when, update in updates[job_id].items()} for job_id in ids}
        if not body:
            return result
        answer = self.transport.request("PATCH", "/api/jobs/status", idempotent=False, accept=(403, 404),
                                        params={"force": "true"} if force else None, json=body)
        found = answer.json()
        if answer.status_code in (403, 404) and not (isinstance(found, dict) and "failed" in found):
            raise error_for(answer)
        sent = codec.bulk(found, codec.state)
        sent.failed.update(result.failed)
        return sent

    def heartbeat(self, metrics: Mapping[int, Mapping[str, Any]]) -> BulkResult[int, list[JobCommand]]:
        """Record heartbeats (metrics per job); return each job's pending commands."""
        ids, outside = _split(metrics)
        result: BulkResult[int, list[JobCommand]] = BulkResult({j: [] for j in ids}, outside.failed)
        if not ids:
            return result
        answer = self.transport.request("PATCH", "/api/jobs/heartbeat", idempotent=False,
                                        json={str(j): codec.jsonable(metrics[j]) for j in ids})
        for command in answer.json():
            job_id = int(command["job_id"])
            result.ok.setdefault(job_id, []).append(
                JobCommand(job_id, command["command"], command.get("arguments") or ""))
        return result

    def set_parameters(self, job_id: int, parameters: Mapping[str, Any]) -> None:
        """Record free parameters of a job the caller may update; raises ``NotFound`` (or
        ``PermissionDenied``: a pilot's own token and a job of its VO it does not hold)."""
        self.transport.request("PATCH", "/api/jobs/metadata", idempotent=True,
                               json={str(_existing(job_id)): codec.jsonable(dict(parameters))})

    def get_parameters(self, job_id: int) -> dict[str, str]:
        """The free parameters of a job; raises ``NotFound``."""
        answer = self.transport.request("GET", f"/api/jobs/{_existing(job_id)}/parameters",
                                        idempotent=True)
        return {str(k): str(v) for k, v in answer.json().items()}

    def pilot_output(self, job_id: int) -> tuple[str, str, str]:
        """``(stamp, stdout, stderr)`` of the pilot that ran the job; ``NotFound`` if none is kept."""
        found = self.transport.request("GET", f"/api/jobs/{_existing(job_id)}/pilot-output",
                                       idempotent=True).json()
        return str(found["PilotStamp"]), str(found["StdOut"]), str(found["StdErr"])

    # -- control ------------------------------------------------------------

    def kill(self, job_ids: Iterable[int]) -> BulkResult[int, JobStatus]:
        """Kill jobs (their pilots get a Kill command); final jobs fail with ``InvalidTransition``."""
        return self._bulk("/api/jobs/kill", job_ids, JobStatus, idempotent=True)

    def delete(self, job_ids: Iterable[int]) -> BulkResult[int, JobStatus]:
        """Delete jobs (killing the active ones first)."""
        return self._bulk("/api/jobs/delete", job_ids, JobStatus, idempotent=True)

    def reschedule(self, job_ids: Iterable[int], *, reset: bool = False) -> BulkResult[int, int]:
        """Run jobs again from Received (the value is the new reschedule counter)."""
        return self._bulk("/api/jobs/reschedule", job_ids, _counter, idempotent=False,
                          params={"reset_jobs": "true"} if reset else None)

    def _bulk(self, path: str, job_ids: Iterable[int], value: Callable[[Any], V], *,
              idempotent: bool, params: Mapping[str, str] | None = None) -> BulkResult[int, V]:
        ids, outside = _split(job_ids)
        result: BulkResult[int, V] = BulkResult(failed=outside.failed)
        for start in range(0, len(ids), IDS_PER_CALL):
            answer = self.transport.request("POST", path, idempotent=idempotent, params=params,
                                            json={"job_ids": ids[start:start + IDS_PER_CALL]})
            part = codec.bulk(answer.json(), value)
            result.ok.update(part.ok)
            result.failed.update(part.failed)
        return result

    # -- search -------------------------------------------------------------

    def search(self, parameters: Sequence[str] | None = None,
               search: Sequence[Filter | Mapping[str, Any]] = (), *,
               sort: Sequence[Sort | Mapping[str, Any]] = (), page: int = 1, per_page: int = 100,
               distinct: bool = False, owner: str | None = None,
               after_job_id: int | None = None) -> SearchPage:
        """One page of jobs, DiracX's search semantics; ``InvalidQuery`` for bad arguments."""
        if isinstance(parameters, str):
            raise InvalidQuery(f"parameters must be a list of names, got {parameters!r}")
        conds = codec.filters(search)
        keys = codec.sorts(sort)
        if owner is not None:
            conds.append({"parameter": "Owner", "operator": "eq", "value": owner})
        if after_job_id is None:
            return self._page(parameters, conds, keys, page=page, per_page=per_page, distinct=distinct)
        selected = set(parameters or COLUMNS) | ({"JobID"} if LOGGING_INFO in (parameters or ()) else set())
        if isinstance(after_job_id, bool) or not isinstance(after_job_id, int) or after_job_id < 0:
            raise InvalidQuery(f"after_job_id must be an integer >= 0, got {after_job_id!r}",
                               parameter="after_job_id", value=after_job_id)
        if len(keys) > 1 or any(s.parameter != "JobID" for s in keys) or \
                ("JobID" not in selected and distinct):
            raise InvalidQuery("after_job_id needs the results sorted by JobID alone (and JobID selected "
                               "with distinct)", parameter="JobID")
        asc = not keys or keys[0].direction is SortDirection.ASC
        after = {"parameter": "JobID", "operator": "gt" if asc else "lt", "value": after_job_id}
        before = {"parameter": "JobID", "operator": "lt" if asc else "gt",
                  "value": after_job_id + 1 if asc else after_job_id - 1}
        rest = self._page(parameters, [*conds, after], keys or [Sort("JobID")], page=page,
                          per_page=per_page, distinct=distinct)
        skipped = self._page(["JobID"], [*conds, before], [], page=1, per_page=1, distinct=False).total
        return SearchPage(rows=rest.rows, total=rest.total + skipped, first=rest.first + skipped,
                          last=rest.last + skipped)

    def _page(self, parameters: Sequence[str] | None, conds: list[dict[str, Any]], keys: list[Sort], *,
              page: int, per_page: int, distinct: bool) -> SearchPage:
        body = {"parameters": list(parameters) if parameters else None, "search": conds,
                "sort": [{"parameter": s.parameter, "direction": s.direction.value} for s in keys],
                "distinct": distinct}
        answer = self.transport.request("POST", "/api/jobs/search", idempotent=True,
                                        bad_request=InvalidQuery, accept=(416,), json=body,
                                        params={"page": page, "per_page": per_page})
        offset = (page - 1) * per_page if isinstance(page, int) and isinstance(per_page, int) else 0
        if answer.status_code == 416:
            total = _range(answer.headers.get("Content-Range"))[2]
            return SearchPage(rows=[], total=total, first=offset, last=offset - 1)
        rows = codec.rows(answer.json())
        if answer.status_code == 206:
            first, last, total = _range(answer.headers.get("Content-Range"))
            if first is None or last is None:
                raise DiracError("the server sent a 206 without a row range")
            return SearchPage(rows=rows, total=total, first=first, last=last)
        return SearchPage(rows=rows, total=offset + len(rows) if rows else 0, first=offset,
                          last=offset + len(rows) - 1)

    def summary(self, grouping: Sequence[str], search: Sequence[Filter | Mapping[str, Any]] = (),
                *, owner: str | None = None) -> list[dict[str, Any]]:
        """Job counts per value of the ``grouping`` columns (``[{..., "count": n}]``)."""
        conds = codec.filters(search)
        if owner is not None:
            conds.append({"parameter": "Owner", "operator": "eq", "value": owner})
        answer = self.transport.request("POST", "/api/jobs/summary", idempotent=True,
                                        bad_request=InvalidQuery,
                                        json={"grouping": grouping, "search": conds})
        return codec.rows(answer.json())

    # -- reading ------------------------------------------------------------

    def get_jdl(self, job_id: int) -> str:
        """The stored JDL of a job; raises ``NotFound``."""
        answer = self.transport.request("GET", f"/api/jobs/{_existing(job_id)}/jdl", idempotent=True)
        return str(answer.json())

    def history(self, job_id: int) -> list[dict[str, Any]]:
        """The status history of a job, oldest first; raises ``NotFound``."""
        answer = self.transport.request("GET", f"/api/jobs/{_existing(job_id)}/history", idempotent=True)
        return codec.history(answer.json())

    # -- sandboxes ------------------------------------------------------------

    def upload_sandbox(self, paths: Iterable[Path | str]) -> str:
        """Pack ``paths`` (each under its base name) into a ``tar.bz2`` sandbox, upload it unless the
        server has it already, and return its PFN (for a JDL's ``InputSandbox``)."""
        with tempfile.TemporaryFile() as archive:
            checksum, size = pack(paths, archive)
            answer = self.transport.request("POST", "/api/jobs/sandbox", idempotent=True, json={
                "checksum_algorithm": "sha256", "checksum": checksum, "size": size, "format": "tar.bz2"})
            found = answer.json()
            if found.get("url"):  # the upload URL takes no bearer token (S3's presigned POST)
                sent = httpx.post(found["url"], data=found.get("fields") or {},
                                  files={"file": ("file", archive)}, timeout=300)
                if not sent.is_success:
                    raise error_for(sent)
        return str(found["pfn"])

    def download_sandbox(self, pfn: str, dest: Path | str) -> list[Path]:
        """Fetch the sandbox ``pfn`` and unpack it into ``dest`` (refusing members that would leave
        it); the files written."""
        answer = self.transport.request("GET", "/api/jobs/sandbox", idempotent=True, params={"pfn": pfn})
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / "sandbox"
            with httpx.stream("GET", answer.json()["url"], timeout=300) as got, archive.open("wb") as out:
                if not got.is_success:
                    got.read()
                    raise error_for(got)
                for chunk in got.iter_bytes():
                    out.write(chunk)
            return unpack(archive, Path(dest))

    def sandboxes_of(self, job_id: int) -> dict[str, list[str]]:
        """The PFNs of a job's sandboxes: ``{"input": [...], "output": [...]}``; raises ``NotFound``."""
        answer = self.transport.request("GET", f"/api/jobs/{_existing(job_id)}/sandbox", idempotent=True)
        found = answer.json()
        return {"input": list(found.get("input") or []), "output": list(found.get("output") or [])}

    def assign_output_sandbox(self, job_id: int, pfn: str) -> None:
        """Give a job (one the caller runs or owns) an uploaded output sandbox."""
        self.transport.request("PATCH", f"/api/jobs/{_existing(job_id)}/sandbox/output",
                               idempotent=True, json=pfn)


def _existing(job_id: int) -> int:
    """``job_id``, or ``NotFound`` for an id no job can have (the server would refuse the URL)."""
    if not 1 <= int(job_id) <= MAX_JOB_ID:
        raise job_not_found(job_id)
    return int(job_id)


def _counter(value: Any) -> int:
    return int(value["RescheduleCounter"] if isinstance(value, Mapping) else value)
