"""The splitting cycle: Unused files into named tasks, Assigned with their task and UsedSE; flush;
files the catalog lacks; limits; a splitter breaking its contract; files changed meanwhile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest
from tfs_helpers import ALICE, Chunks, build, catalog_with, spec

from dirac_core.db import Database
from dirac_core.errors import BulkResult, CatalogError
from dirac_core.model import FakeClock
from dirac_core.model.transformation import TaskStatus, TransformationStatus
from dirac_core.model.transformation import TransformationFileStatus as F
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.splitters import Splitter, TaskGroup
from dirac_core.testing.memory import MemoryCatalog
from dirac_core.transformation import SplitResult, TransformationSettings, TransformationSystem

FILES = {"/demo/a1": ["SE-A"], "/demo/a2": ["SE-A"], "/demo/a3": ["SE-A"],
         "/demo/b1": ["SE-B", "SE-A"], "/demo/b2": ["SE-A", "SE-B"]}


@pytest.fixture
def catalog() -> MemoryCatalog:
    return catalog_with(FILES)


@pytest.fixture
def system(database: Database, fake_clock: FakeClock, catalog: MemoryCatalog) -> TransformationSystem:
    return build(database, fake_clock, catalog=catalog)


def _active(system: TransformationSystem, lfns: Sequence[str] = tuple(FILES), **overrides: Any) -> int:
    tid = system.create(spec(**overrides), ALICE).transformation_id
    system.add_files(tid, lfns)
    system.start(tid)
    return tid


def test_full_groups_become_named_tasks(system: TransformationSystem, fake_clock: FakeClock) -> None:
    tid = _active(system)
    assert system.split() == {tid: SplitResult(tasks=2, files=4)}
    tasks = system.tasks(tid)
    assert [(t.name, t.status, t.target_ses, t.lfns) for t in tasks] == [
        (f"{tid:08d}_00000001", TaskStatus.CREATED, ("SE-A",), ("/demo/a1", "/demo/a2")),
        (f"{tid:08d}_00000002", TaskStatus.CREATED, ("SE-A", "SE-B"), ("/demo/b1", "/demo/b2"))]
    assert tasks[0].created == fake_clock.now() and tasks[0].external_id is None
    files = {f.lfn: (f.status, f.task_id, f.used_se) for f in system.files(tid)}
    assert files == {"/demo/a1": (F.ASSIGNED, 1, "SE-A"), "/demo/a2": (F.ASSIGNED, 1, "SE-A"),
                     "/demo/a3": (F.UNUSED, None, None),
                     "/demo/b1": (F.ASSIGNED, 2, "SE-A,SE-B"), "/demo/b2": (F.ASSIGNED, 2, "SE-A,SE-B")}
    # nothing new: the partial group waits
    assert system.split(tid) == {tid: SplitResult()}
    assert system.get(tid).last_task_id == 2


def test_flush_makes_partial_groups_then_goes_back_to_active(system: TransformationSystem) -> None:
    tid = _active(system)
    system.split()
    system.flush(tid)
    assert system.split(tid)[tid] == SplitResult(tasks=1, files=1, flushed=True)
    assert system.get(tid).status is TransformationStatus.ACTIVE
    assert [t.lfns for t in system.tasks(tid)][-1] == ("/demo/a3",)
    # a flush with nothing left to group also ends
    system.flush(tid)
    assert system.split(tid)[tid] == SplitResult(flushed=True)
    assert system.get(tid).status is TransformationStatus.ACTIVE


def test_only_active_completing_and_flush_transformations_are_split(system: TransformationSystem) -> None:
    new = system.create(spec("new"), ALICE).transformation_id
    system.add_files(new, list(FILES))
    stopped = _active(system, name="stopped")
    system.stop(stopped)
    completing = _active(system, name="completing")
    system.set_status(completing, "Completing")
    assert set(system.split()) == {completing}
    assert system.tasks(new) == system.tasks(stopped) == []


def test_files_the_catalog_lacks_or_cannot_answer_for(system: TransformationSystem, catalog: MemoryCatalog,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    tid = _active(system, ["/demo/a1", "/demo/a2", "/demo/ghost", "/demo/flaky"])
    catalog.add_files([FileEntry(lfn="/demo/flaky", size=1)]).raise_for_failures()
    catalog.add_replicas({"/demo/flaky": ["SE-A"]}).raise_for_failures()
    real = catalog.get_replicas

    def shaky(lfns: Sequence[str]) -> BulkResult[str, frozenset[str]]:
        result = real([lfn for lfn in lfns if lfn != "/demo/flaky"])
        if "/demo/flaky" in lfns:
            result.add_failed("/demo/flaky", CatalogError("timeout"))
        return result

    monkeypatch.setattr(catalog, "get_replicas", shaky)
    assert system.split(tid)[tid] == SplitResult(tasks=1, files=2, missing=1, problematic=1)
    statuses = {f.lfn: f.status for f in system.files(tid)}
    assert (statuses["/demo/ghost"], statuses["/demo/flaky"]) == (F.MISSING_IN_FC, F.PROB_IN_FC)
    # ProbInFC is tried again: answered now, it is grouped
    monkeypatch.setattr(catalog, "get_replicas", real)
    system.flush(tid)
    assert system.split(tid)[tid].files == 1
    assert {f.lfn: f.status for f in system.files(tid)}["/demo/flaky"] is F.ASSIGNED


def test_max_tasks_limits_what_is_made(system: TransformationSystem) -> None:
    tid = _active(system, max_tasks=1)
    assert system.split(tid)[tid].tasks == 1
    system.flush(tid)
    assert system.split(tid)[tid] == SplitResult()
    assert len(system.tasks(tid)) == 1


def test_batches_are_written_one_transaction_each(database: Database, fake_clock: FakeClock,
                                                  catalog: MemoryCatalog) -> None:
    system = build(database, fake_clock, catalog=catalog, settings=TransformationSettings(batch_files=2))
    tid = _active(system)
    system.flush(tid)
    assert system.split(tid)[tid] == SplitResult(tasks=3, files=5, flushed=True)
    assert [t.task_id for t in system.tasks(tid)] == [1, 2, 3]


class Greedy(Splitter):
    """Breaks the contract: puts every file in two tasks."""

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        everything = tuple(replicas)
        return [TaskGroup(target_ses=(), lfns=everything), TaskGroup(target_ses=(), lfns=everything)]


class Sized(Chunks):
    """Groups only files whose size it was given, in a task of their own."""

    needs: ClassVar[frozenset[str]] = frozenset({"sizes"})

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        return [TaskGroup(target_ses=(str(sizes[lfn]),), lfns=(lfn,)) for lfn in replicas if sizes]


def test_a_splitter_that_breaks_its_contract_writes_nothing(database: Database, fake_clock: FakeClock,
                                                            catalog: MemoryCatalog) -> None:
    system = build(database, fake_clock, catalog=catalog, splitters={"Greedy": Greedy})
    tid = _active(system, plugin="Greedy", group_size=None)
    result = system.split(tid)[tid]
    assert result.tasks == 0 and "in two tasks" in (result.error or "")
    assert system.tasks(tid) == [] and {f.status for f in system.files(tid)} == {F.UNUSED}


def test_sizes_are_fetched_for_splitters_that_need_them(database: Database, fake_clock: FakeClock,
                                                         catalog: MemoryCatalog) -> None:
    system = build(database, fake_clock, catalog=catalog, splitters={"Sized": Sized})
    tid = _active(system, ["/demo/a1"], plugin="Sized")
    system.split(tid)
    assert [t.target_ses for t in system.tasks(tid)] == [("10",)]


def test_files_changed_while_being_split_are_not_assigned(system: TransformationSystem,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    tid = _active(system)
    real = Chunks.split

    def meanwhile(self: Chunks, replicas: Mapping[str, Sequence[str]], **kwargs: Any) -> list[TaskGroup]:
        system.set_file_status(tid, {"/demo/b2": "Problematic"})  # someone else, between read and write
        return real(self, replicas, **kwargs)

    monkeypatch.setattr(Chunks, "split", meanwhile)
    result = system.split(tid)[tid]
    assert result.conflict and result.tasks == 0
    assert system.tasks(tid) == [] and system.get(tid).last_task_id == 0
    monkeypatch.setattr(Chunks, "split", real)
    assert system.split(tid)[tid] == SplitResult(tasks=1, files=2)
    assert {f.lfn: f.status for f in system.files(tid)}["/demo/b2"] is F.PROBLEMATIC


class Usage(Chunks):
    """Makes one task of the first file at its SEs, and remembers the usage it was told of."""

    needs: ClassVar[frozenset[str]] = frozenset({"usage"})
    seen: ClassVar[list[dict[str, int]]] = []

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        self.seen.append(dict(self.context.used))
        lfn, ses = next(iter(replicas.items()))
        return [TaskGroup(target_ses=tuple(ses), lfns=(lfn,))]


def test_the_usage_so_far_is_given_to_splitters_that_need_it(database: Database, fake_clock: FakeClock,
                                                              catalog: MemoryCatalog) -> None:
    system = build(database, fake_clock, catalog=catalog, splitters={"Usage": Usage})
    tid = _active(system, plugin="Usage")
    Usage.seen.clear()
    for _ in range(4):
        system.split(tid)
    # a1, a2, a3 at SE-A, then b1 at SE-A and SE-B
    assert Usage.seen == [{}, {"SE-A": 1}, {"SE-A": 2}, {"SE-A": 3}]
    system.split(tid)
    assert Usage.seen[-1] == {"SE-A": 4, "SE-B": 1}
    assert system.split_context(system.get(tid)).se_sites == {"SE-A": "LCG.A.ch", "SE-B": "LCG.B.fr",
                                                              "SE-TAPE": "LCG.B.fr"}
    assert system.split_context(system.get(tid)).tape_ses == frozenset({"SE-TAPE"})


def test_a_flush_lasts_until_a_cycle_has_seen_every_file(database: Database, fake_clock: FakeClock,
                                                         catalog: MemoryCatalog) -> None:
    system = build(database, fake_clock, catalog=catalog, settings=TransformationSettings(files_per_cycle=3))
    tid = _active(system)
    system.flush(tid)
    assert system.split(tid)[tid] == SplitResult(tasks=2, files=3)  # a1 a2 | a3: two of five files left
    assert system.get(tid).status is TransformationStatus.FLUSH
    assert system.split(tid)[tid] == SplitResult(tasks=1, files=2, flushed=True)
    assert system.get(tid).status is TransformationStatus.ACTIVE
