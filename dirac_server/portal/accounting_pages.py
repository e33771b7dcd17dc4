"""The accounting page: the report kinds drawn by the accounting routes, and a summary table.

A browser cannot put our bearer token on an ``<img>``, so ``/accounting/plot`` answers the
picture for the session's identity by calling the ``/api/accounting/report`` route's own
function (:func:`dirac_server.routes.accounting.report`): the same VO scoping, the same
rendering. Without an accounting system in the interware the page says that accounting is not
available; without matplotlib (the ``accounting`` extra) it shows the tables only.
"""

from __future__ import annotations

import importlib.util
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from dirac_core.accounting import KINDS
from dirac_core.errors import NotFound
from dirac_core.interware import Interware
from dirac_server.portal.pages import ViewerDep, portal_state, render
from dirac_server.routes.accounting import report, summary

__all__ = ["PERIODS", "router"]

router = APIRouter()

#: the periods offered (the accounting routes' ``since``)
PERIODS = ("24h", "7d", "30d", "365d")
Period = Annotated[str, Query(pattern="^(" + "|".join(PERIODS) + ")$")]


def _accounting(iw: Interware) -> Any:
    return getattr(iw, "accounting", None)


@router.get("/accounting", response_class=HTMLResponse)
def accounting_page(request: Request, who: ViewerDep, since: Period = "7d") -> HTMLResponse:
    """Plots of every report kind over the chosen period, and the jobs' summary per site."""
    iw: Interware = portal_state(request).interware
    if _accounting(iw) is None:
        return render(request, "accounting.html", {"available": False}, who=who)
    jobs = summary(iw, who.identity, record="job", group_by=None, since=since, until=None, filters=None)
    return render(request, "accounting.html", {
        "available": True, "kinds": list(KINDS.values()), "since": since, "periods": PERIODS,
        "plots": importlib.util.find_spec("matplotlib") is not None, "summary": jobs}, who=who)


@router.get("/accounting/plot")
def accounting_plot(request: Request, who: ViewerDep, kind: Annotated[str, Query(max_length=64)],
                    since: Period = "7d") -> Response:
    """One report kind of the viewer's VO as a PNG, from the accounting route."""
    iw: Interware = portal_state(request).interware
    if _accounting(iw) is None:
        raise NotFound("this server has no accounting system")
    return report(iw, who.identity, kind=kind, group_by=None, since=since, until=None, width="auto",
                  filters=None, fmt="png")
