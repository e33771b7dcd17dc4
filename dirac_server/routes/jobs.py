"""``/api/jobs``: DiracX's job routes, with per-job access control (the ``job.*`` actions of
:mod:`dirac_core.authorization`).

A job the caller may not see is answered exactly like a job that does not
exist (404, or a ``failed`` entry in bulk answers). A refusal on a job the caller may know of
(a pilot's own token updating a job of its VO that it does not hold, a ``JobMonitor`` killing a
job it reads) is a 403 (or a ``failed`` entry saying why).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from dirac_core.authorization import Action, allowed, job_search_restrictions, require
from dirac_core.errors import BulkResult, NotFound, PermissionDenied
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.wms.resource import ResourceDescription
from dirac_core.wms.status_updates import JobState, StatusUpdate
from dirac_server.deps import Caller, Iw, Settings
from dirac_server.errors import BadRequest
from dirac_server.limits import MAX_PAGE

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

#: The largest job id the databases store (a signed 64-bit integer).
MAX_JOB_ID = 2**63 - 1
JobID = Annotated[int, Field(ge=1, le=MAX_JOB_ID)]


class SearchSpec(BaseModel):
    """One search condition (``value`` for scalar operators, ``values`` for in / not in)."""

    parameter: str
    operator: str
    value: Any = None
    values: list[Any] | None = None


class SortSpec(BaseModel):
    """One sort key."""

    parameter: str
    direction: str = "asc"


class SearchParams(BaseModel):
    """DiracX's search body."""

    parameters: list[str] | None = None
    search: list[SearchSpec] = Field(default_factory=list)
    sort: list[SortSpec] = Field(default_factory=list)
    distinct: bool = False


class SummaryParams(BaseModel):
    """DiracX's summary body."""

    grouping: list[str]
    search: list[SearchSpec] = Field(default_factory=list)


class JobIDs(BaseModel):
    """A list of job ids."""

    job_ids: list[JobID] = Field(max_length=10_000)


class StatusUpdateBody(BaseModel):
    """One status update (DiracX's ``JobStatusUpdate``); other keys are refused."""

    model_config = ConfigDict(extra="forbid")

    status: JobStatus | None = Field(default=None, alias="Status")
    minor_status: str | None = Field(default=None, alias="MinorStatus")
    application_status: str | None = Field(default=None, alias="ApplicationStatus")
    source: str = Field(default="Unknown", alias="Source")

    def update(self) -> StatusUpdate:
        """The engine's update."""
        return StatusUpdate(status=self.status, minor_status=self.minor_status,
                            application_status=self.application_status, source=self.source)


def _specs(specs: Iterable[SearchSpec]) -> list[dict[str, Any]]:
    return [s.model_dump(exclude_none=True) for s in specs]


def _not_found(job_id: int) -> NotFound:
    return NotFound(f"job {job_id} not found", job_id=job_id)


def permitted(iw: Iw, identity: Identity, job_ids: Iterable[int], action: Action
              ) -> tuple[list[int], dict[int, NotFound | PermissionDenied]]:
    """The ids ``identity`` may do ``action`` to, and for each other id why not: ``NotFound`` for
    a job that is missing or that the caller may not know of, else ``PermissionDenied``."""
    ids = sorted(set(job_ids))
    rows = iw.wms.get_jobs(ids)
    registry = iw.config.registry
    held = iw.wms.jobs_of_pilot(identity.pilot_stamp) if identity.pilot_stamp else None
    ok: list[int] = []
    refused: dict[int, NotFound | PermissionDenied] = {}
    for job_id in ids:
        row = rows.get(job_id)
        decision = allowed(identity, action, row, registry=registry, held=held) if row else None
        if decision:
            ok.append(job_id)
        elif decision is not None and decision.visible:
            refused[job_id] = PermissionDenied(decision.reason, job_id=job_id, user=identity.user)
        else:
            refused[job_id] = _not_found(job_id)
    return ok, refused


def _refusal_status(failures: dict[int, Any]) -> int:
    """The status of an answer where nothing was done: 403 when every failure is a refusal the
    caller may be told of, else 404 (a job missing, or hidden)."""
    return 403 if failures and all(isinstance(e, PermissionDenied) for e in failures.values()) else 404


def _failed(failures: dict[int, Any]) -> dict[str, dict[str, str]]:
    return {str(j): {"detail": str(exc)} for j, exc in failures.items()}


@router.post("/jdl", status_code=201)
def submit(iw: Iw, identity: Caller, settings: Settings,
           jdls: Annotated[list[str], Body(max_length=10_000)]) -> list[dict[str, Any]]:
    """Submit JDLs (a list; one parametric JDL may expand): 201 and the jobs inserted."""
    require(identity, Action.JOB_SUBMIT)
    if not jdls:
        raise BadRequest("no JDL given")
    if len(jdls) > settings.max_jdls_per_call:
        raise BadRequest(f"at most {settings.max_jdls_per_call} JDLs per call, got {len(jdls)}")
    items: str | list[str] = jdls[0] if len(jdls) == 1 else jdls
    submitted = iw.wms.submit(items, identity)
    return [{"JobID": job.job_id, "Status": str(job.status), "MinorStatus": job.minor_status,
             "TimeStamp": job.timestamp.isoformat()} for job in submitted]


@router.post("/search")
def search(iw: Iw, identity: Caller, body: SearchParams | None = None,
           page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
           per_page: Annotated[int, Query(ge=1, le=10_000)] = 100) -> Response:
    """A page of jobs: 200 (all), 206 with ``Content-Range`` (part), 416 (past the end)."""
    params = body or SearchParams()
    extra, owner = job_search_restrictions(identity, iw.config.registry)
    found = iw.wms.search(params.parameters, [*_specs(params.search), *extra],
                          sort=[s.model_dump() for s in params.sort], page=page,
                          per_page=per_page, distinct=params.distinct, owner=owner)
    if found.past_end:
        return JSONResponse([], status_code=416,
                            headers={"Content-Range": f"jobs */{found.total}"})
    content = jsonable_encoder(found.rows)
    if found.rows and (found.first > 0 or found.last + 1 < found.total):
        return JSONResponse(content, status_code=206, headers={
            "Content-Range": f"jobs {found.first}-{found.last}/{found.total}"})
    return JSONResponse(content)


@router.post("/summary")
def summary(iw: Iw, identity: Caller, body: SummaryParams) -> list[dict[str, Any]]:
    """Job counts grouped by the ``grouping`` columns."""
    extra, owner = job_search_restrictions(identity, iw.config.registry)
    rows = iw.wms.summary(body.grouping, [*_specs(body.search), *extra], owner=owner)
    return jsonable_encoder(rows)  # type: ignore[no-any-return]


def _state(state: JobState) -> dict[str, Any]:
    return {"Status": str(state.status), "MinorStatus": state.minor_status,
            "ApplicationStatus": state.application_status,
            "HeartBeatTime": state.heartbeat_time, "StartExecTime": state.start_exec_time,
            "EndExecTime": state.end_exec_time, "LastUpdateTime": state.last_update_time}


def _timestamp(job_id: str, text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"job {job_id}: {text!r} is not an ISO 8601 timestamp") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise BadRequest(f"job {job_id}: timestamp {text!r} must carry a time zone")
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise BadRequest(f"job {job_id}: timestamp {text!r} is out of range") from None


def _job_id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not 1 <= int(text) <= MAX_JOB_ID:
        raise BadRequest(f"{text!r} is not a job id")
    return int(text)


@router.patch("/status")
def set_status(iw: Iw, identity: Caller,
               body: Annotated[dict[str, dict[str, StatusUpdateBody]], Body()],
               force: bool = False) -> JSONResponse:
    """Status updates keyed by job and timezone-aware time (DiracX's body and answer)."""
    if force:
        require(identity, Action.JOB_FORCE)
    updates = {_job_id(j): {_timestamp(j, t): u.update() for t, u in by_time.items()}
               for j, by_time in body.items()}
    ok, denied = permitted(iw, identity, updates, Action.JOB_UPDATE)
    result = iw.wms.set_status({j: updates[j] for j in ok}, force=force, identity=identity)
    failed: dict[int, Any] = {**denied, **result.failed}
    answer = {"success": {str(j): _state(s) for j, s in result.ok.items()},
              "failed": _failed(failed)}
    return JSONResponse(jsonable_encoder(answer), status_code=200 if result.ok else _refusal_status(failed))


@router.patch("/heartbeat")
def heartbeat(iw: Iw, identity: Caller,
              body: Annotated[dict[str, dict[str, Any]], Body()]) -> list[dict[str, Any]]:
    """Record heartbeats; the answer lists the commands (``Kill``) waiting for the jobs."""
    metrics = {_job_id(j): m for j, m in body.items()}
    ok, _ = permitted(iw, identity, metrics, Action.JOB_UPDATE)
    result = iw.wms.heartbeat({j: metrics[j] for j in ok})
    return [{"job_id": c.job_id, "command": c.command, "arguments": c.arguments}
            for commands in result.ok.values() for c in commands]


@router.patch("/metadata", status_code=204, response_model=None)
def set_metadata(iw: Iw, identity: Caller,
                 body: Annotated[dict[str, dict[str, Any]], Body()]) -> JSONResponse | None:
    """DiracX's route: ``{job_id: {name: value}}`` recorded as job parameters; 204.

    Jobs the caller may not update (or that do not exist) are answered 404 (403 when every
    refused job is one the caller may know of) with the others still recorded.
    """
    wanted = {_job_id(j): values for j, values in body.items()}
    for job_id, values in wanted.items():
        if any(not isinstance(v, str | int | float | bool) for v in values.values()):
            raise BadRequest(f"job {job_id}: parameter values must be strings, numbers or booleans")
    ok, denied = permitted(iw, identity, wanted, Action.JOB_UPDATE)
    for job_id in ok:
        iw.wms.set_parameters(job_id, wanted[job_id])
    if denied:
        return JSONResponse({"success": [str(j) for j in ok], "failed": _failed(dict(denied))},
                            status_code=_refusal_status(dict(denied)))
    return None


@router.get("/{job_id}/parameters")
def parameters(iw: Iw, identity: Caller, job_id: Annotated[int, Path(ge=1, le=MAX_JOB_ID)]
               ) -> dict[str, str]:
    """Our route: the job's free parameters (exit code, stdout tail, node, ...)."""
    _one(iw, identity, job_id)
    return iw.wms.get_parameters(job_id)


def _bulk(result: BulkResult[int, Any], denied: dict[int, NotFound | PermissionDenied]) -> dict[str, Any]:
    return jsonable_encoder({"success": {str(j): v for j, v in result.ok.items()},  # type: ignore[no-any-return]
                             "failed": _failed({**denied, **result.failed})})


@router.post("/reschedule")
def reschedule(iw: Iw, identity: Caller, body: JobIDs, reset_jobs: bool = False) -> dict[str, Any]:
    """Run jobs again (bounded by the VO's ``max_rescheduling``)."""
    ok, denied = permitted(iw, identity, body.job_ids, Action.JOB_MANAGE)
    result = iw.wms.reschedule(ok, reset=reset_jobs)
    out = _bulk(result, denied)
    out["success"] = {j: {"RescheduleCounter": n} for j, n in out["success"].items()}
    return out


@router.post("/kill")
def kill(iw: Iw, identity: Caller, body: JobIDs) -> dict[str, Any]:
    """Kill jobs (their pilots are told through the heartbeat)."""
    ok, denied = permitted(iw, identity, body.job_ids, Action.JOB_MANAGE)
    return _bulk(iw.wms.kill(ok), denied)


@router.post("/delete")
def delete(iw: Iw, identity: Caller, body: JobIDs) -> dict[str, Any]:
    """Delete jobs (killing the active ones first)."""
    ok, denied = permitted(iw, identity, body.job_ids, Action.JOB_MANAGE)
    return _bulk(iw.wms.delete(ok), denied)


def _one(iw: Iw, identity: Identity, job_id: int) -> None:
    if not permitted(iw, identity, [job_id], Action.JOB_READ)[0]:
        raise _not_found(job_id)


@router.get("/{job_id}/history")
def history(iw: Iw, identity: Caller, job_id: Annotated[int, Path(ge=1, le=MAX_JOB_ID)]
            ) -> list[dict[str, Any]]:
    """The job's status history, oldest first (refused transitions included)."""
    _one(iw, identity, job_id)
    return jsonable_encoder(iw.wms.history(job_id))  # type: ignore[no-any-return]


@router.get("/{job_id}/jdl")
def jdl(iw: Iw, identity: Caller, job_id: Annotated[int, Path(ge=1, le=MAX_JOB_ID)]) -> str:
    """The job's stored JDL."""
    _one(iw, identity, job_id)
    return iw.wms.get_jdl(job_id)


@router.get("/{job_id}/pilot-output")
def pilot_output(iw: Iw, identity: Caller, job_id: Annotated[int, Path(ge=1, le=MAX_JOB_ID)]
                 ) -> dict[str, str]:
    """Our route: what the pilot that ran the job printed (kept by the site director)."""
    _one(iw, identity, job_id)
    stamp = iw.pilots.pilot_of(job_id)
    if stamp is None:
        raise NotFound(f"job {job_id} was given to no pilot", job_id=job_id)
    stdout, stderr = iw.pilots.output(stamp)
    return {"PilotStamp": stamp, "StdOut": stdout, "StdErr": stderr}


@router.post("/match", responses={204: {"description": "no job for this pilot"}})
def match(iw: Iw, identity: Caller, request: Request,
          resource: Annotated[dict[str, Any], Body()]) -> Response:
    """Our route: a pilot's resource description in, a job (id, JDL, owner) or 204 out."""
    require(identity, Action.JOB_MATCH)  # pilots (and administrators)
    if identity.pilot_stamp:  # a pilot's own token: the jobs it takes are recorded as its own
        resource = {**{k: v for k, v in resource.items()
                       if k not in ("PilotStamp", "PilotReference", "pilot_stamp")},
                    "PilotStamp": identity.pilot_stamp}
    try:
        described = ResourceDescription.from_mapping(resource)
    except (TypeError, ValueError) as exc:  # a value of the wrong kind (Tag = 5, ...)
        raise BadRequest(f"invalid resource description: {exc}") from None
    job = request.app.state.matcher.match(described, identity)
    if job is None:
        return Response(status_code=204)
    return JSONResponse({"JobID": job.job_id, "JDL": job.jdl, "Owner": job.owner,
                         "OwnerGroup": job.owner_group, "VO": job.vo,
                         "TaskQueue": job.task_queue})
