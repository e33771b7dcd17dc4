"""Job search (``dirac_core.wms.search``) on every backend: rows, operators, datetimes,
bad input, the JSON format."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from search_grid import ALL, JOBS, Grid, _at, eq, make_grid, statements

from dirac_core.db import Database
from dirac_core.errors import DiracError
from dirac_core.model.job import JobStatus
from dirac_core.wms.search import (
    COLUMNS,
    MAX_PER_PAGE,
    MAX_VALUES,
    InvalidQuery,
    ScalarFilter,
    ScalarOperator,
    Sort,
    SortDirection,
    VectorFilter,
    parse_search,
    parse_sort,
    period,
    search,
    summary,
)


@pytest.fixture
def grid(database: Database, tmp_path: Path) -> Grid:
    return make_grid(database, tmp_path)


# -- shape of the rows --------------------------------------------------------------------------


def test_rows_are_keyed_by_diracx_names_with_plain_values(grid: Grid) -> None:
    [row] = grid.run(eq("JobName", "Sim-1"), parameters=["JobID", "Status", "StartExecTime",
                                                          "VerifiedFlag", "UserPriority"]).rows
    assert row == {"JobID": grid.ids["Sim-1"], "Status": "Running", "StartExecTime": JOBS[0][1],
                   "VerifiedFlag": True, "UserPriority": 1}
    assert type(row["Status"]) is str and row["StartExecTime"].tzinfo is not None
    [everything] = grid.run(eq("JobName", "Sim-1")).rows
    assert list(everything) == list(COLUMNS) and everything["Owner"] == "alice"
    assert grid.run(eq("JobName", "Sim-1"), parameters=[]).rows == [everything]  # empty = all


def test_parameters_are_deduplicated_and_validated(grid: Grid) -> None:
    page = grid.run(parameters=["Owner", "Owner", "JobID"], per_page=1)
    assert list(page.rows[0]) == ["Owner", "JobID"]
    with pytest.raises(InvalidQuery, match="unknown parameter 'Colour'"):
        grid.run(parameters=["JobID", "Colour"])
    with pytest.raises(InvalidQuery, match="must be a list"):
        grid.run(parameters="JobID")


# -- operators ---------------------------------------------------------------------------------


def test_integer_comparisons_coerce_the_clis_strings(grid: Grid) -> None:
    sim2 = str(grid.ids["Sim-2"])
    assert grid.names(eq("JobID", sim2)) == ["Sim-2"]
    assert grid.names(ScalarFilter("JobID", "neq", sim2)) == [n for n in ALL if n != "Sim-2"]
    assert grid.names(ScalarFilter("UserPriority", "gt", "2")) == ["Sim-2", "sim-lower"]
    assert grid.names(ScalarFilter("UserPriority", "lt", " 2 ")) == ["Sim-1", "Analysis"]
    assert grid.names(eq("UserPriority", 2)) == ["Reco_1", "RecoX1"]


def test_text_status_and_flag_comparisons(grid: Grid) -> None:
    assert grid.names(eq("Owner", "admin")) == ["Reco_1", "RecoX1"]
    assert grid.names(ScalarFilter("JobGroup", "neq", "g2")) == ["Sim-1", "Sim-2", "Analysis"]
    assert grid.names(ScalarFilter("JobGroup", "gt", "g1")) == ["sim-lower", "Reco_1", "RecoX1"]
    assert grid.names(eq("Status", "Failed")) == ["RecoX1"]
    assert grid.names(eq("Status", "running")) == ["Sim-1"]  # statuses match whatever the case
    assert grid.names(eq("Status", JobStatus.RUNNING)) == ["Sim-1"]
    assert grid.names(eq("VerifiedFlag", "true")) == ALL
    assert grid.names(eq("AccountedFlag", "1")) == []
    assert grid.names(ScalarFilter("AccountedFlag", "neq", True)) == ALL
    assert grid.names(VectorFilter("AccountedFlag", "in", ["no"])) == ALL
    assert grid.names(eq("Site", "DIRAC.Embedded.local")) == ["Sim-1"]


def test_like_and_not_like_are_sql_like_with_bound_patterns(grid: Grid) -> None:
    with statements(grid.database) as seen:
        assert grid.names(ScalarFilter("JobName", "like", "Sim-_")) == ["Sim-1", "Sim-2"]
    assert all("Sim-_" not in sql for sql, _ in seen)  # a bound parameter, not SQL text
    assert grid.names(ScalarFilter("JobName", "like", "Reco_1")) == ["Reco_1", "RecoX1"]  # _ = one char
    assert grid.names(ScalarFilter("JobName", "like", r"Reco\_1")) == ["Reco_1"]  # \ escapes everywhere
    assert grid.names(ScalarFilter("JobName", "not like", r"Reco\_%")) == [n for n in ALL if n != "Reco_1"]
    assert grid.names(ScalarFilter("JobName", "not like", "%i%")) == ["Reco_1", "RecoX1"]
    assert grid.names(ScalarFilter("Status", "like", "Wait%")) == ["Sim-2", "sim-lower", "Reco_1",
                                                                    "Analysis"]


def test_regex_runs_in_the_database_and_is_case_sensitive_on_every_backend(grid: Grid) -> None:
    assert grid.names(ScalarFilter("JobName", "regex", r"^Sim-\d$")) == ["Sim-1", "Sim-2"]
    assert grid.names(ScalarFilter("JobName", "regex", "^sim")) == ["sim-lower"]
    assert grid.names(ScalarFilter("JobName", "regex", "(?i)^sim")) == ["Sim-1", "Sim-2", "sim-lower"]
    assert grid.names(ScalarFilter("Status", "regex", "^(Running|Failed)$")) == ["Sim-1", "RecoX1"]
    assert grid.summary(["Owner"], ScalarFilter("JobGroup", "regex", "1$")) == [
        {"Owner": "alice", "count": 2}]


@contextmanager
def case_insensitive_names(database: Database) -> Iterator[None]:
    """On MariaDB, give Owner and JobName the *_ci collation many deployments have (tests use *_bin)."""
    if database.dialect != "mysql":
        yield
        return

    def collate(collation: str) -> None:
        with database.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE wms_jobs"
                                 f" MODIFY owner VARCHAR(64) NOT NULL COLLATE {collation},"
                                 f" MODIFY job_name VARCHAR(128) NOT NULL COLLATE {collation}")

    collate("utf8mb4_general_ci")
    try:
        yield
    finally:
        collate("utf8mb4_bin")


def test_regex_and_owner_are_exact_whatever_the_collation(grid: Grid) -> None:
    with case_insensitive_names(grid.database):
        ignoring_case = grid.database.dialect == "mysql"
        assert grid.names(eq("Owner", "ADMIN")) == (["Reco_1", "RecoX1"] if ignoring_case else [])
        assert grid.names(ScalarFilter("JobName", "regex", "^sim")) == ["sim-lower"]
        assert grid.names(owner="ALICE") == []
        assert grid.names(owner="alice") == ["Sim-1", "Sim-2", "sim-lower", "Analysis"]


def test_a_pattern_the_database_refuses_is_invalid_and_the_transaction_survives(grid: Grid) -> None:
    # valid for Python's re; PostgreSQL has no (?P<name>), MariaDB's PCRE no \N{name}
    pattern = {"postgresql": "(?P<s>S)im", "mysql": r"\N{LATIN CAPITAL LETTER S}im"}
    dialect = grid.database.dialect
    flt = ScalarFilter("JobName", "regex", pattern.get(dialect, "(?P<s>S)im"))
    with grid.database.begin(read_only=True) as conn:
        if dialect == "sqlite":  # SQLite runs Python's re itself
            assert search(conn, ["JobID"], [flt]).total == 2
        else:
            with pytest.raises(InvalidQuery, match="database rejects the regular expression"):
                search(conn, ["JobID"], [flt])
            with pytest.raises(InvalidQuery, match="database rejects the regular expression"):
                summary(conn, ["Owner"], [flt])
        assert search(conn, ["JobID"], [eq("Owner", "admin")]).total == 2


def test_in_and_not_in(grid: Grid) -> None:
    two = [str(grid.ids["Sim-1"]), grid.ids["Reco_1"]]
    assert grid.names(VectorFilter("JobID", "in", two)) == ["Sim-1", "Reco_1"]
    assert grid.names(VectorFilter("JobID", "not in", two)) == ["Sim-2", "sim-lower", "RecoX1", "Analysis"]
    assert grid.names(VectorFilter("Status", "in", ["failed", "Running"])) == ["Sim-1", "RecoX1"]
    assert grid.names(VectorFilter("JobGroup", "not in", ["g1", "g2"])) == ["Analysis"]
    assert grid.names(VectorFilter("JobID", "in", [])) == []
    assert grid.names(VectorFilter("JobID", "not in", [])) == ALL


def test_filters_are_anded_and_owner_restricts_visibility(grid: Grid) -> None:
    assert grid.names(eq("JobGroup", "g2"), ScalarFilter("UserPriority", "lt", 3)) == ["Reco_1", "RecoX1"]
    assert grid.names(eq("JobGroup", "g2"), owner="alice") == ["sim-lower"]
    assert grid.names(owner="nobody") == []
    assert grid.summary(["Owner"], owner="admin") == [{"Owner": "admin", "count": 2}]


# -- datetimes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("operator", "value", "expected"), [
    ("eq", "2025", ALL),
    ("eq", "2025-08", ["sim-lower", "Reco_1", "RecoX1"]),
    ("eq", "2025-07-31", ["Sim-1", "Sim-2"]),
    ("eq", "2025-08-25 10", ["Reco_1", "RecoX1"]),
    ("eq", "2025-08-25T10:30", ["Reco_1"]),
    ("eq", "2025-08-25 10:45:30", ["RecoX1"]),
    ("eq", "2025-07-31T23:59:59.999999Z", ["Sim-2"]),
    ("eq", "2025-08-25T12:30+02:00", ["Reco_1"]),
    ("eq", _at("2025-08-01 00:00:00"), ["sim-lower"]),
    ("neq", "2025-08", ["Sim-1", "Sim-2", "Analysis"]),
    ("gt", "2025-08", ["Analysis"]),
    ("gt", "2025-07-31 23:59:59", ["sim-lower", "Reco_1", "RecoX1", "Analysis"]),  # whole second
    ("lt", "2025-08", ["Sim-1", "Sim-2"]),
    ("lt", "2025-08-01 00:00:00.000001", ["Sim-1", "Sim-2", "sim-lower"]),
    ("in", ["2025-07", "2025-09-02"], ["Sim-1", "Sim-2", "Analysis"]),
    ("not in", ["2025-07", "2025-09-02"], ["sim-lower", "Reco_1", "RecoX1"]),
])
def test_partial_datetimes_compare_as_periods(grid: Grid, operator: str, value: Any,
                                              expected: list[str]) -> None:
    flt = (VectorFilter("SubmissionTime", operator, value) if operator.endswith("in")
           else ScalarFilter("SubmissionTime", operator, value))
    assert grid.names(flt) == expected


def test_datetime_ranges_are_sargable_and_nulls_never_match(grid: Grid) -> None:
    with statements(grid.database) as seen:
        assert grid.names(eq("SubmissionTime", "2025-08")) == ["sim-lower", "Reco_1", "RecoX1"]
    [sql] = [s for s, _ in seen if "wms_jobs.submission_time" in s and "WHERE" in s][:1]
    where = sql[sql.index("WHERE"):]
    assert "wms_jobs.submission_time >=" in where and "wms_jobs.submission_time <" in where
    assert "2025" not in sql  # bound, and no function wraps the column
    assert grid.names(eq("StartExecTime", "2025-07")) == ["Sim-1"]
    assert grid.names(ScalarFilter("StartExecTime", "neq", "2025-07")) == []  # NULL is unknown


@pytest.mark.parametrize(("value", "start", "end"), [
    ("2025", "2025-01-01", "2026-01-01"),
    ("2025-12", "2025-12-01", "2026-01-01"),
    ("2025-02", "2025-02-01", "2025-03-01"),
    ("2024-02-29", "2024-02-29", "2024-03-01"),
    ("2025-08-25 10", "2025-08-25 10:00", "2025-08-25 11:00"),
    ("2025-08-25T10:30", "2025-08-25 10:30", "2025-08-25 10:31"),
    ("2025-08-25 10:30:05", "2025-08-25 10:30:05", "2025-08-25 10:30:06"),
    ("2025-08-25 10:30:05.5", "2025-08-25 10:30:05.5", "2025-08-25 10:30:05.6"),
    ("2025-08-25 10:30:05.123456", "2025-08-25 10:30:05.123456", "2025-08-25 10:30:05.123457"),
    ("2025-08-25 01:30Z", "2025-08-25 01:30", "2025-08-25 01:31"),
    ("2025-08-25 01:30-0130", "2025-08-25 03:00", "2025-08-25 03:01"),
    (" 2025-08-25 ", "2025-08-25", "2025-08-26"),
])
def test_period_of_a_partial_timestamp(value: str, start: str, end: str) -> None:
    assert period(value) == (_at(start), _at(end))


def test_period_of_a_datetime_and_bad_periods() -> None:
    when = datetime(2025, 8, 25, 12, tzinfo=timezone(timedelta(hours=2)))
    assert period(when) == (_at("2025-08-25 10:00"), _at("2025-08-25 10:00:00.000001"))
    for bad in ["2025-13", "2025-02-30", "2025-8", "25", "2025-08-25 10:30 +02", "2025-08Z", "yesterday"]:
        with pytest.raises(ValueError):  # noqa: PT011 - the messages come from datetime or from us
            period(bad)
    with pytest.raises(ValueError, match="timezone-aware"):
        period(datetime(2025, 8, 25))
    with pytest.raises(TypeError):
        period(2025)  # type: ignore[arg-type]


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "message"), [
    (lambda: eq("Colour", "red"), "unknown parameter 'Colour'"),
    (lambda: ScalarFilter("JobID", "equals", 1), "unknown operator 'equals'"),
    (lambda: ScalarFilter("JobID", "in", 1), "unknown operator 'in'"),
    (lambda: VectorFilter("JobID", "eq", [1]), "unknown operator 'eq'"),
    (lambda: ScalarFilter("JobID", "like", "1%"), "operator 'like' does not apply to JobID"),
    (lambda: ScalarFilter("SubmissionTime", "regex", "2025"), "'regex' does not apply to SubmissionTime"),
    (lambda: ScalarFilter("JobName", "regex", "(open"), "bad regular expression '\\(open' for JobName"),
    (lambda: ScalarFilter("VerifiedFlag", "gt", "false"), "operator 'gt' does not apply to VerifiedFlag"),
    (lambda: ScalarFilter("JobName", "like", 5), "a pattern must be a string"),
    (lambda: eq("JobID", "two"), "bad value 'two' for JobID"),
    (lambda: eq("JobID", "2.5"), "bad value '2.5' for JobID"),
    (lambda: eq("JobID", 2.0), "bad value 2.0 for JobID"),
    (lambda: eq("JobID", True), "bad value True for JobID"),
    (lambda: eq("JobID", str(2**63)), "bad value '9223372036854775808' for JobID: out of range"),
    (lambda: eq("UserPriority", None), "bad value None for UserPriority"),
    (lambda: eq("VerifiedFlag", "maybe"), "bad value 'maybe' for VerifiedFlag: expected one of true"),
    (lambda: eq("Status", "Sleeping"), "bad value 'Sleeping' for Status: expected one of Submitting"),
    (lambda: eq("Owner", ["alice"]), "bad value \\['alice'\\] for Owner"),
    (lambda: eq("SubmissionTime", "2025-13"), "bad value '2025-13' for SubmissionTime"),
    (lambda: eq("SubmissionTime", datetime(2025, 1, 1)), "must be timezone-aware"),
    (lambda: VectorFilter("JobID", "in", "123"), "values must be a list"),
    (lambda: VectorFilter("JobID", "in", 5), "values must be a list"),
    (lambda: VectorFilter("JobID", "in", [1, "x"]), "bad value 'x' for JobID"),
    (lambda: VectorFilter("JobID", "in", range(MAX_VALUES + 1)), f"at most {MAX_VALUES} values"),
    (lambda: Sort("Colour"), "unknown sort parameter 'Colour'"),
    (lambda: Sort("LoggingInfo"), "unknown sort parameter 'LoggingInfo'"),
    (lambda: Sort("JobID", "up"), "unknown direction 'up'"),
])
def test_bad_specs_are_refused_naming_the_culprit(make: Any, message: str) -> None:
    with pytest.raises(InvalidQuery, match=message) as info:
        make()
    assert isinstance(info.value, DiracError)


def test_invalid_query_fields_name_the_culprit() -> None:
    with pytest.raises(InvalidQuery) as info:
        ScalarFilter("Colour", "eq", "red")
    assert info.value.fields == {"parameter": "Colour"}
    with pytest.raises(InvalidQuery) as info:
        ScalarFilter("JobID", "sort of", 1)
    assert info.value.fields == {"operator": "sort of"}


@pytest.mark.parametrize(("options", "message"), [
    ({"page": 0}, "page must be an integer >= 1, got 0"),
    ({"page": True}, "page must be an integer >= 1, got True"),
    ({"per_page": 0}, f"per_page must be an integer in 1..{MAX_PER_PAGE}, got 0"),
    ({"per_page": MAX_PER_PAGE + 1}, f"per_page must be an integer in 1..{MAX_PER_PAGE}"),
    ({"per_page": "10"}, "per_page must be an integer"),
])
def test_bad_paging_is_refused(grid: Grid, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        grid.run(**options)


def test_per_page_limit_is_accepted(grid: Grid) -> None:
    assert grid.run(per_page=MAX_PER_PAGE).total == 6


# -- the JSON format ---------------------------------------------------------------------------


def test_parse_search_and_sort_read_diracx_json(grid: Grid) -> None:
    filters = parse_search([
        {"parameter": "Status", "operator": "neq", "value": "Failed"},
        {"parameter": "UserPriority", "operator": "lt", "value": "3"},
        {"parameter": "JobGroup", "operator": "not in", "values": ["g2"]},
    ])
    assert filters == [ScalarFilter("Status", ScalarOperator.NEQ, "Failed"),
                       ScalarFilter("UserPriority", "lt", "3"), VectorFilter("JobGroup", "not in", ("g2",))]
    order = parse_sort([{"parameter": "UserPriority", "direction": "asc"}, {"parameter": "JobName"}])
    assert order == [Sort("UserPriority"), Sort("JobName", SortDirection.ASC)]
    assert grid.names(*filters, sort=parse_sort([{"parameter": "JobID", "direction": "desc"}])) == [
        "Analysis", "Sim-1"]
    assert parse_search(None) == [] and parse_sort([]) == []


@pytest.mark.parametrize(("items", "message"), [
    (["Status eq Done"], "search\\[0\\]: expected an object"),
    ([{"operator": "eq", "value": 1}], "search\\[0\\]: missing key\\(s\\) parameter"),
    ([{"parameter": "JobID", "operator": "eq", "value": 1, "limit": 3}], "unexpected key\\(s\\) limit"),
    ([{"parameter": "JobID", "operator": "in", "value": 1}], "search\\[0\\]: operator 'in' takes 'values'"),
    ([{"parameter": "JobID", "operator": "eq", "values": [1]}], "operator 'eq' takes 'value'"),
    ([{"parameter": "JobID", "operator": "eq", "value": 1, "values": [1]}], "operator 'eq' takes 'value'"),
    ([{"parameter": "JobID", "value": 1}], "search\\[0\\]: missing key\\(s\\) operator"),
    ([{"parameter": "JobID", "operator": None, "value": 1}], "search\\[0\\]: unknown operator None"),
    ([{"parameter": "JobID", "operator": ["eq"], "value": 1}], "search\\[0\\]: unknown operator \\['eq'\\]"),
    ([{"parameter": "JobID", "operator": "eq", "value": 1},
      {"parameter": "Colour", "operator": "eq", "value": 1}], "search\\[1\\]: unknown parameter 'Colour'"),
])
def test_parse_search_refuses_malformed_items(items: list[Any], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        parse_search(items)


def test_parse_sort_refuses_malformed_items() -> None:
    with pytest.raises(InvalidQuery, match="sort\\[0\\]: unknown direction 'sideways'"):
        parse_sort([{"parameter": "JobID", "direction": "sideways"}])
    with pytest.raises(InvalidQuery, match="sort\\[1\\]: unexpected key\\(s\\) nulls"):
        parse_sort([{"parameter": "JobID"}, {"parameter": "Site", "nulls": "last"}])
