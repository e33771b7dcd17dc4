"""A small grid, a test splitter and a transformation system built the way the interware builds it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pluggy

from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.errors import InvalidTransformation
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.plugins.splitters import Splitter, TaskGroup
from dirac_core.rms import RequestStore
from dirac_core.testing.memory import MemoryCatalog
from dirac_core.transformation import TransformationSettings, TransformationSpec, TransformationSystem
from dirac_core.wms.engine import WorkloadManager

GRID = """
[registry.vos.demo]
name = "demo"

[registry.users.alice]
name = "alice"

[registry.users.bob]
name = "bob"

[registry.groups.demo_prod]
name = "demo_prod"
vo = "demo"
users = ["alice"]
properties = ["NormalUser", "ProductionManagement"]

[registry.groups.demo_user]
name = "demo_user"
vo = "demo"
users = ["alice", "bob"]
properties = ["NormalUser"]

[resources]
site_mask = ["LCG.A.ch", "LCG.B.fr"]

[resources.sites.LCG."LCG.A.ch"]
name = "LCG.A.ch"
ses = ["SE-A"]

[resources.sites.LCG."LCG.B.fr"]
name = "LCG.B.fr"
ses = ["SE-B", "SE-TAPE"]

[resources.storage_elements.SE-A]
name = "SE-A"

[resources.storage_elements.SE-B]
name = "SE-B"

[resources.storage_elements.SE-TAPE]
name = "SE-TAPE"
medium = "tape"
"""

ALICE = Identity(user="alice", group="demo_prod", vo="demo",
                 properties={"NormalUser", "ProductionManagement"})
BOB = Identity(user="bob", group="demo_user", vo="demo", properties={"NormalUser"})

TEMPLATE = '[ Executable = "reco.sh"; Arguments = "-n 10"; JobType = "DataProcessing"; CPUTime = 3600; ]'


class Chunks(Splitter):
    """Files by their exact set of SEs (sets in sorted order), cut into chunks of ``GroupSize`` in
    the order given; partial chunks only with ``flush``. Targets the group's SEs."""

    defaults: ClassVar[Mapping[str, Any]] = {"GroupSize": 2}

    def __init__(self, parameters: Mapping[str, Any], context: Any = None) -> None:
        super().__init__(parameters, context)
        size = self.parameters.get("GroupSize", 2)
        if not isinstance(size, int) or size < 1:
            raise InvalidTransformation(f"GroupSize must be a positive integer, got {size!r}",
                                        parameter="GroupSize")
        self.size = size

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        by_ses: dict[tuple[str, ...], list[str]] = {}
        for lfn, ses in replicas.items():
            by_ses.setdefault(tuple(sorted(ses)), []).append(lfn)
        out = []
        for ses in sorted(by_ses):
            lfns = by_ses[ses]
            for start in range(0, len(lfns), self.size):
                chunk = lfns[start:start + self.size]
                if len(chunk) == self.size or flush:
                    out.append(TaskGroup(target_ses=ses, lfns=tuple(chunk)))
        return out


SPLITTERS: dict[str, type[Splitter]] = {"Chunks": Chunks}


def grid() -> Config:
    """The test grid: SE-A at LCG.A.ch, SE-B and a tape SE at LCG.B.fr; alice manages productions."""
    return load_config(GRID, format="toml")


def catalog_with(files: Mapping[str, Sequence[str]], *, size: int = 10) -> MemoryCatalog:
    """A memory catalog holding ``files`` (LFN -> SEs)."""
    catalog = MemoryCatalog()
    catalog.add_files([FileEntry(lfn=lfn, size=size) for lfn in files]).raise_for_failures()
    catalog.add_replicas({lfn: list(ses) for lfn, ses in files.items() if ses}).raise_for_failures()
    return catalog


def build(database: Database, clock: Clock, *, catalog: MemoryCatalog | None = None,
          hooks: pluggy.PluginManager | None = None, settings: TransformationSettings | None = None,
          config: Config | None = None, splitters: Mapping[str, type[Splitter]] | None = None
          ) -> TransformationSystem:
    """A transformation system over a real WMS and request store, as the interware wires them;
    ``splitters`` adds test splitters to :data:`SPLITTERS`."""
    config = config or grid()
    hooks = hooks or make_plugin_manager(entry_points=False)
    wms = WorkloadManager(database=database, config=config, clock=clock, hooks=hooks, catalog=catalog)
    requests = RequestStore(database=database, clock=clock)
    return TransformationSystem(database=database, clock=clock, config=config, wms=wms, requests=requests,
                                catalog=catalog, hooks=hooks, settings=settings,
                                splitters={**SPLITTERS, **(splitters or {})})


def spec(name: str = "t", **overrides: Any) -> TransformationSpec:
    """A processing transformation split by :class:`Chunks` in pairs."""
    values: dict[str, Any] = {"name": name, "type": "DataProcessing", "plugin": "Chunks", "group_size": 2,
                              "body": TEMPLATE}
    values.update(overrides)
    return TransformationSpec(**values)
