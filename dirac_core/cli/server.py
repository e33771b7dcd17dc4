"""``dirac-core server`` and ``dirac-core auth issue-token``: the reference server from the CLI."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import attrs
import typer
from rich.console import Console

from dirac_core.auth.passwords import hash_password
from dirac_core.config import Config, load_config
from dirac_core.errors import DiracError
from dirac_core.logs import LogFormat, configure_logging

__all__ = ["auth_app", "register"]

auth_app = typer.Typer(help="Tokens for automation and tests.", no_args_is_help=True)


def _config(config: Path | None, local: Path | None, issuer: str | None) -> Config:
    from dirac_core.interware import Interware

    if (config is None) == (local is None):
        raise typer.BadParameter("give exactly one of --config FILE or --local PATH")
    cfg = load_config(config) if config is not None else Interware.embedded_config(local)  # type: ignore[arg-type]
    if issuer:
        cfg = attrs.evolve(cfg, auth=attrs.evolve(cfg.auth, issuer=issuer.rstrip("/")))
    return cfg


def dev_passwords(cfg: Config) -> tuple[Config, dict[str, str]]:
    """``cfg`` with a fresh random password for every user that has none (development only)."""
    chosen = {name: secrets.token_urlsafe(9) for name, user in cfg.registry.users.items()
              if not user.password_hash}
    users = {name: attrs.evolve(user, password_hash=hash_password(chosen[name]))
             if name in chosen else user for name, user in cfg.registry.users.items()}
    return attrs.evolve(cfg, registry=attrs.evolve(cfg.registry, users=users)), chosen


def server(*, config: Annotated[Path | None, typer.Option(help="Site configuration (TOML/YAML).")] = None,
           local: Annotated[Path | None, typer.Option(
               help="Serve an embedded interware in this directory, development settings.")] = None,
           host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
           port: Annotated[int, typer.Option(help="Port to listen on (0: any free one).")] = 8000,
           public_url: Annotated[str | None, typer.Option(
               help="The URL clients use (token issuer); default http://HOST:PORT.")] = None,
           tasks_every: Annotated[float, typer.Option(
               help="Seconds between sweeps of the periodic tasks (0: none).")] = 10.0,
           site_director: Annotated[list[str] | None, typer.Option(
               help="Run the site director of this VO (pilots to the configured CEs).")] = None,
           ce_work_dir: Annotated[Path, typer.Option(
               help="The site director's folder for CE files.")] = Path("ce-work"),
           log_format: Annotated[LogFormat, typer.Option(
               help="Log lines as text or as JSON objects (one per line).")] = LogFormat.TEXT,
           log_file: Annotated[Path | None, typer.Option(
               help="Append the log here (default: standard error).")] = None) -> None:
    """Run the reference server (DiracX-compatible API) in the foreground."""
    from dirac_core.interware import Interware
    from dirac_server import ServerSettings, create_app
    from dirac_server.portal import allow_portal_login
    from dirac_server.runner import bind, serve, url_of

    console = Console()
    own_logs = log_format is LogFormat.JSON or log_file is not None
    if own_logs:
        configure_logging(log_format, file=log_file, fields={"component": "server"})
    sock = bind(host, port)
    url = public_url or url_of(sock)
    cfg = allow_portal_login(_config(config, local, url if (public_url or local) else None))
    passwords: dict[str, str] = {}
    if local is not None:
        cfg, passwords = dev_passwords(cfg)
    try:
        iw = Interware.from_config(cfg)
    except DiracError as exc:
        console.print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None
    with iw:
        console.print(f"dirac-core server on [bold]{url}[/bold] ({iw.database.backend_description})")
        console.print(f"  web portal: [bold]{cfg.auth.issuer.rstrip('/')}/portal/[/bold]")
        for user, password in sorted(passwords.items()):
            console.print(f"  development login: user [bold]{user}[/bold] password {password}")
        for vo in site_director or ():
            iw.add_task(_director_task(iw, vo, url, ce_work_dir.resolve()))
            console.print(f"  site director of VO {vo}: CE files in {ce_work_dir.resolve()}")
        serve(create_app(iw, ServerSettings(tasks_every=tasks_every)), sock, own_logging=not own_logs)


def _director_task(iw: Any, vo: str, url: str, work: Path) -> Any:
    """A site director sending pilots with their own tokens to this server."""
    from dirac_core.wms.director import DirectorTask, SiteDirector
    from dirac_core.wms.director_parts import ce_factory, pilot_script

    def script(target: Any, stamp: str) -> str:
        return pilot_script(target, stamp, server=url, token=iw.auth.tokens.issue_pilot(vo, stamp))

    director = SiteDirector(config=iw.config, wms=iw.wms, pilots=iw.pilots, vo=vo, clock=iw.clock,
                            make_ce=ce_factory(work), script=script, gate=iw.status.gate)
    return DirectorTask(director)


@auth_app.command("issue-token")
def issue_token(*, user: Annotated[str, typer.Option(help="Registry user.")],
                vo: Annotated[str | None, typer.Option(help="VO (default: the user's first).")] = None,
                group: Annotated[str | None, typer.Option(help="Group (default: the VO's).")] = None,
                config: Annotated[Path | None, typer.Option(help="Site configuration.")] = None,
                local: Annotated[Path | None, typer.Option(help="Embedded interware directory.")] = None,
                url: Annotated[str | None, typer.Option(
                    help="The server's URL (its token issuer), e.g. http://127.0.0.1:8000.")] = None,
                minutes: Annotated[int | None, typer.Option(help="Access token lifetime.")] = None,
                credentials_file: Annotated[Path | None, typer.Option(
                    help="Write DiracX's credentials file (DIRACX_CREDENTIALS_PATH) here.")] = None,
                ) -> None:
    """Mint a token pair for a registry user (administrators, automation, tests)."""
    from dirac_core.interware import Interware

    cfg = _config(config, local, url)
    registry = cfg.registry
    chosen_vo = vo or next((g.vo for g in registry.groups_of(user)), None)
    if chosen_vo is None:
        raise typer.BadParameter(f"user {user!r} is in no group")
    try:
        with Interware.from_config(cfg) as iw:
            identity, pair = iw.auth.issue(user, vo=chosen_vo, group=group, access_minutes=minutes)
    except DiracError as exc:
        Console(stderr=True).print(f"[red]error[/red]: {exc}")
        raise typer.Exit(1) from None
    if credentials_file is None:
        typer.echo(json.dumps(pair.response()))
        return
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    data = {"access_token": pair.access_token, "refresh_token": pair.refresh_token,
            "expires_on": int(time.time()) + pair.expires_in - 15}
    fd = os.open(credentials_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
    Console(stderr=True).print(f"token for {identity.user} ({identity.group}) written to "
                               f"{credentials_file}")


def register(app: typer.Typer) -> None:
    """Add ``server`` and ``auth`` to the root app."""
    app.command()(server)
    app.add_typer(auth_app, name="auth")
