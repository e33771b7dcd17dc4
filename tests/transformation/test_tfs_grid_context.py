"""What the system tells splitters of the grid: free space (asked once per cycle, only for splitters
that need it), the CPU shares of the transformation's VO, tape SEs and sites."""

from __future__ import annotations

import pytest
from tfs_helpers import ALICE, GRID, build, catalog_with

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.transformation import SplitResult, TransformationSpec, TransformationSystem

FILES = {f"/demo/f{i}": ["SE-A"] for i in range(6)}


def _system(database: Database, clock: FakeClock, free: dict[str, int] | None, calls: list[int],
            grid: str = GRID) -> TransformationSystem:
    base = build(database, clock, catalog=catalog_with(FILES, size=100),
                 config=load_config(grid, format="toml"))

    def free_space() -> dict[str, int]:
        calls.append(1)
        if free is None:
            raise OSError("the SE does not answer")
        return free

    return TransformationSystem(database=database, clock=clock, config=base.config, wms=base.wms,
                                requests=base.requests, catalog=base.catalog, free_space=free_space)


def _replication(system: TransformationSystem, name: str, plugin: str, **parameters: object) -> int:
    tid = system.create(TransformationSpec(name=name, type="Replication", plugin=plugin, group_size=2,
                                           parameters=parameters), ALICE).transformation_id
    system.add_files(tid, list(FILES))
    system.start(tid)
    return tid


def test_by_free_space_spreads_by_the_space_the_ses_report(database: Database, fake_clock: FakeClock) -> None:
    calls: list[int] = []
    system = _system(database, fake_clock, {"SE-B": 1000, "SE-TAPE": 950}, calls)
    first = _replication(system, "spread", "ByFreeSpace", TargetSE="SE-B, SE-TAPE")
    second = _replication(system, "spread-again", "ByFreeSpace", TargetSE="SE-B, SE-TAPE")
    results = system.split()
    assert results[first] == SplitResult(tasks=3, files=6)
    assert len(calls) == 1  # once per cycle, shared by both transformations
    # 1000 free at SE-B takes the first pair (200 bytes), then SE-TAPE has more room, and so on
    assert [t.target_ses for t in system.tasks(first)] == [("SE-B",), ("SE-TAPE",), ("SE-B",)]
    assert [t.target_ses for t in system.tasks(second)] == [("SE-B",), ("SE-TAPE",), ("SE-B",)]


def test_by_free_space_waits_when_the_space_is_unknown(database: Database, fake_clock: FakeClock) -> None:
    calls: list[int] = []
    system = _system(database, fake_clock, None, calls)
    tid = _replication(system, "blind", "ByFreeSpace", TargetSE="SE-B")
    assert system.split()[tid] == SplitResult()
    assert len(calls) == 1


def test_splitters_that_do_not_need_space_never_ask(database: Database, fake_clock: FakeClock) -> None:
    calls: list[int] = []
    system = _system(database, fake_clock, {}, calls)
    tid = _replication(system, "plain", "Standard")
    assert system.split()[tid].tasks == 3
    assert calls == []


SHARES = GRID + """
[operations.vos.demo.cpu_shares]
"LCG.A.ch" = 0
"LCG.B.fr" = 100
"""


@pytest.mark.parametrize(("grid", "tasks"), [(GRID, 0), (SHARES, 3)])
def test_by_share_follows_the_vos_cpu_shares(database: Database, fake_clock: FakeClock, grid: str,
                                             tasks: int) -> None:
    both = {lfn: ["SE-A", "SE-B"] for lfn in FILES}
    base = build(database, fake_clock, catalog=catalog_with(both), config=load_config(grid, format="toml"))
    tid = base.create(TransformationSpec(name="shared", type="DataProcessing", plugin="ByShare", group_size=2,
                                         body='[ Executable = "x"; ]'), ALICE).transformation_id
    base.add_files(tid, list(both))
    base.start(tid)
    assert base.split()[tid].tasks == tasks  # no shares configured: ByShare makes nothing
    assert {t.target_ses for t in base.tasks(tid)} <= {("SE-B",)}
