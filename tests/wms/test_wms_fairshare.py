"""Fair share: task-queue priorities from group shares, owners and job priorities."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from wms_helpers import who

from dirac_core.config import Config
from dirac_core.db.tables.wms import task_queues
from dirac_core.wms import WorkloadManager
from dirac_core.wms.requirements import CPU_SEGMENTS, JobRequirements, cpu_segment, join_set, split_set
from dirac_core.wms.taskqueues import real_priority


def _rows(wms: WorkloadManager) -> list[tuple[str, str, str, int, float]]:
    with wms.database.begin(read_only=True) as conn:
        return [tuple(r) for r in conn.execute(  # type: ignore[misc]
            select(task_queues.c.owner, task_queues.c.owner_group, task_queues.c.sites,
                   task_queues.c.cpu_time, task_queues.c.priority))]


def _priorities(wms: WorkloadManager) -> dict[tuple[str, str, str], float]:
    """(owner, group, sites) -> priority, for queues that differ in those."""
    rows = _rows(wms)
    out = {(o, g, s): p for o, g, s, _, p in rows}
    assert len(out) == len(rows), "two queues share the key: use _rows"
    return out


def test_group_share_is_split_between_owners(wms: WorkloadManager) -> None:
    wms.submit('[Executable = "a"]', who("alice"))
    wms.submit('[Executable = "a"]', who("bob"))
    prios = _priorities(wms)
    assert prios[("alice", "demo_user", "")] == pytest.approx(500)
    assert prios[("bob", "demo_user", "")] == pytest.approx(500)


def test_an_owners_share_follows_job_priorities(wms: WorkloadManager) -> None:
    wms.submit('[Executable = "a"; Priority = 1; CPUTime = 1000]', who("alice"))
    wms.submit('[Executable = "a"; Priority = 3; CPUTime = 100000]', who("alice"))
    prios = sorted(p for *_, p in _rows(wms))
    assert prios == pytest.approx([250, 750])


def test_sharing_group_is_one_entity(wms: WorkloadManager) -> None:
    wms.submit('[Executable = "a"]', who("alice", "demo_shared"))
    wms.submit('[Executable = "a"; CPUTime = 100000]', who("bob", "demo_shared"))
    prios = _priorities(wms)
    assert prios[("alice", "demo_shared", "")] == pytest.approx(250)
    assert prios[("bob", "demo_shared", "")] == pytest.approx(250)


def test_queues_differing_only_by_site_sum_their_priorities(wms: WorkloadManager) -> None:
    wms.submit('[Executable = "a"; Site = "DIRAC.A.ch"]', who("alice"))
    wms.submit('[Executable = "a"; Site = "DIRAC.B.fr"]', who("alice"))
    wms.submit('[Executable = "a"; CPUTime = 100000]', who("alice"))
    prios = {(o, g, s): p for o, g, s, cpu, p in _rows(wms) if cpu == 86400}
    [other] = [p for *_, cpu, p in _rows(wms) if cpu != 86400]
    # three queues of priority 1/3 of 1000 each; the two site variants get the sum
    assert prios[("alice", "demo_user", "DIRAC.A.ch")] == pytest.approx(2000 / 3)
    assert prios[("alice", "demo_user", "DIRAC.B.fr")] == pytest.approx(2000 / 3)
    assert other == pytest.approx(1000 / 3)


def test_priority_zero_jobs_get_the_floor(wms: WorkloadManager) -> None:
    wms.submit('[Executable = "a"; Priority = 0]', who("alice"))
    wms.submit('[Executable = "a"; Priority = 10; CPUTime = 100000]', who("alice"))
    low, high = sorted(p for *_, p in _rows(wms))
    assert low == pytest.approx(0.001) and high == pytest.approx(1000, rel=1e-6)


def test_same_requirements_share_a_queue(wms: WorkloadManager) -> None:
    wms.submit(['[Executable = "a"; CPUTime = 3000]', '[Executable = "b"; CPUTime = 3500]'],
               who("alice"))
    assert len(_rows(wms)) == 1


def test_cpu_segments_and_set_encoding() -> None:
    assert cpu_segment(1) == 360 and cpu_segment(3600) == 3600 and cpu_segment(3601) == 21600
    assert cpu_segment(10**9) == CPU_SEGMENTS[-1]
    assert split_set(join_set({"b", "a"})) == {"a", "b"} and split_set("") == frozenset()
    a = JobRequirements(owner="o", owner_group="g", vo="v", cpu_time=360, sites=frozenset({"x"}))
    b = JobRequirements(owner="o", owner_group="g", vo="v", cpu_time=360, tags=frozenset({"x"}))
    assert a.fingerprint() != b.fingerprint()
    assert JobRequirements.from_row(a.row()) == a
    assert real_priority(0) == 1e-5 and real_priority(10) == 1e6 and real_priority(4) == 4.0


def test_recomputing_unchanged_priorities_writes_nothing(wms: WorkloadManager,
                                                         grid_config: Config) -> None:
    from sqlalchemy import event

    from dirac_core.wms.taskqueues import recompute_priorities

    wms.submit(['[Executable = "a"; CPUTime = 1000;]', '[Executable = "b"; CPUTime = 90000;]'],
               who())
    updates: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    with wms.database.begin() as conn:
        first = recompute_priorities(conn, grid_config.registry)
        event.listen(conn, "before_cursor_execute", count)
        again = recompute_priorities(conn, grid_config.registry)
    assert first == again and len(first) == 2
    assert updates == []
