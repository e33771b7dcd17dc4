"""Cleaning (jobs deleted, requests canceled, outputs removed from the SEs and the catalog, then
Cleaned), output removal (RemovingFiles -> Completed), archiving after seven days, and a removal that
fails keeping the transformation in Cleaning until a later cycle succeeds.

A whole interware on the backend under test: the real WMS, request store, SQL catalog and data
manager over the embedded file SEs.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.model.request import RequestStatus
from dirac_core.model.status import check_transition
from dirac_core.model.transformation import TRANSFORMATION_TRANSITIONS, TaskStatus
from dirac_core.model.transformation import TransformationStatus as T
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.plugins.splitters import TaskGroup
from dirac_core.rms import Operation, Request, RequestFile
from dirac_core.transformation import CleaningResult, TransformationSpec, task_store
from dirac_core.transformation.cleaning import CleaningAction, output_directories
from dirac_core.wms.status_updates import StatusUpdate

MC = '[ Executable = "simulate.sh"; JobType = "MCSimulation"; CPUTime = 3600; ]'


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock, tmp_path: Path) -> Iterator[Interware]:
    """An interware on the backend under test with the embedded SEs under ``tmp_path``."""
    text = EMBEDDED_CONFIG.format(root=tmp_path.as_posix())
    url = database.url.render_as_string(hide_password=False)
    text = text.replace(f'url = "sqlite:///{tmp_path.as_posix()}/dirac.sqlite"', f'url = "{url}"')
    interware = Interware(config=load_config(text, format="toml"), database=database, clock=fake_clock,
                          hooks=make_plugin_manager(()))
    assert interware.catalog is not None
    interware.catalog.add_metadata_field("TransformationID", "int", for_files=True)
    yield interware
    interware.request_executor.close()
    interware.storage.close()


def _admin(iw: Interware) -> Identity:
    return iw.identity("admin", "demo_admin")  # NormalUser and ProductionManagement


def _mc(iw: Interware, *, max_tasks: int = 3) -> int:
    """An Automatic MC transformation whose ``max_tasks`` tasks are jobs in the WMS; its output
    directories set the way a production system would (one of them a log directory)."""
    ts = iw.transformations
    tid = ts.create(TransformationSpec(name="mc", type="MCSimulation", body=MC, max_tasks=max_tasks),
                    _admin(iw)).transformation_id
    ts.set_parameters(tid, {"OutputDirectories": [f"/demo/mc/{tid:08d}", f"/demo/mc/LOG/{tid:08d}",
                                                  "/demo/mc"]})  # the last one names no transformation
    ts.start(tid)
    assert ts.extend_tasks(tid)[tid].created == max_tasks
    assert ts.submit_tasks(tid)[tid].submitted == max_tasks
    return tid


def _put(iw: Interware, tmp_path: Path, lfn: str, *, ses: tuple[str, ...] = ("Embedded-SE",)) -> str:
    local = tmp_path / "upload.dat"
    local.write_bytes(lfn.encode() * 10)
    dm = iw.data_manager(_admin(iw))
    dm.put_and_register(lfn, local, ses[0])
    for se in ses[1:]:
        dm.replicate_and_register(lfn, se)
    return lfn


def _outputs(iw: Interware, tmp_path: Path, tid: int) -> dict[str, list[str]]:
    """Outputs under the directories (two SEs for one), a log file, a file found by its metadata
    only, and files that are not the transformation's."""
    assert iw.catalog is not None
    tag = f"{tid:08d}"
    made = {
        "data": [_put(iw, tmp_path, f"/demo/mc/{tag}/0000/out_{i}.root") for i in range(3)]
        + [_put(iw, tmp_path, f"/demo/mc/{tag}/0001/out_3.root", ses=("Embedded-SE", "Embedded-SE2"))],
        "log": [_put(iw, tmp_path, f"/demo/mc/LOG/{tag}/job_1.tar")],
        "tagged": [_put(iw, tmp_path, "/demo/elsewhere/out_9.root")],
        "other": [_put(iw, tmp_path, "/demo/mc/keep.root"), _put(iw, tmp_path, "/demo/elsewhere/keep.root")],
    }
    iw.catalog.set_metadata({made["tagged"][0]: {"TransformationID": tid},
                             made["other"][1]: {"TransformationID": tid + 1}}).raise_for_failures()
    return made


def _in_catalog(iw: Interware, lfns: list[str]) -> set[str]:
    assert iw.catalog is not None
    return {lfn for lfn, kind in iw.catalog.exists(lfns).ok.items() if kind == "file"}


def _on_storage(iw: Interware, lfns: list[str], se: str = "Embedded-SE") -> set[str]:
    return {lfn for lfn in lfns if iw.storage[se].exists(lfn)}


def test_the_table_lets_live_transformations_be_cleaned() -> None:
    for start in (T.ACTIVE, T.STOPPED, T.COMPLETED):
        for target in (T.CLEANING, T.REMOVING_FILES):
            assert check_transition(TRANSFORMATION_TRANSITIONS, start, target) is target
    assert check_transition(TRANSFORMATION_TRANSITIONS, T.CLEANING, T.CLEANED) is T.CLEANED
    assert check_transition(TRANSFORMATION_TRANSITIONS, T.REMOVING_FILES, T.COMPLETED) is T.COMPLETED
    assert check_transition(TRANSFORMATION_TRANSITIONS, T.COMPLETED, T.ARCHIVED) is T.ARCHIVED
    assert T.ACTIVE not in TRANSFORMATION_TRANSITIONS[T.CLEANING]


def test_output_directories_follow_dirac(iw: Interware) -> None:
    t = iw.transformations.create(TransformationSpec(name="dirs", type="MCSimulation", body=MC), _admin(iw))
    tag = f"{t.transformation_id:08d}"
    t = attrs.evolve(t, parameters={"OutputDirectories": [f"/demo/mc/{tag}/", f"/demo/LOG/{tag}", "/demo",
                                                          "relative/path"]})
    kept, ignored = output_directories(t)
    assert kept == [f"/demo/LOG/{tag}", f"/demo/mc/{tag}"]
    assert len(ignored) == 2 and ignored[0] == f"/demo: does not name transformation {tag}"
    assert output_directories(t, logs=False)[0] == [f"/demo/mc/{tag}"]
    one = attrs.evolve(t, parameters={"OutputDirectories": f'["/demo/mc/{tag}"]'})
    assert output_directories(one)[0] == [f"/demo/mc/{tag}"]
    with pytest.raises(ValueError, match="OutputDirectories"):
        output_directories(attrs.evolve(t, parameters={"OutputDirectories": {"a": 1}}))


def test_cleaning_deletes_jobs_cancels_requests_and_removes_outputs(iw: Interware, tmp_path: Path,
                                                                   fake_clock: FakeClock) -> None:
    ts = iw.transformations
    tid = _mc(iw)
    first, second, third = ts.tasks(tid)
    running, done = first.external_id or 0, second.external_id or 0
    iw.wms.set_status({running: {fake_clock.advance(1): StatusUpdate(status=JobStatus.RUNNING)},
                       done: {fake_clock.advance(1): StatusUpdate(status=JobStatus.DONE)}}, force=True)
    operation = Operation(type="RemoveFile", files=[RequestFile(lfn="/demo/x")])
    failover = iw.requests.submit([Request(name="failover", owner="admin", owner_group="demo_admin",
                                           vo="demo", job_id=done, operations=[operation])]).ok[0]
    made = _outputs(iw, tmp_path, tid)
    mine = made["data"] + made["log"] + made["tagged"]
    # not Cleaning yet: the cycle leaves an Active transformation alone
    assert ts.clean_transformations() == {}
    ts.set_status(tid, T.CLEANING)

    result = ts.clean_transformations()[tid]

    assert result == CleaningResult(action=CleaningAction.CLEAN, jobs=3, requests=1, files=len(mine),
                                    status=T.CLEANED)
    jobs = iw.wms.get_jobs([t.external_id or 0 for t in (first, second, third)])
    assert {job["status"] for job in jobs.values()} == {JobStatus.DELETED}
    assert JobStatus.KILLED in [h["status"] for h in iw.wms.history(first.external_id or 0)]
    assert iw.requests.status([failover]) == {failover: RequestStatus.CANCELED}
    assert _in_catalog(iw, mine) == set() and _on_storage(iw, mine) == set()
    assert _on_storage(iw, made["data"][3:], "Embedded-SE2") == set()
    assert _in_catalog(iw, made["other"]) == set(made["other"]) == _on_storage(iw, made["other"])
    assert ts.get(tid).status is T.CLEANED
    assert ts.tasks(tid) == [] and ts.files(tid) == []
    assert ts.clean_transformations() == {}  # Cleaned: nothing more to do


def test_cleaning_a_data_transformation_cancels_its_requests(iw: Interware, tmp_path: Path) -> None:
    ts = iw.transformations
    lfns = [_put(iw, tmp_path, f"/demo/data/f{i}") for i in range(4)]
    tid = ts.create(TransformationSpec(name="copy", type="Replication", group_size=2, body="",
                                       parameters={"TargetSE": "Embedded-SE2"}), _admin(iw)).transformation_id
    ts.add_files(tid, lfns)
    ts.start(tid)
    ts.split(tid)
    assert ts.submit_tasks(tid)[tid].submitted == 2
    request_ids = [t.external_id or 0 for t in ts.tasks(tid)]
    ts.set_status(tid, T.CLEANING)

    assert ts.clean_transformations()[tid] == CleaningResult(action=CleaningAction.CLEAN, requests=2,
                                                             status=T.CLEANED)
    assert set(iw.requests.status(request_ids).values()) == {RequestStatus.CANCELED}
    assert _in_catalog(iw, lfns) == set(lfns)  # its input files are not its outputs


def test_a_failed_removal_keeps_it_cleaning_until_a_later_cycle_succeeds(
        iw: Interware, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ts = iw.transformations
    tid = _mc(iw)
    made = _outputs(iw, tmp_path, tid)
    stuck = made["data"][0]
    # the SE cannot delete it: its path on the disk became a (non-empty) directory
    path = tmp_path / "storage" / stuck.lstrip("/")
    assert path.is_file()
    path.unlink()
    (path / "sub").mkdir(parents=True)
    ts.set_status(tid, T.CLEANING)

    with caplog.at_level(logging.ERROR, logger="dirac_core.transformation.cleaning"):
        first = ts.clean_transformations()[tid]
        second = ts.clean_transformations()[tid]
    assert (first.status, first.failed, first.attempts, first.jobs) == (None, 1, 1, 3)
    assert stuck in first.errors[0] and "directory" in first.errors[0]
    assert (second.status, second.failed, second.attempts, second.files) == (None, 1, 2, 0)
    assert [r.getMessage() for r in caplog.records if "cycle 2 in a row" in r.getMessage()]
    assert ts.get(tid).status is T.CLEANING
    assert len(ts.tasks(tid)) == 3  # nothing forgotten while something is left
    assert _in_catalog(iw, [stuck]) == {stuck}  # the catalog still knows where the copy is
    assert iw.catalog is not None and iw.catalog.get_replicas([stuck]).ok[stuck] == {"Embedded-SE"}
    others = made["data"][1:] + made["log"] + made["tagged"]
    assert _in_catalog(iw, others) == set()

    shutil.rmtree(path)  # the SE works again
    third = ts.clean_transformations()[tid]
    assert (third.status, third.files, third.failed, third.attempts) == (T.CLEANED, 1, 0, 0)
    assert _in_catalog(iw, [stuck]) == set()
    assert ts.tasks(tid) == []


def test_a_task_being_submitted_defers_the_end(iw: Interware) -> None:
    ts = iw.transformations
    tid = _mc(iw, max_tasks=2)
    with iw.database.begin() as conn:  # a task manager in the middle of a submission
        task_store.write_tasks(conn, tid, 2, [TaskGroup(target_ses=(), lfns=())], file_ids=[()],
                               now=iw.clock.now())
        assert task_store.reserve(conn, tid, 1, iw.clock.now(), skip_locked=False) == [3]
    ts.set_status(tid, T.CLEANING)
    deferred = ts.clean_transformations()[tid]
    assert (deferred.status, deferred.unsettled, deferred.attempts) == (None, 1, 0)
    assert ts.get(tid).status is T.CLEANING
    job = iw.wms.submit([MC], _admin(iw))[0].job_id
    with iw.database.begin() as conn:  # the submission ends: a job the last cycle did not know
        task_store.change_status(conn, tid, {3: (TaskStatus.SUBMITTED, job)}, expected=(TaskStatus.RESERVED,),
                                 now=iw.clock.now())
    done = ts.clean_transformations()[tid]
    assert (done.status, done.jobs) == (T.CLEANED, 3)
    assert iw.wms.get_jobs([job])[job]["status"] is JobStatus.DELETED


def test_removing_files_keeps_jobs_and_logs_then_completed(iw: Interware, tmp_path: Path) -> None:
    ts = iw.transformations
    tid = _mc(iw)
    made = _outputs(iw, tmp_path, tid)
    ts.set_status(tid, T.REMOVING_FILES)

    result = ts.clean_transformations()[tid]

    removed = made["data"] + made["tagged"]
    assert result == CleaningResult(action=CleaningAction.REMOVE_FILES, files=len(removed),
                                    status=T.COMPLETED)
    assert _in_catalog(iw, removed) == set() and _on_storage(iw, removed) == set()
    assert _in_catalog(iw, made["log"] + made["other"]) == set(made["log"] + made["other"])
    tasks = ts.tasks(tid)
    assert len(tasks) == 3
    assert {job["status"] for job in iw.wms.get_jobs([t.external_id or 0 for t in tasks]).values()} == {
        JobStatus.WAITING}


def test_completed_transformations_are_archived_after_seven_days(iw: Interware,
                                                                 fake_clock: FakeClock) -> None:
    ts = iw.transformations
    tid = _mc(iw)
    jobs = [t.external_id or 0 for t in ts.tasks(tid)]
    ts.complete(tid)
    fake_clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert ts.clean_transformations() == {}
    assert ts.get(tid).status is T.COMPLETED

    fake_clock.advance(timedelta(seconds=1))
    result = ts.clean_transformations()[tid]

    assert result == CleaningResult(action=CleaningAction.ARCHIVE, jobs=3, status=T.ARCHIVED)
    assert ts.get(tid).status is T.ARCHIVED
    assert ts.tasks(tid) == []
    assert {job["status"] for job in iw.wms.get_jobs(jobs).values()} == {JobStatus.DELETED}
