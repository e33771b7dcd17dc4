"""Job search on every backend: sorting, paging, pseudo-parameters and summaries."""

from __future__ import annotations

from pathlib import Path

import pytest
from search_grid import ALL, JOBS, Grid, eq, make_grid, statements

from dirac_core.db import Database
from dirac_core.wms.search import InvalidQuery, ScalarFilter, Sort, SortDirection, VectorFilter


@pytest.fixture
def grid(database: Database, tmp_path: Path) -> Grid:
    return make_grid(database, tmp_path)


# -- sorting and paging ------------------------------------------------------------------------


def test_default_sort_is_job_id_and_keys_combine(grid: Grid) -> None:
    assert grid.names() == ALL
    assert grid.names(sort=[Sort("JobID", "desc")]) == ALL[::-1]
    by_priority = [Sort("UserPriority", SortDirection.DESC), Sort("SubmissionTime", "desc")]
    assert grid.names(sort=by_priority) == ["Sim-2", "sim-lower", "RecoX1", "Reco_1", "Analysis", "Sim-1"]
    # JobID breaks the tie between Reco_1 and RecoX1 (same group and priority)
    assert grid.names(sort=[Sort("JobGroup"), Sort("UserPriority", "desc")]) == [
        "Analysis", "Sim-2", "Sim-1", "sim-lower", "Reco_1", "RecoX1"]


def test_null_sorts_first_ascending_on_every_backend(grid: Grid) -> None:
    waiting = ["Sim-2", "sim-lower", "Reco_1", "RecoX1", "Analysis"]
    assert grid.names(sort=[Sort("StartExecTime")]) == [*waiting, "Sim-1"]
    assert grid.names(sort=[Sort("StartExecTime", "desc")]) == ["Sim-1", *waiting]


def test_pages_total_first_last_and_content_range(grid: Grid) -> None:
    with statements(grid.database) as seen:
        first = grid.run(per_page=4)
    assert any("count(" in sql.lower() for sql, _ in seen)  # a full page: the total is counted
    assert (first.total, first.first, first.last, len(first.rows)) == (6, 0, 3, 4)
    assert first.partial and not first.past_end and first.http_status == 206
    assert first.content_range() == "jobs 0-3/6"
    with statements(grid.database) as seen:
        second = grid.run(page=2, per_page=4)
    assert not any("count(" in sql.lower() for sql, _ in seen)  # a short page shows the end
    assert (second.total, second.first, second.last) == (6, 4, 5)
    assert second.content_range("items") == "items 4-5/6" and second.http_status == 206
    assert [r["JobID"] for r in first.rows + second.rows] == [grid.ids[n] for n in ALL]
    beyond = grid.run(page=3, per_page=4)
    assert beyond.rows == [] and beyond.past_end and beyond.http_status == 416
    assert (beyond.total, beyond.first, beyond.last) == (6, 8, 7)
    assert beyond.content_range() == "jobs */6"
    whole = grid.run(per_page=6)
    assert whole.total == 6 and not whole.partial and whole.http_status == 200


def test_empty_results_are_not_past_the_end(grid: Grid) -> None:
    for page in (1, 2):
        nothing = grid.run(eq("Owner", "nobody"), page=page)
        assert (nothing.rows, nothing.total, nothing.past_end, nothing.http_status) == ([], 0, False, 200)


def test_distinct_rows_are_counted_and_ordered_by_their_columns(grid: Grid) -> None:
    page = grid.run(parameters=["Owner", "JobGroup"], distinct=True, per_page=3)
    assert page.rows == [{"Owner": "admin", "JobGroup": "g2"}, {"Owner": "alice", "JobGroup": ""},
                         {"Owner": "alice", "JobGroup": "g1"}]
    assert page.total == 4 and page.partial
    desc = grid.run(parameters=["Owner"], distinct=True, sort=[Sort("Owner", "desc")])
    assert desc.rows == [{"Owner": "alice"}, {"Owner": "admin"}] and desc.total == 2
    with pytest.raises(InvalidQuery, match="sort keys must be among the parameters: JobID"):
        grid.run(parameters=["Owner"], distinct=True, sort=[Sort("JobID")])


def test_keyset_pagination_after_a_job_id(grid: Grid) -> None:
    ids = [grid.ids[n] for n in ALL]
    seen: list[int] = []
    after = 0
    while (result := grid.run(parameters=["JobID"], per_page=4, after_job_id=after)).rows:
        assert (result.total, result.first, result.last) == (6, len(seen), len(seen) + len(result.rows) - 1)
        seen += [r["JobID"] for r in result.rows]
        after = seen[-1]
    assert seen == ids
    assert grid.run(per_page=4, after_job_id=after).past_end
    down = grid.run(parameters=["JobID"], per_page=2, sort=[Sort("JobID", "desc")], after_job_id=ids[3])
    assert [r["JobID"] for r in down.rows] == [ids[2], ids[1]] and (down.first, down.last) == (3, 4)
    mine = grid.run(eq("Owner", "alice"), parameters=["JobID"], per_page=2, after_job_id=ids[1])
    assert [r["JobID"] for r in mine.rows] == [ids[2], ids[5]] and (mine.total, mine.first) == (4, 2)
    owners = grid.run(parameters=["Owner", "JobID"], distinct=True, per_page=2, after_job_id=ids[3])
    assert owners.rows == [{"Owner": "admin", "JobID": ids[4]}, {"Owner": "alice", "JobID": ids[5]}]
    with pytest.raises(InvalidQuery, match="sorted by JobID alone"):
        grid.run(sort=[Sort("Owner")], after_job_id=ids[0])
    with pytest.raises(InvalidQuery, match="JobID selected with distinct"):
        grid.run(parameters=["Owner"], distinct=True, after_job_id=ids[0])
    with pytest.raises(InvalidQuery, match="after_job_id must be an integer"):
        grid.run(after_job_id="3")


# -- pseudo-parameters -------------------------------------------------------------------------


def test_logging_info_is_read_in_one_query_for_the_page(grid: Grid) -> None:
    with statements(grid.database) as seen:
        page = grid.run(parameters=["Status", "LoggingInfo"])
    assert len([sql for sql, _ in seen if "wms_job_history" in sql]) == 1
    rows = {r["JobID"]: r for r in page.rows}
    assert set(page.rows[0]) == {"JobID", "Status", "LoggingInfo"}
    sim2 = rows[grid.ids["Sim-2"]]["LoggingInfo"]
    assert [(h["Status"], h["MinorStatus"]) for h in sim2] == [
        ("Received", "Job accepted"), ("Checking", "JobSanity"), ("Checking", "JobScheduling"),
        ("Waiting", "Pilot Agent Submission")]  # the refused "Done" is left out
    assert sim2[0] == {"Status": "Received", "MinorStatus": "Job accepted", "ApplicationStatus": "Unknown",
                       "StatusTime": JOBS[1][1], "Source": "JobManager"}
    assert type(sim2[0]["Status"]) is str
    sim1 = rows[grid.ids["Sim-1"]]["LoggingInfo"]
    assert [h["Status"] for h in sim1][-2:] == ["Matched", "Running"]
    assert grid.run(eq("Owner", "nobody"), parameters=["LoggingInfo"]).rows == []


def test_pilot_stamp_finds_the_jobs_a_pilot_ran(grid: Grid) -> None:
    assert grid.names(eq("PilotStamp", "stamp1")) == ["Sim-1"]
    assert grid.names(VectorFilter("PilotStamp", "in", ["nope", "stamp1"])) == ["Sim-1"]
    assert grid.names(eq("PilotStamp", "nope")) == []
    assert grid.summary(["Status"], eq("PilotStamp", "stamp1")) == [{"Status": "Running", "count": 1}]
    with pytest.raises(InvalidQuery, match="PilotStamp may not be combined with a JobID filter"):
        grid.run(eq("PilotStamp", "stamp1"), eq("JobID", 1))
    for operator in ("neq", "like", "regex"):
        with pytest.raises(InvalidQuery, match=f"PilotStamp only takes eq or in, not '{operator}'"):
            ScalarFilter("PilotStamp", operator, "stamp1")
    with pytest.raises(InvalidQuery, match="PilotStamp only takes eq or in, not 'not in'"):
        VectorFilter("PilotStamp", "not in", ["stamp1"])


# -- summary -----------------------------------------------------------------------------------


def test_summary_counts_per_group(grid: Grid) -> None:
    assert grid.summary(["Status"]) == [{"Status": "Failed", "count": 1}, {"Status": "Running", "count": 1},
                                        {"Status": "Waiting", "count": 4}]
    assert grid.summary(["Owner", "Status"]) == [
        {"Owner": "admin", "Status": "Failed", "count": 1},
        {"Owner": "admin", "Status": "Waiting", "count": 1},
        {"Owner": "alice", "Status": "Running", "count": 1},
        {"Owner": "alice", "Status": "Waiting", "count": 3}]
    assert grid.summary(["JobGroup"], eq("SubmissionTime", "2025-08")) == [{"JobGroup": "g2", "count": 3}]
    assert grid.summary(["Status"], eq("Owner", "nobody")) == []


def test_summary_grouping_is_validated(grid: Grid) -> None:
    with pytest.raises(InvalidQuery, match="unknown grouping parameter 'Colour'"):
        grid.summary(["Status", "Colour"])
    with pytest.raises(InvalidQuery, match="unknown grouping parameter 'LoggingInfo'"):
        grid.summary(["LoggingInfo"])
    with pytest.raises(InvalidQuery, match="at least one column"):
        grid.summary([])
