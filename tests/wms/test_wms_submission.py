"""Submission: single, bulk and parametric, identity from the caller, checks in the history."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from wms_helpers import who

from dirac_core.db.tables.wms import input_data, job_history, jobs, tq_jobs
from dirac_core.errors import JDLError, PermissionDenied
from dirac_core.jdl import Job, parse
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.plugins.hookspecs import hookimpl
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.wms import WorkloadManager


def _count(wms: WorkloadManager, table) -> int:  # type: ignore[no-untyped-def]
    with wms.database.begin(read_only=True) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_single_job_goes_through_the_checks_to_waiting(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "echo"; Arguments = "hello"; JobName = "one"]', who())
    assert job.status is JobStatus.WAITING and job.minor_status == "Pilot Agent Submission"
    steps = [(h["status"], h["minor_status"], h["source"]) for h in wms.history(job.job_id)]
    assert steps == [(JobStatus.RECEIVED, "Job accepted", "JobManager"),
                     (JobStatus.CHECKING, "JobSanity", "JobChecks"),
                     (JobStatus.CHECKING, "JobScheduling", "JobChecks"),
                     (JobStatus.WAITING, "Pilot Agent Submission", "JobChecks")]
    row = wms.get_jobs([job.job_id])[job.job_id]
    assert (row["owner"], row["owner_group"], row["vo"], row["job_name"]) == \
        ("alice", "demo_user", "demo", "one")
    assert row["site"] == "ANY" and row["submission_time"] == wms.clock.now()
    assert _count(wms, tq_jobs) == 1


def test_bulk_submission_accepts_jdl_descriptions_and_builders(wms: WorkloadManager) -> None:
    items = ['[Executable = "a"]', Job("b").name("built"), Job("c").description(),
             parse('[Executable = "d"]')]
    out = wms.submit(items, who())
    assert [j.job_id for j in out] == sorted(j.job_id for j in out)
    assert len({j.job_id for j in out}) == 4
    names = {r["job_name"] for r in wms.get_jobs(j.job_id for j in out).values()}
    assert names == {"Name", "built"}


def test_job_ids_keep_increasing_across_calls(wms: WorkloadManager) -> None:
    first = wms.submit('[Executable = "a"]', who())
    second = wms.submit(['[Executable = "a"]', '[Executable = "b"]'], who())
    assert first[0].job_id < second[0].job_id < second[1].job_id


def test_parametric_jdl_expands_with_job_ids_substituted(wms: WorkloadManager) -> None:
    out = wms.submit('[Executable = "run"; Arguments = "%s of job %j"; JobName = "p_%n";'
                     ' Parameters = {"a", "b", "c"}]', who())
    assert len(out) == 3
    for index, job in enumerate(out):
        ad = parse(wms.get_jdl(job.job_id))
        assert ad["Arguments"] == f"{'abc'[index]} of job {job.job_id}"
        assert ad["JobName"] == f"p_{index}"
        assert ad["JobID"] == job.job_id and ad["Owner"] == "alice"


def test_parametric_over_the_limit_writes_nothing(wms: WorkloadManager) -> None:
    with pytest.raises(JDLError, match=r"job 1.*51.*50"):
        wms.submit(['[Executable = "a"]', '[Executable = "b"; Parameters = 51]'], who())
    assert _count(wms, jobs) == 0 and _count(wms, job_history) == 0


def test_one_bad_job_rejects_the_whole_bulk(wms: WorkloadManager) -> None:
    with pytest.raises(JDLError) as info:
        wms.submit(['[Executable = "a"]', '[Executable = "b"; CPUTime = 5]'], who())
    assert "job 1" in str(info.value) and "CPUTime" in str(info.value)
    assert _count(wms, jobs) == 0


def test_malformed_jdl_reports_line_and_column(wms: WorkloadManager) -> None:
    with pytest.raises(JDLError) as info:
        wms.submit('[\n  Executable = "a";\n  Arguments = ;\n]', who())
    assert info.value.line == 3 and info.value.column is not None
    assert _count(wms, jobs) == 0


def test_the_jdl_cannot_choose_its_owner(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"; Owner = "bob"; OwnerGroup = "demo_admin"]', who())
    row = wms.get_jobs([job.job_id])[job.job_id]
    assert (row["owner"], row["owner_group"]) == ("alice", "demo_user")
    notes = [h["application_status"] for h in wms.history(job.job_id) if h["status"] is None]
    assert any("Owner 'bob'" in n and "alice" in n for n in notes)
    assert any("OwnerGroup 'demo_admin'" in n for n in notes)
    assert parse(wms.get_jdl(job.job_id))["Owner"] == "alice"


def test_submitting_needs_normal_user(wms: WorkloadManager) -> None:
    pilot = Identity(user="pilot", group="demo_pilot", vo="demo", properties={"GenericPilot"})
    with pytest.raises(PermissionDenied, match="NormalUser"):
        wms.submit('[Executable = "a"]', pilot)


def test_sanity_failure_is_recorded_with_a_reason(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"; JobType = "Exotic"]', who())
    assert job.status is JobStatus.FAILED and job.minor_status == "JobSanity optimizer"
    row = wms.get_jobs([job.job_id])[job.job_id]
    assert "Exotic" in row["application_status"]
    assert _count(wms, tq_jobs) == 0


def test_unknown_site_and_unknown_platform_fail_the_job(wms: WorkloadManager) -> None:
    bad_site, bad_platform = wms.submit(['[Executable = "a"; Site = "DIRAC.Nowhere.xx"]',
                                         '[Executable = "a"; Platform = "solaris"]'], who())
    assert bad_site.status is JobStatus.FAILED
    assert bad_platform.status is JobStatus.FAILED
    assert bad_platform.minor_status == "JobScheduling optimizer"


def test_input_data_on_disk_narrows_the_sites(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"; InputData = {"/demo/both", "/demo/disk-a"}]', who())
    assert job.status is JobStatus.WAITING
    row = wms.get_jobs([job.job_id])[job.job_id]
    assert row["site"] == "DIRAC.A.ch"
    steps = [h["minor_status"] for h in wms.history(job.job_id)]
    assert "InputData" in steps
    with wms.database.begin(read_only=True) as conn:
        lfns = conn.execute(select(input_data.c.lfn).where(input_data.c.job_id == job.job_id)
                            .order_by(input_data.c.position)).scalars().all()
    assert lfns == ["/demo/both", "/demo/disk-a"]


def test_input_data_only_on_tape_goes_to_staging(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"; InputData = "/demo/tape"]', who())
    assert job.status is JobStatus.STAGING
    assert _count(wms, tq_jobs) == 0


def test_missing_input_data_fails(wms: WorkloadManager) -> None:
    [missing, nowhere] = wms.submit(
        ['[Executable = "a"; InputData = "/demo/absent"]',
         '[Executable = "a"; InputData = "/demo/disk-a"; BannedSites = "DIRAC.A.ch"]'], who())
    assert missing.minor_status == "Input Data Not Available"
    assert nowhere.minor_status == "No candidate sites available"


def test_validation_hook_fails_the_job_with_its_reasons(wms: WorkloadManager) -> None:
    class NoSleep:
        @hookimpl
        def dirac_validate_job(self, description):  # type: ignore[no-untyped-def]
            return ["sleep is forbidden"] if description.get("Executable") == "sleep" else []

    wms.hooks = make_plugin_manager([NoSleep()])
    ok, refused = wms.submit(['[Executable = "echo"]', '[Executable = "sleep"]'], who())
    assert ok.status is JobStatus.WAITING
    assert refused.status is JobStatus.FAILED
    assert wms.get_jobs([refused.job_id])[refused.job_id]["application_status"] == \
        "sleep is forbidden"


def test_state_change_hook_sees_submitted_jobs(wms: WorkloadManager) -> None:
    seen: list[tuple[list[int], str]] = []

    class Recorder:
        @hookimpl
        def dirac_job_status_changed(self, job_ids, status):  # type: ignore[no-untyped-def]
            seen.append((list(job_ids), status))

    wms.hooks = make_plugin_manager([Recorder()])
    out = wms.submit(['[Executable = "a"]', '[Executable = "b"]'], who())
    assert seen == [([j.job_id for j in out], "Waiting")]


def test_empty_submission_and_wrong_types(wms: WorkloadManager) -> None:
    assert wms.submit([], who()) == []
    with pytest.raises(TypeError, match="job 0"):
        wms.submit([42], who())  # type: ignore[list-item]
    assert _count(wms, jobs) == 0


def test_engine_search_and_summary_take_diracx_json(wms: WorkloadManager) -> None:
    wms.submit(['[Executable = "a"; JobGroup = "g1"]'] * 3, who("alice"))
    wms.submit('[Executable = "b"; JobType = "Exotic"]', who("bob"))
    page = wms.search(["JobID", "Owner"], [{"parameter": "Owner", "operator": "eq", "value": "alice"}],
                      sort=[{"parameter": "JobID", "direction": "desc"}], per_page=2)
    assert [r["Owner"] for r in page.rows] == ["alice", "alice"] and page.total == 3
    assert page.rows[0]["JobID"] > page.rows[1]["JobID"] and page.content_range() == "jobs 0-1/3"
    assert wms.summary(["Owner", "Status"]) == [
        {"Owner": "alice", "Status": "Waiting", "count": 3},
        {"Owner": "bob", "Status": "Failed", "count": 1}]
    assert wms.search(["JobID"], owner="bob").total == 1


def test_a_large_submission_runs_with_the_collector_paused(wms: WorkloadManager) -> None:
    """Thousands of rows alive at once: no full collection walks the process meanwhile
    (``dirac_core.gc_pause``); a small submission leaves the collector alone."""
    import gc

    running: list[tuple[int, bool]] = []

    class Recorder:
        @hookimpl
        def dirac_job_status_changed(self, job_ids):  # type: ignore[no-untyped-def]
            running.append((len(job_ids), gc.isenabled()))

    wms.hooks = make_plugin_manager([Recorder()])
    assert gc.isenabled()
    wms.submit(['[Executable = "a"]'] * 1000, who())
    wms.submit(['[Executable = "a"]'] * 3, who())
    assert running == [(1000, False), (3, True)]
    assert gc.isenabled()
