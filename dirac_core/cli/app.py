"""The ``dirac-core`` command: the root app and the small commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dirac_core.cli import pilot as pilot_commands
from dirac_core.cli import proxy as proxy_commands
from dirac_core.cli import server as server_commands
from dirac_core.cli import session as session_commands
from dirac_core.cli.accounting import accounting_app
from dirac_core.cli.dm import dm_app
from dirac_core.cli.jobs import job_app
from dirac_core.cli.requests import request_app
from dirac_core.cli.status import status_app
from dirac_core.cli.transformations import production_app, transformation_app
from dirac_core.config import Config
from dirac_core.errors import DiracError

__all__ = ["app", "main"]

app = typer.Typer(help="dirac-core: an embeddable interware for distributed computing and storage.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
config_app = typer.Typer(help="Check and convert configurations.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
app.add_typer(proxy_commands.proxy_app, name="proxy")
server_commands.register(app)
session_commands.register(app)
pilot_commands.register(app)
app.add_typer(job_app, name="job")
app.add_typer(dm_app, name="dm")
app.add_typer(request_app, name="request")
app.add_typer(transformation_app, name="transformation")
app.add_typer(production_app, name="production")
app.add_typer(status_app, name="status")
app.add_typer(accounting_app, name="accounting")


@app.command()
def demo(path: Annotated[Path | None, typer.Option(help="Directory for the embedded interware "
                                                         "(default: a new temporary one).")] = None) -> None:
    """Build an embedded interware on SQLite and show everything that works."""
    from dirac_core.cli import demo as demo_module

    demo_module.run(Console(), path)


@app.command()
def plugins() -> None:
    """List every plugin group and the drivers installed in it."""
    from dirac_core.plugins import PluginGroup, available

    table = Table("group", "installed")
    for group in PluginGroup:
        table.add_row(str(group), ", ".join(available(group)) or "-")
    Console().print(table)


@config_app.command("check")
def config_check(path: Path) -> None:
    """Validate a configuration file (.toml, .yaml or DIRAC .cfg), naming every wrong key."""
    cfg = _load_any(path)
    reg, res = cfg.registry, cfg.resources
    n_ces = sum(len(site.ces) for sites in res.sites.values() for site in sites.values())
    Console().print(f"[green]valid[/green]: {len(reg.vos)} VO(s), {len(reg.users)} user(s), "
                    f"{len(reg.groups)} group(s), {sum(len(s) for s in res.sites.values())} site(s), "
                    f"{n_ces} CE(s), {len(res.storage_elements)} SE(s)")


@config_app.command("import-cfg")
def config_import_cfg(path: Path) -> None:
    """Convert a DIRAC .cfg file to dirac-core TOML on standard output."""
    from dirac_core.config import dump_config, load_dirac_cfg

    typer.echo(dump_config(load_dirac_cfg(path)))


@db_app.command("upgrade")
def db_upgrade(url: str) -> None:
    """Apply every schema migration to the database at URL."""
    from dirac_core.db import Database

    with Database(url) as database:
        database.upgrade()
    Console().print(f"[green]up to date[/green]: {database.backend_description}")


def _load_any(path: Path) -> Config:
    from dirac_core.config import load_config, load_dirac_cfg

    return load_dirac_cfg(path) if path.suffix == ".cfg" else load_config(path)


def main() -> None:
    """Entry point: run the app, turning library errors into a message and exit status 1."""
    try:
        app()
    except DiracError as exc:
        # error texts contain key paths like ces[0]: never read them as rich markup
        Console(stderr=True).print(f"error: {exc}", style="red", markup=False, highlight=False)
        raise SystemExit(1) from None
