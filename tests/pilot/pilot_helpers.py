"""An embedded interware with a pilot identity, and a pilot for it."""

from __future__ import annotations

from pathlib import Path

from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_core.pilot.node import NodeInfo
from dirac_core.pilot.runtime import Pilot, PilotSettings
from dirac_core.pilot.services import EmbeddedServices
from dirac_core.pilot.watchdog import Limits
from dirac_core.pilot.wrapper import WrapperSettings
from dirac_core.wms.pilots import PilotRecord

SITE = "DIRAC.Embedded.local"
NODE = NodeInfo(processors=2, memory_mb=4000, disk_free_mb=10_000, platform="Linux_x86_64_glibc-2.36",
                hostname="node")


def pilot_identity(iw: Interware, stamp: str) -> Identity:
    """The embedded pilot user, bound to ``stamp`` (as a pilot token would be)."""
    base = iw.identity("pilot", "demo_pilot")
    return Identity(user=base.user, group=base.group, vo=base.vo, properties=base.properties,
                    pilot_stamp=stamp)


def make_pilot(iw: Interware, work: Path, *, stamp: str = "pilot-1", heartbeat: float = 0.05,
               limits: Limits | None = None, **settings: object) -> Pilot:
    """A registered pilot of the embedded site, wrapping jobs in ``work``."""
    iw.pilots.register([PilotRecord(pilot_stamp=stamp, vo="demo", destination_site=SITE)])
    services = EmbeddedServices(iw, pilot_identity(iw, stamp))
    wrapper = WrapperSettings(work_dir=work, heartbeat_seconds=heartbeat,
                              limits=limits or Limits(min_disk_mb=0))
    options: dict[str, object] = {"min_time_left": 0, **settings}
    return Pilot(services, PilotSettings(site=SITE, stamp=stamp, wrapper=wrapper,
                                         **options),  # type: ignore[arg-type]
                 node=NODE, clock=iw.clock, sleep=lambda _: None)
