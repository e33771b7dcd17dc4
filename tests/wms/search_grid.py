"""The six-job grid the search tests query, and their helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy import event

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.interware import EMBEDDED_CONFIG
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.wms import WorkloadManager
from dirac_core.wms.search import (
    Filter,
    ScalarFilter,
    SearchPage,
    search,
    summary,
)

ALICE = Identity(user="alice", group="demo_user", vo="demo", properties={"NormalUser"})
ADMIN = Identity(user="admin", group="demo_user", vo="demo", properties={"NormalUser"})
PILOT = Identity(user="pilot", group="demo_user", vo="demo", properties={"GenericPilot"})
RESOURCE = {"Site": "DIRAC.Embedded.local", "CPUTime": 100000, "PilotReference": "stamp1"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


#: (job name, submitted at, by, more JDL); Sim-1 is then matched by pilot stamp1 and Running,
#: RecoX1 fails its checks (unknown job type), the others wait.
JOBS = [
    ("Sim-1", _at("2025-07-31 23:00:00"), ALICE, 'JobGroup = "g1"; Priority = 1'),
    ("Sim-2", _at("2025-07-31 23:59:59.999999"), ALICE, 'JobGroup = "g1"; Priority = 5'),
    ("sim-lower", _at("2025-08-01 00:00:00"), ALICE, 'JobGroup = "g2"; Priority = 3'),
    ("Reco_1", _at("2025-08-25 10:30:00"), ADMIN, 'JobGroup = "g2"; Priority = 2; JobType = "Test"'),
    ("RecoX1", _at("2025-08-25 10:45:30"), ADMIN, 'JobGroup = "g2"; Priority = 2; JobType = "Exotic"'),
    ("Analysis", _at("2025-09-02 08:00:00"), ALICE, "Priority = 1"),
]
ALL = [name for name, *_ in JOBS]


@attrs.frozen
class Grid:
    """The six jobs above in a WMS on the backend under test."""

    database: Database
    wms: WorkloadManager
    ids: dict[str, int]

    def run(self, *filters: Filter, **options: Any) -> SearchPage:
        with self.database.begin(read_only=True) as conn:
            return search(conn, options.pop("parameters", None), list(filters), **options)

    def names(self, *filters: Filter, **options: Any) -> list[str]:
        """The job names found, in result order."""
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[row["JobID"]] for row in self.run(*filters, **options).rows]

    def summary(self, grouping: list[str], *filters: Filter, **options: Any) -> list[dict[str, Any]]:
        with self.database.begin(read_only=True) as conn:
            return summary(conn, grouping, list(filters), **options)


def make_grid(database: Database, tmp_path: Path) -> Grid:
    """The six jobs of ``JOBS`` submitted (and some moved on) on ``database``."""
    clock = FakeClock(JOBS[0][1])
    config = load_config(EMBEDDED_CONFIG.format(root=tmp_path.as_posix()), format="toml")
    wms = WorkloadManager(database=database, config=config, clock=clock, hooks=make_plugin_manager(()))
    ids: dict[str, int] = {}
    for name, when, who, extra in JOBS:
        clock.set(when)
        [job] = wms.submit(f'[ Executable = "run"; JobName = "{name}"; {extra} ]', who)
        ids[name] = job.job_id
        if name == "Sim-1":
            matched = wms.match(RESOURCE, PILOT)
            assert matched is not None and matched.job_id == job.job_id
            assert wms.heartbeat({job.job_id: {}}).all_ok  # Running, StartExecTime set
    # refused (Waiting -> Done): recorded in the history, not shown in LoggingInfo
    clock.advance(60)
    wms.set_status({ids["Sim-2"]: {clock.now(): {"Status": "Done", "Source": "Confused"}}})
    return Grid(database=database, wms=wms, ids=ids)


@contextmanager
def statements(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """Capture the SQL statements (and their parameters) sent to the database."""
    seen: list[tuple[str, Any]] = []

    def hook(conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        seen.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", hook)


def eq(parameter: str, value: Any) -> ScalarFilter:
    return ScalarFilter(parameter, "eq", value)
