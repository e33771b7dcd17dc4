"""The workload management engine: ``Interware.wms``.

Plain object built from the database, configuration, clock, hooks and
(optionally) a file catalog. Thread-safe. Every public method is one
transaction (ids are reserved before it, see :func:`allocate_job_ids`);
hooks are called after the commit.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy
from sqlalchemy import Connection, insert, select

from dirac_core.authorization import Action, require
from dirac_core.config import Config
from dirac_core.db.bulk import bulk_insert
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import (
    input_data,
    job_history,
    job_jdls,
    job_parameters,
    job_to_pilot,
    jobs,
    sandbox_jobs,
)
from dirac_core.errors import BulkResult
from dirac_core.gc_pause import gc_paused
from dirac_core.jdl.description import JobDescription, from_classad
from dirac_core.jdl.syntax import parse
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.wms import control, status_counts
from dirac_core.wms.checks import CheckContext, Replicas, Verdict, run_checks
from dirac_core.wms.control import JobCommand
from dirac_core.wms.matcher import MatchedJob, Matcher
from dirac_core.wms.resource import ResourceDescription
from dirac_core.wms.sandboxes import check_input_sandboxes, input_sandbox_pfns
from dirac_core.wms.search import Filter, SearchPage, Sort, parse_search, parse_sort
from dirac_core.wms.search import search as search_jobs
from dirac_core.wms.search import summary as summarize_jobs
from dirac_core.wms.status_updates import JobState, StatusChange, StatusUpdate, apply_updates, typed_updates
from dirac_core.wms.store import (
    add_commands,
    allocate_job_ids,
    chunks,
    history_row,
    ids_in,
    insert_history,
    job_not_found,
    read_jdls,
    read_statuses,
    set_job_rows,
)
from dirac_core.wms.submission import (
    JobInput,
    PreparedJob,
    SubmittedJob,
    input_rows,
    prepare,
    resolve_replicas,
    rows_for,
)
from dirac_core.wms.taskqueues import dequeue, enqueue

if TYPE_CHECKING:
    from dirac_core.plugins.catalog import Catalog

__all__ = ["WorkloadManager"]

log = logging.getLogger(__name__)


class WorkloadManager:
    """Submit, match, update, control and find jobs."""

    def __init__(self, *, database: Database, config: Config, clock: Clock,
                 hooks: pluggy.PluginManager, catalog: Catalog | None = None,
                 rng: random.Random | None = None) -> None:
        self.database = database
        self.config = config
        self.clock = clock
        self.catalog = catalog
        self._checks = CheckContext.from_config(config)
        self.matcher = Matcher(database=database, config=config, clock=clock, hooks=hooks, rng=rng)
        self._hooks = hooks

    @property
    def hooks(self) -> pluggy.PluginManager:
        """The hook manager (validation, state changes, match priorities)."""
        return self._hooks

    @hooks.setter
    def hooks(self, hooks: pluggy.PluginManager) -> None:
        self._hooks = hooks
        self.matcher.hooks = hooks

    # -- submission ---------------------------------------------------------

    def submit(self, jobs_in: JobInput | Sequence[JobInput], identity: Identity
               ) -> list[SubmittedJob]:
        """Submit one job, a list of jobs, or a parametric JDL; all or nothing.

        Raises ``JDLError`` (naming the job index and attribute) before
        anything is written when a job is invalid or a parametric expansion
        exceeds the VO's ``max_parametric_jobs``; ``PermissionDenied`` when
        the identity may not submit.
        """
        items: Sequence[JobInput] = ([jobs_in] if isinstance(jobs_in, str | dict | JobDescription)
                                     or not isinstance(jobs_in, Sequence) else jobs_in)
        require(identity, Action.JOB_SUBMIT)
        policy = self.config.operations.policy(identity.vo)
        prepared = prepare(items, identity, limit=policy.max_parametric_jobs, hooks=self.hooks)
        if not prepared:
            return []
        with gc_paused(len(prepared)):  # thousands of rows alive at once: no full collections meanwhile
            return self._store_submission(prepared, identity)

    def _store_submission(self, prepared: list[PreparedJob], identity: Identity) -> list[SubmittedJob]:
        if any(input_sandbox_pfns(j.description) for j in prepared):  # uploaded, the submitter's
            with self.database.connect() as conn:
                check_input_sandboxes(conn, identity, self.config.registry, [j.description for j in prepared])
        replicas = resolve_replicas(self.catalog, prepared)
        ids = allocate_job_ids(self.database, len(prepared))
        now = self.clock.now()
        job_rows, jdl_rows, inputs, history, queued = [], [], [], [], []
        boxes: list[dict[str, Any]] = []
        out: list[SubmittedJob] = []
        for job_id, job in zip(ids, prepared, strict=True):
            row, jdl, verdict, hist = rows_for(job_id, job, identity, ctx=self._checks,
                                               replicas=replicas, now=now)
            job_rows.append(row)
            jdl_rows.append({"job_id": job_id, "jdl": jdl})
            inputs.extend(input_rows(job_id, job.description))
            boxes.extend({"job_id": job_id, "kind": "input", "pfn": pfn}
                         for pfn in input_sandbox_pfns(job.description))
            history.extend(hist)
            if verdict.status is JobStatus.WAITING and verdict.requirements is not None:
                queued.append((job_id, verdict.requirements, job.description.priority))
            out.append(SubmittedJob(job_id=job_id, status=verdict.status,
                                    minor_status=verdict.minor_status, timestamp=now))
        with self.database.begin() as conn:
            bulk_insert(conn, jobs, job_rows)
            status_counts.record(conn, ((r["vo"], r["owner_group"], None, r["status"]) for r in job_rows))
            bulk_insert(conn, job_jdls, jdl_rows)
            bulk_insert(conn, input_data, inputs)
            bulk_insert(conn, sandbox_jobs, boxes)
            insert_history(conn, history)
            if enqueue(conn, queued, now, self.config.registry):
                self.matcher.index.refresh()
        self.notify([StatusChange(j.job_id, JobStatus.RECEIVED, j.status, j.minor_status, now,
                                   "JobManager") for j in out])
        return out

    # -- matching -----------------------------------------------------------

    def match(self, resource: ResourceDescription | Mapping[str, Any],
              identity: Identity) -> MatchedJob | None:
        """Give the pilot described by ``resource`` one job, or None.

        ``resource`` may be DIRAC's resource dictionary. The identity decides
        whose jobs the pilot may run (``GenericPilot``: the whole VO).
        """
        if not isinstance(resource, ResourceDescription):
            resource = ResourceDescription.from_mapping(resource)
        matched = self.matcher.match(resource, identity)
        if matched is not None:
            self.notify([StatusChange(matched.job_id, JobStatus.WAITING, JobStatus.MATCHED,
                                       "Assigned", self.clock.now(), "Matcher")])
        return matched

    def match_many(self, resources: Sequence[ResourceDescription | Mapping[str, Any]],
                   identity: Identity) -> list[MatchedJob | None]:
        """One job (or None) for each resource, claimed in one transaction.

        For a pilot filling several slots, or a server grouping concurrent
        pilots' requests: one commit for all the claims. Errors as :meth:`match`,
        raised before anything is claimed.
        """
        described = [r if isinstance(r, ResourceDescription) else ResourceDescription.from_mapping(r)
                     for r in resources]
        matched = self.matcher.match_many(described, identity)
        now = self.clock.now()
        self.notify([StatusChange(m.job_id, JobStatus.WAITING, JobStatus.MATCHED, "Assigned", now,
                                  "Matcher") for m in matched if m is not None])
        return matched

    # -- status -------------------------------------------------------------

    def waiting_for(self, resources: Sequence[ResourceDescription], identity: Identity) -> list[int]:
        """Per resource, how many waiting jobs it could run (for the site director)."""
        return self.matcher.waiting_for(resources, identity)

    def set_status(self, updates: Mapping[int, Mapping[datetime, StatusUpdate | Mapping[str, Any]]],
                   *, force: bool = False, identity: Identity | None = None
                   ) -> BulkResult[int, JobState]:
        """Apply status updates (job -> timezone-aware time -> update), in time order per job.

        A transition the state machine refuses is recorded as refused and
        leaves the job unchanged (the item still succeeds: look at its
        state). ``force`` needs ``JobAdministrator`` when an identity is given.
        Unknown jobs fail with ``NotFound``; a naive timestamp raises
        ``ValueError`` before anything is written.
        """
        if force and identity is not None:
            require(identity, Action.JOB_FORCE)
        with gc_paused(len(updates)):  # thousands of rows alive at once: no full collections meanwhile
            typed = typed_updates(updates)
            now = self.clock.now()
            with self.database.begin() as conn:
                applied = apply_updates(conn, typed, force=force, now=now)
                set_job_rows(conn, applied.rows, before=applied.before)
                insert_history(conn, applied.history)
                self._after_changes(conn, applied.changes, now)
        result, changes = applied.result, applied.changes
        self.notify(changes)
        resched = [c.job_id for c in changes if c.new is JobStatus.RESCHEDULED]
        if resched:
            self.reschedule(resched)
        return result

    def heartbeat(self, metrics: Mapping[int, Mapping[str, Any]]) -> BulkResult[int, list[JobCommand]]:
        """Record heartbeats (metrics per job); return each job's pending commands.

        A Matched or Stalled job becomes Running.
        """
        now = self.clock.now()
        with self.database.begin() as conn:
            result, changes = control.heartbeat(conn, metrics, now)
        self.notify(changes)
        return result

    # -- control ------------------------------------------------------------

    def kill(self, job_ids: Iterable[int], *, force: bool = False) -> BulkResult[int, JobStatus]:
        """Kill jobs (their pilots get a Kill command); final jobs fail with ``InvalidTransition``."""
        return self._kill_or_delete(job_ids, JobStatus.KILLED, force)

    def delete(self, job_ids: Iterable[int], *, force: bool = False) -> BulkResult[int, JobStatus]:
        """Delete jobs (killing the active ones first); the cleaning task removes them later."""
        return self._kill_or_delete(job_ids, JobStatus.DELETED, force)

    def _kill_or_delete(self, job_ids: Iterable[int], target: JobStatus,
                        force: bool) -> BulkResult[int, JobStatus]:
        now = self.clock.now()
        with self.database.begin() as conn:
            result, changes = control.kill_or_delete(conn, job_ids, target, now, force=force)
        self.notify(changes)
        return result

    def reschedule(self, job_ids: Iterable[int], *, reset: bool = False,
                   force: bool = False) -> BulkResult[int, int]:
        """Run jobs again from Received (the value is the new reschedule counter).

        A job past the VO's ``max_rescheduling`` fails instead; it is held
        for the VO's ``reschedule_delays`` before it may be matched again.
        """
        now = self.clock.now()
        with self.database.begin() as conn:
            result, changes, again = control.reschedule(
                conn, job_ids, self.config.operations.policy, now, reset=reset, force=force)
            changes.extend(self._recheck(conn, again, now))
        self.notify(changes)
        return result

    def release_held(self) -> int:
        """Send jobs held by a rescheduling delay whose delay is over to their queues."""
        now = self.clock.now()
        with self.database.begin() as conn:
            held = [row.job_id for row in conn.execute(
                select(jobs.c.job_id).where(jobs.c.status == JobStatus.CHECKING,
                                            jobs.c.minor_status == HELD_MINOR))]
            changes = self._recheck(conn, held, now)
        self.notify(changes)
        return sum(1 for c in changes if c.new is not JobStatus.CHECKING)

    # -- search -------------------------------------------------------------

    def search(self, parameters: Sequence[str] | None = None,
               search: Sequence[Filter | Mapping[str, Any]] = (), *,
               sort: Sequence[Sort | Mapping[str, Any]] = (), page: int = 1, per_page: int = 100,
               distinct: bool = False, owner: str | None = None,
               after_job_id: int | None = None) -> SearchPage:
        """One page of jobs, DiracX's search semantics (see :func:`dirac_core.wms.search.search`).

        Filters and sort keys may be given as typed objects or as DiracX's JSON
        dicts (``{"parameter": "Status", "operator": "eq", "value": "Done"}``).
        Raises ``InvalidQuery`` for an unknown column, operator or bad value.
        """
        with self.database.begin(read_only=True) as conn:
            return search_jobs(conn, parameters, _filters(search), sort=_sorts(sort), page=page,
                               per_page=per_page, distinct=distinct, owner=owner,
                               after_job_id=after_job_id)

    def summary(self, grouping: Sequence[str], search: Sequence[Filter | Mapping[str, Any]] = (),
                *, owner: str | None = None) -> list[dict[str, Any]]:
        """Job counts per value of the ``grouping`` columns (``[{..., "count": n}]``)."""
        with self.database.begin(read_only=True) as conn:
            return summarize_jobs(conn, grouping, _filters(search), owner=owner)

    # -- reading ------------------------------------------------------------

    def get_jobs(self, job_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The attributes (``wms_jobs`` columns) of the jobs that exist."""
        ids = sorted(set(job_ids))
        out: dict[int, dict[str, Any]] = {}
        with self.database.begin(read_only=True) as conn:
            for where in ids_in(conn, jobs.c.job_id, ids):
                for row in conn.execute(select(jobs).where(where)).mappings():
                    out[row["job_id"]] = dict(row)
        return out

    def jobs_of_pilot(self, pilot_stamp: str) -> set[int]:
        """The jobs a pilot was given (its ``wms_job_to_pilot`` records)."""
        with self.database.begin(read_only=True) as conn:
            return set(conn.execute(select(job_to_pilot.c.job_id)
                                    .where(job_to_pilot.c.pilot_stamp == pilot_stamp)).scalars())

    def get_jdl(self, job_id: int) -> str:
        """The stored JDL of a job; raises ``NotFound``."""
        with self.database.begin(read_only=True) as conn:
            found = read_jdls(conn, [job_id])
        if job_id not in found:
            raise job_not_found(job_id)
        return found[job_id]

    def history(self, job_id: int) -> list[dict[str, Any]]:
        """The status history of a job, oldest first; raises ``NotFound``."""
        with self.database.begin(read_only=True) as conn:
            rows = conn.execute(select(job_history).where(job_history.c.job_id == job_id)
                                .order_by(job_history.c.status_time, job_history.c.id)
                                ).mappings().all()
        if not rows:
            raise job_not_found(job_id)
        return [dict(r) for r in rows]

    def set_parameters(self, job_id: int, parameters: Mapping[str, Any]) -> None:
        """Set free job parameters (replacing values of the same names); raises ``NotFound``."""
        with self.database.begin() as conn:
            if not read_statuses(conn, [job_id]):
                raise job_not_found(job_id)
            names = list(parameters)
            for part in chunks(names):
                conn.execute(job_parameters.delete().where(job_parameters.c.job_id == job_id,
                                                           job_parameters.c.name.in_(part)))
            if names:
                conn.execute(insert(job_parameters), [
                    {"job_id": job_id, "name": str(k)[:100], "value": str(v)}
                    for k, v in parameters.items()])

    def get_parameters(self, job_id: int) -> dict[str, str]:
        """The free parameters of a job."""
        with self.database.begin(read_only=True) as conn:
            return dict(conn.execute(select(job_parameters.c.name, job_parameters.c.value)
                                     .where(job_parameters.c.job_id == job_id)).all())

    # -- internals ----------------------------------------------------------

    def _after_changes(self, conn: Connection, changes: Sequence[StatusChange],
                       now: datetime) -> None:
        """Keep task queues and commands in line with status changes made by ``set_status``."""
        leaving = [c.job_id for c in changes if c.old is JobStatus.WAITING]
        dequeue(conn, leaving)
        control_kill = [c.job_id for c in changes
                        if c.new is JobStatus.KILLED and c.old in control.ACTIVE]
        add_commands(conn, control_kill, "Kill", now)
        entering = [c.job_id for c in changes if c.new is JobStatus.WAITING]
        if entering:
            self._enqueue_stored(conn, entering, now)

    def _stored(self, conn: Connection, job_ids: Sequence[int], *columns: str
                ) -> tuple[dict[int, dict[str, Any]], dict[int, JobDescription], Replicas]:
        """Stored jobs, for checking them again: their rows, descriptions and input replicas."""
        current = read_statuses(conn, job_ids, "owner", "owner_group", "vo", "user_priority",
                                *columns)
        jdls = read_jdls(conn, job_ids)
        descs = {job_id: from_classad(parse(jdls[job_id])) for job_id in job_ids}
        return current, descs, resolve_replicas(self.catalog, list(descs.values()))

    def _check(self, row: Mapping[str, Any], desc: JobDescription, replicas: Replicas) -> Verdict:
        owner = Identity(user=row["owner"], group=row["owner_group"], vo=row["vo"])
        return run_checks(desc, owner, self._checks, replicas)

    def _recheck(self, conn: Connection, job_ids: Sequence[int], now: datetime
                 ) -> list[StatusChange]:
        """Run the checks again on stored jobs (rescheduled ones wait for their delay first)."""
        if not job_ids:
            return []
        current, descs, replicas = self._stored(conn, job_ids, "reschedule_counter",
                                                "reschedule_time", "minor_status")
        rows, history, queued, changes = [], [], [], []
        for job_id, desc in descs.items():
            row = current[job_id]
            delay = self.config.operations.policy(row["vo"]).reschedule_delay(
                row["reschedule_counter"])
            if delay and row["reschedule_time"] is not None and \
                    (now - row["reschedule_time"]).total_seconds() < delay:
                if row["minor_status"] != HELD_MINOR:
                    rows.append({"job_id": job_id, "status": JobStatus.CHECKING,
                                 "minor_status": HELD_MINOR, "last_update_time": now})
                    history.append(history_row(job_id, JobStatus.CHECKING, HELD_MINOR,
                                               f"held {delay} s after rescheduling", now,
                                               "JobChecks"))
                continue
            verdict = self._check(row, desc, replicas)
            history.extend(history_row(job_id, status, minor, None, now, "JobChecks")
                           for status, minor in verdict.steps)
            rows.append({"job_id": job_id, "status": verdict.status,
                         "minor_status": verdict.minor_status, "last_update_time": now})
            if verdict.status is JobStatus.WAITING and verdict.requirements is not None:
                queued.append((job_id, verdict.requirements, row["user_priority"]))
            changes.append(StatusChange(job_id, row["status"], verdict.status,
                                        verdict.minor_status, now, "JobChecks"))
        set_job_rows(conn, rows)
        insert_history(conn, history)
        if queued:
            enqueue(conn, queued, now, self.config.registry)
            self.matcher.index.refresh()
        return changes

    def _enqueue_stored(self, conn: Connection, job_ids: Sequence[int], now: datetime) -> None:
        """Put jobs moved to Waiting by a status update into their task queues."""
        current, descs, replicas = self._stored(conn, job_ids)
        queued = []
        for job_id, desc in descs.items():
            verdict = self._check(current[job_id], desc, replicas)
            if verdict.requirements is not None:
                queued.append((job_id, verdict.requirements, current[job_id]["user_priority"]))
        dequeue(conn, job_ids)
        enqueue(conn, queued, now, self.config.registry)
        self.matcher.index.refresh()

    def notify(self, changes: Sequence[StatusChange]) -> None:
        """Call ``dirac_job_status_changed`` for committed changes, one call per status group.

        A failing hook is logged, never raised: the change is already committed.
        """
        if not changes or not self.hooks.hook.dirac_job_status_changed.get_hookimpls():
            return
        groups: dict[tuple[JobStatus, str, datetime, str], list[int]] = defaultdict(list)
        for c in changes:
            groups[(c.new, c.minor_status, c.when, c.source)].append(c.job_id)
        old = {c.job_id: c.old.value for c in changes}
        for (status, minor, when, source), ids in groups.items():
            try:
                self.hooks.hook.dirac_job_status_changed(job_ids=ids, status=status.value,
                                                         minor_status=minor, timestamp=when,
                                                         source=source, previous={i: old[i] for i in ids})
            except Exception:  # a notification must never undo a committed change
                log.exception("dirac_job_status_changed hook failed")


#: The minor status of a job held after a rescheduling until its delay is over.
HELD_MINOR = "Rescheduling delay"


def _filters(items: Sequence[Filter | Mapping[str, Any]]) -> list[Filter]:
    return [item if not isinstance(item, Mapping) else parse_search([item])[0] for item in items]


def _sorts(items: Sequence[Sort | Mapping[str, Any]]) -> list[Sort]:
    return [item if isinstance(item, Sort) else parse_sort([item])[0] for item in items]

