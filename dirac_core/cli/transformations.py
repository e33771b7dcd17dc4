"""``dirac-core transformation ...`` and ``dirac-core production ...``, embedded or on a server.

Definitions come from TOML files whose keys are the fields of
:class:`~dirac_core.transformation.TransformationSpec` (a transformation) or a ``name``, an
optional ``description`` and ``[[steps]]`` tables with the fields of
:class:`~dirac_core.transformation.productions.ProductionStep` (a production). Every command
but ``cycle`` takes exactly one of ``--local PATH``, acting as ``--user`` in ``--group``
(default: the first registry user and their VO's default group), or ``--url URL`` (or
``DIRACX_URL``), acting as the login of ``dirac-core login``; the output is the same. On a server
the rules of :mod:`dirac_core.authorization` apply to the login (its VO's transformations only;
changes need ``ProductionManagement`` or ``ServiceAdministrator``); on an embedded interware,
whose database one holds anyway, only the engines' own checks do (the same policy: creating
needs ``ProductionManagement``, changing a production ``ProductionManagement`` or
``ServiceAdministrator``). ``cycle`` runs the embedded transformation system's periodic work
once: input queries, splitting, submission and monitoring (a server runs its own).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dirac_core.errors import DiracError, InvalidTransformation
from dirac_core.model.identity import Identity

__all__ = ["production_app", "transformation_app"]

transformation_app = typer.Typer(help="Transformations: create, list, show, start/stop/flush/complete/clean, "
                                      "add files (embedded or remote); run a cycle (embedded).",
                                 no_args_is_help=True)
production_app = typer.Typer(help="Productions: create, list, show progress, start/stop/flush/complete/clean "
                                  "(embedded or remote).", no_args_is_help=True)

Url = Annotated[str | None, typer.Option(envvar="DIRACX_URL", help="The server's URL.")]
Local = Annotated[Path | None, typer.Option(help="Embedded interware directory.")]
User = Annotated[str | None, typer.Option(help="With --local: the registry user to act as.")]
Group = Annotated[str | None, typer.Option(help="With --local: the group to act in.")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output, for scripts.")]
Key = Annotated[str, typer.Argument(help="Id or name.")]
ACTIONS = ("start", "stop", "flush", "complete", "clean")


def _key(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _definition(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidTransformation(f"{path}: {exc}") from exc


@contextmanager
def _interware(local: Path | None, user: str | None, group: str | None, url: str | None = None
               ) -> Iterator[tuple[Any, Identity | None]]:
    """The embedded interware and the identity acting, or a server's (None: the server acts as the
    login); errors printed, exit code 1."""
    if (url is None) == (local is None):
        raise typer.BadParameter("give exactly one of --url URL or --local PATH")
    if url is not None and (user is not None or group is not None):
        raise typer.BadParameter("--user and --group are for --local: a server acts as the login")
    try:
        if local is not None:
            from dirac_core.interware import Interware

            with Interware.embedded(local) as iw:
                yield iw, iw.identity(user or next(iter(sorted(iw.config.registry.users))), group)
            return
        from dirac_core.cli.session import credentials_path
        from dirac_core.client import RemoteInterware

        with RemoteInterware(url, credentials_path=credentials_path()) as remote:  # type: ignore[arg-type]
            yield remote, None
    except (DiracError, TypeError) as exc:
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from None


def _stats_row(stats: Any) -> tuple[str, str, str]:
    files = ", ".join(f"{k}={v}" for k, v in sorted(stats.files.items()))
    tasks = ", ".join(f"{k}={v}" for k, v in sorted(stats.tasks.items()))
    percent = "-" if stats.processed_percent is None else f"{stats.processed_percent}%"
    return files, tasks, percent


# -- transformations ----------------------------------------------------------------------------


@transformation_app.command("create")
def create_transformation(definition: Annotated[Path, typer.Argument(help="A TOML file.")], *,
                          url: Url = None, local: Local = None, user: User = None,
                          group: Group = None) -> None:
    """Create a transformation (New) from a TOML definition; everything is checked first."""
    from dirac_core.transformation import TransformationSpec

    with _interware(local, user, group, url) as (iw, identity):
        made = iw.transformations.create(TransformationSpec(**_definition(definition)), identity)
        typer.echo(f"transformation {made.transformation_id} {made.name!r}: {made.status}")


@transformation_app.command("list")
def list_transformations(*, url: Url = None, local: Local = None, user: User = None, group: Group = None,
                         as_json: AsJson = False) -> None:
    """Every transformation (on a server: of your VO) with its files, tasks and processed fraction."""
    with _interware(local, user, group, url) as (iw, _):
        ts = iw.transformations
        rows = [(t, ts.stats(t.transformation_id)) for t in ts.transformations()]
    if as_json:
        typer.echo(json.dumps([{"id": t.transformation_id, "name": t.name, "type": t.type,
                                "status": str(t.status), "files": {str(k): v for k, v in s.files.items()},
                                "processed_percent": s.processed_percent} for t, s in rows]))
        return
    table = Table("ID", "Name", "Type", "Status", "Plugin", "Files", "Tasks", "Processed")
    for t, s in rows:
        table.add_row(str(t.transformation_id), t.name, t.type, str(t.status), t.plugin, *_stats_row(s))
    Console().print(table)


@transformation_app.command("show")
def show_transformation(key: Key, *, url: Url = None, local: Local = None, user: User = None,
                        group: Group = None, files: Annotated[bool, typer.Option(
                            "--files", help="Also list the files (LFN, status, task, errors).")] = False,
                        limit: Annotated[int, typer.Option(min=1, help="Tasks (and files) listed.")] = 50,
                        as_json: AsJson = False) -> None:
    """One transformation: its definition, files and tasks by status, its first tasks."""
    with _interware(local, user, group, url) as (iw, _):
        ts = iw.transformations
        t = ts.get(_key(key))
        stats = ts.stats(t.transformation_id)
        tasks = ts.tasks(t.transformation_id, limit=limit)
        listed = ts.files(t.transformation_id, limit=limit) if files else []
    if as_json:
        typer.echo(json.dumps({
            "id": t.transformation_id, "name": t.name, "type": t.type, "status": str(t.status),
            "plugin": t.plugin, "group_size": t.group_size, "author": t.author, "input_query": t.input_query,
            "files": {str(k): v for k, v in stats.files.items()},
            "tasks": {str(k): v for k, v in stats.tasks.items()},
            "processed_percent": stats.processed_percent,
            "task_list": [{"task": k.task_id, "status": str(k.status), "external_id": k.external_id,
                           "target_ses": list(k.target_ses), "files": len(k.lfns)} for k in tasks],
            "file_list": [{"lfn": f.lfn, "status": str(f.status), "task": f.task_id,
                           "errors": f.error_count} for f in listed]}, default=str))
        return
    console = Console()
    console.print(f"transformation {t.transformation_id} {t.name!r}: {t.type}, {t.status}, {t.plugin} "
                  f"(group size {t.group_size}), by {t.author}", markup=False, highlight=False)
    files_row, tasks_row, percent = _stats_row(stats)
    console.print(f"files: {files_row or '-'}; tasks: {tasks_row or '-'}; processed: {percent}",
                  markup=False, highlight=False)
    table = Table("Task", "Status", "Job/request", "Target SEs", "Files")
    for k in tasks:
        table.add_row(str(k.task_id), str(k.status), str(k.external_id or ""), ",".join(k.target_ses),
                      str(len(k.lfns)))
    console.print(table)
    if files:
        listing = Table("LFN", "Status", "Task", "Errors")
        for f in listed:
            listing.add_row(f.lfn, str(f.status), str(f.task_id or ""), str(f.error_count))
        console.print(listing)


@transformation_app.command("add-files")
def add_files(key: Key, lfns: Annotated[list[str], typer.Argument(help="LFNs.")], *, url: Url = None,
              local: Local = None, user: User = None, group: Group = None) -> None:
    """Attach files; each answers Added or Present (or why it failed)."""
    with _interware(local, user, group, url) as (iw, _):
        result = iw.transformations.add_files(_key(key), lfns)
    for lfn, added in result.ok.items():
        typer.echo(f"{lfn}: {added}")
    for lfn, error in result.failed.items():
        Console(stderr=True).print(f"{lfn}: {error}", style="red", markup=False, highlight=False)
    if result.failed:
        raise typer.Exit(1)


@transformation_app.command("cycle")
def cycle(*, local: Annotated[Path, typer.Option(help="Embedded interware directory.")], user: User = None,
          group: Group = None) -> None:
    """Run the periodic work once: input queries, splitting, submission, monitoring (of every
    submitted task, however recently looked at)."""
    with _interware(local, user, group) as (iw, _):
        ts = iw.transformations
        added, split, submitted, monitored = (ts.scan_input_queries(), ts.split(), ts.submit_tasks(),
                                              ts.monitor_tasks(delay=timedelta(0)))
    typer.echo(f"files added {sum(added.values())}; tasks made {sum(r.tasks for r in split.values())}; "
               f"transformations submitted {len(submitted)}; monitored {len(monitored)}")


def _transformation_action(action: str) -> None:
    @transformation_app.command(action, help=f"{action.capitalize()} a transformation.")
    def run(key: Key, *, url: Url = None, local: Local = None, user: User = None,
            group: Group = None) -> None:
        with _interware(local, user, group, url) as (iw, _):
            done = getattr(iw.transformations, action)(_key(key))
        typer.echo(f"transformation {done.transformation_id}: {done.status}")


for _action in ACTIONS:
    _transformation_action(_action)


# -- productions --------------------------------------------------------------------------------


@production_app.command("create")
def create_production(definition: Annotated[Path, typer.Argument(help="A TOML file.")], *, url: Url = None,
                      local: Local = None, user: User = None, group: Group = None) -> None:
    """Create a production (New) from a TOML definition: ``name``, ``description``, ``[[steps]]``."""
    from dirac_core.transformation.productions import ProductionStep

    with _interware(local, user, group, url) as (iw, identity):
        data = _definition(definition)
        steps = [ProductionStep(**step) for step in data.get("steps", [])]
        made = iw.productions.create(data.get("name", ""), steps, identity,
                                     description=data.get("description", ""))
        typer.echo(f"production {made.production_id} {made.name!r}: {made.status}, {len(steps)} step(s)")


@production_app.command("list")
def list_productions(*, url: Url = None, local: Local = None, user: User = None, group: Group = None) -> None:
    """Every production (on a server: of your VO) and its status."""
    with _interware(local, user, group, url) as (iw, _):
        found = iw.productions.productions()
    table = Table("ID", "Name", "Status", "Steps", "Author")
    for p in found:
        steps = ", ".join(s.name for s in p.steps)
        table.add_row(str(p.production_id), p.name, str(p.status), steps, p.author)
    Console().print(table)


@production_app.command("show")
def show_production(key: Key, *, url: Url = None, local: Local = None, user: User = None, group: Group = None,
                    as_json: AsJson = False) -> None:
    """A production's progress: each step's files and tasks by status, and overall."""
    with _interware(local, user, group, url) as (iw, _):
        progress = iw.productions.progress(_key(key))
    if as_json:
        production = progress.production
        typer.echo(json.dumps({"id": production.production_id, "status": str(production.status),
                               "processed_percent": progress.processed_percent,
                               "steps": [{"step": s.step, "transformation": s.transformation_id,
                                          "status": s.status} for s in progress.steps]}))
        return
    table = Table("Step", "Transformation", "Status", "Files", "Tasks", "Processed",
                  title=f"production {progress.production.name!r}: {progress.production.status}, processed "
                        f"{'-' if progress.processed_percent is None else f'{progress.processed_percent}%'}")
    for s in progress.steps:
        row = _stats_row(s.stats) if s.stats is not None else ("", "", "")
        table.add_row(s.step, str(s.transformation_id or ""), s.status or "", *row)
    Console().print(table)


def _production_action(action: str) -> None:
    @production_app.command(action, help=f"{action.capitalize()} a production (all its transformations).")
    def run(key: Key, *, url: Url = None, local: Local = None, user: User = None,
            group: Group = None) -> None:
        with _interware(local, user, group, url) as (iw, identity):
            done = getattr(iw.productions, action)(_key(key), identity)
        typer.echo(f"production {done.production_id}: {done.status}")


for _action in ACTIONS:
    _production_action(_action)
