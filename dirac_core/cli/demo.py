"""``dirac-core demo``: an embedded interware, and a tour of everything that works so far.

Each step uses the public API only, the way a notebook would; the demo
grows with every capability the project adds.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import attrs
from rich.console import Console
from rich.table import Table

from dirac_core.checksums import adler32_file
from dirac_core.cli.demo_pilots import job_outputs_to_storage, real_pilots
from dirac_core.cli.demo_portal import portal_and_accounting
from dirac_core.cli.demo_transformations import small_transformation
from dirac_core.cli.demo_wms import workload
from dirac_core.config import load_config, load_dirac_cfg
from dirac_core.db import all_metadata
from dirac_core.errors import BulkFailures, ConfigError, InvalidTransition, JDLError, PluginNotFound
from dirac_core.interware import Interware
from dirac_core.jdl import dump, parse
from dirac_core.model import PilotStatus
from dirac_core.plugins import FileEntry, PluginGroup, available, free_slots, load_driver

__all__ = ["run"]


class _CountingTask:
    """A trivial periodic task, to show scheduling under a lease."""

    name = "demo.count"
    interval = timedelta(minutes=5)

    def __init__(self) -> None:
        self.runs = 0

    def run_once(self) -> int:
        self.runs += 1
        return self.runs


def run(console: Console, path: Path | None) -> None:
    """Run the demo in ``path`` (a new temporary directory when None)."""
    if path is None:
        path = Path(tempfile.mkdtemp(prefix="dirac-demo-"))
    console.rule("[bold]dirac-core demo")
    with ExitStack() as stack:
        iw, url = _start(stack, path)
        _configuration(console, iw)
        _config_errors_and_import(console)
        _database(console, iw)
        _jdl(console)
        workload(console, iw, url)
        _plugins(console)
        _pilots(console)
        ran = real_pilots(console, iw, path, url)
        job_outputs_to_storage(console, iw, path, ran[:3])
        small_transformation(console, iw, path)
        _data(console, path)
        _tasks(console, iw)
        portal_and_accounting(console, iw, path, url)
    console.rule(f"done: the embedded interware lives in {path}")


def _start(stack: ExitStack, path: Path) -> tuple[Interware, str | None]:
    """The embedded interware, served on a loopback port when the server extra is installed."""
    try:
        from dirac_server import create_app
        from dirac_server.runner import bind, running, url_of
    except ImportError:  # pip install 'dirac-core[server]'
        return stack.enter_context(Interware.embedded(path)), None
    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(path)
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url))
    iw = stack.enter_context(Interware.from_config(config))
    stack.enter_context(running(create_app(iw), sock))
    return iw, url


def _configuration(console: Console, iw: Interware) -> None:
    reg, res = iw.config.registry, iw.config.resources
    table = Table("group", "VO", "users", "properties", "job share", title="Registry")
    for group in reg.groups.values():
        table.add_row(group.name, group.vo, ", ".join(group.users),
                      ", ".join(sorted(group.properties)), str(group.job_share))
    console.print(table)
    table = Table("site", "CE", "type", "queue", "max CPU s", "max total", "max waiting", title="Resources")
    for site in res.all_sites():
        for ce in site.ces:
            for queue in ce.queues.values():
                table.add_row(site.name, ce.name, ce.type, queue.name, str(queue.max_cpu_time),
                              str(queue.max_total_jobs), str(queue.max_waiting_jobs))
    console.print(table)
    console.print(f"storage elements: {', '.join(res.storage_elements)}; "
                  f"catalogs: {', '.join(res.catalogs)}; site mask: {', '.join(sorted(res.site_mask))}")


_BROKEN_TOML = """
[registry.users.bob]
name = "bob"
mail = "bob@example.org"

[resources.sites.LCG."LCG.CERN.ch"]
[[resources.sites.LCG."LCG.CERN.ch".ces]]
type = "batch"
name = "ce1.cern.ch"
batch_system = "slurm"
[resources.sites.LCG."LCG.CERN.ch".ces.queues.long]
max_cpu_time = "abc"
"""

_DIRAC_CFG = """
Registry
{
  DefaultGroup = lhcb_user
  VO
  {
    lhcb
    {
      VOMSName = lhcb
    }
  }
  Users
  {
    jdoe
    {
      DN = /DC=ch/DC=cern/OU=Users/CN=jdoe
      Email = jdoe@cern.ch
    }
  }
  Groups
  {
    lhcb_user
    {
      Users = jdoe
      Properties = NormalUser
      VO = lhcb
      JobShare = 200
    }
  }
}
Resources
{
  Sites
  {
    LCG
    {
      LCG.CERN.ch
      {
        CE = ce503.cern.ch
        CEs
        {
          ce503.cern.ch
          {
            CEType = HTCondorCE
            Queues
            {
              condor
              {
                maxCPUTime = 2880
                MaxTotalJobs = 1000
                MaxWaitingJobs = 100
              }
            }
          }
        }
      }
    }
  }
}
"""


def _config_errors_and_import(console: Console) -> None:
    try:
        load_config(_BROKEN_TOML, format="toml")
    except ConfigError as exc:
        console.print(f"a broken configuration -> ConfigError:\n{exc}", highlight=False, markup=False)
    cfg = load_dirac_cfg(_DIRAC_CFG)
    site = cfg.resources.site("LCG.CERN.ch")
    queue = site.ces[0].queues["condor"]
    console.print(f"DIRAC .cfg imported: group lhcb_user share {cfg.registry.groups['lhcb_user'].job_share}, "
                  f"{site.name} CE {site.ces[0].name} type {site.ces[0].type}, "
                  f"queue condor max CPU {queue.max_cpu_time} s", highlight=False)


def _database(console: Console, iw: Interware) -> None:
    tables = sorted(t for md in all_metadata() for t in md.tables)
    console.print(f"database: {iw.database.backend_description} at revision "
                  f"{iw.database.current_revision()}; tables: {', '.join(tables)}")


def _jdl(console: Console) -> None:
    ad = parse('[ Executable = "echo"; Arguments = "a; b"; OutputSandbox = { std.out, std.err }; ]')
    console.print(f"JDL parsed: Arguments {ad['Arguments']!r} (a ';' inside quotes is data); "
                  f"written back:\n{dump(ad)}", highlight=False, markup=False)
    try:
        parse('[\n  Executable = "echo";\n  CPUTime = 100 Priority = 2;\n]')
    except JDLError as exc:
        console.print(f"a broken JDL -> JDLError: {exc}", highlight=False, markup=False)


def _plugins(console: Console) -> None:
    table = Table("entry-point group", "installed drivers", title="Plugins")
    for group in PluginGroup:
        table.add_row(str(group), ", ".join(available(group)) or "-")
    console.print(table)
    try:
        load_driver(PluginGroup.CATALOGS, "dfc-typo")
    except PluginNotFound as exc:
        console.print(f"unknown plugin -> [yellow]{type(exc).__name__}[/yellow]: {exc}", highlight=False)


def _pilots(console: Console) -> None:
    ce = load_driver(PluginGroup.COMPUTING_ELEMENTS, "memory")("demo-ce")
    status = ce.ce_status()
    slots = free_slots(status, max_total=4, max_waiting=2)
    refs = ce.submit("#!/bin/sh\necho pilot\n", [f"stamp-{i}" for i in range(slots)])
    ref = next(iter(refs.ok.values()))
    ce.set_status(ref, PilotStatus.RUNNING)
    ce.set_status(ref, PilotStatus.DONE)
    refused = "not refused"
    try:
        ce.set_status(ref, PilotStatus.RUNNING)
    except InvalidTransition as exc:
        refused = f"{type(exc).__name__}: {exc}"
    console.print(f"pilots: {slots} free slot(s) -> submitted {len(refs.ok)} to the memory CE; "
                  f"{ref} went Submitted -> Running -> Done; then Running was refused ({refused})",
                  highlight=False)


def _data(console: Console, root: Path) -> None:
    se = load_driver(PluginGroup.STORAGE_PROTOCOLS, "memory")("demo-se")
    catalog = load_driver(PluginGroup.CATALOGS, "memory")("demo-catalog")
    source = root / "hello.txt"
    source.write_text("hello, grid\n")
    lfn = "/demo/user/a/alice/hello.txt"
    stat = se.put(source, lfn)
    catalog.add_files([FileEntry(lfn=lfn, size=stat.size, checksum=stat.checksum)])
    catalog.add_replicas({lfn: ["demo-se"]})
    result = catalog.get_replicas([lfn, "/demo/missing"])
    console.print(f"data: put {lfn} ({stat.size} bytes, adler32 {stat.checksum}, local file "
                  f"{adler32_file(source)}); replicas {dict(result.ok)}; "
                  f"partial result: {len(result.ok)} ok, {len(result.failed)} failed", highlight=False)
    try:
        result.raise_for_failures("get_replicas")
    except BulkFailures as group:
        console.print(f"  raise_for_failures -> {group!s}: "
                      f"{[f'{e} ({e.__notes__[0]})' for e in group.exceptions]}", highlight=False)


def _tasks(console: Console, iw: Interware) -> None:
    task = _CountingTask()
    iw.add_task(task)
    first = iw.scheduler.run_due()[task.name]
    second = iw.scheduler.run_due()[task.name]
    console.print(f"periodic task {task.name!r} (every {task.interval}): first pass {first.outcome}, "
                  f"second pass {second.outcome} (ran {task.runs} time(s), under a database lease)")
