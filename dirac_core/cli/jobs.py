"""``dirac-core job ...``: the same commands on an embedded interware or a remote server.

``--local PATH [--user U --group G]`` acts on the embedded interware in PATH
as a registry user; ``--url URL`` (or ``DIRACX_URL``) on a server, with the
login of ``dirac-core login`` (DiracX's credentials file). Tables for people,
``--json`` for scripts.
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

from dirac_core.authorization import Action, allowed, job_search_restrictions
from dirac_core.errors import BulkResult, DiracError, NotFound
from dirac_core.model.identity import Identity
from dirac_core.wms.sandbox_archives import unpack
from dirac_core.wms.sandboxes import SandboxStore

__all__ = ["job_app"]

job_app = typer.Typer(help="Submit, follow and control jobs (embedded or remote).",
                      no_args_is_help=True)

Url = Annotated[str | None, typer.Option(envvar="DIRACX_URL", help="The server's URL.")]
Local = Annotated[Path | None, typer.Option(help="Embedded interware directory.")]
User = Annotated[str | None, typer.Option(help="With --local: the registry user to act as.")]
Group = Annotated[str | None, typer.Option(help="With --local: the group to act in.")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output, for scripts.")]
_COLUMNS = ("JobID", "Status", "MinorStatus", "Site", "JobName", "Owner", "LastUpdateTime")


class _Session:
    """What a command acts on: a WMS (local or remote) and, locally, the identity."""

    def __init__(self, wms: Any, identity: Identity | None, registry: Any = None,
                 sandboxes: SandboxStore | None = None) -> None:
        self.wms = wms
        self.identity = identity
        self.registry = registry
        self.sandboxes = sandboxes

    def search(self, parameters: list[str] | None, conditions: list[dict[str, Any]],
               page: int = 1, per_page: int = 100) -> Any:
        owner = None
        if self.identity is not None:  # locally, the same visibility as the server's
            extra, owner = job_search_restrictions(self.identity, self.registry)
            conditions = [*conditions, *extra]
            return self.wms.search(parameters, conditions, page=page, per_page=per_page,
                                   owner=owner)
        return self.wms.search(parameters, conditions, page=page, per_page=per_page)

    def control(self, verb: str, job_ids: list[int]) -> BulkResult[int, Any]:
        """``kill`` or ``reschedule``; locally only the jobs the identity may manage."""
        if self.identity is None:
            result: BulkResult[int, Any] = getattr(self.wms, verb)(job_ids)
            return result
        rows = self.wms.get_jobs(job_ids)
        permitted = [j for j in job_ids if j in rows
                     and allowed(self.identity, Action.JOB_MANAGE, rows[j], registry=self.registry)]
        result = getattr(self.wms, verb)(permitted)
        for job_id in set(job_ids) - set(permitted):
            result.add_failed(job_id, NotFound(f"job {job_id} not found", job_id=job_id))
        return result


@contextmanager
def _session(url: str | None, local: Path | None, user: str | None,
             group: str | None) -> Iterator[_Session]:
    if (url is None) == (local is None):
        raise typer.BadParameter("give exactly one of --url URL or --local PATH")
    try:
        if local is not None:
            from dirac_core.interware import Interware

            with Interware.embedded(local) as iw:
                name = user or next(iter(sorted(iw.config.registry.users)))
                yield _Session(iw.wms, iw.identity(name, group), iw.config.registry,
                               SandboxStore.for_interware(iw))
            return
        from dirac_core.cli.session import credentials_path
        from dirac_core.client import RemoteInterware

        with RemoteInterware(url, credentials_path=credentials_path()) as remote:  # type: ignore[arg-type]
            yield _Session(remote.wms, None)
    except DiracError as exc:
        Console(stderr=True).print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None


def _emit(data: Any, as_json: bool, table: Table | None = None) -> None:
    if as_json or table is None:
        typer.echo(json.dumps(data, default=str))
    else:
        Console().print(table)


def _bulk(result: BulkResult[int, Any], as_json: bool, verb: str) -> None:
    data = {"ok": {str(k): str(v) for k, v in result.ok.items()},
            "failed": {str(k): str(v) for k, v in result.failed.items()}}
    if as_json:
        typer.echo(json.dumps(data))
        return
    console = Console()
    for job_id in sorted(result.ok):
        console.print(f"job {job_id}: {verb}")
    for job_id, error in sorted(result.failed.items()):
        console.print(f"[red]job {job_id}[/red]: {error}")
    if result.failed:
        raise typer.Exit(1)


@job_app.command("submit")
def submit(files: Annotated[list[Path], typer.Argument(help="JDL files.")], *, url: Url = None,
           local: Local = None, user: User = None, group: Group = None,
           as_json: AsJson = False) -> None:
    """Submit JDL files (a parametric JDL expands into its jobs)."""
    texts = [path.read_text() for path in files]
    with _session(url, local, user, group) as s:
        submitted = s.wms.submit(texts[0] if len(texts) == 1 else texts, s.identity)
    rows = [{"JobID": j.job_id, "Status": str(j.status), "MinorStatus": j.minor_status}
            for j in submitted]
    table = Table("JobID", "Status", "MinorStatus", title=f"{len(rows)} job(s) submitted")
    for row in rows:
        table.add_row(str(row["JobID"]), row["Status"], row["MinorStatus"])
    _emit(rows, as_json, table)


def _condition(text: str) -> dict[str, Any]:
    parts = text.split(" ", 2)
    if len(parts) != 3:
        raise typer.BadParameter(f"a condition is 'PARAMETER OPERATOR VALUE', got {text!r}")
    name, operator, value = parts
    if operator in ("in", "not_in"):
        return {"parameter": name, "operator": operator.replace("_", " "),
                "values": [v.strip() for v in value.split(",")]}
    return {"parameter": name, "operator": operator.replace("_", " "), "value": value}


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    columns = list(rows[0]) if rows else list(_COLUMNS)
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return table


@job_app.command("search")
def search(*, condition: Annotated[list[str] | None, typer.Option(
               help="'PARAMETER OPERATOR VALUE' (eq neq gt lt like not_like regex in not_in; "
                    "in takes a,b,c); repeatable.")] = None,
           parameter: Annotated[list[str] | None, typer.Option(help="Columns to show.")] = None,
           page: int = 1, per_page: int = 100, url: Url = None, local: Local = None,
           user: User = None, group: Group = None, as_json: AsJson = False) -> None:
    """Search jobs (your own, unless your group shares them or you administer jobs)."""
    conditions = [_condition(c) for c in condition or []]
    with _session(url, local, user, group) as s:
        found = s.search(list(parameter) if parameter else list(_COLUMNS), conditions, page,
                         per_page)
    rows = found.rows
    _emit(rows, as_json, _table(rows, f"jobs {found.first + 1}-{found.last + 1} of {found.total}"))


@job_app.command("status")
def status(job_ids: Annotated[list[int], typer.Argument(help="Job ids.")], *, url: Url = None,
           local: Local = None, user: User = None, group: Group = None,
           as_json: AsJson = False) -> None:
    """The status of jobs."""
    with _session(url, local, user, group) as s:
        found = s.search(list(_COLUMNS), [{"parameter": "JobID", "operator": "in",
                                           "values": job_ids}], 1, len(job_ids))
    rows = found.rows
    missing = sorted(set(job_ids) - {row["JobID"] for row in rows})
    _emit(rows, as_json, _table(rows, "job status"))
    if missing:
        Console(stderr=True).print(f"[red]not found[/red]: {', '.join(map(str, missing))}")
        raise typer.Exit(1)


@job_app.command("history")
def history(job_id: int, *, url: Url = None, local: Local = None, user: User = None,
            group: Group = None, as_json: AsJson = False) -> None:
    """A job's status history (refused transitions marked)."""
    with _session(url, local, user, group) as s:
        if s.identity is not None:  # locally: the same access rule as the server's
            visible = s.search(["JobID"], [{"parameter": "JobID", "operator": "eq",
                                            "value": job_id}])
            if not visible.rows:
                Console(stderr=True).print(f"[red]error[/red]: job {job_id} not found")
                raise typer.Exit(1)
        records = s.wms.history(job_id)
    table = Table("time", "status", "minor status", "application", "source", "refused",
                  title=f"job {job_id}")
    for r in records:
        table.add_row(*(str(r.get(k) or "") for k in ("status_time", "status", "minor_status",
                                                      "application_status", "source")),
                      "refused" if r.get("refused") else "")
    _emit(records, as_json, table)


@job_app.command("kill")
def kill(job_ids: Annotated[list[int], typer.Argument(help="Job ids.")], *, url: Url = None,
         local: Local = None, user: User = None, group: Group = None,
         as_json: AsJson = False) -> None:
    """Kill jobs."""
    with _session(url, local, user, group) as s:
        _bulk(s.control("kill", job_ids), as_json, "killed")


@job_app.command("reschedule")
def reschedule(job_ids: Annotated[list[int], typer.Argument(help="Job ids.")], *, url: Url = None,
               local: Local = None, user: User = None, group: Group = None,
               as_json: AsJson = False) -> None:
    """Run jobs again."""
    with _session(url, local, user, group) as s:
        _bulk(s.control("reschedule", job_ids), as_json, "rescheduled")


@job_app.command("output")
def output(job_id: int, *, dest: Annotated[Path, typer.Option(help="Where to unpack.")] = Path("."),
           url: Url = None, local: Local = None, user: User = None, group: Group = None,
           as_json: AsJson = False) -> None:
    """Download and unpack a job's output sandboxes."""
    with _session(url, local, user, group) as s:
        if s.identity is None:
            pfns = s.wms.sandboxes_of(job_id)["output"]
            files = [f for pfn in pfns for f in s.wms.download_sandbox(pfn, dest)]
        else:  # locally: the job must be the identity's to read, the store the site's
            rows = s.wms.get_jobs([job_id])
            if job_id not in rows or not allowed(s.identity, Action.JOB_READ, rows[job_id],
                                                 registry=s.registry):
                raise NotFound(f"job {job_id} not found", job_id=job_id)
            if s.sandboxes is None:
                raise DiracError("this site keeps no sandboxes")
            pfns = s.sandboxes.of_job(job_id)["output"]
            files = []
            for pfn in pfns:
                with s.sandboxes.local_file(pfn) as archive:
                    files += unpack(archive, dest)
    if as_json:
        typer.echo(json.dumps({"sandboxes": pfns, "files": [str(f) for f in files]}))
        return
    console = Console()
    if not pfns:
        console.print(f"job {job_id} has no output sandbox")
    for path in files:
        console.print(str(path))
