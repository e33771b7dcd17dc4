"""The request executor: banned SEs, attempts, per-SE concurrency, executors sharing a database,
errors of handlers, owners and configurations, the periodic tasks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rms_helpers import close_interware, grid_config, make_interware, op, put, request, stored, submit
from sqlalchemy.engine import URL

from dirac_core.config.requests import RequestSettings
from dirac_core.config.resources import AccessStatus
from dirac_core.db import Database
from dirac_core.dms.storage_element import Access, StorageElements
from dirac_core.errors import DatabaseError
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.model.request import RequestFileStatus as F
from dirac_core.model.request import RequestStatus as R
from dirac_core.plugins import hookimpl
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms import Operation, Request, RequestStore
from dirac_core.rms.executor import RequestExecutor
from dirac_core.rms.handlers import CallHook
from dirac_core.rms.tasks import RequestCleaningTask, RequestExecutionTask
from dirac_core.rms.wiring import build_executor
from dirac_core.tasks import TaskOutcome

LFN = "/demo/user/a/alice/data/f1.dat"
SLOW_AND_FAST = """
[resources.storage_elements.SE-SLOW]
name = "SE-SLOW"
[[resources.storage_elements.SE-SLOW.protocols]]
type = "file"
path = "{root}/slow"

[resources.storage_elements.SE-FAST]
name = "SE-FAST"
[[resources.storage_elements.SE-FAST.protocols]]
type = "file"
path = "{root}/fast"
"""


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock, tmp_path: Path) -> Iterator[Interware]:
    interware = make_interware(database, fake_clock, tmp_path)
    yield interware
    close_interware(interware)


# -- banned storage elements --------------------------------------------------------------


def test_a_banned_target_delays_the_request_untouched_until_the_se_returns(
        iw: Interware, fake_clock: FakeClock, tmp_path: Path) -> None:
    banned: dict[tuple[str, Access], AccessStatus] = {("Embedded-SE2", Access.WRITE): AccessStatus.BANNED}

    def status(se: str, access: Access) -> AccessStatus:
        return banned.get((se, access), AccessStatus.ACTIVE)

    storage = StorageElements(iw.config, status=status)
    executor = build_executor(iw, storage=storage)
    try:
        put(iw, tmp_path, LFN, "Embedded-SE")
        [rid] = submit(iw, request(op("ReplicateAndRegister", [LFN], target_se=["Embedded-SE2"])))
        start = fake_clock.now()
        assert executor.run_once().finished == {rid: R.WAITING}
        waiting = stored(iw, rid)
        assert waiting.not_before == start + timedelta(minutes=60)
        [operation] = waiting.operations
        assert "Embedded-SE2 is Banned for write" in operation.error
        assert [(f.status, f.attempt) for f in operation.files] == [(F.WAITING, 0)]  # untouched
        fake_clock.advance(timedelta(minutes=59))
        assert executor.run_once().picked == 0  # not due yet
        banned.clear()  # the SE is back
        fake_clock.advance(timedelta(minutes=2))
        assert executor.run_once().finished == {rid: R.DONE}
        assert iw.storage["Embedded-SE2"].exists(LFN)
    finally:
        executor.close()
        storage.close()


def test_an_se_the_configuration_does_not_know_fails_the_files_with_the_reason(iw: Interware) -> None:
    [rid] = submit(iw, request(op("ReplicateAndRegister", [LFN], target_se=["SE-NOWHERE"])))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    [file] = stored(iw, rid).operations[0].files
    assert file.status is F.FAILED and "unknown storage element(s): SE-NOWHERE" in file.error
    assert "SE-NOWHERE" in stored(iw, rid).error


# -- attempts -----------------------------------------------------------------------------


def test_a_file_that_keeps_failing_ends_failed_with_its_reason_after_max_attempts(
        iw: Interware, fake_clock: FakeClock) -> None:
    assert iw.catalog is not None  # registered at Embedded-SE, but no copy there: every copy fails
    iw.catalog.add_files([FileEntry(lfn=LFN, size=3, checksum="024d0127")]).raise_for_failures()
    iw.catalog.add_replicas({LFN: ["Embedded-SE"]}).raise_for_failures()
    executor = build_executor(iw, settings=RequestSettings(max_attempts=3))
    try:
        [rid] = submit(iw, request(op("ReplicateAndRegister", [LFN], target_se=["Embedded-SE2"])))
        for attempt in (1, 2, 3):
            assert executor.run_once().finished == {rid: R.WAITING}
            [file] = stored(iw, rid).operations[0].files
            assert (file.attempt, file.status) == (attempt, F.WAITING)
            assert "could be read" in file.error
            if attempt > 1:  # DIRAC's back-off: 2 ln(attempts) minutes (none after the first)
                assert executor.run_once().picked == 0
                fake_clock.advance(timedelta(minutes=3))
        assert executor.run_once().finished == {rid: R.FAILED}
        [file] = stored(iw, rid).operations[0].files
        assert file.status is F.FAILED and file.attempt == 4
        assert "could be read" in file.error and file.error.endswith("(Max attempts limit reached)")
    finally:
        executor.close()


# -- errors of handlers, owners ------------------------------------------------------------


class Boom(OperationHandler):
    """A handler with a bug."""

    spec = OperationType(name="Boom", with_files=False)

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        raise ZeroDivisionError("handler bug")


def test_a_handler_that_raises_leaves_the_request_waiting_with_the_error(iw: Interware) -> None:
    iw.requests.types["Boom"] = Boom.spec
    executor = build_executor(iw, handlers={"Boom": Boom()})
    try:
        [rid] = submit(iw, request(Operation(type="Boom")))
        assert executor.run_once().finished == {rid: R.WAITING}
        assert "ZeroDivisionError: handler bug" in stored(iw, rid).error
        assert "handler bug" in stored(iw, rid).operations[0].error
    finally:
        executor.close()


def test_an_unknown_owner_fails_the_request_and_a_type_without_handler_fails_its_operation(
        iw: Interware) -> None:
    [stranger] = submit(iw, request(op("RemoveFile", [LFN]), owner="mallory"))
    executor = build_executor(iw, handlers={})
    try:
        [orphan] = submit(iw, request(op("RemoveFile", [LFN]), name="no handler"))
        assert executor.run_once().finished == {stranger: R.FAILED, orphan: R.FAILED}
    finally:
        executor.close()
    assert "mallory" in stored(iw, stranger).error
    assert "no handler for operation type 'RemoveFile'" in stored(iw, orphan).error


def test_a_request_that_cannot_be_put_back_is_given_back_for_a_later_cycle(
        iw: Interware, monkeypatch: pytest.MonkeyPatch) -> None:
    [rid] = submit(iw, request(op("RemoveFile", ["/demo/x"])))

    def lost(request: Request) -> R:
        raise DatabaseError("connection lost")

    monkeypatch.setattr(iw.requests, "put_back", lost)
    report = iw.request_executor.run_once()
    assert (report.started, report.finished) == ([rid], {})
    assert iw.requests.status([rid]) == {rid: R.WAITING}
    monkeypatch.undo()
    assert iw.request_executor.run_once().finished == {rid: R.DONE}


# -- per-SE concurrency ---------------------------------------------------------------------


class Touch(OperationHandler):
    """Marks files done; an operation for SE-SLOW first waits for ``gate``."""

    spec = OperationType(name="Touch", operation_needs=("target_se",))

    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        self.blocked = 0
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def storage_access(self, operation: Operation) -> Mapping[str, str | None]:
        return dict.fromkeys(operation.target_se, "write")  # it touches its SE: it takes a slot there

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        if "SE-SLOW" in operation.target_se:
            with self._lock:
                self.blocked += 1
            self.entered.set()
            assert self.gate.wait(timeout=120), "the test never opened the gate"
        for file in operation.waiting_files:
            file.set_status(F.DONE)


class FastDone:
    """Sets ``event`` when ``expected`` requests for SE-FAST are done."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.done: list[int] = []
        self.event = threading.Event()

    @hookimpl
    def dirac_request_done(self, request: Request) -> None:
        if request.operations[0].target_se == ("SE-FAST",) and request.status is R.DONE:
            assert request.request_id is not None
            self.done.append(request.request_id)
            if len(self.done) == self.expected:
                self.event.set()


def test_a_slow_se_never_stops_requests_to_other_ses_in_the_same_cycle(
        database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    watcher = FastDone(expected=2)
    iw = make_interware(database, fake_clock, tmp_path, plugins=[watcher], extra=SLOW_AND_FAST)
    gate = threading.Event()
    touch = Touch(gate)
    iw.requests.types["Touch"] = Touch.spec
    executor = build_executor(iw, handlers={"Touch": touch},
                              settings=RequestSettings(threads=3, max_in_flight_per_se=2))
    try:  # 3 threads, 2 operations per SE: the two slow ones leave one thread to SE-FAST
        slow = submit(iw, *(request(op("Touch", [f"/demo/s{i}"], target_se=["SE-SLOW"]), name=f"slow{i}")
                            for i in range(5)))
        fast = submit(iw, *(request(op("Touch", [f"/demo/f{i}"], target_se=["SE-FAST"]), name=f"fast{i}")
                            for i in range(2)))
        reports: list[Any] = []
        cycle = threading.Thread(target=lambda: reports.append(executor.run_once()))
        cycle.start()
        try:
            assert watcher.event.wait(timeout=120), "requests to SE-FAST did not complete"
            assert sorted(watcher.done) == fast
            assert touch.blocked == 2 and executor.slots.in_flight() == {"SE-SLOW": 2}
            statuses = iw.requests.status(slow)
            assert sorted(statuses.values()) == [R.ASSIGNED] * 2 + [R.WAITING] * 3  # 3 given back untouched
        finally:
            gate.set()
            cycle.join()
        [report] = reports
        assert sorted(report.started) == sorted(slow[:2] + fast) and report.deferred == slow[2:]
        assert set(report.finished.values()) == {R.DONE}
        assert executor.slots.in_flight() == {}
        assert executor.run_once().finished == {slow[2]: R.DONE, slow[3]: R.DONE}
    finally:
        executor.close()
        close_interware(iw)


def test_registrations_take_no_slot_at_the_se_they_only_name(iw: Interware) -> None:
    executor = build_executor(iw, settings=RequestSettings(max_in_flight_per_se=1))
    try:
        made = [request(op("RegisterReplica", [f"/demo/none{i}"], target_se=["SE-C"]), name=f"r{i}")
                for i in range(3)]
        ids = submit(iw, *made)
        report = executor.run_once()
        assert sorted(report.started) == ids and report.deferred == []
        assert executor.slots.in_flight() == {}
        copy = op("ReplicateAndRegister", ["/demo/x"], target_se=["SE-C"], source_se=["Embedded-SE"])
        assert executor._targets(copy) == {"SE-C"}  # a copy takes a slot at its target only
        assert executor._targets(op("RegisterReplica", ["/demo/x"], target_se=["SE-C"])) == set()
    finally:
        executor.close()


# -- executors sharing a database -------------------------------------------------------------


class CountCalls:
    """A CallHook plugin counting how often each request is executed."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self._lock = threading.Lock()

    @hookimpl
    def dirac_request_operation(self, request: Request, operation: Operation) -> bool:
        assert request.request_id is not None
        with self._lock:
            self.calls.append(request.request_id)
        return True


def test_two_executors_on_one_database_never_execute_the_same_request_twice(
        database: Database, db_url: URL, fake_clock: FakeClock, tmp_path: Path) -> None:
    config = grid_config(tmp_path)
    counter = CountCalls()
    hooks = make_plugin_manager([counter], entry_points=False)
    first = RequestStore(database=database, clock=fake_clock)
    ids = first.submit([request(Operation(type="CallHook", arguments={"n": i}), name=f"r{i}")
                        for i in range(60)]).ok.values()
    second_db = Database(db_url)
    storages = [StorageElements(config), StorageElements(config)]
    executors = [RequestExecutor(store=store, handlers={"CallHook": CallHook()}, storage=storage,
                                 clock=fake_clock, hooks=hooks,
                                 settings=RequestSettings(requests_per_cycle=4, threads=2))
                 for store, storage in zip([first, RequestStore(database=second_db, clock=fake_clock)],
                                           storages, strict=True)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def drain(executor: RequestExecutor) -> None:
        try:
            barrier.wait(timeout=60)
            while executor.run_once().picked:
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(e,)) for e in executors]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for executor in executors:
            executor.close()
        for storage in storages:
            storage.close()
        second_db.close()
    assert errors == []
    assert Counter(counter.calls) == dict.fromkeys(ids, 1)
    assert first.counts() == {R.DONE: 60}


# -- periodic tasks -----------------------------------------------------------------------------


def test_the_periodic_tasks_execute_kick_stuck_requests_and_clean_old_ones(
        iw: Interware, fake_clock: FakeClock, tmp_path: Path) -> None:
    assert {"rms.execution", "rms.cleaning"} <= set(iw.scheduler.tasks)
    put(iw, tmp_path, LFN, "Embedded-SE")
    [rid] = submit(iw, request(op("ReplicateAndRegister", [LFN], target_se=["SE-C"])))
    runs = iw.scheduler.run_due()
    assert runs["rms.execution"].outcome is TaskOutcome.RAN and runs["rms.execution"].result == 1
    iw.request_executor.wait()  # the task does not wait for what it started
    assert stored(iw, rid).status is R.DONE
    [stuck] = submit(iw, request(op("RemoveFile", ["/demo/x"]), name="stuck"))
    assert [r.request_id for r in iw.requests.pick(10)] == [stuck]  # an executor took it, then died
    cleaning = RequestCleaningTask(iw.requests, iw.config.requests)
    fake_clock.advance(timedelta(minutes=59))
    assert cleaning.run_once() == {"kicked": 0, "deleted": 0}
    fake_clock.advance(timedelta(minutes=2))
    assert cleaning.run_once() == {"kicked": 1, "deleted": 0}
    assert iw.requests.status([stuck]) == {stuck: R.WAITING}
    fake_clock.advance(timedelta(days=60))
    assert cleaning.run_once() == {"kicked": 0, "deleted": 1}
    assert iw.requests.get([rid]).failed and iw.requests.status([stuck]) == {stuck: R.WAITING}


def test_requests_in_flight_are_touched_so_they_never_look_stuck(
        database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    iw = make_interware(database, fake_clock, tmp_path, extra=SLOW_AND_FAST)
    gate = threading.Event()
    touch = Touch(gate)
    iw.requests.types["Touch"] = Touch.spec
    executor = build_executor(iw, handlers={"Touch": touch})
    task = RequestExecutionTask(executor)
    cleaning = RequestCleaningTask(iw.requests, iw.config.requests)
    try:
        [rid] = submit(iw, request(op("Touch", ["/demo/s"], target_se=["SE-SLOW"])))
        assert task.run_once() == 1  # started, not waited for
        assert touch.entered.wait(timeout=120), "the handler never started"
        assert executor.in_flight == [rid]
        fake_clock.advance(timedelta(hours=2))
        assert task.run_once() == 0  # nothing new, but the request in flight is touched
        assert cleaning.run_once()["kicked"] == 0
        assert iw.requests.status([rid]) == {rid: R.ASSIGNED}
    finally:
        gate.set()
        executor.wait()
        executor.close()
        close_interware(iw)
    assert iw.requests.status([rid]) == {rid: R.DONE}


def test_settings_come_from_the_requests_section(database: Database, fake_clock: FakeClock,
                                                 tmp_path: Path) -> None:
    iw = make_interware(database, fake_clock, tmp_path, extra="\n[requests]\nmax_attempts = 7\n"
                                                              "max_in_flight_per_se = 3\ninterval = 30\n")
    try:
        assert iw.request_executor.settings.max_attempts == 7
        assert iw.request_executor.slots.limit == 3
        assert iw.scheduler.tasks["rms.execution"].interval == timedelta(seconds=30)
    finally:
        close_interware(iw)

