"""Staging: recalling the input files of jobs from tape, a few at a time per storage element.

Jobs whose input data is only on tape wait in the WMS status Staging at the site the checks
chose. :meth:`Stager.run_once` (a periodic task):

1. finds Staging jobs it does not follow yet and records, for each input file without a disk
   copy at the job's site, the tape replica there to recall (``New``; a job needing nothing is
   released at once);
2. queues new replicas (``Waiting``), checks them at their SE (online: ``Staged``; else
   ``Offline``);
3. asks each SE to recall (``prepare``) its offline replicas while fewer than
   ``max_in_flight`` of its recalls are under way (``StageSubmitted``); an SE that cannot stage
   fails them;
4. sees which submitted recalls are online (``Staged``) or took longer than ``timeout``
   (``Failed``);
5. releases jobs all of whose replicas are Staged (Staging -> Waiting, source ``Stager``) and
   fails those with a failed replica.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from attrs import define, field
from sqlalchemy import Connection, insert, select, update

from dirac_core.db.database import Database
from dirac_core.db.tables.staging import stage_jobs, stage_replicas
from dirac_core.dms.storage_element import StorageElements
from dirac_core.errors import DiracError
from dirac_core.jdl.description import JobDescription
from dirac_core.model.clock import Clock
from dirac_core.model.job import JobStatus
from dirac_core.model.lfn import normalize_lfn
from dirac_core.model.staging import StageStatus
from dirac_core.plugins.catalog import Catalog

__all__ = ["StageReport", "Stager", "StagingTask"]

log = logging.getLogger(__name__)
_S = StageStatus


@define
class StageReport:
    """What one cycle did."""

    followed: int = 0
    submitted: int = 0
    staged: int = 0
    failed: int = 0
    released: list[int] = field(factory=list)
    failed_jobs: list[int] = field(factory=list)


class Stager:
    """Recalls the tape replicas that Staging jobs need, and releases the jobs."""

    def __init__(self, *, database: Database, wms: Any, catalog: Catalog, storage: StorageElements,
                 clock: Clock, max_in_flight: int = 100, timeout: timedelta = timedelta(days=1)) -> None:
        self.database = database
        self.wms = wms
        self.catalog = catalog
        self.storage = storage
        self.clock = clock
        self.max_in_flight = max_in_flight
        self.timeout = timeout

    # -- following jobs ---------------------------------------------------------------

    def request(self, job_id: int, replicas: Mapping[str, str]) -> None:
        """Follow ``job_id``, which needs ``{lfn: tape SE}`` online (a replica already followed
        for another job is shared)."""
        now = self.clock.now()
        with self.database.begin() as conn:
            ids = []
            for lfn, se in sorted(replicas.items()):
                found = conn.execute(select(stage_replicas.c.replica_id).where(
                    stage_replicas.c.se == se, stage_replicas.c.lfn == lfn)).scalar()
                if found is None:
                    found = conn.execute(insert(stage_replicas).values(
                        lfn=lfn, se=se, status=_S.NEW, reason="", created=now, updated=now)
                    ).inserted_primary_key[0]  # type: ignore[index]
                ids.append(int(found))
            conn.execute(insert(stage_jobs), [{"job_id": job_id, "replica_id": i} for i in ids])

    def _followed(self, conn: Connection) -> set[int]:
        return set(conn.execute(select(stage_jobs.c.job_id).distinct()).scalars())

    def _needs(self, job_id: int, site: str) -> dict[str, str]:
        """``{lfn: tape SE at site}`` for the job's inputs with no disk copy there."""
        job = JobDescription.from_jdl(self.wms.get_jdl(job_id))
        lfns = [normalize_lfn(lfn) for lfn in job.input_data]
        replicas = self.catalog.get_replicas(lfns)
        needed: dict[str, str] = {}
        for lfn in lfns:
            here = [se for se in sorted(replicas.ok.get(lfn, ())) if self.storage.site_of(se) == site]
            if any(not self.storage[se].is_tape for se in here):
                continue
            if not here:
                raise DiracError(f"no replica of {lfn} at {site}", lfn=lfn, site=site)
            needed[lfn] = here[0]
        return needed

    def _discover(self, report: StageReport) -> None:
        page = self.wms.search(["JobID", "Site"], [{"parameter": "Status", "operator": "eq",
                                                     "value": str(JobStatus.STAGING)}], per_page=10_000)
        with self.database.begin(read_only=True) as conn:
            followed = self._followed(conn)
        for row in page.rows:
            job_id = int(row["JobID"])
            if job_id in followed:
                continue
            try:
                needed = self._needs(job_id, str(row["Site"]))
            except DiracError as exc:
                self._set_jobs({job_id: (JobStatus.FAILED, f"Staging failed: {exc}"[:255])})
                report.failed_jobs.append(job_id)
                continue
            if not needed:
                self._set_jobs({job_id: (JobStatus.WAITING, "Staging complete")})
                report.released.append(job_id)
                continue
            self.request(job_id, needed)
            report.followed += 1

    # -- the replicas -------------------------------------------------------------------

    def _rows(self, conn: Connection, *statuses: StageStatus) -> list[Any]:
        return list(conn.execute(select(stage_replicas).where(stage_replicas.c.status.in_(statuses))
                                 .order_by(stage_replicas.c.replica_id)).mappings())

    def _move(self, conn: Connection, moves: Mapping[int, tuple[StageStatus, str]], now: datetime) -> None:
        for replica_id, (status, reason) in moves.items():
            values: dict[str, Any] = {"status": status, "reason": reason[:255], "updated": now}
            if status is _S.STAGE_SUBMITTED:
                values["submitted"] = now
            conn.execute(update(stage_replicas).where(stage_replicas.c.replica_id == replica_id)
                         .values(**values))

    def _online(self, row: Mapping[str, Any]) -> bool | str:
        """True, False, or why the SE could not say."""
        try:
            return self.storage[row["se"]].is_online(row["lfn"])
        except DiracError as exc:
            return str(exc)

    def _check_and_submit(self, report: StageReport, now: datetime) -> None:
        with self.database.begin() as conn:
            self._move(conn, {r["replica_id"]: (_S.WAITING, "") for r in self._rows(conn, _S.NEW)}, now)
            moves: dict[int, tuple[StageStatus, str]] = {}
            for row in self._rows(conn, _S.WAITING, _S.STAGE_SUBMITTED):
                online = self._online(row)
                if online is True:
                    moves[row["replica_id"]] = (_S.STAGED, "")
                    report.staged += 1
                elif isinstance(online, str):
                    moves[row["replica_id"]] = (_S.FAILED, online)
                    report.failed += 1
                elif row["status"] is _S.WAITING:
                    moves[row["replica_id"]] = (_S.OFFLINE, "")
                elif row["submitted"] is not None and now - row["submitted"] > self.timeout:
                    moves[row["replica_id"]] = (_S.FAILED, f"not online after {self.timeout}")
                    report.failed += 1
            self._move(conn, moves, now)
            in_flight: dict[str, int] = defaultdict(int)
            for row in self._rows(conn, _S.STAGE_SUBMITTED):
                in_flight[row["se"]] += 1
            offline: dict[str, list[Any]] = defaultdict(list)
            for row in self._rows(conn, _S.OFFLINE):
                offline[row["se"]].append(row)
        for se, rows in offline.items():
            batch = rows[:max(0, self.max_in_flight - in_flight[se])]
            if not batch:
                continue
            try:
                self.storage[se].prepare([r["lfn"] for r in batch])
                status, reason = _S.STAGE_SUBMITTED, ""
                report.submitted += len(batch)
            except DiracError as exc:
                status, reason = _S.FAILED, str(exc)
                report.failed += len(batch)
            with self.database.begin() as conn:
                self._move(conn, {r["replica_id"]: (status, reason) for r in batch}, now)

    # -- the jobs ----------------------------------------------------------------------

    def _set_jobs(self, changes: Mapping[int, tuple[JobStatus, str]]) -> None:
        if changes:
            when = self.clock.now()
            self.wms.set_status({job: {when: {"Status": status, "MinorStatus": minor, "Source": "Stager"}}
                                 for job, (status, minor) in changes.items()})

    def _release(self, report: StageReport) -> None:
        with self.database.begin(read_only=True) as conn:
            links = conn.execute(select(stage_jobs.c.job_id, stage_replicas.c.status, stage_replicas.c.reason,
                                        stage_replicas.c.lfn)
                                 .join(stage_replicas, stage_replicas.c.replica_id == stage_jobs.c.replica_id)
                                 ).all()
        by_job: dict[int, list[Any]] = defaultdict(list)
        for link in links:
            by_job[int(link.job_id)].append(link)
        changes: dict[int, tuple[JobStatus, str]] = {}
        for job_id, rows in by_job.items():
            failed = [r for r in rows if r.status is _S.FAILED]
            if failed:
                why = f"Staging failed: {failed[0].lfn}: {failed[0].reason}"
                changes[job_id] = (JobStatus.FAILED, why[:255])
                report.failed_jobs.append(job_id)
            elif all(r.status is _S.STAGED for r in rows):
                changes[job_id] = (JobStatus.WAITING, "Staging complete")
                report.released.append(job_id)
        self._set_jobs(changes)
        self._forget(changes)

    def _forget(self, job_ids: Iterable[int]) -> None:
        ids = sorted(job_ids)
        if ids:
            with self.database.begin() as conn:
                conn.execute(stage_jobs.delete().where(stage_jobs.c.job_id.in_(ids)))

    def run_once(self) -> StageReport:
        """One cycle (see the module's description)."""
        report = StageReport()
        self._discover(report)
        self._check_and_submit(report, self.clock.now())
        self._release(report)
        return report

    def statuses(self, lfns: Sequence[str]) -> dict[tuple[str, str], StageStatus]:
        """``{(lfn, se): status}`` of the recalls followed for these LFNs."""
        with self.database.begin(read_only=True) as conn:
            return {(r.lfn, r.se): r.status for r in conn.execute(
                select(stage_replicas.c.lfn, stage_replicas.c.se, stage_replicas.c.status)
                .where(stage_replicas.c.lfn.in_(list(lfns))))}


@define
class StagingTask:
    """The stager as a periodic task (``dms.staging``)."""

    stager: Stager
    interval: timedelta = timedelta(minutes=5)
    name: str = "dms.staging"

    def run_once(self) -> int:
        """One cycle; how many jobs it released or failed."""
        report = self.stager.run_once()
        return len(report.released) + len(report.failed_jobs)
