"""Creating transformations: everything wrong is refused at creation, naming the parameter; reading
them back; status changes."""

from __future__ import annotations

import pytest
from tfs_helpers import ALICE, BOB, build, catalog_with, spec

from dirac_core.db import Database
from dirac_core.errors import (
    AlreadyExists,
    InvalidTransformation,
    InvalidTransition,
    NotFound,
    PermissionDenied,
)
from dirac_core.model import FakeClock
from dirac_core.model.transformation import AgentType, TransformationStatus
from dirac_core.transformation import TransformationSystem


@pytest.fixture
def system(database: Database, fake_clock: FakeClock) -> TransformationSystem:
    catalog = catalog_with({})
    catalog.add_metadata_field("run", "int", for_files=False)
    return build(database, fake_clock, catalog=catalog)


def test_a_transformation_comes_back_as_it_was_created(system: TransformationSystem,
                                                       fake_clock: FakeClock) -> None:
    created = system.create(spec("reco", parameters={"MaxFilesPerTask": 7, "Note": ["a", 1]},
                                 input_query={"run": {">": 5}}, output_query={"step": "reco"},
                                 description="d", max_tasks=3), ALICE)
    again = system.get("reco")
    assert again == created == system.get(created.transformation_id)
    assert (again.type, again.plugin, again.group_size, again.status, again.agent_type) == (
        "DataProcessing", "Chunks", 2, TransformationStatus.NEW, AgentType.MANUAL)
    assert (again.author, again.author_group, again.vo) == ("alice", "demo_prod", "demo")
    assert again.parameters == {"MaxFilesPerTask": 7, "Note": ["a", 1]}
    assert (again.input_query, again.output_query) == ({"run": {">": 5}}, {"step": "reco"})
    assert again.splitter_parameters() == {"GroupSize": 2, "MaxFilesPerTask": 7, "Note": ["a", 1]}
    assert again.created == fake_clock.now() and again.max_tasks == 3
    assert again.task_name(4) == f"{again.transformation_id:08d}_00000004"
    assert [t.name for t in system.transformations()] == ["reco"]
    assert system.transformations(statuses=[TransformationStatus.ACTIVE]) == []


@pytest.mark.parametrize(("overrides", "parameter", "words"), [
    ({"type": "Painting"}, "type", "unknown transformation type 'Painting'"),
    ({"plugin": "NoSuchSplitter"}, "plugin", "no plugin 'NoSuchSplitter'"),
    ({"group_size": 1.5}, "GroupSize", "GroupSize must be a positive integer"),
    ({"body": ""}, "body", "needs a JDL template"),
    ({"body": "[ Executable = ; ]"}, "body", "not a valid job"),
    ({"input_query": {"nosuchfield": 3}}, "input_query", "nosuchfield"),
    ({"input_query": {"run": "many"}}, "input_query", "run"),
    ({"input_query": {}}, "input_query", "empty"),
    ({"parameters": {"when": object()}}, "parameters", "not JSON"),
    ({"type": "Replication", "body": "just words"}, "body", "a request body is"),
    ({"type": "Replication", "body": "x;Teleport"}, "body", "unknown operation type 'Teleport'"),
    ({"type": "Replication", "body": '[["RemoveReplica", {"Colour": "red"}]]'}, "body", "'Colour'"),
    ({"type": "Replication", "body": '[["RemoveReplica", {"TargetSE": "TASK:Nothing"}]]'}, "body",
     "TASK:Nothing"),
    ({"type": "Replication", "body": "[1, 2]"}, "body", "expected [OperationType"),
])
def test_what_is_wrong_is_refused_at_creation(system: TransformationSystem, overrides: dict[str, object],
                                              parameter: str, words: str) -> None:
    with pytest.raises(InvalidTransformation, match=words.replace("[", r"\[")) as caught:
        system.create(spec("bad", **overrides), ALICE)
    assert caught.value.fields.get("parameter") == parameter
    assert system.transformations() == []


def test_the_real_standard_splitter_checks_its_parameters(system: TransformationSystem) -> None:
    with pytest.raises(InvalidTransformation, match="GroupSize") as caught:
        system.create(spec("std", plugin="Standard", group_size=None, parameters={"GroupSize": "ten"}), ALICE)
    assert caught.value.fields["parameter"] == "GroupSize"
    made = system.create(spec("std", plugin="Standard", group_size=5), ALICE)
    assert made.splitter_parameters() == {"GroupSize": 5}


def test_a_request_body_may_use_task_keys_and_parameters(system: TransformationSystem) -> None:
    body = ('[["ReplicateAndRegister", {"TargetSE": "TASK:TargetSE"}], '
            '["RemoveReplica", {"TargetSE": "TASK:From"}]]')
    made = system.create(spec("move", type="Replication", body=body, parameters={"From": "SE-A"}), ALICE)
    assert made.body == body


def test_who_and_what_name_may_create(system: TransformationSystem) -> None:
    with pytest.raises(PermissionDenied, match="ProductionManagement"):
        system.create(spec("mine"), BOB)
    system.create(spec("mine"), ALICE)
    with pytest.raises(AlreadyExists):
        system.create(spec("mine"), ALICE)
    with pytest.raises(NotFound):
        system.get("yours")
    with pytest.raises(NotFound):
        system.get(999_999)


def test_an_input_query_needs_a_catalog(database: Database, fake_clock: FakeClock) -> None:
    bare = build(database, fake_clock)
    with pytest.raises(InvalidTransformation, match="catalog"):
        bare.create(spec("q", input_query={"run": 1}), ALICE)


def test_status_changes(system: TransformationSystem, fake_clock: FakeClock) -> None:
    tid = system.create(spec("s"), ALICE).transformation_id
    fake_clock.advance(60)
    started = system.start(tid)
    assert (started.status, started.agent_type, started.updated) == (
        TransformationStatus.ACTIVE, AgentType.AUTOMATIC, fake_clock.now())
    stopped = system.stop("s")
    assert (stopped.status, stopped.agent_type) == (TransformationStatus.STOPPED, AgentType.MANUAL)
    assert system.flush(tid).status is TransformationStatus.FLUSH
    assert system.complete(tid).status is TransformationStatus.COMPLETED
    assert system.clean(tid).status is TransformationStatus.TRANSFORMATION_CLEANED
    with pytest.raises(InvalidTransition):
        system.start(tid)
    assert system.set_status(tid, "Active", force=True).status is TransformationStatus.ACTIVE
    with pytest.raises(ValueError, match="Sleeping"):
        system.set_status(tid, "Sleeping")


def test_parameters_are_checked_when_changed(system: TransformationSystem) -> None:
    tid = system.create(spec("p"), ALICE).transformation_id
    assert system.set_parameters(tid, {"GroupSize": 3, "Extra": "x"}).parameters == {"GroupSize": 3,
                                                                                      "Extra": "x"}
    with pytest.raises(InvalidTransformation, match="GroupSize"):
        system.set_parameters(tid, {"GroupSize": 0})
    assert system.get(tid).splitter_parameters()["GroupSize"] == 3


def test_check_stores_nothing(system: TransformationSystem) -> None:
    system.check(spec("dry"), ALICE)
    with pytest.raises(InvalidTransformation, match="GroupSize"):
        system.check(spec("dry", group_size=0.5), ALICE)
    with pytest.raises(PermissionDenied):
        system.check(spec("dry"), BOB)
    assert system.transformations() == []
