"""Matching rules (pure) and the matcher on every backend."""

from __future__ import annotations

from collections import Counter

import pytest
from wms_helpers import PILOT, resource, who

from dirac_core.config import Config
from dirac_core.errors import DiracError, PermissionDenied
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.plugins.hookspecs import hookimpl
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.wms import JobRequirements, ResourceDescription, WorkloadManager
from dirac_core.wms.matching import owner_filter, queue_matches, tags_wanted


def _req(**kw: object) -> JobRequirements:
    base: dict[str, object] = {"owner": "alice", "owner_group": "demo_user", "vo": "demo",
                               "cpu_time": 3600}
    base.update(kw)
    return JobRequirements(**base)  # type: ignore[arg-type]


def _matches(req: JobRequirements, res: dict[str, object], grid_config: Config,
             identity: Identity = PILOT, in_mask: bool = True) -> bool:
    r = ResourceDescription.from_mapping(res)
    offered, required = tags_wanted(r)
    owners = owner_filter(identity, grid_config.registry, r)
    return queue_matches(req, r, owners, in_mask=in_mask, offered=offered, required=required)


@pytest.mark.parametrize(("req", "res", "expected"), [
    ({}, {}, True),
    ({"cpu_time": 86400}, {"CPUTime": 3600}, False),
    ({"sites": frozenset({"DIRAC.B.fr"})}, {}, False),
    ({"sites": frozenset({"DIRAC.A.ch", "DIRAC.B.fr"})}, {}, True),
    ({"banned_sites": frozenset({"DIRAC.A.ch"})}, {}, False),
    ({"grid_ces": frozenset({"ce1"})}, {"GridCE": "ce2"}, False),
    ({"grid_ces": frozenset({"ce1"})}, {"GridCE": "ce1"}, True),
    ({"platforms": frozenset({"el8", "el9"})}, {"Platform": "el9"}, True),
    ({"platforms": frozenset({"el8"})}, {"Platform": "el9"}, False),
    ({"platforms": frozenset({"el8"})}, {"Platform": "ANY"}, True),
    ({"tags": frozenset({"GPU"})}, {}, False),
    ({"tags": frozenset({"GPU"})}, {"Tag": ["GPU", "SSD"]}, True),
    ({"tags": frozenset({"GPU"})}, {"Tag": "ANY"}, True),
    ({}, {"Tag": ["GPU"], "RequiredTag": ["GPU"]}, False),
    ({"tags": frozenset({"GPU"})}, {"Tag": ["GPU"], "RequiredTag": ["GPU"]}, True),
    ({"tags": frozenset({"4Processors", "MultiProcessor"})}, {"NumberOfProcessors": 4}, True),
    ({"tags": frozenset({"8Processors", "MultiProcessor"})}, {"NumberOfProcessors": 4}, False),
    ({"tags": frozenset({"4GB"})}, {"MaxRAM": 8000}, True),
    ({"tags": frozenset({"WholeNode"})}, {"WholeNode": "yes", "Tag": []}, True),
    ({"job_types": frozenset({"User"})}, {"JobType": "Test"}, False),
    ({"job_types": frozenset({"User"})}, {"JobType": ["User", "Test"]}, True),
])
def test_queue_rules(req: dict[str, object], res: dict[str, object], expected: bool,
                     grid_config: Config) -> None:
    full = {"Site": "DIRAC.A.ch", "CPUTime": 100000, **res}
    assert _matches(_req(**req), full, grid_config) is expected


def test_outside_the_mask_only_test_jobs(grid_config: Config) -> None:
    res = {"Site": "DIRAC.C.it", "CPUTime": 100000}
    assert not _matches(_req(job_types=frozenset({"User"})), res, grid_config, in_mask=False)
    assert _matches(_req(job_types=frozenset({"Test"})), res, grid_config, in_mask=False)


def test_required_tag_not_offered_is_an_error() -> None:
    r = ResourceDescription.from_mapping({"Site": "S.x.y", "CPUTime": 1, "Tag": ["a"],
                                          "RequiredTag": ["b"]})
    with pytest.raises(DiracError, match="required tags"):
        tags_wanted(r)


def test_private_and_generic_pilots(grid_config: Config) -> None:
    res = {"Site": "DIRAC.A.ch", "CPUTime": 100000}
    bobs = _req(owner="bob")
    assert _matches(bobs, res, grid_config)  # generic pilot: the whole VO
    assert not _matches(bobs, res, grid_config, identity=who("alice"))
    shared = _req(owner="bob", owner_group="demo_shared")
    assert _matches(shared, res, grid_config, identity=who("alice", "demo_shared"))
    with pytest.raises(PermissionDenied):
        _matches(bobs, {**res, "OwnerGroup": "other_vo_group"}, grid_config)


def test_resource_without_site_is_refused() -> None:
    with pytest.raises(DiracError, match="Site"):
        ResourceDescription.from_mapping({"CPUTime": 10})


# -- on the database ----------------------------------------------------------

def test_match_claims_the_best_job_and_records_it(wms: WorkloadManager) -> None:
    low, high = (j.job_id for j in wms.submit(['[Executable = "a"; Priority = 1]',
                                               '[Executable = "b"; Priority = 5]'], who()))
    first = wms.match(resource(PilotReference="stamp-1"), PILOT)
    assert first is not None and first.job_id == high
    row = wms.get_jobs([high])[high]
    assert (row["status"], row["minor_status"], row["site"]) == \
        (JobStatus.MATCHED, "Assigned", "DIRAC.A.ch")
    assert wms.history(high)[-1]["status"] is JobStatus.MATCHED
    assert "Executable" in first.jdl and first.owner == "alice"
    second = wms.match(resource(), PILOT)
    assert second is not None and second.job_id == low
    assert wms.match(resource(), PILOT) is None


def test_site_requirements_steer_jobs(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"; Site = "DIRAC.B.fr"]', who())
    assert wms.match(resource("DIRAC.A.ch"), PILOT) is None
    matched = wms.match(resource("DIRAC.B.fr"), PILOT)
    assert matched is not None and matched.job_id == job.job_id


def test_new_queue_is_seen_without_waiting_for_the_cache(wms: WorkloadManager) -> None:
    assert wms.match(resource(), PILOT) is None  # loads an empty index
    [job] = wms.submit('[Executable = "a"]', who())
    matched = wms.match(resource(), PILOT)
    assert matched is not None and matched.job_id == job.job_id


def test_platform_expansion_through_os_compatibility(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"; Platform = "el8"]', who())
    assert wms.match(resource(Platform="el7"), PILOT) is None
    matched = wms.match(resource(Platform="el9"), PILOT)
    assert matched is not None and matched.job_id == job.job_id


def test_masked_site_gets_only_test_jobs(wms: WorkloadManager) -> None:
    user, test = (j.job_id for j in wms.submit(['[Executable = "a"]',
                                                '[Executable = "t"; JobType = "Test"]'], who()))
    matched = wms.match(resource("DIRAC.C.it"), PILOT)
    assert matched is not None and matched.job_id == test
    assert wms.match(resource("DIRAC.C.it"), PILOT) is None
    assert wms.get_jobs([user])[user]["status"] is JobStatus.WAITING


def test_running_limit_blocks_then_frees(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    ids = [j.job_id for j in wms.submit(['[Executable = "h"; JobType = "Hospital"]'] * 3, who())]
    assert wms.match(resource(), PILOT) is not None
    assert wms.match(resource(), PILOT) is not None
    assert wms.match(resource(), PILOT) is None  # limit 2 at DIRAC.A.ch
    assert wms.match(resource("DIRAC.B.fr"), PILOT) is not None  # no limit there
    done = [j for j, row in wms.get_jobs(ids).items() if row["site"] == "DIRAC.A.ch"]
    wms.set_status({done[0]: {fake_clock.now(): {"Status": "Failed"}}}, force=True)
    [extra] = wms.submit('[Executable = "h"; JobType = "Hospital"]', who())
    fake_clock.advance(11)  # the counts are refreshed every 10 s
    matched = wms.match(resource(), PILOT)
    assert matched is not None and matched.job_id == extra.job_id


def test_matching_delay(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    wms.submit(['[Executable = "c"]'] * 2, who("carol"))
    assert wms.match(resource("DIRAC.B.fr"), PILOT) is not None
    assert wms.match(resource("DIRAC.B.fr"), PILOT) is None  # carol: 60 s at DIRAC.B.fr
    assert wms.match(resource("DIRAC.A.ch"), PILOT) is not None


def test_limiter_counts_are_loaded_once_per_interval(wms: WorkloadManager) -> None:
    wms.submit(['[Executable = "h"; JobType = "Hospital"]'] * 2, who())
    for _ in range(5):
        wms.match(resource(), PILOT)
    limiter = wms.matcher._limiter("demo")
    assert limiter._site_counts("DIRAC.A.ch").loads == 1


def test_priority_weighted_choice_between_owners(wms: WorkloadManager) -> None:
    wms.submit(['[Executable = "a"]'] * 60, who("alice"))
    wms.submit(['[Executable = "b"]'] * 60, who("bob"))
    owners = Counter()
    for _ in range(60):
        matched = wms.match(resource(), PILOT)
        assert matched is not None
        owners[matched.owner] += 1
    # equal shares: both owners get work; neither is starved
    assert owners["alice"] >= 15 and owners["bob"] >= 15


def test_priority_hook_can_starve_a_queue(wms: WorkloadManager) -> None:
    class OnlyBob:
        @hookimpl
        def dirac_match_priority(self, job, priority):  # type: ignore[no-untyped-def]
            return priority if job["Owner"] == "bob" else 0.0

    wms.hooks = make_plugin_manager([OnlyBob()])
    wms.submit(['[Executable = "a"]'] * 5, who("alice"))
    wms.submit(['[Executable = "b"]'] * 5, who("bob"))
    owners = {wms.match(resource(), PILOT).owner for _ in range(5)}  # type: ignore[union-attr]
    assert owners == {"bob"}


def test_match_many_claims_distinct_jobs_in_one_call(wms: WorkloadManager) -> None:
    ids = {j.job_id for j in wms.submit(['[Executable = "a"]'] * 3, who())}
    answers = wms.match_many([resource(PilotReference=f"slot-{i}") for i in range(4)], PILOT)
    assert answers[3] is None
    assert {m.job_id for m in answers if m is not None} == ids
    for job_id in ids:
        assert wms.history(job_id)[-1]["status"] is JobStatus.MATCHED


def test_match_many_validates_every_resource_before_claiming(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"]', who())
    bad = resource(Tag=["a"], RequiredTag=["b"])
    with pytest.raises(DiracError, match="required tags"):
        wms.match_many([resource(), bad], PILOT)
    assert wms.get_jobs([job.job_id])[job.job_id]["status"] is JobStatus.WAITING
