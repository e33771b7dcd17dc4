"""``dirac-core pilot``: run a pilot on this machine, against a server or an embedded interware.

It is what the site director's pilot scripts run on worker nodes, and the
*vacuum* mode: any machine (a volunteer's, an HLT farm node, a VM image's
contextualisation) joins by running this one command with a pilot token.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from dirac_core.config import Config
from dirac_core.errors import DiracError
from dirac_core.logs import LogFormat, configure_logging
from dirac_core.model.clock import SystemClock
from dirac_core.pilot.data import interware_transfers, remote_transfers
from dirac_core.pilot.node import NodeInfo, TimeLeft, detect
from dirac_core.pilot.runtime import Pilot, PilotReport, PilotSettings
from dirac_core.pilot.services import EmbeddedServices, PilotServices, RemoteServices
from dirac_core.pilot.watchdog import Limits
from dirac_core.pilot.wrapper import DataTransfers, WrapperSettings

__all__ = ["pilot"]


def _container(image: str | None, work: Path) -> tuple[str, ...]:
    if image is None:
        return ()
    binary = shutil.which("apptainer") or shutil.which("singularity")
    if binary is None:
        raise typer.BadParameter("--container needs apptainer or singularity on the PATH")
    return (binary, "exec", "--bind", str(work), image)


def pilot(*, server: Annotated[str | None, typer.Option(envvar="DIRAC_PILOT_SERVER",
                                                        help="The server's URL.")] = None,
          token: Annotated[str | None, typer.Option(envvar="DIRAC_PILOT_TOKEN",
                                                    help="A pilot token.")] = None,
          proxy: Annotated[Path | None, typer.Option(envvar="X509_USER_PROXY",
                                                     help="Or a pilot's X.509 proxy file.")] = None,
          local: Annotated[Path | None, typer.Option(help="Embedded interware directory.")] = None,
          site: Annotated[str, typer.Option(envvar="DIRAC_SITE", help="This node's site.")] = "",
          ce: Annotated[str | None, typer.Option(envvar="DIRAC_CE", help="The CE it came through.")] = None,
          queue: Annotated[str | None, typer.Option(envvar="DIRAC_QUEUE")] = None,
          stamp: Annotated[str | None, typer.Option(envvar="DIRAC_PILOT_STAMP",
                                                    help="Default: a new vacuum-... stamp.")] = None,
          work_dir: Annotated[Path, typer.Option(help="Where jobs run.")] = Path("dirac-pilot"),
          max_jobs: int | None = None,
          max_time: Annotated[float | None, typer.Option(help="Seconds this pilot may run.")] = None,
          processors: int | None = None,
          heartbeat: Annotated[float, typer.Option(help="Heartbeat and watchdog period (s).")] = 60.0,
          container: Annotated[str | None, typer.Option(help="Run payloads in this Apptainer image.")] = None,
          tag: Annotated[list[str] | None, typer.Option(help="Tags this node offers.")] = None,
          verbose: bool = False,
          log_format: Annotated[LogFormat, typer.Option(
              help="Log lines as text or as JSON objects (one per line).")] = LogFormat.TEXT,
          log_file: Annotated[Path | None, typer.Option(
              help="Append the log here (default: standard error).")] = None) -> None:
    """Pull jobs and run them until there is no more work or time (vacuum mode: just run it)."""
    stamp = stamp or f"vacuum-{uuid.uuid4().hex[:24]}"
    level = logging.INFO if verbose else logging.WARNING
    if log_format is LogFormat.JSON or log_file is not None:
        configure_logging(log_format, level=level, file=log_file,
                          fields={"component": "pilot", "pilot_stamp": stamp})
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if (server is None) == (local is None):
        raise typer.BadParameter("give exactly one of --server URL (with --token or --proxy) or --local "
                                 "PATH")
    if server is not None and not (token or proxy):
        raise typer.BadParameter("--server needs a pilot token (--token or DIRAC_PILOT_TOKEN) or a proxy "
                                 "(--proxy)")
    proxy = None if token else proxy  # a token given wins over $X509_USER_PROXY
    work = work_dir.resolve()
    wrapper = WrapperSettings(work_dir=work, heartbeat_seconds=heartbeat, limits=Limits(),
                              container=_container(container, work))
    common: dict[str, Any] = {"stamp": stamp, "wrapper": wrapper, "ce": ce, "queue": queue,
                              "processors": processors, "max_jobs": max_jobs,
                              "tags": frozenset(tag or ()), "min_time_left": 60.0}
    try:
        node = detect(work)
        left = TimeLeft.from_environment(os.environ, time.time, max_seconds=max_time)
        if local is not None:
            from dirac_core.interware import Interware

            with Interware.embedded(local) as iw:
                base = iw.identity("pilot", _pilot_group(iw.config))
                me = type(base)(user=base.user, group=base.group, vo=base.vo,
                                properties=base.properties, pilot_stamp=stamp)
                settings = PilotSettings(site=site or _only_site(iw.config), vo=me.vo, **common)
                report = _run(EmbeddedServices(iw, me), settings, node, left,
                              data=interware_transfers(iw, me.vo))
        else:
            from dirac_core.client import RemoteInterware

            with RemoteInterware(server, token=token or None, proxy=proxy,  # type: ignore[arg-type]
                                 pilot_stamp=stamp) as remote:
                settings = PilotSettings(site=site or "Unknown.Site.org", **common)
                report = _run(RemoteServices(remote), settings, node, left, data=_remote_data(remote))
    except DiracError as exc:
        Console(stderr=True).print(f"[red]pilot {stamp}[/red]: {exc}")
        raise typer.Exit(1) from None
    done = sum(o.status == "Done" for o in report.outcomes)
    typer.echo(f"pilot {stamp}: {len(report.outcomes)} job(s), {done} done; "
               f"stopped: {report.stopped_because}")  # one line, as batch logs keep it


def _remote_data(remote: Any) -> DataTransfers | None:
    """The pilot's data transfers through the server; None (jobs with data then fail, saying so)
    when the server's configuration cannot be had."""
    try:
        vo = remote.transport.request("GET", "/api/auth/userinfo", idempotent=True).json()["vo"]
        return remote_transfers(remote, vo)
    except DiracError as exc:
        logging.getLogger(__name__).warning("no data management on this pilot: %s", exc)
        return None


def _pilot_group(config: Config) -> str:
    groups = sorted(name for name, g in config.registry.groups.items()
                    if "pilot" in g.users and "GenericPilot" in g.properties)
    if not groups:
        raise typer.BadParameter("the embedded registry has no user 'pilot' in a GenericPilot group")
    return groups[0]


def _only_site(config: Config) -> str:
    sites = sorted(s.name for s in config.resources.all_sites())
    if len(sites) != 1:
        raise typer.BadParameter(f"give --site (one of {', '.join(sites)})")
    return sites[0]


def _run(services: PilotServices, settings: PilotSettings, node: NodeInfo, left: TimeLeft, *,
         data: DataTransfers | None = None) -> PilotReport:
    return Pilot(services, settings, node=node, clock=SystemClock(), time_left=left, data=data).run()


def register(app: typer.Typer) -> None:
    """Add ``pilot`` to the root app."""
    app.command()(pilot)
