"""Files of a transformation: attached once (Added / Present), their statuses set in bulk by the rules."""

from __future__ import annotations

import pytest
from tfs_helpers import ALICE, build, catalog_with, spec

from dirac_core.db import Database
from dirac_core.errors import InvalidTransformation, NotFound
from dirac_core.model import FakeClock
from dirac_core.model.lfn import InvalidLFN
from dirac_core.model.transformation import FileAddition
from dirac_core.model.transformation import TransformationFileStatus as F
from dirac_core.transformation import TransformationSystem


@pytest.fixture
def system(database: Database, fake_clock: FakeClock) -> TransformationSystem:
    return build(database, fake_clock)


def test_files_are_added_once(system: TransformationSystem, fake_clock: FakeClock) -> None:
    tid = system.create(spec(), ALICE).transformation_id
    first = system.add_files(tid, ["/demo/a", "LFN:/demo/b", "/demo//c/"])
    assert first.ok == {"/demo/a": FileAddition.ADDED, "LFN:/demo/b": FileAddition.ADDED,
                        "/demo//c/": FileAddition.ADDED}
    fake_clock.advance(5)
    again = system.add_files(tid, ["/demo/b", "/demo/d", "relative", "/demo/d"])
    assert again.ok == {"/demo/b": FileAddition.PRESENT, "/demo/d": FileAddition.ADDED}
    assert isinstance(again.failed["relative"], InvalidLFN)
    files = system.files(tid)
    assert [(f.lfn, f.status, f.task_id, f.error_count) for f in files] == [
        ("/demo/a", F.UNUSED, None, 0), ("/demo/b", F.UNUSED, None, 0), ("/demo/c", F.UNUSED, None, 0),
        ("/demo/d", F.UNUSED, None, 0)]
    assert files[3].inserted == fake_clock.now() and files[0].inserted < files[3].inserted
    # another transformation has its own copy of a file
    other = system.create(spec("other"), ALICE).transformation_id
    assert system.add_files(other, ["/demo/a"]).ok == {"/demo/a": FileAddition.ADDED}


def test_long_lfns_are_told_apart(system: TransformationSystem) -> None:
    tid = system.create(spec(), ALICE).transformation_id
    stem = "/demo/" + "/".join(["d" * 100] * 9)
    lfns = [f"{stem}/{i}" for i in range(3)]
    assert set(system.add_files(tid, lfns).ok.values()) == {FileAddition.ADDED}
    assert [f.lfn for f in system.files(tid, lfns=lfns[1:2])] == lfns[1:2]


def test_a_final_transformation_takes_no_files(system: TransformationSystem) -> None:
    tid = system.create(spec(), ALICE).transformation_id
    system.complete(tid)
    with pytest.raises(InvalidTransformation, match="Completed"):
        system.add_files(tid, ["/demo/a"])
    with pytest.raises(NotFound):
        system.add_files(12345, ["/demo/a"])


def test_file_statuses_are_set_in_bulk_by_the_rules(system: TransformationSystem) -> None:
    tid = system.create(spec(), ALICE).transformation_id
    system.add_files(tid, ["/demo/a", "/demo/b", "/demo/c"])
    set_to = system.set_file_status(tid, {"/demo/a": "Processed", "/demo/b": F.ASSIGNED, "/demo/zz": "Unused",
                                          "bad": "Unused"})
    assert set_to.ok == {"/demo/a": F.PROCESSED, "/demo/b": F.ASSIGNED}
    assert isinstance(set_to.failed["/demo/zz"], NotFound) and isinstance(set_to.failed["bad"], InvalidLFN)
    # Processed is sticky; an Assigned file sent back costs an error
    again = system.set_file_status(tid, {"/demo/a": "Unused", "/demo/b": "Unused", "/demo/c": "Problematic"})
    assert again.ok == {"/demo/a": F.PROCESSED, "/demo/b": F.UNUSED, "/demo/c": F.PROBLEMATIC}
    by_lfn = {f.lfn: f for f in system.files(tid)}
    assert (by_lfn["/demo/b"].error_count, by_lfn["/demo/c"].error_count) == (1, 0)
    assert system.set_file_status(tid, {"/demo/a": "Unused"}, force=True).ok == {"/demo/a": F.UNUSED}
    with pytest.raises(InvalidTransformation, match="Forgotten"):
        system.set_file_status(tid, {"/demo/a": "Forgotten"})


def test_a_file_reset_too_often_is_left_alone(database: Database, fake_clock: FakeClock) -> None:
    from dirac_core.transformation import TransformationSettings

    system = build(database, fake_clock, settings=TransformationSettings(max_reset=3))
    tid = system.create(spec(), ALICE).transformation_id
    system.add_files(tid, ["/demo/a"])
    seen = []
    for _ in range(4):
        system.set_file_status(tid, {"/demo/a": "Assigned"})
        seen.append(system.set_file_status(tid, {"/demo/a": "Unused"}).ok["/demo/a"])
    assert seen == [F.UNUSED, F.UNUSED, F.UNUSED, F.MAX_RESET]
    assert system.set_file_status(tid, {"/demo/a": "Unused"}).ok["/demo/a"] is F.MAX_RESET
    assert system.files(tid)[0].error_count == 4


def test_files_and_tasks_come_in_pages(database: Database, fake_clock: FakeClock) -> None:
    lfns = [f"/demo/p{i}" for i in range(7)]
    system = build(database, fake_clock, catalog=catalog_with(dict.fromkeys(lfns, ("SE-A",))))
    tid = system.create(spec(name="paged"), ALICE).transformation_id
    system.add_files(tid, lfns)
    system.start(tid)
    system.split(tid)
    assert [f.lfn for f in system.files(tid, offset=2, limit=3)] == lfns[2:5]
    assert [f.lfn for f in system.files(tid, offset=6, limit=3)] == lfns[6:]
    assert [f.lfn for f in system.files(tid, statuses=[F.UNUSED], limit=5)] == [lfns[6]]
    assert [t.task_id for t in system.tasks(tid, offset=1, limit=2)] == [2, 3]
    assert [t.lfns for t in system.tasks(tid, limit=1)] == [tuple(lfns[:2])]
    assert system.tasks(tid, offset=3) == []
