"""The handlers as drivers: every entry point loads, their specs are the store's types; the
follow-up operations a handler's data manager inserts; the per-SE slots."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from dirac_core.db import Database
from dirac_core.dms.storage_element import Access
from dirac_core.model import FakeClock
from dirac_core.model.request import OperationStatus as O
from dirac_core.plugins import PluginGroup, available, load_driver
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms import BUILTIN_TYPES, Operation, Request, RequestFile, RequestStore, roll_up, wiring
from dirac_core.rms.admission import TargetSlots
from dirac_core.rms.follow_up import FollowUpOperations
from dirac_core.rms.handlers import BUILTIN_HANDLERS
from dirac_core.rms.wiring import handler_types, load_handlers


def test_every_operation_handler_entry_point_loads_and_runs_the_type_it_is_named_for() -> None:
    names = available(PluginGroup.OPERATION_HANDLERS)
    assert set(names) >= {"ReplicateAndRegister", "PutAndRegister", "RegisterFile", "RegisterReplica",
                          "RemoveFile", "RemoveReplica", "SetFileStatus", "CallHook"}
    for name in names:
        handler = load_driver(PluginGroup.OPERATION_HANDLERS, name)()
        assert isinstance(handler, OperationHandler) and handler.spec.name == name
    assert sorted(load_handlers()) == names


def test_the_store_accepts_the_types_of_the_loaded_handlers() -> None:
    assert {h.spec.name: h.spec for h in BUILTIN_HANDLERS} == BUILTIN_TYPES
    assert handler_types(load_handlers()) == dict(BUILTIN_TYPES)
    assert handler_types({}) == dict(BUILTIN_TYPES)  # none loaded: the built-in ones

    class Archive(OperationHandler):
        spec = OperationType(name="ArchiveFiles", operation_needs=("target_se",))

        def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
            raise NotImplementedError

    assert handler_types({"ArchiveFiles": Archive()}) == {"ArchiveFiles": Archive.spec}


def test_handlers_say_which_access_they_need_on_which_se() -> None:
    handlers = load_handlers()
    copy = Operation(type="ReplicateAndRegister", source_se=["SE-F"], target_se=["SE-A", "SE-B"])
    assert handlers["ReplicateAndRegister"].storage_access(copy) == {"SE-F": "read", "SE-A": "write",
                                                                     "SE-B": "write"}
    removal = Operation(type="RemoveReplica", target_se=["SE-F"])
    assert handlers["RemoveReplica"].storage_access(removal) == {"SE-F": Access.REMOVE}
    assert handlers["RegisterReplica"].storage_access(Operation(type="RegisterReplica", target_se=["SE-A"])) \
        == {"SE-A": None}


def _request() -> Request:
    return Request(name="r", owner="alice", owner_group="demo_user", vo="demo", request_id=5, operations=[
        Operation(type="ReplicateAndRegister", target_se=["SE-A"], files=[RequestFile(lfn="/d/a")]),
        Operation(type="RemoveReplica", target_se=["SE-F"], files=[RequestFile(lfn="/d/a")])])


def test_follow_up_operations_go_right_after_the_current_one_merged_by_type_and_se() -> None:
    request = _request()
    roll_up(request)
    follow = FollowUpOperations(request)
    assert follow("RegisterReplica", "/d/a", se="SE-A") == "5:RegisterReplica"
    follow("RegisterReplica", "/d/b", se="SE-A")
    follow("RegisterReplica", "/d/b", se="SE-A")  # the same file again: once
    follow("RegisterFile", "/d/c", se="SE-B", size=3, checksum="0a0b0c0d", guid=None)
    assert [(o.type, o.target_se, [f.lfn for f in o.files]) for o in request.operations] == [
        ("ReplicateAndRegister", ("SE-A",), ["/d/a"]),
        ("RegisterReplica", ("SE-A",), ["/d/a", "/d/b"]),
        ("RegisterFile", ("SE-B",), ["/d/c"]),
        ("RemoveReplica", ("SE-F",), ["/d/a"])]
    assert request.operations[2].files[0].checksum_type == "ADLER32"
    roll_up(request)
    assert [o.status for o in request.operations] == [O.WAITING, O.QUEUED, O.QUEUED, O.QUEUED]


def test_target_slots_are_taken_all_or_none_and_given_back() -> None:
    slots = TargetSlots(2)
    assert slots.acquire(["SE-A"]) and slots.acquire(["SE-A", "SE-B"])
    assert not slots.acquire(["SE-B", "SE-A"])  # SE-A is full: SE-B is not taken either
    assert slots.in_flight() == {"SE-A": 2, "SE-B": 1}
    slots.release(["SE-A"])
    assert slots.acquire(["SE-A", "SE-B"]) and slots.in_flight() == {"SE-A": 2, "SE-B": 2}
    slots.release(["SE-A", "SE-B"])
    slots.release(["SE-A", "SE-B"])
    slots.release(["SE-A"])
    assert slots.in_flight() == {} and slots.acquire([])


def test_an_operation_of_a_type_no_handler_runs_is_refused_by_the_store(database: Database) -> None:
    store = RequestStore(database=database, clock=FakeClock(), types=handler_types(load_handlers()))
    refused = store.submit([Request(name="x", owner="a", owner_group="g", operations=[
        Operation(type="MoveReplica", files=[RequestFile(lfn="/d/a")])])])
    assert "unknown operation type" in str(refused.failed[0])


def test_a_handler_that_cannot_load_or_names_another_type_is_left_out(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    group = str(PluginGroup.OPERATION_HANDLERS)
    fake = [EntryPoint("CallHook", "dirac_core.rms.handlers.hooks:CallHook", group),
            EntryPoint("Archive", "no_such_package_here.handlers:Archive", group),
            EntryPoint("Mislabelled", "dirac_core.rms.handlers.hooks:CallHook", group)]
    monkeypatch.setattr(wiring, "entry_points", lambda group: fake)
    assert list(load_handlers()) == ["CallHook"]
    assert "Archive not loaded" in caplog.text and "no_such_package_here" in caplog.text
    assert "Mislabelled declares the type CallHook" in caplog.text
