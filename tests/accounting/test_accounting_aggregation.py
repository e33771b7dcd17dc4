"""Aggregation in SQL by time bin and key, with filters, on every backend."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from dirac_core.accounting import (
    DataOperationRecord,
    InvalidReport,
    JobRecord,
    PilotRecord,
    TimeBin,
    choose_bin,
)
from dirac_core.accounting.bins import bin_number, bin_start, time_bin
from dirac_core.db import Database
from dirac_core.db.tables.accounting import jobs
from dirac_core.interware import Interware

DAY = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def _job(job_id: int, site: str, group: str, status: str, end: datetime, *, cpu: float = 0.0,
         vo: str = "demo", owner: str = "alice") -> JobRecord:
    return JobRecord(job_id=job_id, owner=owner, group=group, vo=vo, site=site, status=status,
                     cpu_seconds=cpu, wall_seconds=2 * cpu, end=end)


@pytest.fixture
def filled(iw: Interware) -> Interware:
    """Jobs over three days at two sites (and one of another VO), pilots, transfers."""
    h = timedelta(hours=1)
    iw.accounting.add([
        _job(1, "LCG.A.ch", "prod", "Done", DAY + 1 * h, cpu=3600),
        _job(2, "LCG.A.ch", "user", "Failed", DAY + 23 * h + timedelta(minutes=59, seconds=59.999), cpu=1800),
        _job(3, "LCG.B.fr", "prod", "Done", DAY + 25 * h, cpu=7200),
        _job(4, "LCG.B.fr", "prod", "Killed", DAY + 49 * h),
        _job(5, "LCG.A.ch", "prod", "Done", DAY + 50 * h, cpu=360),
        _job(6, "LCG.A.ch", "prod", "Done", DAY + 72 * h, cpu=1),  # at the period's end: left out
        _job(7, "LCG.C.it", "prod", "Done", DAY + 2 * h, vo="other"),
        PilotRecord(pilot_stamp="p1", vo="demo", site="LCG.A.ch", ce="ce1", status="Done", jobs=3,
                    wall_seconds=7200, end=DAY + 5 * h),
        DataOperationRecord(operation="Replication", vo="demo", source_se="SE-A", target_se="SE-B",
                            bytes=3_600_000, seconds=10, end=DAY + 1 * h),
        DataOperationRecord(operation="Replication", vo="demo", source_se="SE-A", target_se="SE-B",
                            bytes=7_200_000, seconds=20, end=DAY + 1 * h + timedelta(minutes=30)),
        DataOperationRecord(operation="Replication", vo="demo", source_se="SE-A", target_se="SE-C",
                            bytes=0, success=False, end=DAY + 2 * h),
    ])
    return iw


def test_jobs_by_site_and_day(filled: Interware) -> None:
    found = filled.accounting.aggregate("job", "jobs", since=DAY, until=DAY + timedelta(days=3),
                                        group_by="site", width="day")
    assert found.bins == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert found.keys == ["LCG.A.ch", "LCG.B.fr", "LCG.C.it"]
    assert found.series == {"LCG.A.ch": [2, 0, 1], "LCG.B.fr": [0, 1, 1], "LCG.C.it": [1, 0, 0]}
    assert found.totals == {"LCG.A.ch": 3, "LCG.B.fr": 2, "LCG.C.it": 1}


def test_cpu_by_group_of_one_vo_in_hours(filled: Interware) -> None:
    found = filled.accounting.aggregate("job", "cpu", since=DAY, until=DAY + timedelta(days=3),
                                        group_by="group", width="day", vo="demo")
    assert found.unit == "CPU hours"
    assert found.series == {"prod": [1.0, 2.0, 0.1], "user": [0.5, 0.0, 0.0]}
    unbinned = filled.accounting.aggregate("job", "wall", since=DAY, until=DAY + timedelta(days=3),
                                           group_by="site", vo="demo")
    assert unbinned.bins == [] and unbinned.totals == {"LCG.A.ch": 3.2, "LCG.B.fr": 4.0}


def test_filters_and_hour_bins(filled: Interware) -> None:
    found = filled.accounting.aggregate("job", "jobs", since=DAY, until=DAY + timedelta(hours=3),
                                        group_by="status", width="hour",
                                        filters={"site": ["LCG.A.ch", "LCG.C.it"], "status": ["Done"]})
    assert found.bins == [DAY, DAY + timedelta(hours=1), DAY + timedelta(hours=2)]
    assert found.series == {"Done": [0, 1, 1]}
    with pytest.raises(InvalidReport, match="bad value for status"):
        filled.accounting.aggregate("job", "jobs", since=DAY, until=DAY + timedelta(days=1),
                                    filters={"status": ["Finished"]})


def test_transfer_throughput_per_se_pair_and_outcome(filled: Interware) -> None:
    found = filled.accounting.aggregate("data", "throughput", since=DAY, until=DAY + timedelta(hours=3),
                                        group_by="pair", width="hour", filters={"status": ["Succeeded"]})
    assert found.unit == "bytes/s"
    assert found.series == {"SE-A -> SE-B": [0.0, 3000.0, 0.0]}  # 10.8 MB in the hour from 01:00
    outcome = filled.accounting.aggregate("data", "operations", since=DAY, until=DAY + timedelta(days=1),
                                          group_by="status")
    assert outcome.totals == {"Succeeded": 2, "Failed": 1}
    pilots = filled.accounting.aggregate("pilot", "jobs", since=DAY, until=DAY + timedelta(days=1),
                                         group_by="ce")
    assert pilots.totals == {"ce1": 3}


def test_reports_choose_their_bin_and_keep_their_kind(filled: Interware) -> None:
    report = filled.accounting.report("jobs-by-site", since=DAY, until=DAY + timedelta(days=3))
    assert report.width is TimeBin.DAY and report.title == "Jobs by site"
    header, rows = report.table()
    assert header == ["day", "LCG.A.ch", "LCG.B.fr", "LCG.C.it", "total"]
    assert rows[0] == ["2026-03-02", 2, 0, 1, 3]
    pie = filled.accounting.report("final-statuses", since=DAY, until=DAY + timedelta(days=3), vo="demo")
    assert pie.width is None and pie.table() == (["status", "jobs", "%"], [
        ["Done", 3, 60.0], ["Failed", 1, 20.0], ["Killed", 1, 20.0]])
    regrouped = filled.accounting.report("cpu-by-group", since=DAY, until=DAY + timedelta(days=3),
                                         group_by="owner", width="week")
    assert regrouped.title == "CPU time by owner" and regrouped.data.bins == [DAY]
    as_json = regrouped.to_json()
    assert (as_json["bin"], as_json["keys"], as_json["series"]) == ("week", ["alice"], {"alice": [3.6]})


@pytest.mark.parametrize(("kind", "options", "message"), [
    ("nope", {}, "unknown report kind 'nope'"),
    ("jobs-by-site", {"group_by": "colour"}, "unknown key 'colour' for job records"),
    ("jobs-by-site", {"width": "year"}, "unknown time bin 'year'"),
    ("jobs-by-site", {"since": DAY, "until": DAY}, "the period is empty"),
])
def test_bad_reports_say_what_is_wrong(filled: Interware, kind: str, options: dict, message: str) -> None:
    with pytest.raises(InvalidReport, match=message):
        filled.accounting.report(kind, **{"since": DAY, "until": DAY + timedelta(days=1), **options})


def test_the_sql_bins_are_the_python_bins(database: Database) -> None:
    """The dialect's bin number of many timestamps (edges of hours, weeks, months included)."""
    rng = random.Random(5)
    moments = [datetime(2026, 3, 1, 23, 59, 59, 999_999, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC),
               datetime(2024, 2, 29, 12, tzinfo=UTC), datetime(2025, 12, 31, 23, 30, tzinfo=UTC)]
    moments += [datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10 * 365 * 86400),
                                                            microseconds=rng.randrange(10**6))
                for _ in range(40)]
    rows = [_job(i, "S", "g", "Done", when).row() for i, when in enumerate(moments)]
    widths = list(TimeBin)
    with database.begin() as conn:
        conn.execute(sa.insert(jobs), rows)
        found = conn.execute(sa.select(jobs.c.end_time, *(time_bin(jobs.c.end_time, w) for w in widths))
                             .order_by(jobs.c.job_id)).all()
        conn.execute(sa.delete(jobs))
    for end, *numbers in found:
        assert [int(n) for n in numbers] == [bin_number(end, w) for w in widths], end
        for number, width in zip(numbers, widths, strict=True):
            assert bin_start(int(number), width) <= end < bin_start(int(number) + 1, width)
    assert bin_start(bin_number(DAY + timedelta(days=3), TimeBin.WEEK), TimeBin.WEEK) == DAY  # Monday


def test_choose_bin_keeps_plots_readable() -> None:
    assert [choose_bin(DAY, DAY + span) for span in (timedelta(hours=6), timedelta(days=7),
                                                     timedelta(days=90), timedelta(days=800))] == [
        TimeBin.HOUR, TimeBin.DAY, TimeBin.WEEK, TimeBin.MONTH]


def test_each_bin_width_gets_its_own_sql_on_one_engine(filled: Interware) -> None:
    """SQLAlchemy caches compiled SQL per engine by the statement's cache key; the bin width
    must be in it, or an hourly report after a daily one is binned by day and loses its rows."""
    period = {"since": DAY, "until": DAY + timedelta(days=1)}
    by_day = filled.accounting.aggregate("job", "jobs", group_by="site", width="day", **period)
    by_hour = filled.accounting.aggregate("job", "jobs", group_by="site", width="hour", **period)
    assert by_day.series["LCG.A.ch"] == [2.0]
    assert len(by_hour.bins) == 24
    assert by_hour.series["LCG.A.ch"][1] == 1.0 and by_hour.series["LCG.A.ch"][23] == 1.0
    assert sum(by_hour.series["LCG.A.ch"]) == 2.0
