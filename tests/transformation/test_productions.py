"""Productions on every backend: steps checked before anything is stored, one transformation per
step when started, chained by queries, managed as one, progress per step and overall."""

from __future__ import annotations

import pytest
from tfs_helpers import ALICE, BOB, TEMPLATE, build, catalog_with

from dirac_core.db import Database
from dirac_core.errors import AlreadyExists, InvalidTransformation, InvalidTransition, PermissionDenied
from dirac_core.model import FakeClock
from dirac_core.model.production import ProductionStatus
from dirac_core.model.transformation import TransformationFileStatus, TransformationStatus
from dirac_core.transformation.productions import ProductionStep, ProductionSystem

RECO = ProductionStep(name="reco", type="DataProcessing", plugin="Chunks", group_size=2, body=TEMPLATE,
                      input_query={"step": "raw"}, output_query={"step": "reco", "year": 2018})
MERGE = ProductionStep(name="merge", type="Merge", plugin="Chunks", group_size=2, body=TEMPLATE,
                       input_query={"step": "reco"}, output_query={"step": "merged"}, parents=("reco",))


@pytest.fixture
def productions(database: Database, fake_clock: FakeClock) -> ProductionSystem:
    catalog = catalog_with({f"/demo/raw/{i}": ["SE-A"] for i in range(4)})
    catalog.add_metadata_field("step", "string", for_files=True)
    catalog.set_metadata({f"/demo/raw/{i}": {"step": "raw"} for i in range(4)}).raise_for_failures()
    system = build(database, fake_clock, catalog=catalog)
    return ProductionSystem(database=database, clock=fake_clock, transformations=system)


def test_a_production_starts_one_transformation_per_step_and_reports_progress(
        productions: ProductionSystem) -> None:
    made = productions.create("reprocessing-2018", [RECO, MERGE], ALICE, description="reco then merge")
    assert made.status is ProductionStatus.NEW and made.transformations == (None, None)
    assert productions.progress(made.production_id).processed_percent is None
    started = productions.start("reprocessing-2018", ALICE)
    assert started.status is ProductionStatus.ACTIVE
    reco_id, merge_id = started.transformations
    assert reco_id is not None and merge_id is not None
    tfs = productions.transformations
    assert tfs.get(reco_id).name == f"{made.production_id:08d}_reco"
    assert {tfs.get(t).status for t in (reco_id, merge_id)} == {TransformationStatus.ACTIVE}
    tfs.split(reco_id)
    tfs.set_file_status(reco_id, {"/demo/raw/0": TransformationFileStatus.PROCESSED,
                                  "/demo/raw/1": TransformationFileStatus.PROCESSED}).raise_for_failures()
    progress = productions.progress(made.production_id)
    assert [s.step for s in progress.steps] == ["reco", "merge"]
    assert progress.steps[0].stats is not None and progress.steps[0].stats.total == 4
    assert progress.files[TransformationFileStatus.PROCESSED] == 2
    assert progress.processed_percent == 50.0
    stopped = productions.stop(made.production_id, ALICE)
    assert stopped.status is ProductionStatus.STOPPED
    assert {tfs.get(t).status for t in (reco_id, merge_id)} == {TransformationStatus.STOPPED}
    assert productions.start(made.production_id, ALICE).status is ProductionStatus.ACTIVE
    assert productions.complete(made.production_id, ALICE).status is ProductionStatus.COMPLETED
    with pytest.raises(InvalidTransition):
        productions.start(made.production_id, ALICE)


@pytest.mark.parametrize(("steps", "message"), [
    ([], "at least one step"),
    ([RECO, RECO], "appears twice"),
    ([ProductionStep(name="merge", type="Merge", plugin="Chunks", body=TEMPLATE, parents=("reco",))],
     "not an earlier step"),
    ([RECO, ProductionStep(name="merge", type="Merge", plugin="Chunks", body=TEMPLATE,
                           input_query={"step": "sim"}, parents=("reco",))], "does not follow 'reco'"),
    ([RECO, ProductionStep(name="merge", type="Merge", plugin="Chunks", body=TEMPLATE,
                           input_query={"step": "reco", "tier": 2}, parents=("reco",))], "'tier'"),
    ([ProductionStep(name="reco", type="Teleportation", plugin="Chunks", body=TEMPLATE)],
     "step 'reco': type"),
    ([ProductionStep(name="reco", type="DataProcessing", plugin="NoSuchPlugin", body=TEMPLATE)], "plugin"),
])
def test_bad_productions_are_refused_before_anything_is_stored(
        productions: ProductionSystem, steps: list[ProductionStep], message: str) -> None:
    with pytest.raises(InvalidTransformation, match=message):
        productions.create("bad", steps, ALICE)
    assert productions.productions() == []
    assert productions.transformations.transformations() == []


def test_names_are_unique_and_only_owners_and_managers_act(productions: ProductionSystem) -> None:
    productions.create("p", [RECO], ALICE)
    with pytest.raises(AlreadyExists):
        productions.create("p", [RECO], ALICE)
    with pytest.raises(PermissionDenied):
        productions.start("p", BOB)
    assert productions.get("p").status is ProductionStatus.NEW
