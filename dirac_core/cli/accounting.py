"""``dirac-core accounting ...``: summaries, reports and plots of an embedded interware's accounting.

``summary`` totals every measure of one record type (jobs, pilots or data operations) per key;
``report KIND`` shows a report as a table (a row per time bin, a column per key); ``plot KIND``
writes it as a PNG or SVG picture (``--out``, the format from its suffix). Periods are
``--since``/``--until``: a span back from now (``7d``, ``36h``) or a UTC timestamp, partial or
full (``2026-03``, ``2026-03-15T10:00``). ``--vo`` keeps one VO's records. Tables for people,
``--json`` for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dirac_core.errors import DiracError

if TYPE_CHECKING:
    from dirac_core.accounting import Accounting
    from dirac_core.accounting.reports import Report

__all__ = ["accounting_app"]

accounting_app = typer.Typer(help="Accounting of jobs, pilots and data operations: summaries, reports, "
                                  "plots (embedded).", no_args_is_help=True)

Local = Annotated[Path, typer.Option(help="Embedded interware directory.")]
Since = Annotated[str | None, typer.Option(help="Start: 7d, 36h, 2026-03, 2026-03-15T10:00 (default: "
                                                "a week before --until).")]
Until = Annotated[str | None, typer.Option(help="End: a span back from now or a UTC timestamp (default: "
                                                "now).")]
Vo = Annotated[str | None, typer.Option(help="Only this VO's records.")]
GroupBy = Annotated[str | None, typer.Option(help="Group by this key instead of the kind's (site, owner, "
                                                  "group, status, ce, pair, ...).")]
Bin = Annotated[str, typer.Option("--bin", help="Time bin: hour, day, week, month or auto.")]
Filters = Annotated[list[str] | None, typer.Option("--filter", help="KEY=VALUE: only records whose key has "
                                                                    "this value; repeatable.")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output, for scripts.")]


def _fail(exc: DiracError | typer.BadParameter) -> typer.Exit:
    Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
    return typer.Exit(1)


@contextmanager
def _accounting(local: Path) -> Iterator[Accounting]:
    from dirac_core.interware import Interware

    if not local.exists():
        raise _fail(typer.BadParameter(f"no embedded interware at {local}"))
    try:
        with Interware.embedded(local) as iw:
            yield iw.accounting
    except DiracError as exc:
        raise _fail(exc) from None


def _filters(items: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(typer.BadParameter(f"--filter takes KEY=VALUE, got {item!r}"))
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def _options(accounting: Accounting, since: str | None, until: str | None, vo: str | None,
             filters: list[str] | None) -> dict[str, Any]:
    from dirac_core.accounting.periods import parse_period

    start, end = parse_period(since, until, accounting.clock.now())
    return {"since": start, "until": end, "vo": vo, "filters": _filters(filters)}


def _print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    table = Table(*header, title=title)
    for row in rows:
        table.add_row(*(f"{v:,.6g}" if isinstance(v, float) else str(v) for v in row))
    Console().print(table)


@accounting_app.command("summary")
def summary(*, local: Local, record: Annotated[str, typer.Option("--type", help="Records: job, pilot "
                                                                                "or data.")] = "job",
            group_by: Annotated[str | None, typer.Option(help="The key (default: site; for data: pair).")]
            = None, since: Since = None, until: Until = None, vo: Vo = None, filters: Filters = None,
            as_json: AsJson = False) -> None:
    """Every measure of one record type (job, pilot or data), totalled per key over the period."""
    with _accounting(local) as accounting:
        options = _options(accounting, since, until, vo, filters)
        found = accounting.summary(record, group_by=group_by, **options)
    if as_json:
        typer.echo(json.dumps(found))
        return
    header = [found["group_by"], *(f"{m['label']} ({m['unit']})" for m in found["measures"])]
    _print_table(f"{found['record']} records, {found['since'][:16]} to {found['until'][:16]} UTC", header,
                 found["rows"])


def _report(local: Path, kind: str, *, since: str | None, until: str | None, vo: str | None,
            filters: list[str] | None, group_by: str | None, width: str) -> Report:
    with _accounting(local) as accounting:
        options = _options(accounting, since, until, vo, filters)
        return accounting.report(kind, group_by=group_by, width=width, **options)


@accounting_app.command("report")
def report(kind: Annotated[str, typer.Argument(help="jobs-by-site, cpu-by-group, final-statuses, "
                                                    "transfer-throughput, pilots-by-site, "
                                                    "data-by-operation.")],
           *, local: Local, since: Since = None, until: Until = None, vo: Vo = None, group_by: GroupBy = None,
           width: Bin = "auto", filters: Filters = None, as_json: AsJson = False) -> None:
    """A report as a table: a row per time bin and a column per key (a pie: a row per key)."""
    found = _report(local, kind, since=since, until=until, vo=vo, filters=filters, group_by=group_by,
                    width=width)
    if as_json:
        typer.echo(json.dumps(found.to_json()))
        return
    header, rows = found.table()
    _print_table(f"{found.title} ({found.data.unit}), {found.data.since:%Y-%m-%d %H:%M} to "
                 f"{found.data.until:%Y-%m-%d %H:%M} UTC", header, rows)


@accounting_app.command("plot")
def plot(kind: Annotated[str, typer.Argument(help="A report kind (see `report --help`).")], *, local: Local,
         out: Annotated[Path, typer.Option(help="The picture to write: .png or .svg.")],
         since: Since = None, until: Until = None, vo: Vo = None, group_by: GroupBy = None,
         width: Bin = "auto", filters: Filters = None) -> None:
    """Draw a report as a PNG or SVG picture (stacked bars, lines or a pie)."""
    from dirac_core.accounting.plots import FORMATS, render

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise _fail(typer.BadParameter(f"--out must end in .png or .svg, got {out.name!r}"))
    found = _report(local, kind, since=since, until=until, vo=vo, filters=filters, group_by=group_by,
                    width=width)
    try:
        picture = render(found, fmt)
    except DiracError as exc:
        raise _fail(exc) from None
    out.write_bytes(picture)
    Console().print(f"{found.title}: {len(found.data.keys)} series, {out} ({len(picture):,} bytes)",
                    markup=False, highlight=False)
