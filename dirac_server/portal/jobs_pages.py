"""The job monitor: filters, status counts, keyset pages, a job's page, Kill and Reschedule.

Pages come from :meth:`WorkloadManager.search` with ``after_job_id`` (keyset
pagination on the primary key, newest first): the database never walks the
rows of earlier pages, so the hundredth page costs what the first does. A
search shows exactly what ``job.read`` allows
(:func:`~dirac_core.authorization.job_search_restrictions`), and a job page,
its pilot log, Kill and Reschedule check the job itself
(:func:`dirac_server.routes.jobs.permitted`): a job one may not see is "not found".
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any
from urllib.parse import urlencode

import attrs
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dirac_core.authorization import Action, allowed, job_search_restrictions
from dirac_core.errors import DiracError, NotFound
from dirac_core.interware import Interware
from dirac_core.model.job import JobStatus
from dirac_core.wms.search import SearchPage
from dirac_server.portal.pages import ViewerDep, check_form, portal_state, render
from dirac_server.routes.jobs import MAX_JOB_ID, permitted

__all__ = ["JobFilters", "router"]

router = APIRouter()

#: the columns of the monitor's table
COLUMNS = ("JobID", "JobName", "Status", "MinorStatus", "Site", "Owner", "OwnerGroup", "JobGroup",
           "SubmissionTime", "LastUpdateTime")
#: their headings
HEADINGS = ("Job ID", "Name", "Status", "Minor status", "Site", "Owner", "Group", "Job group", "Submitted",
            "Last update")
PAGE_SIZES = (25, 50, 100, 200)
#: the attributes of a job's page: (label, ``wms_jobs`` column)
ATTRIBUTES = (("Job ID", "job_id"), ("Name", "job_name"), ("Status", "status"),
              ("Minor status", "minor_status"), ("Application status", "application_status"),
              ("Owner", "owner"), ("Owner group", "owner_group"), ("VO", "vo"), ("Job group", "job_group"),
              ("Job type", "job_type"), ("Site", "site"), ("Priority", "user_priority"),
              ("CPU time (s)", "cpu_time"), ("Submitted", "submission_time"),
              ("Last update", "last_update_time"), ("Started", "start_exec_time"),
              ("Ended", "end_exec_time"), ("Last heartbeat", "heartbeat_time"),
              ("Rescheduled", "reschedule_counter"), ("Rescheduled at", "reschedule_time"))
JobId = Annotated[int, Path(ge=1, le=MAX_JOB_ID)]
Text = Annotated[str, Query(max_length=128)]


def _like(text: str) -> str:
    """``%text%`` with LIKE's wildcards in ``text`` escaped (the search escapes with ``\\``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@attrs.frozen
class JobFilters:
    """The monitor's filters, as the search's conditions and as a link's query string."""

    status: tuple[str, ...] = ()
    site: str = ""
    owner: str = ""
    job_group: str = ""
    name: str = ""
    pilot: str = ""

    def search(self, *, with_status: bool = True) -> list[dict[str, Any]]:
        """The search conditions (without the status one for the status counts)."""
        out: list[dict[str, Any]] = []
        if with_status and self.status:
            out.append({"parameter": "Status", "operator": "in", "values": list(self.status)})
        for parameter, value in (("Site", self.site), ("Owner", self.owner), ("JobGroup", self.job_group)):
            if value:
                out.append({"parameter": parameter, "operator": "eq", "value": value})
        if self.name:
            out.append({"parameter": "JobName", "operator": "like", "value": _like(self.name)})
        if self.pilot:
            out.append({"parameter": "PilotStamp", "operator": "eq", "value": self.pilot})
        return out

    def query(self, *, status: tuple[str, ...] | None = None, **extra: Any) -> str:
        """The query string of a link keeping these filters (``status`` replacing the status
        filter, ``extra`` added, None values dropped)."""
        pairs: list[tuple[str, Any]] = [("status", s) for s in (self.status if status is None else status)]
        pairs += [(k, v) for k, v in (("site", self.site), ("owner", self.owner),
                                      ("job_group", self.job_group), ("name", self.name),
                                      ("pilot", self.pilot)) if v]
        pairs += [(k, v) for k, v in extra.items() if v is not None]
        return urlencode(pairs)


@attrs.frozen
class Page:
    """One page of the monitor, newest first, and where it lies in the whole result."""

    rows: list[dict[str, Any]]
    total: int
    start: int
    newer: bool
    older: bool


def _page(iw: Interware, conditions: list[dict[str, Any]], owner: str | None, *, after: int | None,
          before: int | None, per_page: int) -> Page:
    if before is not None:  # the page just newer than ``before``: ascending from it, shown reversed
        found: SearchPage = iw.wms.search(COLUMNS, conditions, sort=[{"parameter": "JobID"}],
                                          per_page=per_page, owner=owner, after_job_id=before)
        return Page(list(reversed(found.rows)), found.total, max(found.total - found.last - 1, 0),
                    newer=found.last + 1 < found.total, older=found.first > 0)
    found = iw.wms.search(COLUMNS, conditions, sort=[{"parameter": "JobID", "direction": "desc"}],
                          per_page=per_page, owner=owner, after_job_id=after)
    return Page(found.rows, found.total, found.first, newer=found.first > 0,
                older=found.last + 1 < found.total)


@attrs.frozen
class Scope:
    """What a monitor request searches: the viewer's filters, and the restrictions of ``job.read``
    (the VO, maybe the group; ``owner`` the one owner a plain user is limited to)."""

    filters: JobFilters
    restrictions: list[dict[str, Any]]
    owner: str | None


def job_scope(request: Request, who: ViewerDep, *,
              status: Annotated[list[JobStatus] | None, Query(max_length=len(JobStatus))] = None,
              site: Text = "", owner: Text = "", job_group: Text = "", name: Text = "",
              pilot: Annotated[str, Query(max_length=64)] = "") -> Scope:
    """The monitor's filters from the query string (the owner filter only for who sees others' jobs)."""
    iw: Interware = portal_state(request).interware
    restrictions, only_owner = job_search_restrictions(who.identity, iw.config.registry)
    filters = JobFilters(tuple(sorted({str(s) for s in status or ()})), site.strip(),
                         owner.strip() if only_owner is None else "", job_group.strip(), name.strip(),
                         pilot.strip())
    return Scope(filters, restrictions, only_owner)


ScopeDep = Annotated[Scope, Depends(job_scope)]
PerPage = Annotated[int, Query(ge=1, le=max(PAGE_SIZES))]


def status_counts(iw: Interware, scope: Scope, base: str, per_page: int) -> list[dict[str, Any]]:
    """``All`` and each status with its count under the other filters, and the link showing them."""
    filters = scope.filters
    rows = iw.wms.summary(["Status"], [*filters.search(with_status=False), *scope.restrictions],
                          owner=scope.owner)
    every = {"status": "All", "count": sum(r["count"] for r in rows), "active": not filters.status,
             "href": f"{base}/jobs?{filters.query(status=(), per_page=per_page)}"}
    return [every, *({"status": r["Status"], "count": r["count"], "active": r["Status"] in filters.status,
                      "href": f"{base}/jobs?{filters.query(status=(r['Status'],), per_page=per_page)}"}
                     for r in rows)]


@router.get("/jobs", response_class=HTMLResponse)
def job_monitor(request: Request, who: ViewerDep, scope: ScopeDep, *,
                after: Annotated[int | None, Query(ge=0, le=MAX_JOB_ID)] = None,
                before: Annotated[int | None, Query(ge=0, le=MAX_JOB_ID)] = None,
                per_page: PerPage = 50, counts: bool = False) -> HTMLResponse:
    """Jobs matching the filters, newest first, a page at a time.

    The counts per status scan every matching job: the page asks for them afterwards
    (``/jobs/counts``, by the page's script) so that the first page costs one keyset search;
    ``counts=true`` puts them in the page itself (a browser without JavaScript follows that link).
    """
    iw: Interware = portal_state(request).interware
    page = _page(iw, [*scope.filters.search(), *scope.restrictions], scope.owner, after=after,
                 before=before, per_page=per_page)
    sites = sorted(s.name for s in iw.config.resources.all_sites())
    return render(request, "jobs.html", {
        "filters": scope.filters, "page": page, "per_page": per_page,
        "counts": status_counts(iw, scope, who.base, per_page) if counts else None,
        "statuses": [s.value for s in JobStatus], "sites": sites, "page_sizes": PAGE_SIZES,
        "owner_filter": scope.owner is None, "headings": HEADINGS}, who=who)


@router.get("/jobs/counts")
def job_counts(request: Request, who: ViewerDep, scope: ScopeDep, per_page: PerPage = 50
               ) -> list[dict[str, Any]]:
    """The job monitor's counts per status (JSON), for the page's script."""
    return status_counts(portal_state(request).interware, scope, who.base, per_page)


def _readable(iw: Interware, who: ViewerDep, job_id: int, action: Action = Action.JOB_READ
              ) -> dict[str, Any]:
    """The job's row when ``who`` may do ``action`` to it; NotFound / PermissionDenied otherwise."""
    ok, refused = permitted(iw, who.identity, [job_id], action)
    if not ok:
        raise refused[job_id]
    return iw.wms.get_jobs([job_id])[job_id]


def _job_page(request: Request, who: ViewerDep, job_id: int, *, done: str = "", error: str = "",
              status: int = 200) -> HTMLResponse:
    iw: Interware = portal_state(request).interware
    row = _readable(iw, who, job_id)
    manage = allowed(who.identity, Action.JOB_MANAGE, row, registry=iw.config.registry).allowed
    try:
        jdl = iw.wms.get_jdl(job_id)
    except NotFound:
        jdl = ""
    return render(request, "job.html", {
        "job": row, "attributes": ATTRIBUTES, "parameters": sorted(iw.wms.get_parameters(job_id).items()),
        "history": iw.wms.history(job_id), "jdl": jdl, "manage": manage, "done": done, "error": error,
        "final": JobStatus(row["status"]).is_final,
        "pilot": iw.pilots.pilot_of(job_id)}, who=who, status=status)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, who: ViewerDep, job_id: JobId,
             done: Annotated[str, Query(pattern="^(kill|reschedule)?$")] = "") -> HTMLResponse:
    """A job: attributes, parameters, status history, JDL, pilot log link, Kill and Reschedule."""
    return _job_page(request, who, job_id, done=done)


def _act(request: Request, who: ViewerDep, job_id: int, csrf: str, what: str) -> Response:
    check_form(request, who, csrf)
    iw: Interware = portal_state(request).interware
    _readable(iw, who, job_id, Action.JOB_MANAGE)
    result = iw.wms.kill([job_id]) if what == "kill" else iw.wms.reschedule([job_id])
    failure: DiracError | None = result.failed.get(job_id)
    if failure is not None:
        return _job_page(request, who, job_id, error=f"{what} refused: {failure}", status=409)
    return RedirectResponse(f"{who.base}/jobs/{job_id}?done={what}", status_code=303)


@router.post("/jobs/{job_id}/kill")
def kill_job(request: Request, who: ViewerDep, job_id: JobId,
             csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """Kill the job (its pilot is told at its next heartbeat); back to its page."""
    return _act(request, who, job_id, csrf, "kill")


@router.post("/jobs/{job_id}/reschedule")
def reschedule_job(request: Request, who: ViewerDep, job_id: JobId,
                   csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    """Run the job again (within the VO's rescheduling limit); back to its page."""
    return _act(request, who, job_id, csrf, "reschedule")


@router.get("/jobs/{job_id}/pilot-log", response_class=HTMLResponse)
def pilot_log(request: Request, who: ViewerDep, job_id: JobId) -> HTMLResponse:
    """What the pilot that ran the job printed (kept by the site director), as text."""
    iw: Interware = portal_state(request).interware
    _readable(iw, who, job_id)
    stamp = iw.pilots.pilot_of(job_id)
    stdout = stderr = None
    if stamp is not None:
        with contextlib.suppress(NotFound):
            stdout, stderr = iw.pilots.output(stamp)
    return render(request, "pilot_log.html", {"job_id": job_id, "stamp": stamp, "stdout": stdout,
                                              "stderr": stderr}, who=who)
