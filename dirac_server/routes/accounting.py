"""``/api/accounting``: accounting reports of the caller's VO, as JSON or as PNG/SVG pictures.

Every member of a VO sees its VO's accounting (DIRAC's accounting portal shows the whole VO
too), and only its VO's: the VO filter is the caller's, whatever the query says.

- ``GET /api/accounting/kinds``: the report kinds, and the keys and measures of each record type;
- ``GET /api/accounting/report?kind=&group_by=&since=&until=&bin=&filter=KEY=VALUE&format=``:
  one report, ``format`` ``json`` (bins, keys, series, totals), ``png`` or ``svg``;
- ``GET /api/accounting/summary?type=job|pilot|data&group_by=&since=&until=&filter=``: every
  measure of one record type totalled per key.

``since``/``until`` take a span back from now (``7d``, ``36h``) or a UTC timestamp, full or
partial (:mod:`dirac_core.accounting.periods`); the period defaults to the last 7 days.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from dirac_core.accounting import KINDS, SOURCES
from dirac_core.accounting.periods import parse_period
from dirac_core.accounting.plots import FORMATS, render
from dirac_server.deps import Caller, Iw
from dirac_server.errors import BadRequest

router = APIRouter(prefix="/api/accounting", tags=["accounting"])

Since = Annotated[str | None, Query(max_length=64, description="7d, 36h, 2026-03, 2026-03-15T10:00")]
Until = Annotated[str | None, Query(max_length=64, description="a span back from now or a UTC timestamp")]
Filters = Annotated[list[str] | None, Query(alias="filter", max_length=50,
                                            description="KEY=VALUE, repeatable")]


def _filters(items: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadRequest(f"filter takes KEY=VALUE, got {item[:64]!r}")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


@router.get("/kinds")
def kinds(identity: Caller) -> dict[str, Any]:
    """The report kinds, and the keys and measures each record type offers."""
    return {"kinds": [{"name": k.name, "title": k.title, "record": str(k.record), "measure": k.measure,
                       "group_by": k.group_by, "chart": str(k.chart)} for k in KINDS.values()],
            "records": {str(record): {"keys": list(source.keys),
                                      "measures": {name: {"label": m.label, "unit": m.unit}
                                                   for name, m in source.measures.items()}}
                        for record, source in SOURCES.items()}}


@router.get("/report")
def report(iw: Iw, identity: Caller, *, kind: Annotated[str, Query(max_length=64)],
           group_by: Annotated[str | None, Query(max_length=64)] = None, since: Since = None,
           until: Until = None, width: Annotated[str, Query(alias="bin", max_length=16)] = "auto",
           filters: Filters = None,
           fmt: Annotated[str, Query(alias="format", pattern="^(json|png|svg)$")] = "json") -> Response:
    """One report of the caller's VO: JSON, or the picture (``image/png``, ``image/svg+xml``)."""
    start, end = parse_period(since, until, iw.clock.now())
    found = iw.accounting.report(kind, since=start, until=end, group_by=group_by or None,
                                 width=None if width == "none" else width, filters=_filters(filters),
                                 vo=identity.vo)
    if fmt == "json":
        return JSONResponse(found.to_json())
    return Response(render(found, fmt), media_type=FORMATS[fmt],
                    headers={"Cache-Control": "private, max-age=60"})


@router.get("/summary")
def summary(iw: Iw, identity: Caller, *, record: Annotated[str, Query(alias="type", max_length=16)] = "job",
            group_by: Annotated[str | None, Query(max_length=64)] = None, since: Since = None,
            until: Until = None, filters: Filters = None) -> dict[str, Any]:
    """Every measure of one record type of the caller's VO, totalled per key."""
    start, end = parse_period(since, until, iw.clock.now())
    return iw.accounting.summary(record, group_by=group_by or None, since=start, until=end,
                                 filters=_filters(filters), vo=identity.vo)
