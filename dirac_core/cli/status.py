"""``dirac-core status ...``: the resource status system, embedded or on a server.

``list`` and ``show`` read the statuses (anyone may), ``history`` the changes; ``set`` and
``release`` need ``ServiceAdministrator`` or ``Operator``. Each of these takes exactly one of
``--local PATH``, acting as ``--user`` in ``--group`` (default: ``admin`` in the first of its
groups that may), or ``--url URL`` (or ``DIRACX_URL``), acting as the login of ``dirac-core
login`` (the server's ``/api/status``); the output is the same. ``evaluate`` runs the policies of
an embedded interware now (``--local`` only: a server runs its own evaluation task). Tables for
people, ``--json`` for scripts (the shapes of :mod:`dirac_core.rss.wire`, as the server answers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dirac_core.authorization import Action, allowed, require
from dirac_core.errors import DiracError
from dirac_core.model.resource_status import ElementType, ResourceStatus, StatusType
from dirac_core.rss.records import HistoryEntry, StatusRecord
from dirac_core.rss.wire import entry_json, record_json

__all__ = ["status_app"]

status_app = typer.Typer(help="Resource statuses (sites, CEs, queues, SEs): list, show, set, release, "
                              "history (embedded or remote); evaluate (embedded).", no_args_is_help=True)

Url = Annotated[str | None, typer.Option(envvar="DIRACX_URL",
                                         help="The server's URL (acts as the login of dirac-core login).")]
Local = Annotated[Path | None, typer.Option(help="Embedded interware directory.")]
Kind = Annotated[ElementType | None, typer.Option("--type",
                                                  help="The element type (when a name is ambiguous).")]
User = Annotated[str | None, typer.Option(help="With --local: the registry user to act as (default: admin).")]
Group = Annotated[str | None, typer.Option(help="With --local: the group to act in (default: one that may).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output, for scripts.")]


def _fail(exc: Exception) -> typer.Exit:
    Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
    return typer.Exit(1)


@contextmanager
def _embedded(local: Path) -> Iterator[Any]:
    try:
        from dirac_core.interware import Interware

        with Interware.embedded(local) as iw:
            yield iw
    except (DiracError, ValueError) as exc:
        raise _fail(exc) from None


@contextmanager
def _interware(local: Path | None, url: str | None, user: str | None = None, group: str | None = None
               ) -> Iterator[Any]:
    """The embedded interware or a server's (a :class:`~dirac_core.client.RemoteInterware`); errors
    printed, exit code 1."""
    if (url is None) == (local is None):
        raise typer.BadParameter("give exactly one of --url URL or --local PATH")
    if url is not None and (user is not None or group is not None):
        raise typer.BadParameter("--user and --group are for --local: a server acts as the login")
    if local is not None:
        with _embedded(local) as iw:
            yield iw
        return
    try:
        from dirac_core.cli.session import credentials_path
        from dirac_core.client import RemoteInterware

        with RemoteInterware(url, credentials_path=credentials_path()) as remote:  # type: ignore[arg-type]
            yield remote
    except (DiracError, ValueError) as exc:
        raise _fail(exc) from None


def _owner(iw: Any, local: Path | None, user: str | None, group: str | None) -> str:
    """Who a change is made by: checked here for ``--local``; a server makes its login the owner
    (and checks it)."""
    return _operator(iw, user or "admin", group).user if local is not None else ""


def _operator(iw: Any, user: str, group: str | None) -> Any:
    """``user`` acting in ``group``, or (no group given) in the first of its groups that may change
    statuses; raises ``PermissionDenied`` when it may not."""
    if group is None:
        for candidate in sorted(g.name for g in iw.config.registry.groups_of(user)):
            identity = iw.identity(user, candidate)
            if allowed(identity, Action.STATUS_CHANGE):
                return identity
    identity = iw.identity(user, group)
    require(identity, Action.STATUS_CHANGE)
    return identity


#: the longest --hours (the server's limit: ten years)
_MAX_HOURS = 10 * 366 * 24.0


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _records_table(records: list[StatusRecord]) -> Table:
    table = Table("type", "name", "status type", "VO", "status", "since", "owner", "until", "reason")
    for r in records:
        table.add_row(str(r.key.element_type), r.key.name, str(r.key.status_type), r.key.vo, str(r.status),
                      _when(r.date_effective), r.token_owner, _when(r.token_expiration), r.reason)
    return table


def _history_table(entries: list[HistoryEntry]) -> Table:
    table = Table("when", "type", "name", "status type", "from", "to", "by", "until", "reason")
    for e in entries:
        table.add_row(_when(e.changed), str(e.key.element_type), e.key.name, str(e.key.status_type),
                      str(e.previous or ""), str(e.status), e.owner, _when(e.token_expiration), e.reason)
    return table


@status_app.command("list")
def list_statuses(*, url: Url = None, local: Local = None, element_type: Kind = None,
                  status: Annotated[list[ResourceStatus] | None, typer.Option(
                      help="Only elements in this status; repeatable.")] = None,
                  as_json: AsJson = False) -> None:
    """Every stored status (of one element type when given)."""
    with _interware(local, url) as iw:
        records = [r for r in iw.status.statuses(element_type=element_type)
                   if not status or r.status in status]
    if as_json:
        typer.echo(json.dumps([record_json(r) for r in records]))
        return
    Console().print(_records_table(records))


@status_app.command("show")
def show(name: str, *, url: Url = None, local: Local = None, element_type: Kind = None, limit: int = 10,
         as_json: AsJson = False) -> None:
    """One element's statuses and its latest changes."""
    with _interware(local, url) as iw:
        element = iw.status.elements.get(name, element_type)
        records = iw.status.statuses(element_type=element.element_type, name=element.name)
        entries = iw.status.history(element.name, element_type=element.element_type, limit=limit)
    if as_json:
        typer.echo(json.dumps({"statuses": [record_json(r) for r in records],
                               "history": [entry_json(e) for e in entries]}))
        return
    console = Console()
    console.print(f"{element.element_type} {element.name}" + (f" at {element.site}" if element.site else ""))
    console.print(_records_table(records) if records else "no status yet (the configuration's applies)")
    if entries:
        console.print(_history_table(entries))


@status_app.command("set")
def set_status(name: str, status: ResourceStatus, *, reason: Annotated[str, typer.Option(help="Why.")],
               url: Url = None, local: Local = None, element_type: Kind = None,
               status_type: Annotated[StatusType | None, typer.Option(
                   help="Only this status type (an SE's ReadAccess, ...; default: all of them).")] = None,
               hours: Annotated[float | None, typer.Option(
                   help="How long it holds (default: the configured token_lifetime, 24 h).")] = None,
               user: User = None, group: Group = None, as_json: AsJson = False) -> None:
    """Set an element's status by hand; the policies leave it until it expires."""
    if hours is not None and not 0 < hours <= _MAX_HOURS:
        raise typer.BadParameter(f"--hours must be above 0 and at most {_MAX_HOURS:.0f}, got {hours}")
    with _interware(local, url, user, group) as iw:
        owner = _owner(iw, local, user, group)
        until = None if hours is None else timedelta(hours=hours)
        records = iw.status.set_status(name, status, reason=reason, owner=owner,
                                       status_type=status_type, until=until, element_type=element_type)
    if as_json:
        typer.echo(json.dumps([record_json(r) for r in records]))
        return
    Console().print(_records_table(records))


@status_app.command("release")
def release(name: str, *, url: Url = None, local: Local = None, element_type: Kind = None,
            status_type: Annotated[StatusType | None, typer.Option(help="Only this status type.")] = None,
            user: User = None, group: Group = None) -> None:
    """Hand a manual status back to the policies now."""
    with _interware(local, url, user, group) as iw:
        by = _owner(iw, local, user, group)
        keys = iw.status.release(name, status_type=status_type, element_type=element_type, by=by)
    typer.echo(f"released {len(keys)} status(es) of {name}")


@status_app.command("history")
def history(name: Annotated[str | None, typer.Argument(help="One element (default: all).")] = None, *,
            url: Url = None, local: Local = None, element_type: Kind = None, limit: int = 50,
            as_json: AsJson = False) -> None:
    """The latest status changes, oldest first."""
    with _interware(local, url) as iw:
        entries = iw.status.history(name, element_type=element_type, limit=limit)
    if as_json:
        typer.echo(json.dumps([entry_json(e) for e in entries]))
        return
    Console().print(_history_table(entries))


@status_app.command("evaluate")
def evaluate(*, local: Annotated[Path, typer.Option(help="Embedded interware directory.")],
             force: Annotated[bool, typer.Option(help="Evaluate every element, not only those due.")] = False,
             as_json: AsJson = False) -> None:
    """Run the policies of an embedded interware now; what changed, and the policies that failed.
    Embedded only (no --url): a server evaluates in its own periodic task (rss.evaluation)."""
    with _embedded(local) as iw:
        report = iw.status.evaluate(force=force)
    changes = [{"element": str(e.key), "from": None if e.before is None else str(e.before),
                "to": None if e.after is None else str(e.after), "reason": e.reason} for e in report.changes]
    errors = [{"element": str(key), "policy": o.policy, "error": o.reason} for key, o in report.errors]
    if as_json:
        typer.echo(json.dumps({"evaluated": len(report.evaluated), "changes": changes, "errors": errors}))
        return
    console = Console()
    console.print(f"{len(report.evaluated)} evaluated, {len(changes)} changed, {len(errors)} policy error(s)")
    for change in changes:
        console.print(f"  {change['element']}: {change['from']} -> {change['to']} ({change['reason']})",
                      markup=False, highlight=False)
    for error in errors:
        console.print(f"  {error['element']}: {error['policy']} failed: {error['error']}", style="red",
                      markup=False, highlight=False)
