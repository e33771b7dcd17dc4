"""A pilot inside this process, for notebooks, examples and tests: :func:`run_local_pilot`.

It is the pilot the worker nodes run (:class:`~dirac_core.pilot.runtime.Pilot`, its job wrapper
and watchdog, real payload processes), pulling from an embedded interware instead of a server:
registered like a pilot the site director sent, acting as the registry's pilot user, moving each
job's data as the job's owner. It runs until no job matches (or ``max_jobs``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from dirac_core.config.registry import Property
from dirac_core.errors import NotFound
from dirac_core.model.identity import Identity
from dirac_core.pilot.data import interware_transfers
from dirac_core.pilot.node import detect
from dirac_core.pilot.runtime import Pilot, PilotReport, PilotSettings
from dirac_core.pilot.services import EmbeddedServices
from dirac_core.pilot.watchdog import Limits
from dirac_core.pilot.wrapper import WrapperSettings
from dirac_core.wms.pilots import PilotRecord

if TYPE_CHECKING:
    from dirac_core.interware import Interware

__all__ = ["pilot_identity", "run_local_pilot"]


def pilot_identity(iw: Interware, vo: str | None = None, *, stamp: str) -> Identity:
    """The identity of a pilot of ``vo`` (default: the first VO with one) bound to ``stamp``: the
    first user of the first group holding ``GenericPilot``; ``NotFound`` when there is none."""
    registry = iw.config.registry
    groups = sorted((g for g in registry.groups.values()
                     if Property.GENERIC_PILOT in g.properties and g.users and vo in (None, g.vo)),
                    key=lambda g: g.name)
    if not groups:
        raise NotFound(f"the registry has no GenericPilot group with users{f' in VO {vo}' if vo else ''}")
    group = groups[0]
    return Identity(user=sorted(group.users)[0], group=group.name, vo=group.vo,
                    properties=group.properties, pilot_stamp=stamp)


def run_local_pilot(iw: Interware, *, site: str, work_dir: str | Path, vo: str | None = None,
                    ce: str | None = None, max_jobs: int | None = None, processors: int | None = None,
                    tags: Iterable[str] = (), stamp: str | None = None) -> PilotReport:
    """Run one pilot at ``site`` in this process until no job matches; what it did.

    Jobs run in ``work_dir`` (a folder per job, removed afterwards). ``processors`` defaults to the
    machine's cores; ``tags`` are the node's tags (``GPU``, ...).
    """
    stamp = stamp or f"local-{uuid.uuid4().hex[:24]}"
    identity = pilot_identity(iw, vo, stamp=stamp)
    iw.pilots.register([PilotRecord(pilot_stamp=stamp, vo=identity.vo, destination_site=site,
                                    grid_type="Local", grid_site=site)])
    work = Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    wrapper = WrapperSettings(work_dir=work, limits=Limits(min_disk_mb=0))
    settings = PilotSettings(site=site, stamp=stamp, wrapper=wrapper, ce=ce, vo=identity.vo,
                             max_jobs=max_jobs, processors=processors,
                             tags=frozenset(tags),  # type: ignore[arg-type]  # attrs converter typing
                             min_time_left=0)
    pilot = Pilot(EmbeddedServices(iw, identity), settings, node=detect(work), clock=iw.clock,
                  data=interware_transfers(iw, identity.vo))
    return pilot.run()
