"""The splitting cycle: a transformation's Unused files grouped into tasks by its splitter.

For one transformation in Active, Completing or Flush (:func:`split_once`):

1. read up to ``files_per_cycle`` candidate files (Unused, and ProbInFC tried again), in one query;
2. ask the catalog for their replicas (chunks of 10,000); files it does not know become
   MissingInFC, files it could not answer for ProbInFC; files without a replica wait;
3. ask it for sizes and metadata only when the splitter needs them (:func:`splitter_needs`), and
   count the files already sent to each SE (the context's ``used``) only for those that need it;
4. run the splitter (emitting partial groups only in Flush) and check its answer;
5. write the tasks, their inputs, and the files' move to Assigned (with task id and ``UsedSE``)
   in one transaction per batch of ``batch_files`` files, under the transformation's lock. The
   files move only if still candidates: if someone changed one meanwhile, that batch is rolled
   back and the cycle stops (the next one starts from the new state), so a file is never in two
   tasks, whoever runs at the same time;
6. a Flush that saw every candidate file and wrote everything it grouped, or that found nothing to
   group, goes back to Active.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update

from dirac_core.db.database import Database
from dirac_core.db.tables.transformations import tfs_files, tfs_transformations
from dirac_core.errors import CatalogError, DiracError, NotFound, PluginError
from dirac_core.model.clock import Clock
from dirac_core.model.transformation import (
    SPLIT_TRANSFORMATION,
    TransformationFileStatus,
    TransformationStatus,
)
from dirac_core.plugins.catalog import Catalog
from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.transformation import file_store, task_store
from dirac_core.transformation.records import SplitResult, Transformation, TransformationSettings
from dirac_core.transformation.store import lock

__all__ = ["REPLICA_CHUNK", "SplitCycle", "splitter_needs"]

log = logging.getLogger(__name__)

#: LFNs per catalog call (DIRAC's TransformationAgent asks for 10,000 at a time)
REPLICA_CHUNK = 10_000

_F = TransformationFileStatus


def splitter_needs(splitter_class: type[Splitter]) -> frozenset[str]:
    """What the splitter needs besides replicas (its ``needs``): ``sizes``, ``metadata`` (from the
    catalog) and ``usage`` (the context's ``used``)."""
    return frozenset(getattr(splitter_class, "needs", ()))


class _Conflict(Exception):
    """Files of the batch changed status since they were read: roll the batch back."""


class SplitCycle:
    """Runs the splitting cycle for one transformation at a time (see the module docstring)."""

    def __init__(self, *, database: Database, clock: Clock, catalog: Catalog | None,
                 settings: TransformationSettings) -> None:
        self.database = database
        self.clock = clock
        self.catalog = catalog
        self.settings = settings

    def run(self, transformation: Transformation, splitter_class: type[Splitter],
            context: SplitContext) -> SplitResult:
        """One cycle for ``transformation`` with its splitter; never raises for a catalog that does
        not answer or a splitter that breaks its contract (the result's ``error`` says so)."""
        tid = transformation.transformation_id
        if transformation.status not in SPLIT_TRANSFORMATION:
            return SplitResult()
        flush = transformation.status is TransformationStatus.FLUSH
        room = (transformation.max_tasks - transformation.last_task_id) if transformation.max_tasks else None
        if room is not None and room <= 0:
            return SplitResult()
        needs = splitter_needs(splitter_class)
        with self.database.begin(read_only=True) as conn:
            files = file_store.candidates(conn, tid, self.settings.files_per_cycle)
            if files and "usage" in needs:
                context = _with_usage(conn, tid, context)
        if not files:
            return SplitResult(flushed=flush and self._unflush(tid))
        missing: list[str] = []
        problematic: list[str] = []
        lfns = [lfn for _, lfn in files]
        try:
            replicas, missing, problematic = self._replicas(lfns)
            if missing or problematic:
                self._mark(tid, files, missing, problematic)
            # files without a replica wait (the usual case has none: no copy then)
            eligible = (replicas if all(replicas.values())
                        else {lfn: ses for lfn, ses in replicas.items() if ses})
            sizes, metadata = self._extras(needs, list(eligible)) if needs else (None, None)
            splitter = splitter_class(transformation.splitter_parameters(), context)
            groups = _checked(transformation.plugin,
                              splitter.split(eligible, flush=flush, sizes=sizes, metadata=metadata), eligible)
        except DiracError as exc:
            log.warning("transformation %d: splitting failed: %s", tid, exc)
            return SplitResult(missing=len(missing), problematic=len(problematic), error=str(exc))
        if room is not None:
            groups = groups[:room]
        tasks, assigned, conflict = self._write(tid, groups, dict(zip(lfns, (fid for fid, _ in files),
                                                                      strict=True)))
        # a Flush ends once a cycle has seen (and grouped) every file it could take
        saw_all = len(files) < self.settings.files_per_cycle
        flushed = flush and not conflict and saw_all and self._unflush(tid)
        return SplitResult(tasks=tasks, files=assigned, missing=len(missing), problematic=len(problematic),
                           flushed=flushed, conflict=conflict)

    # -- the catalog --------------------------------------------------------------------

    def _replicas(self, lfns: Sequence[str]) -> tuple[dict[str, Sequence[str]], list[str], list[str]]:
        """Replicas of the LFNs (in order), and those missing from the catalog or not answered."""
        if self.catalog is None:
            raise CatalogError("the transformation system has no file catalog to find replicas")
        replicas: dict[str, Sequence[str]] = {}
        missing: list[str] = []
        problematic: list[str] = []
        for start in range(0, len(lfns), REPLICA_CHUNK):
            part = lfns[start:start + REPLICA_CHUNK]
            found = self.catalog.get_replicas(part)
            answers = list(map(found.ok.get, part))
            if None not in answers:  # the usual case, without a loop in Python
                try:  # few distinct replica sets: each sorted once, shared by its files
                    canonical = {ses: tuple(sorted(ses)) for ses in set(answers)}  # type: ignore[arg-type]
                except TypeError:  # a catalog answering lists rather than frozensets
                    canonical = None
                if canonical is not None:
                    answered = zip(part, map(canonical.__getitem__, answers), strict=True)
                    if replicas:
                        replicas.update(answered)
                    else:
                        replicas = dict(answered)
                    continue
            for lfn, ses in zip(part, answers, strict=True):
                if ses is not None:
                    replicas[lfn] = tuple(sorted(ses))
                elif isinstance(found.failed.get(lfn), NotFound):
                    missing.append(lfn)
                else:
                    problematic.append(lfn)
        return replicas, missing, problematic

    def _extras(self, needs: frozenset[str], lfns: list[str]
                ) -> tuple[dict[str, int] | None, dict[str, Mapping[str, Any]] | None]:
        sizes: dict[str, int] | None = None
        metadata: dict[str, Mapping[str, Any]] | None = None
        if lfns and "sizes" in needs:
            assert self.catalog is not None
            sizes = {}
            for start in range(0, len(lfns), REPLICA_CHUNK):
                entries = self.catalog.get_files(lfns[start:start + REPLICA_CHUNK])
                sizes.update((lfn, entry.size) for lfn, entry in entries.ok.items())
        if lfns and "metadata" in needs:
            reader = getattr(self.catalog, "get_metadata", None)
            if reader is None:
                raise CatalogError("the splitter needs metadata and the catalog has none")
            metadata = {}
            for start in range(0, len(lfns), REPLICA_CHUNK):
                metadata.update(reader(lfns[start:start + REPLICA_CHUNK]).ok)
        return sizes, metadata

    # -- writing ------------------------------------------------------------------------

    def _mark(self, tid: int, files: Sequence[tuple[int, str]], missing: list[str],
              problematic: list[str]) -> None:
        ids = {lfn: file_id for file_id, lfn in files}
        now = self.clock.now()
        with self.database.begin() as conn:
            lock(conn, tid)
            file_store.mark(conn, [ids[lfn] for lfn in missing], _F.MISSING_IN_FC, now)
            file_store.mark(conn, [ids[lfn] for lfn in problematic], _F.PROB_IN_FC, now)

    def _write(self, tid: int, groups: Sequence[TaskGroup], ids: Mapping[str, int]) -> tuple[int, int, bool]:
        """Write ``groups`` in batches; (tasks written, files assigned, whether a batch conflicted)."""
        tasks = files = 0
        for batch in _batches(groups, self.settings.batch_files):
            expected = sum(len(group.lfns) for group in batch)
            # what does not depend on the task ids is prepared before the transaction
            members = [list(map(ids.__getitem__, group.lfns)) for group in batch]
            used_ses = [",".join(group.target_ses)[:255] for group in batch]
            try:
                with self.database.begin() as conn:
                    row = lock(conn, tid)
                    if row.status not in SPLIT_TRANSFORMATION:  # stopped meanwhile
                        return tasks, files, False
                    now = self.clock.now()
                    new_ids = task_store.write_tasks(conn, tid, row.last_task_id, batch, file_ids=members,
                                                     now=now)
                    assignments: list[tuple[int, int, str]] = []
                    for task_id, group_files, used_se in zip(new_ids, members, used_ses, strict=True):
                        assignments.extend(zip(group_files, itertools.repeat(task_id),
                                               itertools.repeat(used_se)))
                    if file_store.assign(conn, assignments, now) != expected:
                        raise _Conflict
            except _Conflict:
                log.info("transformation %d: files changed while being split; batch dropped", tid)
                return tasks, files, True
            tasks += len(batch)
            files += expected
        return tasks, files, False

    def _unflush(self, tid: int) -> bool:
        """Flush -> Active, if it is still Flush; whether it was."""
        t = tfs_transformations.c
        with self.database.begin() as conn:
            done = conn.execute(update(tfs_transformations).where(
                t.transformation_id == tid, t.status == TransformationStatus.FLUSH)
                .values(status=TransformationStatus.ACTIVE, updated=self.clock.now()))
        return bool(done.rowcount)


def _batches(groups: Sequence[TaskGroup], files_per_batch: int) -> list[list[TaskGroup]]:
    out: list[list[TaskGroup]] = []
    current: list[TaskGroup] = []
    size = 0
    for group in groups:
        current.append(group)
        size += len(group.lfns)
        if size >= files_per_batch:
            out.append(current)
            current, size = [], 0
    if current:
        out.append(current)
    return out


def _checked(plugin: str, groups: list[TaskGroup], given: Mapping[str, Any]) -> list[TaskGroup]:
    """The splitter's groups, if they keep its contract: given LFNs only, each at most once."""
    if not all(group.lfns for group in groups):
        raise PluginError(f"splitter {plugin!r} returned a task without files", name=plugin)
    every = list(itertools.chain.from_iterable(group.lfns for group in groups))
    seen = set(every)
    if len(seen) != len(every):
        twice = next(lfn for lfn, n in Counter(every).items() if n > 1)
        raise PluginError(f"splitter {plugin!r} put {twice} in two tasks", name=plugin, lfn=twice)
    if not seen <= given.keys():
        stranger = min(seen - given.keys())
        raise PluginError(f"splitter {plugin!r} returned {stranger}, which it was not given",
                          name=plugin, lfn=stranger)
    return groups


def _with_usage(conn: Any, tid: int, context: SplitContext) -> SplitContext:
    """``context`` with ``used``: how many of the transformation's files went to each SE so far."""
    used: Counter[str] = Counter()
    c = tfs_files.c
    for used_se, count in conn.execute(select(c.used_se, func.count()).where(
            c.transformation_id == tid, c.used_se.is_not(None)).group_by(c.used_se)):
        for se in used_se.split(","):
            if se:
                used[se] += int(count)
    return SplitContext(se_sites=context.se_sites, tape_ses=context.tape_ses, free_space=context.free_space,
                        shares=context.shares, used=dict(used), seed=context.seed)
