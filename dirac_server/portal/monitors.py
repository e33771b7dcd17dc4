"""The pilot monitor, the site summary, and the transformation and production monitor.

Each page shows what the viewer may read and nothing more: pilots need
``pilot.read`` (the page says so otherwise), job counts come from a search
restricted like the job monitor's, transformations and productions are those
of the viewer's VO (``transformation.read``, ``production.read``).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from dirac_core.authorization import Action, PilotRef, allowed, filter_allowed, job_search_restrictions
from dirac_core.errors import NotFound
from dirac_core.interware import Interware
from dirac_core.model.pilot import PilotStatus
from dirac_server.limits import MAX_PAGE
from dirac_server.portal.pages import ViewerDep, portal_state, render
from dirac_server.portal.status import resource_status, site_statuses

__all__ = ["router"]

router = APIRouter()

#: pilots per page
PILOTS_PER_PAGE = 50
#: files and tasks shown on a transformation's page
FILES_SHOWN = 100
TASKS_SHOWN = 50


def _iw(request: Request) -> Interware:
    iw: Interware = portal_state(request).interware
    return iw


@router.get("/pilots", response_class=HTMLResponse)
def pilot_monitor(request: Request, who: ViewerDep, *,
                  status: Annotated[list[PilotStatus] | None, Query(max_length=len(PilotStatus))] = None,
                  site: Annotated[str, Query(max_length=128)] = "",
                  page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> HTMLResponse:
    """The pilots of the viewer's VO, newest first (needs ``pilot.read``)."""
    decision = allowed(who.identity, Action.PILOT_READ)
    if not decision:
        return render(request, "pilots.html", {"refused": decision.reason}, who=who, status=403)
    equal: dict[str, list[Any]] = {}
    if status:
        equal["Status"] = [str(s) for s in status]
    if site.strip():
        equal["GridSite"] = [site.strip()]
    rows, total = _iw(request).pilots.search(vo=who.identity.vo, equal=equal, page=page,
                                             per_page=PILOTS_PER_PAGE)
    return render(request, "pilots.html", {
        "refused": "", "rows": rows, "total": total, "page": page, "per_page": PILOTS_PER_PAGE,
        "status": [str(s) for s in status or ()], "site": site.strip(),
        "statuses": [s.value for s in PilotStatus],
        "sites": sorted(s.name for s in _iw(request).config.resources.all_sites())}, who=who)


@router.get("/pilots/{stamp}/log", response_class=HTMLResponse)
def pilot_output(request: Request, who: ViewerDep,
                 stamp: Annotated[str, Path(min_length=1, max_length=64)]) -> HTMLResponse:
    """What a pilot printed (needs ``pilot.read`` on it)."""
    iw = _iw(request)
    row = iw.pilots.get([stamp]).get(stamp)
    if row is None or not allowed(who.identity, Action.PILOT_READ, PilotRef(vo=row["VO"], stamp=stamp)):
        raise NotFound(f"pilot {stamp} not found", pilot=stamp)
    output: tuple[str, str] | tuple[None, None] = (None, None)
    with contextlib.suppress(NotFound):
        output = iw.pilots.output(stamp)
    stdout, stderr = output
    return render(request, "pilot_log.html", {"job_id": None, "stamp": stamp, "stdout": stdout,
                                              "stderr": stderr}, who=who)


@router.get("/sites", response_class=HTMLResponse)
def site_summary(request: Request, who: ViewerDep) -> HTMLResponse:
    """Each configured site: in the mask or not, its CEs, the viewer's jobs per status there,
    active pilots per status (with ``pilot.read``), and its resources' status (when the server
    has a resource status system)."""
    iw = _iw(request)
    extra, owner = job_search_restrictions(who.identity, iw.config.registry)
    jobs: dict[str, Counter[str]] = {}
    for row in iw.wms.summary(["Site", "Status"], extra, owner=owner):
        jobs.setdefault(row["Site"], Counter())[row["Status"]] = row["count"]
    pilots: dict[str, Counter[str]] | None = None
    if allowed(who.identity, Action.PILOT_READ):
        pilots = {}
        for pilot in iw.pilots.active(who.identity.vo):
            pilots.setdefault(pilot["GridSite"], Counter())[str(pilot["Status"])] += 1
    resources = iw.config.resources
    status = resource_status(iw, who.identity)
    own = site_statuses(status)
    sites = [{"name": site.name, "allowed": resources.is_allowed(site.name), "tier": site.tier,
              "status": own.get(site.name),
              "ces": [ce.name for ce in site.ces], "ses": list(site.ses),
              "jobs": sorted(jobs.get(site.name, Counter()).items()),
              "pilots": None if pilots is None else sorted(pilots.get(site.name, Counter()).items())}
             for site in sorted(resources.all_sites(), key=lambda s: s.name)]
    others = sorted((name, sorted(counts.items())) for name, counts in jobs.items()
                    if name not in {s["name"] for s in sites})
    return render(request, "sites.html", {"sites": sites, "others": others, "status": status}, who=who)


def _counts(mapping: dict[Any, int]) -> list[tuple[str, int]]:
    return sorted((str(k), v) for k, v in mapping.items() if v)


@router.get("/transformations", response_class=HTMLResponse)
def transformation_monitor(request: Request, who: ViewerDep) -> HTMLResponse:
    """Transformations and productions of the viewer's VO: files and tasks by status, processed %."""
    iw = _iw(request)
    visible = filter_allowed(who.identity, Action.TRANSFORMATION_READ, iw.transformations.transformations())
    rows = []
    for t in visible:
        stats = iw.transformations.stats(t.transformation_id)
        rows.append({"t": t, "files": _counts(stats.files), "tasks": _counts(stats.tasks),
                     "total": stats.total, "processed": stats.processed_percent})
    productions = []
    for p in filter_allowed(who.identity, Action.PRODUCTION_READ, iw.productions.productions()):
        progress = iw.productions.progress(p.production_id)
        productions.append({"p": p, "files": _counts(progress.files), "tasks": _counts(progress.tasks),
                            "processed": progress.processed_percent,
                            "steps": [(s.step, s.transformation_id) for s in progress.steps]})
    return render(request, "transformations.html", {"rows": rows, "productions": productions}, who=who)


@router.get("/transformations/{transformation_id}", response_class=HTMLResponse)
def transformation_page(request: Request, who: ViewerDep,
                        transformation_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> HTMLResponse:
    """One transformation: its definition, counts, its first files (LFNs) and tasks."""
    iw = _iw(request)
    found = iw.transformations.get(transformation_id)
    if not allowed(who.identity, Action.TRANSFORMATION_READ, found):
        raise NotFound(f"transformation {transformation_id} does not exist")
    stats = iw.transformations.stats(transformation_id)
    return render(request, "transformation.html", {
        "t": found, "files": iw.transformations.files(transformation_id, limit=FILES_SHOWN),
        "tasks": iw.transformations.tasks(transformation_id, limit=TASKS_SHOWN),
        "file_counts": _counts(stats.files), "task_counts": _counts(stats.tasks), "total": stats.total,
        "processed": stats.processed_percent, "files_shown": FILES_SHOWN, "tasks_shown": TASKS_SHOWN,
        "jobs_of_tasks": found.type in iw.transformations.settings.processing_types},
        who=who)
