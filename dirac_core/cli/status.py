"""``dirac-core status ...``: the resource status system of an embedded interware.

``list`` and ``show`` read the statuses (anyone may), ``history`` the changes; ``set`` and
``release`` need ``ServiceAdministrator`` or ``Operator`` (``--user``, ``--group``: the registry
user to act as); ``evaluate`` runs the policies now. All act on ``--local PATH``. Tables for
people, ``--json`` for scripts.
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

__all__ = ["status_app"]

status_app = typer.Typer(help="Resource statuses (sites, CEs, queues, SEs): list, show, set, release, "
                              "history, evaluate (embedded).", no_args_is_help=True)

Local = Annotated[Path, typer.Option(help="Embedded interware directory.")]
Kind = Annotated[ElementType | None, typer.Option("--type",
                                                  help="The element type (when a name is ambiguous).")]
Group = Annotated[str | None, typer.Option(help="The group to act in (default: one that may).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output, for scripts.")]


@contextmanager
def _interware(local: Path) -> Iterator[Any]:
    try:
        from dirac_core.interware import Interware

        with Interware.embedded(local) as iw:
            yield iw
    except (DiracError, ValueError) as exc:
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


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


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _record_json(r: StatusRecord) -> dict[str, Any]:
    return {"element_type": str(r.key.element_type), "name": r.key.name,
            "status_type": str(r.key.status_type), "vo": r.key.vo, "status": str(r.status),
            "reason": r.reason,
            "date_effective": r.date_effective.isoformat(), "last_check": r.last_check.isoformat(),
            "token_owner": r.token_owner,
            "token_expiration": None if r.token_expiration is None else r.token_expiration.isoformat()}


def _entry_json(e: HistoryEntry) -> dict[str, Any]:
    return {"element_type": str(e.key.element_type), "name": e.key.name,
            "status_type": str(e.key.status_type), "vo": e.key.vo, "status": str(e.status),
            "previous": None if e.previous is None else str(e.previous),
            "reason": e.reason, "owner": e.owner, "changed": e.changed.isoformat(),
            "token_expiration": None if e.token_expiration is None else e.token_expiration.isoformat()}


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
def list_statuses(*, local: Local, element_type: Kind = None,
                  status: Annotated[list[ResourceStatus] | None, typer.Option(
                      help="Only elements in this status; repeatable.")] = None,
                  as_json: AsJson = False) -> None:
    """Every stored status (of one element type when given)."""
    with _interware(local) as iw:
        records = [r for r in iw.status.statuses(element_type=element_type)
                   if not status or r.status in status]
    if as_json:
        typer.echo(json.dumps([_record_json(r) for r in records]))
        return
    Console().print(_records_table(records))


@status_app.command("show")
def show(name: str, *, local: Local, element_type: Kind = None, limit: int = 10,
         as_json: AsJson = False) -> None:
    """One element's statuses and its latest changes."""
    with _interware(local) as iw:
        element = iw.status.elements.get(name, element_type)
        records = iw.status.statuses(element_type=element.element_type, name=element.name)
        entries = iw.status.history(element.name, element_type=element.element_type, limit=limit)
    if as_json:
        typer.echo(json.dumps({"statuses": [_record_json(r) for r in records],
                               "history": [_entry_json(e) for e in entries]}))
        return
    console = Console()
    console.print(f"{element.element_type} {element.name}" + (f" at {element.site}" if element.site else ""))
    console.print(_records_table(records) if records else "no status yet (the configuration's applies)")
    if entries:
        console.print(_history_table(entries))


@status_app.command("set")
def set_status(name: str, status: ResourceStatus, *, reason: Annotated[str, typer.Option(help="Why.")],
               local: Local, element_type: Kind = None,
               status_type: Annotated[StatusType | None, typer.Option(
                   help="Only this status type (an SE's ReadAccess, ...; default: all of them).")] = None,
               hours: Annotated[float | None, typer.Option(
                   help="How long it holds (default: the configured token_lifetime, 24 h).")] = None,
               user: Annotated[str, typer.Option(help="The registry user to act as.")] = "admin",
               group: Group = None, as_json: AsJson = False) -> None:
    """Set an element's status by hand; the policies leave it until it expires."""
    with _interware(local) as iw:
        identity = _operator(iw, user, group)
        until = None if hours is None else timedelta(hours=hours)
        records = iw.status.set_status(name, status, reason=reason, owner=identity.user,
                                       status_type=status_type, until=until, element_type=element_type)
    if as_json:
        typer.echo(json.dumps([_record_json(r) for r in records]))
        return
    Console().print(_records_table(records))


@status_app.command("release")
def release(name: str, *, local: Local, element_type: Kind = None,
            status_type: Annotated[StatusType | None, typer.Option(help="Only this status type.")] = None,
            user: Annotated[str, typer.Option(help="The registry user to act as.")] = "admin",
            group: Group = None) -> None:
    """Hand a manual status back to the policies now."""
    with _interware(local) as iw:
        identity = _operator(iw, user, group)
        keys = iw.status.release(name, status_type=status_type, element_type=element_type, by=identity.user)
    typer.echo(f"released {len(keys)} status(es) of {name}")


@status_app.command("history")
def history(name: Annotated[str | None, typer.Argument(help="One element (default: all).")] = None, *,
            local: Local, element_type: Kind = None, limit: int = 50, as_json: AsJson = False) -> None:
    """The latest status changes, oldest first."""
    with _interware(local) as iw:
        entries = iw.status.history(name, element_type=element_type, limit=limit)
    if as_json:
        typer.echo(json.dumps([_entry_json(e) for e in entries]))
        return
    Console().print(_history_table(entries))


@status_app.command("evaluate")
def evaluate(*, local: Local, force: Annotated[bool, typer.Option(
                 help="Evaluate every element, not only those due.")] = False,
             as_json: AsJson = False) -> None:
    """Run the policies now; what changed, and the policies that failed."""
    with _interware(local) as iw:
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
