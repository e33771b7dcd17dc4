"""Progress (files and tasks per status, DIRAC's processed percentage) and the periodic tasks run by
the scheduler."""

from __future__ import annotations

from datetime import timedelta

from tfs_helpers import ALICE, build, catalog_with, spec

from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.model.transformation import TaskStatus as K
from dirac_core.model.transformation import TransformationFileStatus as F
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.tasks import TaskOutcome, TaskScheduler
from dirac_core.transformation import SplitResult, TransformationStats, transformation_tasks


def test_stats_and_the_processed_percentage(database: Database, fake_clock: FakeClock) -> None:
    system = build(database, fake_clock)
    tid = system.create(spec(), ALICE).transformation_id
    assert system.stats(tid) == TransformationStats(files={}, total=0, processed_percent=None, problematic=0,
                                                    tasks={}, tasks_created=0)
    lfns = [f"/demo/{i}" for i in range(9)]
    system.add_files(tid, lfns)
    system.set_file_status(tid, {lfns[0]: "Processed", lfns[1]: "Processed", lfns[2]: "MissingInFC",
                                 lfns[3]: "Problematic", lfns[4]: "Processed-inherited",
                                 lfns[5]: "Unused-inherited"}, force=True)
    stats = system.stats(tid)
    assert stats.files == {F.PROCESSED: 2, F.MISSING_IN_FC: 1, F.PROBLEMATIC: 1, F.UNUSED: 3,
                           F.PROCESSED_INHERITED: 1, F.UNUSED_INHERITED: 1}
    # inherited files do not count; MissingInFC is given up: 2 of (7 - 1) = 33.3%, truncated
    assert (stats.total, stats.processed_percent, stats.problematic) == (7, 33.3, 1)


def test_the_scheduler_runs_the_whole_cycle(database: Database, fake_clock: FakeClock) -> None:
    hooks = make_plugin_manager(entry_points=False)
    system = build(database, fake_clock, catalog=catalog_with({f"/demo/{i}": ["SE-A"] for i in range(4)}),
                   hooks=hooks)
    scheduler = TaskScheduler(database, fake_clock, hooks, transformation_tasks(system), owner="test")
    assert sorted(scheduler.tasks) == ["transformation.cleaning", "transformation.extension",
                                       "transformation.input_queries", "transformation.monitor",
                                       "transformation.reservations", "transformation.split",
                                       "transformation.submit"]
    tid = system.create(spec(), ALICE).transformation_id
    system.add_files(tid, [f"/demo/{i}" for i in range(4)])
    system.start(tid)
    runs = scheduler.run_due()
    assert {run.outcome for run in runs.values()} == {TaskOutcome.RAN}
    assert runs["transformation.split"].result == {tid: SplitResult(tasks=2, files=4)}
    assert [t.status for t in system.tasks(tid)] == [K.SUBMITTED, K.SUBMITTED]
    assert system.stats(tid).tasks == {K.SUBMITTED: 2}
    assert scheduler.run_due()["transformation.split"].outcome is TaskOutcome.NOT_DUE
    fake_clock.advance(timedelta(minutes=11))
    runs = scheduler.run_due()
    assert runs["transformation.monitor"].result == {tid: {K.WAITING: 2}}
    assert runs["transformation.reservations"].outcome is TaskOutcome.NOT_DUE
