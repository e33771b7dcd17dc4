"""Task queues: putting waiting jobs in them, taking them out, and fair-share priorities.

A queue holds the waiting jobs of one :class:`JobRequirements`. Its priority
is the fair share of DIRAC (reference wms.md section 3.3): a group's
``job_share`` is split among its owners (unless the group shares jobs); each
owner's share is split among their queues in proportion to the queues'
average job priority, never below 0.001; queues that differ only by sites sum
their priorities. Priorities are recomputed when a queue appears or goes away,
and periodically.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from dirac_core.config.registry import Registry
from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.wms import task_queues, tq_jobs
from dirac_core.wms.requirements import JobRequirements

__all__ = ["MIN_PRIORITY", "dequeue", "enqueue", "real_priority", "recompute_priorities",
           "remove_empty_queues"]

#: The floor of a queue's priority.
MIN_PRIORITY = 0.001

_SET_PRIORITY = (update(task_queues).where(task_queues.c.tq_id == bindparam("b_tq_id"))
                 .values(priority=bindparam("b_priority")))


def real_priority(user_priority: int) -> float:
    """DIRAC's weighting of a job's priority: 0 is nearly nothing, 10 nearly everything."""
    if user_priority <= 0:
        return 1e-5
    if user_priority >= 10:
        return 1e6
    return float(user_priority)


def enqueue(conn: Connection, jobs: Sequence[tuple[int, JobRequirements, int]], now: datetime,
            registry: Registry) -> set[int]:
    """Put ``(job id, requirements, user priority)`` in their queues; return the new queue ids.

    Queues are found by fingerprint and created when missing; when a queue is
    created the priorities of its group are recomputed.
    """
    if not jobs:
        return set()
    # a bulk submission repeats few definitions: hash each distinct one once
    print_of: dict[JobRequirements, str] = {}
    for _, req, _ in jobs:
        if req not in print_of:
            print_of[req] = req.fingerprint()
    by_print = {fp: req for req, fp in print_of.items()}
    existing: dict[str, int] = {}
    prints = list(by_print)
    for start in range(0, len(prints), 500):
        rows = conn.execute(select(task_queues.c.fingerprint, func.min(task_queues.c.tq_id))
                            .where(task_queues.c.fingerprint.in_(prints[start:start + 500]))
                            .group_by(task_queues.c.fingerprint))
        existing.update(dict(rows.all()))
    created: set[int] = set()
    for fp, req in by_print.items():
        if fp not in existing:
            result = conn.execute(insert(task_queues).values(**req.row(), priority=1.0, created=now))
            key = result.inserted_primary_key
            if key is None or key[0] is None:  # pragma: no cover - every backend returns it
                raise RuntimeError("the database did not return the new task queue's id")
            existing[fp] = int(key[0])
            created.add(existing[fp])
    bulk_insert(conn, tq_jobs, [
        {"job_id": job_id, "tq_id": existing[print_of[req]], "rank": -prio,
         "real_priority": real_priority(prio)} for job_id, req, prio in jobs])
    if created:
        recompute_priorities(conn, registry, {by_print[fp].owner_group for fp in by_print
                                              if existing[fp] in created})
    return created


def dequeue(conn: Connection, job_ids: Iterable[int]) -> None:
    """Take jobs out of their queues (a job not in a queue is ignored)."""
    ids = list(job_ids)
    for start in range(0, len(ids), 500):
        conn.execute(delete(tq_jobs).where(tq_jobs.c.job_id.in_(ids[start:start + 500])))


def remove_empty_queues(conn: Connection, registry: Registry, older_than: datetime) -> int:
    """Delete queues without jobs created before ``older_than``; recompute their groups."""
    has_jobs = select(tq_jobs.c.tq_id).where(tq_jobs.c.tq_id == task_queues.c.tq_id).exists()
    rows = conn.execute(select(task_queues.c.tq_id, task_queues.c.owner_group)
                        .where(~has_jobs, task_queues.c.created < older_than)).all()
    if not rows:
        return 0
    ids = [tq for tq, _ in rows]
    for start in range(0, len(ids), 500):
        conn.execute(delete(task_queues).where(task_queues.c.tq_id.in_(ids[start:start + 500])))
    recompute_priorities(conn, registry, {group for _, group in rows})
    return len(ids)


def recompute_priorities(conn: Connection, registry: Registry,
                         groups: Iterable[str] | None = None) -> dict[int, float]:
    """Recompute and store the priorities of the queues of ``groups`` (None: every group).

    Returns the new priority of each queue touched.
    """
    query = (select(task_queues, func.avg(tq_jobs.c.real_priority).label("avg_prio"))
             .select_from(task_queues.outerjoin(tq_jobs, tq_jobs.c.tq_id == task_queues.c.tq_id))
             .group_by(*task_queues.c))
    if groups is not None:
        wanted = sorted(set(groups))
        if not wanted:
            return {}
        query = query.where(task_queues.c.owner_group.in_(wanted))
    by_group: dict[str, list[tuple[int, JobRequirements, float]]] = defaultdict(list)
    stored: dict[int, float] = {}
    for row in conn.execute(query).mappings():
        stored[row["tq_id"]] = float(row["priority"])
        by_group[row["owner_group"]].append(
            (row["tq_id"], JobRequirements.from_row(row), float(row["avg_prio"] or 0.0)))
    priorities: dict[int, float] = {}
    for group_name, queues in by_group.items():
        priorities.update(_group_priorities(registry, group_name, queues))
    # only the priorities that changed, in queue order: concurrent submissions lock the
    # rows in the same order and cannot deadlock on them
    changed = [{"b_tq_id": tq, "b_priority": p} for tq, p in sorted(priorities.items())
               if not math.isclose(stored.get(tq, math.nan), p, rel_tol=1e-9)]
    if changed:
        conn.execute(_SET_PRIORITY, changed)
    return priorities


def _group_priorities(registry: Registry, group_name: str,
                      queues: list[tuple[int, JobRequirements, float]]) -> dict[int, float]:
    group = registry.groups.get(group_name)
    share = float(group.job_share if group is not None else 1000)
    entities: dict[str, list[tuple[int, JobRequirements, float]]] = defaultdict(list)
    for queue in queues:
        # a group that shares jobs is one entity; otherwise each owner is one
        key = "" if group is not None and group.job_sharing else queue[1].owner
        entities[key].append(queue)
    entity_share = share / len(entities)
    out: dict[int, float] = {}
    for members in entities.values():
        total = sum(avg for _, _, avg in members)
        raw = {tq: max(entity_share * avg / total if total > 0 else MIN_PRIORITY, MIN_PRIORITY)
               for tq, _, avg in members}
        sums: dict[tuple[object, ...], float] = defaultdict(float)
        for tq, req, _ in members:
            sums[req.sharing_key()] += raw[tq]
        out.update({tq: sums[req.sharing_key()] for tq, req, _ in members})
    return out
