"""Transformations and productions as JSON: every record survives the trip, and a malformed spec
or production definition is an ``InvalidTransformation`` naming the key at fault."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from dirac_core.errors import InvalidTransformation
from dirac_core.model.production import ProductionStatus
from dirac_core.model.transformation import (
    AgentType,
    TaskStatus,
    TransformationFileStatus,
    TransformationStatus,
)
from dirac_core.transformation import (
    Task,
    Transformation,
    TransformationFile,
    TransformationSpec,
    TransformationStats,
)
from dirac_core.transformation.productions import Production, ProductionProgress, ProductionStep, StepProgress
from dirac_core.transformation.wire import (
    decode,
    definition_from_json,
    definition_to_json,
    encode,
    spec_from_json,
    spec_to_json,
)

NOW = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
STEP = ProductionStep(name="reco", type="DataProcessing", group_size=2.5, body="[Executable = \"x\";]",
                      parameters={"a": [1, "b"]}, input_query={"tag": {"in": ["x", "y"]}},
                      output_query={"tag": "done"}, parents=("sim",), description="d")
STATS = TransformationStats(files={TransformationFileStatus.UNUSED: 3, TransformationFileStatus.PROCESSED: 1},
                            total=4, processed_percent=25.0, problematic=0,
                            tasks={TaskStatus.DONE: 1}, tasks_created=1)
PRODUCTION = Production(production_id=3, name="p", description="", status=ProductionStatus.ACTIVE,
                        author="carol", author_group="prod", vo="demo", steps=(STEP,), transformations=(7,),
                        created=NOW, updated=NOW)
RECORDS: list[Any] = [
    TransformationSpec(name="t", type="Replication", group_size=2, parameters={"TargetSE": "SE"},
                       input_query={"n": 1}, agent_type=AgentType.AUTOMATIC, max_tasks=5),
    Transformation(transformation_id=7, name="t", type="Replication", status=TransformationStatus.FLUSH,
                   agent_type=AgentType.MANUAL, plugin="Standard", group_size=None, body="", parameters={},
                   input_query=None, output_query={"k": "v"}, author="carol", author_group="prod", vo="demo",
                   description="", long_description="long", transformation_group="General", max_tasks=0,
                   last_task_id=12, created=NOW, updated=NOW),
    TransformationFile(transformation_id=7, lfn="/demo/f", status=TransformationFileStatus.MAX_RESET,
                       task_id=None, used_se="SE", error_count=10, inserted=NOW, updated=NOW),
    Task(transformation_id=7, task_id=2, status=TaskStatus.RESERVED, external_id=None, target_ses=("A", "B"),
         lfns=("/demo/f", "/demo/g"), created=NOW, updated=NOW),
    STATS,
    STEP,
    PRODUCTION,
    ProductionProgress(production=PRODUCTION, steps=(
        StepProgress(step="reco", transformation_id=7, status="Active", stats=STATS),
        StepProgress(step="merge", transformation_id=None, status=None, stats=None)),
        files=dict(STATS.files), tasks={}, processed_percent=None),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_survives_the_trip_through_json_text(record: Any) -> None:
    text = json.dumps(encode(record))
    assert decode(json.loads(text), type(record)) == record


def test_specs_and_definitions_have_their_own_readers() -> None:
    spec = RECORDS[0]
    assert spec_from_json(json.loads(json.dumps(spec_to_json(spec)))) == spec
    definition = definition_from_json(json.loads(json.dumps(definition_to_json("p", [STEP], "why"))))
    assert (definition.name, definition.steps, definition.description) == ("p", (STEP,), "why")
    assert definition_from_json({"name": "p", "steps": [{"name": "a", "type": "Removal"}]}).description == ""


BASE = {"name": "t", "type": "Replication"}


@pytest.mark.parametrize(("data", "parameter", "words"), [
    ({"type": "Replication"}, "name", "required key missing @ transformation.name"),
    ({**BASE, "name": ""}, "name", "Length of 'name' must be >= 1"),
    ({**BASE, "name": "x" * 256}, "name", "Length of 'name' must be <= 255"),
    ({**BASE, "name": 5}, "name", "expected str, got int 5 @ transformation.name"),
    ({**BASE, "group_size": 0}, "group_size", "'group_size' must be > 0"),
    ({**BASE, "group_size": "2"}, "group_size", "expected a number, got str '2'"),
    ({**BASE, "group_size": True}, "group_size", "expected a number, got bool"),
    ({**BASE, "max_tasks": 1.5}, "max_tasks", "expected int, got float"),
    ({**BASE, "max_tasks": -1}, "max_tasks", "'max_tasks' must be >= 0"),
    ({**BASE, "agent_type": "Sometimes"}, "agent_type", "'Sometimes' is not a valid AgentType"),
    ({**BASE, "parameters": ["GroupSize"]}, "parameters",
     "expected a JSON object @ transformation.parameters"),
    ({**BASE, "input_query": "tag=x"}, "input_query", "@ transformation.input_query"),
    ({**BASE, "colour": "red", "size": 1}, "colour", "unknown key(s) colour, size"),
    ("t", "transformation", "a transformation is a JSON object, not str"),
    (None, "transformation", "a transformation is a JSON object, not NoneType"),
])
def test_a_malformed_spec_names_the_key(data: Any, parameter: str, words: str) -> None:
    with pytest.raises(InvalidTransformation) as caught:
        spec_from_json(data)
    assert caught.value.fields["parameter"] == parameter
    assert words in str(caught.value) and str(caught.value).startswith(
        "malformed transformation: " if isinstance(data, dict) else "a transformation")


@pytest.mark.parametrize(("data", "parameter", "words"), [
    ({"steps": []}, "name", "required key missing @ production.name"),
    ({"name": "p"}, "steps", "required key missing @ production.steps"),
    ({"name": "p", "steps": {"name": "a"}}, "steps", "expected a JSON list, got dict"),
    ({"name": "p", "steps": ["a"]}, "steps", "expected a JSON object @ production.steps[0]"),
    ({"name": "p", "steps": [{"name": "a b", "type": "R"}]}, "steps", "'name' must match regex"),
    ({"name": "p", "steps": [{"name": "a", "type": "R", "parents": "bc"}]}, "steps",
     "expected a JSON list, got str 'bc' @ production.steps[0].parents"),
    ({"name": "p", "steps": [{"name": "a"}]}, "steps", "required key missing @ production.steps[0].type"),
    ({"name": "p", "steps": [], "owner": "me"}, "owner", "unknown key(s) owner"),
    ({"name": 1, "steps": []}, "name", "expected str, got int"),
])
def test_a_malformed_production_names_the_key(data: Any, parameter: str, words: str) -> None:
    with pytest.raises(InvalidTransformation) as caught:
        definition_from_json(data)
    assert caught.value.fields["parameter"] == parameter and words in str(caught.value)


def test_a_record_that_is_not_one_is_refused_when_decoded() -> None:
    data = encode(RECORDS[1]) | {"status": "Dancing"}
    with pytest.raises(InvalidTransformation, match="'Dancing' is not a valid TransformationStatus"
                       ) as caught:
        decode(data, Transformation)
    assert caught.value.fields["parameter"] == "status"
