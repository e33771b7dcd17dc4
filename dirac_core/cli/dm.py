"""``dirac-core dm ...``: files in the catalog and on storage elements, on an embedded interware.

Every command takes ``--local PATH`` (the embedded interware's directory) and ``--user NAME``
(default: the first registry user), acts through a view of the catalog that checks what that
user may do, and prints a table or, with ``--json``, JSON. The commands that only need the
catalog (``ls``, ``replicas``, ``find``, ``meta set``) take ``--url URL`` (or ``DIRACX_URL``)
instead: they then use a server's catalog as the login of ``dirac-core login``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import attrs
import typer
from rich.console import Console
from rich.table import Table

from dirac_core.errors import DiracError

__all__ = ["dm_app"]

dm_app = typer.Typer(help="Data management: files, replicas, metadata (embedded; catalog commands also "
                          "remote).", no_args_is_help=True)

Local = Annotated[Path, typer.Option(help="Embedded interware directory.")]
LocalOrUrl = Annotated[Path | None, typer.Option("--local", help="Embedded interware directory (or --url).")]
Url = Annotated[str | None, typer.Option(envvar="DIRACX_URL", help="The server's URL (or --local).")]
User = Annotated[str | None, typer.Option(help="The registry user to act as.")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output, for scripts.")]


@contextmanager
def _engines(local: Path, user: str | None) -> Iterator[tuple[Any, Any]]:
    """``(data manager acting as the user, catalog view)``; errors printed, exit code 1."""
    from dirac_core.interware import Interware

    try:
        with Interware.embedded(local) as iw:
            if iw.dm is None or iw.catalog is None:
                raise DiracError("this interware has no file catalog (see [resources.catalogs])")
            name = user or next(iter(sorted(iw.config.registry.users)))
            manager = iw.data_manager(iw.identity(name))
            yield manager, manager.catalog
    except DiracError as exc:
        Console(stderr=True).print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None


@contextmanager
def _catalog(url: str | None, local: Path | None, user: str | None) -> Iterator[Any]:
    """The catalog of a catalog-only command: an embedded interware's, as ``user``, or a server's
    (``--url``), as the stored login; errors printed, exit code 1."""
    if (url is None) == (local is None):
        raise typer.BadParameter("give exactly one of --url URL or --local PATH")
    if local is not None:
        with _engines(local, user) as (_, catalog):
            yield catalog
        return
    if user is not None:
        raise typer.BadParameter("--user is for --local: a server acts as the login's user")
    from dirac_core.cli.session import credentials_path
    from dirac_core.client import RemoteInterware

    try:
        with RemoteInterware(url, credentials_path=credentials_path()) as remote:  # type: ignore[arg-type]
            yield remote.catalog
    except DiracError as exc:
        Console(stderr=True).print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None


def _emit(data: Any, as_json: bool, table: Table | None) -> None:
    if as_json or table is None:
        typer.echo(json.dumps(data, default=str, sort_keys=True))
    else:
        Console().print(table)


def _raise_failed(result: Any) -> None:
    if result.failed:
        lfn, error = next(iter(result.failed.items()))
        raise DiracError(f"{lfn}: {error}")


@dm_app.command()
def put(source: Path, lfn: str, *, se: Annotated[str, typer.Option(help="Storage element.")],
        local: Local, user: User = None, as_json: AsJson = False) -> None:
    """Upload a local file to an SE and register it."""
    with _engines(local, user) as (dm, _):
        stored = dm.put_and_register(lfn, source, se)
    data = {"lfn": stored.lfn, "se": stored.se, "size": stored.size, "checksum": stored.checksum}
    table = Table("lfn", "se", "size", "adler32")
    table.add_row(stored.lfn, stored.se, str(stored.size), stored.checksum)
    _emit(data, as_json, table)


@dm_app.command()
def get(lfn: str, *, dest: Annotated[Path, typer.Option(help="Where to write.")] = Path("."),
        local: Local, user: User = None) -> None:
    """Download the best replica of a file (checksum verified)."""
    with _engines(local, user) as (dm, _):
        path = dm.get_file(lfn, dest)
    typer.echo(str(path))


@dm_app.command()
def replicate(lfn: str, *, se: Annotated[str, typer.Option(help="Target SE.")],
              source: Annotated[str | None, typer.Option(help="Source SE.")] = None,
              local: Local, user: User = None) -> None:
    """Copy a file to another SE and register the new replica."""
    with _engines(local, user) as (dm, _):
        dm.replicate_and_register(lfn, se, source_se=source)
    typer.echo(f"{lfn} replicated to {se}")


@dm_app.command()
def rm(lfns: list[str], *, local: Local, user: User = None) -> None:
    """Remove files: every replica, then the catalog entry."""
    with _engines(local, user) as (dm, _):
        result = dm.remove_file(lfns)
        _raise_failed(result)
    typer.echo(f"removed {len(result.ok)} file(s)")


@dm_app.command()
def ls(path: str, *, local: LocalOrUrl = None, url: Url = None, user: User = None,
       as_json: AsJson = False) -> None:
    """List a directory: subdirectories, then files."""
    with _catalog(url, local, user) as catalog:
        result = catalog.list_directory([path])
        _raise_failed(result)
    listing = next(iter(result.ok.values()))
    data = {"subdirectories": list(listing.subdirectories), "files": list(listing.files)}
    table = Table("name", "kind", title=path)
    for name in listing.subdirectories:
        table.add_row(name, "directory")
    for name in listing.files:
        table.add_row(name, "file")
    _emit(data, as_json, table)


@dm_app.command()
def replicas(lfns: list[str], *, local: LocalOrUrl = None, url: Url = None, user: User = None,
             as_json: AsJson = False) -> None:
    """The storage elements holding each file."""
    with _catalog(url, local, user) as catalog:
        result = catalog.get_replicas(lfns)
        _raise_failed(result)
    data = {lfn: sorted(ses) for lfn, ses in result.ok.items()}
    table = Table("lfn", "storage elements")
    for lfn, ses in data.items():
        table.add_row(lfn, ", ".join(ses))
    _emit(data, as_json, table)


meta_app = typer.Typer(help="Searchable metadata.", no_args_is_help=True)
dm_app.add_typer(meta_app, name="meta")


@meta_app.command("set")
def meta_set(path: str, values: Annotated[list[str], typer.Argument(help="field=value ...")], *,
             local: LocalOrUrl = None, url: Url = None, user: User = None) -> None:
    """Set metadata on a directory or a file (declared fields; values typed by them)."""
    pairs = {}
    for item in values:
        if "=" not in item:
            raise typer.BadParameter(f"expected field=value, got {item!r}")
        key, value = item.split("=", 1)
        pairs[key] = value
    with _catalog(url, local, user) as catalog:
        fields = {f.name: f.type for f in catalog.metadata_fields()}
        from dirac_core.dms.metaquery import coerce

        typed = {k: coerce(v, fields[k]) if k in fields else v for k, v in pairs.items()}
        _raise_failed(catalog.set_metadata({path: typed}))
    typer.echo(f"{path}: {', '.join(sorted(pairs))} set")


@dm_app.command()
def find(query: Annotated[str, typer.Argument(help="e.g. 'year=2018 tag=sunset'")], *,
         path: str = "/", local: LocalOrUrl = None, url: Url = None, user: User = None,
         as_json: AsJson = False) -> None:
    """The files under PATH whose metadata satisfies QUERY (DIRAC's query language)."""
    from dirac_core.dms.metaquery import parse_query

    with _catalog(url, local, user) as catalog:
        fields = {f.name: f.type for f in catalog.metadata_fields()}
        try:
            found = catalog.find_files(parse_query(query, fields), path)
        except DiracError as exc:
            Console(stderr=True).print(f"[red]error[/red]: {exc}")
            raise typer.Exit(1) from None
    table = Table("lfn", title=f"{len(found)} file(s)")
    for lfn in found:
        table.add_row(lfn)
    _emit(found, as_json, table)


@dm_app.command()
def du(paths: list[str], *, local: Local, user: User = None, as_json: AsJson = False) -> None:
    """Files and bytes under directories, logical and per SE (catalogs that keep usage)."""
    with _engines(local, user) as (_, catalog):
        usage = getattr(catalog, "directory_usage", None)
        if usage is None:
            raise DiracError("this catalog keeps no directory usage")
        result = usage(paths)
        _raise_failed(result)
    data = {p: attrs.asdict(u) for p, u in result.ok.items()}
    table = Table("directory", "files", "bytes", "per storage element")
    for path, usage in data.items():
        per_se = ", ".join(f"{se}: {v['files']} files, {v['size']} B"
                           for se, v in sorted(usage.get("replicas", {}).items()))
        table.add_row(path, str(usage.get("files")), str(usage.get("size")), per_se)
    _emit(data, as_json, table)
