"""The maintained status counts agree with counting the jobs, whatever changed them.

Every path that writes a job's status (submission, checks, matching, status updates,
heartbeats, kill, delete, reschedule, the periodic tasks, the removal of old jobs) runs
here; after each step the counts (folded or not) must equal ``COUNT(*) ... GROUP BY status``.
"""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import func, select, update
from wms_helpers import ADMIN, PILOT, resource, who

from dirac_core.db import Database
from dirac_core.db.tables.wms import jobs, status_changes
from dirac_core.model import FakeClock
from dirac_core.wms import WorkloadManager, housekeeping, status_counts
from dirac_core.wms.search import summary


def _truth(wms: WorkloadManager, **scope: str) -> dict[str, int]:
    query = select(jobs.c.status, func.count()).group_by(jobs.c.status)
    for name, value in scope.items():
        query = query.where(jobs.c[name] == value)
    with wms.database.begin(read_only=True) as conn:
        return {str(status): int(n) for status, n in conn.execute(query)}


def _maintained(wms: WorkloadManager, **scope: str) -> dict[str, int]:
    with wms.database.begin(read_only=True) as conn:
        return status_counts.counts(conn, **scope)


def _agree(wms: WorkloadManager) -> dict[str, int]:
    """The counts agree with the jobs, per VO and per group, before and after a fold."""
    for scope in ({}, {"vo": "demo"}, {"owner_group": "demo_user"}, {"owner_group": "demo_shared"},
                  {"vo": "demo", "owner_group": "demo_admin"}):
        assert _maintained(wms, **scope) == _truth(wms, **scope), scope
    housekeeping.fold_status_counts(wms)
    with wms.database.begin(read_only=True) as conn:
        assert conn.execute(select(func.count()).select_from(status_changes)).scalar_one() == 0
    assert _maintained(wms, vo="demo") == _truth(wms, vo="demo")
    return _truth(wms, vo="demo")


def test_every_status_writer_keeps_the_counts_exact(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    jobs_a = wms.submit([f'[Executable = "a{i}"]' for i in range(5)], who())
    wms.submit('[Executable = "p"; Arguments = "%n"; Parameters = 4]', who("bob", "demo_shared"))
    wms.submit('[Executable = "x"; InputData = {"/demo/missing"}]', who())  # fails its checks
    wms.submit('[Executable = "adm"]', ADMIN)
    assert _agree(wms)["Waiting"] == 10
    matched = [wms.match(resource(), PILOT) for _ in range(6)]
    assert all(m is not None for m in matched)
    wms.match_many([resource(), resource()], PILOT)
    assert _agree(wms)["Matched"] == 8
    ids = [m.job_id for m in matched if m is not None]
    now = fake_clock.now()
    wms.set_status({j: {now: {"Status": "Running", "Source": "JobWrapper"}} for j in ids})
    wms.set_status({ids[0]: {now: {"Status": "Done", "Source": "JobWrapper"}},
                    ids[1]: {now: {"Status": "Failed", "Source": "JobWrapper"}},
                    ids[2]: {now: {"Status": "Waiting", "Source": "JobWrapper"}}})  # refused
    assert _agree(wms)["Running"] == 4
    wms.kill([ids[3]])
    wms.delete([jobs_a[4].job_id])
    wms.reschedule([ids[4]])
    _agree(wms)
    fake_clock.advance(7201)  # Running jobs silent for two hours stall; Matched ones are recovered
    assert housekeeping.detect_stalled(wms) >= 1
    housekeeping.recover_matched(wms)
    _agree(wms)
    stalled = [j for j, row in wms.get_jobs(ids).items() if row["status"] == "Stalled"]
    wms.heartbeat({stalled[0]: {"CPUConsumed": 2}})  # a heartbeat revives it
    wms.release_held()
    _agree(wms)
    fake_clock.advance(8 * 86400)
    housekeeping.remove_old_jobs(wms)  # final jobs deleted, then Deleted ones removed
    housekeeping.remove_old_jobs(wms)
    counted = _agree(wms)
    assert "Deleted" not in counted and sum(counted.values()) == sum(_truth(wms).values())


def test_the_monitors_status_count_reads_the_maintained_counts(wms: WorkloadManager) -> None:
    wms.submit([f'[Executable = "a{i}"]' for i in range(3)], who())
    wms.submit('[Executable = "b"]', who("bob", "demo_shared"))
    by_vo = [{"parameter": "VO", "operator": "eq", "value": "demo"}]
    assert wms.summary(["Status"], by_vo) == [{"Status": "Waiting", "count": 4}]
    group = [*by_vo, {"parameter": "OwnerGroup", "operator": "eq", "value": "demo_shared"}]
    assert wms.summary(["Status"], group) == [{"Status": "Waiting", "count": 1}]
    # a row written behind the WMS's back is invisible to the counts, not to a counting query:
    # which of the two answered shows
    with wms.database.begin() as conn:
        conn.execute(update(jobs).values(status="Running"))
    assert wms.summary(["Status"], by_vo) == [{"Status": "Waiting", "count": 4}]
    assert wms.summary(["Status"], by_vo, owner="alice") == [{"Status": "Running", "count": 3}]
    assert wms.summary(["Status", "Owner"], by_vo) == [{"Status": "Running", "Owner": "alice", "count": 3},
                                                     {"Status": "Running", "Owner": "bob", "count": 1}]
    # rebuild() counts again (for a schema filled by hand)
    with wms.database.begin() as conn:
        assert status_counts.rebuild(conn) == 4
        assert summary(conn, ["Status"], []) == [{"Status": "Running", "count": 4}]
    assert wms.summary(["Status"], by_vo) == [{"Status": "Running", "count": 4}]


def test_concurrent_folds_and_writers_lose_and_double_nothing(database: Database, wms: WorkloadManager,
                                                             fake_clock: FakeClock) -> None:
    """Two folders and a writer at once (on MariaDB and PostgreSQL they truly overlap)."""
    submitted = [j.job_id for j in wms.submit([f'[Executable = "a{i}"]' for i in range(60)], who())]
    housekeeping.fold_status_counts(wms)
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def writer() -> None:
        try:
            start.wait()
            for i, job in enumerate(submitted):
                status = "Killed" if i % 2 else "Deleted"
                wms.set_status({job: {fake_clock.now(): {"Status": status, "Source": "test"}}})
        except BaseException as exc:  # reported below
            errors.append(exc)

    def folder() -> None:
        try:
            start.wait()
            for _ in range(40):
                with database.begin() as conn:
                    status_counts.fold(conn, limit=7)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=folder),
               threading.Thread(target=folder)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _maintained(wms, vo="demo") == _truth(wms, vo="demo") == {"Killed": 30, "Deleted": 30}
    housekeeping.fold_status_counts(wms)
    assert _maintained(wms, vo="demo") == {"Killed": 30, "Deleted": 30}


def test_changes_are_aggregated_and_no_change_is_not_recorded(wms: WorkloadManager) -> None:
    with wms.database.begin() as conn:
        same, done = ("demo", "g", "Waiting", "Waiting"), ("demo", "g", "Waiting", "Done")
        assert status_counts.record(conn, [("demo", "g", None, "Waiting")] * 5 + [same, done]) == 2
        rows = Counter({(r.new_status, r.old_status): r._mapping["count"]
                        for r in conn.execute(select(status_changes))})
    assert rows == {("Waiting", None): 5, ("Done", "Waiting"): 1}
    assert _maintained(wms, vo="demo") == {"Waiting": 4, "Done": 1}
