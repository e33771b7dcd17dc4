"""The workload step of the demo: a few hundred jobs submitted and run by pilots.

With a server URL, everything goes through HTTP (the remote client, with
tokens for alice, an administrator and a pilot); without, through the
engine in-process. The pilots only report statuses (the real pilot runtime,
with its job wrapper and watchdog, comes with the computing resources).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import attrs
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from dirac_core.errors import JDLError
from dirac_core.interware import Interware
from dirac_core.jdl import Job
from dirac_core.model.identity import Identity

__all__ = ["workload"]

_SITE = "DIRAC.Embedded.local"
_PARAMETRIC = """[
    Executable = "simulate";
    Arguments = "--seed %s --job %j";
    JobName = "scan_%n";
    Parameters = 100; ParameterStart = 1000; ParameterStep = 7;
    CPUTime = 3600;
]"""


@attrs.frozen
class _Actors:
    """Who does what: a WMS (local engine or remote client) per actor, and their identities."""

    alice: Any
    bob: Any
    operator: Any
    pilot: Any
    identities: dict[str, Identity]


def _actors(iw: Interware, url: str | None) -> _Actors:
    identities = {"alice": iw.identity("alice"), "bob": iw.identity("admin"),
                  "operator": iw.identity("admin", "demo_admin"),
                  "pilot": iw.identity("pilot", "demo_pilot")}
    if url is None:
        return _Actors(iw.wms, iw.wms, iw.wms, iw.wms, identities)
    from dirac_core.client import RemoteInterware

    def remote(user: str, group: str) -> Any:
        _, pair = iw.auth.issue(user, vo="demo", group=group)
        return RemoteInterware(url, token=pair.access_token).wms

    return _Actors(remote("alice", "demo_user"), remote("admin", "demo_user"),
                   remote("admin", "demo_admin"), remote("pilot", "demo_pilot"), identities)


def workload(console: Console, iw: Interware, url: str | None = None) -> None:
    """Submit 300 jobs (one parametric JDL of 100), run them with pilots, print a summary;
    through the server at ``url`` when given."""
    actors = _actors(iw, url)
    who = actors.identities
    alice, bob = who["alice"], who["bob"]
    console.print("workload: " + (f"through the server at {url} (remote client, tokens)"
                                  if url else "in-process"), highlight=False)
    scan = actors.alice.submit(_PARAMETRIC, alice)
    bulk = actors.alice.submit([Job("analyse", f"part-{i}").name(f"ana_{i}")
                                .priority(1 + i % 5).cpu_time(600 * (1 + i % 40))
                                .tags(["GPU"] if i % 10 == 0 else []) for i in range(150)], alice)
    bulk += actors.bob.submit([f'[ Executable = "reco"; Arguments = "run {i}"; JobGroup = "reco" ]'
                               for i in range(150)], bob)
    console.print(f"workload: submitted {len(scan)} jobs from one parametric JDL and "
                  f"{len(bulk)} in two bulk calls (ids {scan[0].job_id}..{bulk[-1].job_id}); "
                  f"all {Counter(j.status for j in scan + bulk).most_common(1)[0][0]}",
                  highlight=False)
    try:
        actors.alice.submit(['[ Executable = "ok" ]', '[ Executable = "x"; CPUTime = 99 ]'], alice)
    except JDLError as exc:
        console.print(f"  a bulk with one bad job writes nothing -> JDLError: {exc}",
                      highlight=False, markup=False)
    _run_pilots(console, iw, actors, len(scan) + len(bulk))
    _summary(console, actors.operator, [j.job_id for j in scan + bulk])


def _run_pilots(console: Console, iw: Interware, actors: _Actors, total: int) -> None:
    wms = actors.pilot
    pilot = actors.identities["pilot"]
    kinds = {"cpu": {"Site": _SITE, "CPUTime": 500_000, "NumberOfProcessors": 1},
             "gpu": {"Site": _SITE, "CPUTime": 500_000, "Tag": ["GPU"]}}
    killed = refused = 0
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("pilots running jobs", total=total)
        cycle = 0
        while True:
            cycle += 1
            matched = []
            for kind, resource in kinds.items():
                for slot in range(8):
                    job = wms.match({**resource, "PilotReference": f"{kind}-{cycle}-{slot}"}, pilot)
                    if job is not None:
                        matched.append(job.job_id)
            if not matched:
                break
            start = iw.clock.now()
            wms.set_status({j: {start: {"Status": "Running", "MinorStatus": "Application",
                                        "Source": "JobWrapper"}} for j in matched})
            if cycle == 2:  # an operator kills one job; its pilot learns it from the heartbeat
                actors.operator.kill(matched[:1])
            commands = wms.heartbeat({j: {"CPUConsumed": 42.0, "LoadAverage": 0.9}
                                      for j in matched})
            survivors = [j for j in matched if not commands.ok.get(j)]
            killed += len(matched) - len(survivors)
            end = start + timedelta(milliseconds=1)
            result = wms.set_status({j: {end: {"Status": "Done", "MinorStatus": "Execution Complete",
                                               "Source": "JobWrapper"}} for j in survivors})
            if cycle == 3:  # a confused report: Done -> Running is refused and recorded
                probe = survivors[0]
                wms.set_status({probe: {end + timedelta(milliseconds=1): {
                    "Status": "Running", "Source": "Confused"}}})
                refused += int(actors.operator.history(probe)[-1]["refused"])
            progress.advance(bar, len(result.ok) + len(matched) - len(survivors))
    console.print(f"  pilots: {cycle - 1} cycles of 16 slots ran every job; {killed} job killed by "
                  f"an operator (Kill delivered with the heartbeat); {refused} Done -> Running "
                  "report refused and kept in the history", highlight=False)


def _summary(console: Console, wms: Any, ids: list[int]) -> None:
    found = wms.search(["JobID", "Status", "Owner"],
                       [{"parameter": "JobID", "operator": "in", "values": ids}],
                       per_page=len(ids))
    table = Table("status", "jobs", "owners", title="Jobs by status")
    by_status: dict[str, list[dict[str, object]]] = {}
    for row in found.rows:
        by_status.setdefault(str(row["Status"]), []).append(row)
    for status, members in sorted(by_status.items()):
        owners = Counter(str(r["Owner"]) for r in members)
        table.add_row(status, str(len(members)),
                      ", ".join(f"{o} {n}" for o, n in sorted(owners.items())))
    console.print(table)
