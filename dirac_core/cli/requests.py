"""``dirac-core request ...``: the request system's to-do lists, embedded or on a server.

``list``, ``show`` and ``cancel`` act on the embedded interware in ``--local PATH`` as a registry
user (``--user``, ``--group``), or on a server (``--url`` or ``DIRACX_URL``) as the login of
``dirac-core login``; either way one sees one's own requests (a VO's ``ServiceAdministrator``
or ``JobAdministrator``: the VO's). ``execute`` runs one cycle of the request executor of an
embedded interware. Tables for people, ``--json`` for scripts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dirac_core.authorization import Action, allowed, request_search_scope
from dirac_core.errors import BulkResult, DiracError, NotFound
from dirac_core.model.identity import Identity
from dirac_core.model.request import RequestStatus
from dirac_core.rms.request import Request
from dirac_core.rms.store import RequestSummary

__all__ = ["request_app"]

request_app = typer.Typer(help="Requests: list, show, cancel (embedded or remote); execute (embedded).",
                          no_args_is_help=True)

Url = Annotated[str | None, typer.Option(envvar="DIRACX_URL", help="The server's URL.")]
Local = Annotated[Path | None, typer.Option(help="Embedded interware directory.")]
User = Annotated[str | None, typer.Option(help="With --local: the registry user to act as.")]
Group = Annotated[str | None, typer.Option(help="With --local: the group to act in.")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output, for scripts.")]


class _Requests:
    """The requests a command acts on: a store seen as ``identity`` (local), or a server's."""

    def __init__(self, store: Any, identity: Identity | None) -> None:
        self.store = store
        self.identity = identity

    def search(self, statuses: list[RequestStatus], page: int, per_page: int) -> list[RequestSummary]:
        if self.identity is None:
            found: list[RequestSummary] = self.store.search(statuses=statuses, page=page, per_page=per_page)
            return found
        owner, vo = request_search_scope(self.identity)
        found = self.store.search(owner=owner, vo=vo, statuses=statuses, page=page, per_page=per_page)
        return found

    def get(self, request_id: int) -> Request:
        if self.identity is None:
            remote: Request = self.store.get(request_id)
            return remote
        request = self.store.get([request_id]).ok.get(request_id)
        if request is None or not allowed(self.identity, Action.REQUEST_READ, request):
            raise NotFound(f"request {request_id} not found", request=request_id)
        local: Request = request
        return local

    def cancel(self, request_ids: list[int]) -> BulkResult[int, Any]:
        if self.identity is None:
            remote: BulkResult[int, Any] = self.store.cancel(request_ids)
            return remote
        found = self.store.get(request_ids).ok
        permitted = [i for i in request_ids
                     if i in found and allowed(self.identity, Action.REQUEST_CANCEL, found[i])]
        result: BulkResult[int, Any] = self.store.cancel(permitted)
        for request_id in set(request_ids) - set(permitted):
            result.add_failed(request_id, NotFound(f"request {request_id} not found", request=request_id))
        return result


@contextmanager
def _requests(url: str | None, local: Path | None, user: str | None,
              group: str | None) -> Iterator[_Requests]:
    if (url is None) == (local is None):
        raise typer.BadParameter("give exactly one of --url URL or --local PATH")
    try:
        if local is not None:
            from dirac_core.interware import Interware

            with Interware.embedded(local) as iw:
                name = user or next(iter(sorted(iw.config.registry.users)))
                yield _Requests(iw.requests, iw.identity(name, group))
            return
        if user is not None or group is not None:
            raise typer.BadParameter("--user and --group are for --local: a server acts as the login")
        from dirac_core.cli.session import credentials_path
        from dirac_core.client import RemoteInterware

        with RemoteInterware(url, credentials_path=credentials_path()) as remote:  # type: ignore[arg-type]
            yield _Requests(remote.requests, None)
    except DiracError as exc:
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _when(value: Any) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


@request_app.command("list")
def list_requests(*, status: Annotated[list[RequestStatus] | None, typer.Option(
                      help="Only requests in this status; repeatable.")] = None,
                  page: int = 1, per_page: int = 100, url: Url = None, local: Local = None,
                  user: User = None, group: Group = None, as_json: AsJson = False) -> None:
    """Your requests (a VO administrator's: the VO's), newest first."""
    with _requests(url, local, user, group) as r:
        found = r.search(list(status or []), page, per_page)
    if as_json:
        from dirac_core.rms.wire import summary_to_json

        typer.echo(json.dumps([summary_to_json(s) for s in found]))
        return
    table = Table("ID", "Name", "Status", "Owner", "Job", "Operations", "Now", "Updated", "Error",
                  title=f"{len(found)} request(s), page {page}")
    for s in found:
        table.add_row(str(s.request_id), s.name, str(s.status), s.owner, str(s.job_id or ""),
                      ", ".join(s.operations), s.current or "", _when(s.updated), s.error)
    Console().print(table)


@request_app.command("show")
def show(request_id: int, *, url: Url = None, local: Local = None, user: User = None,
         group: Group = None, as_json: AsJson = False) -> None:
    """One request: its operations and files, with attempts and errors."""
    with _requests(url, local, user, group) as r:
        request = r.get(request_id)
    if as_json:
        from dirac_core.rms.wire import request_to_json

        typer.echo(json.dumps(request_to_json(request)))
        return
    console = Console()
    console.print(f"request {request.request_id} {request.name!r}: {request.status} (owner {request.owner}, "
                  f"{request.owner_group}{f', job {request.job_id}' if request.job_id else ''})"
                  + (f", not before {_when(request.not_before)}" if request.not_before else ""),
                  markup=False, highlight=False)
    if request.error:
        console.print(f"error: {request.error}", markup=False, highlight=False)
    table = Table("#", "Operation", "Status", "Source SE", "Target SE", "LFN", "File status", "Attempts",
                  "Error")
    for index, op in enumerate(request.operations):
        head = (str(index), op.type, str(op.status), ",".join(op.source_se), ",".join(op.target_se))
        if not op.files:
            table.add_row(*head, "", "", "", op.error)
        for number, f in enumerate(op.files):
            table.add_row(*(head if number == 0 else ("",) * 5), f.lfn, str(f.status), str(f.attempt),
                          f.error or (op.error if number == 0 else ""))
    console.print(table)


@request_app.command("cancel")
def cancel(request_ids: Annotated[list[int], typer.Argument(help="Request ids.")], *, url: Url = None,
           local: Local = None, user: User = None, group: Group = None, as_json: AsJson = False) -> None:
    """Cancel requests (a final one cannot be)."""
    with _requests(url, local, user, group) as r:
        result = r.cancel(request_ids)
    if as_json:
        typer.echo(json.dumps({"ok": sorted(result.ok),
                               "failed": {str(k): str(v) for k, v in sorted(result.failed.items())}}))
    else:
        console = Console()
        for request_id in sorted(result.ok):
            console.print(f"request {request_id}: canceled")
        for request_id, error in sorted(result.failed.items()):
            console.print(f"request {request_id}: {error}", style="red", markup=False, highlight=False)
    if result.failed:
        raise typer.Exit(1)


@request_app.command("execute")
def execute(*, local: Annotated[Path, typer.Option(help="Embedded interware directory.")],
            as_json: AsJson = False) -> None:
    """Run one cycle of the embedded interware's request executor (waits for what it starts)."""
    from dirac_core.interware import Interware

    try:
        with Interware.embedded(local) as iw:
            report = iw.request_executor.run_once()
    except DiracError as exc:
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None
    finished = {str(k): str(v) for k, v in sorted(report.finished.items())}
    if as_json:
        typer.echo(json.dumps({"picked": report.picked, "started": report.started,
                               "deferred": report.deferred, "finished": finished}))
        return
    console = Console()
    console.print(f"picked {report.picked}, started {len(report.started)}, "
                  f"deferred {len(report.deferred)} (target SE busy)")
    for request_id, status in finished.items():
        console.print(f"request {request_id}: {status}")
