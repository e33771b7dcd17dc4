"""The transformation system: ``TransformationSystem``, the engine over the ``tfs`` tables.

Built from the database, clock and configuration, plus what it drives: the WMS (processing tasks
become jobs), the request store (data tasks become requests), the file catalog (replicas, sizes,
metadata, input queries) and the hook manager (it registers :class:`InputDataHook` there, so that
files the data manager registers reach the transformations whose input query they match).
Thread-safe; every method is its own transactions. The cycles (:meth:`split`,
:meth:`submit_tasks`, :meth:`monitor_tasks`, :meth:`recover_reserved`, :meth:`scan_input_queries`)
are what the periodic tasks of :mod:`dirac_core.transformation.periodic` call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pluggy

from dirac_core.authorization import Action, require
from dirac_core.config import Config
from dirac_core.config.resources import Medium
from dirac_core.db.database import Database
from dirac_core.db.tables.transformations import tfs_files, tfs_tasks, tfs_transformations
from dirac_core.errors import BulkResult, InvalidTransformation, NotFound, PluginError
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.lfn import normalize_lfns
from dirac_core.model.status import check_transition
from dirac_core.model.transformation import (
    FINAL_TRANSFORMATION,
    INPUT_TRANSFORMATION,
    SPLIT_TRANSFORMATION,
    SUBMIT_TRANSFORMATION,
    TRANSFORMATION_TRANSITIONS,
    AgentType,
    FileAddition,
    TaskStatus,
    TransformationFileStatus,
    TransformationStatus,
)
from dirac_core.plugins.catalog import Catalog
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import load_driver
from dirac_core.plugins.splitters import SplitContext, Splitter
from dirac_core.rms.validation import BUILTIN_TYPES
from dirac_core.transformation import bodies, file_store, inputs, store, task_store
from dirac_core.transformation.cleaning import CLEANER_STATUSES, CleaningResult, TransformationCleaner
from dirac_core.transformation.extension import ExtensionResult, TaskExtender
from dirac_core.transformation.monitoring import TaskMonitor
from dirac_core.transformation.records import (
    SplitResult,
    Task,
    Transformation,
    TransformationFile,
    TransformationSettings,
    TransformationSpec,
    TransformationStats,
    splitter_parameters,
)
from dirac_core.transformation.splitting import SplitCycle
from dirac_core.transformation.submission import SubmitResult, TaskSubmitter

if TYPE_CHECKING:
    from dirac_core.dms.manager import DataManager
    from dirac_core.rms.store import RequestStore
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["TransformationSystem"]

log = logging.getLogger(__name__)

_T = TransformationStatus
_F = TransformationFileStatus
#: transformations whose submitted tasks are still followed
_MONITORED = frozenset(TransformationStatus) - {_T.CLEANED, _T.TRANSFORMATION_CLEANED, _T.ARCHIVED,
                                               _T.DELETED}
Key = int | str


class TransformationSystem:
    """Transformations: create them, feed them files, split, submit and follow their tasks.

    ``splitters`` adds splitter classes by name to (or overrides) the ``dirac.splitters`` entry
    points; ``settings`` defaults to DIRAC's values. Transformations are named by id or name.
    """

    def __init__(self, *, database: Database, clock: Clock, config: Config,
                 wms: WorkloadManager | None = None, requests: RequestStore | None = None,
                 catalog: Catalog | None = None, hooks: pluggy.PluginManager | None = None,
                 settings: TransformationSettings | None = None,
                 splitters: Mapping[str, type[Splitter]] | None = None,
                 free_space: Callable[[], Mapping[str, int]] | None = None,
                 data_manager: Callable[[Identity], DataManager] | None = None) -> None:
        self.database = database
        self.clock = clock
        self.config = config
        self.wms = wms
        self.requests = requests
        self.catalog = catalog
        self.settings = settings or TransformationSettings()
        self._splitters: dict[str, type[Splitter]] = dict(splitters or {})
        #: free bytes per SE (those that can tell), asked once per splitting cycle that needs it
        self._free_space = free_space
        resources = config.resources
        self._se_sites = {se: sorted(sites)[0] for se, sites in resources.site_of_se().items() if sites}
        self._tape = frozenset(n for n, se in resources.storage_elements.items() if se.medium is Medium.TAPE)
        self._splitting = SplitCycle(database=database, clock=clock, catalog=catalog, settings=self.settings)
        self._submitter = TaskSubmitter(database=database, clock=clock, config=config, settings=self.settings,
                                        wms=wms, requests=requests)
        self._monitor = TaskMonitor(database=database, clock=clock, settings=self.settings, wms=wms,
                                    requests=requests)
        #: cleaning removes outputs through ``data_manager(author)`` (None: outputs stay, see cleaning)
        self._cleaner = TransformationCleaner(database=database, clock=clock, config=config,
                                              settings=self.settings, wms=wms, requests=requests,
                                              catalog=catalog, data_manager=data_manager)
        self._extender = TaskExtender(database=database, clock=clock, settings=self.settings)
        #: the ``dirac_file_registered`` implementation, registered in ``hooks`` when given
        self.input_hook = inputs.InputDataHook(self)
        if hooks is not None:
            hooks.register(self.input_hook, name=f"dirac-core:transformations:{id(self)}")

    # -- defining -------------------------------------------------------------------------

    def splitter_class(self, plugin: str) -> type[Splitter]:
        """The splitter class named ``plugin``; ``InvalidTransformation`` listing the known ones."""
        if plugin not in self._splitters:
            try:
                self._splitters[plugin] = load_driver(PluginGroup.SPLITTERS, plugin)
            except PluginError as exc:
                raise InvalidTransformation(f"plugin: {exc}", parameter="plugin") from exc
        return self._splitters[plugin]

    def split_context(self, transformation: Transformation,
                      free_space: Mapping[str, int] | None = None) -> SplitContext:
        """What the splitter of ``transformation`` knows of the grid: each SE's site, the tape
        SEs, the CPU shares of its VO (``operations``' ``cpu_shares``), ``free_space`` when
        given, and a seed fixed by the transformation and its task counter."""
        seed = transformation.transformation_id * 1_000_003 + transformation.last_task_id
        shares = self.config.operations.policy(transformation.vo).cpu_shares
        return SplitContext(se_sites=self._se_sites, tape_ses=self._tape, seed=seed, shares=shares,
                            free_space=free_space or {})

    def _space_for(self, splitter_class: type[Splitter], cycle: dict[str, Mapping[str, int]]
                   ) -> Mapping[str, int] | None:
        """The SEs' free space if the splitter needs it, asked once per cycle (``cycle`` keeps it)."""
        if "free_space" not in splitter_class.needs or self._free_space is None:
            return None
        if "free" not in cycle:
            try:
                cycle["free"] = dict(self._free_space())
            except Exception:  # unknown space: such splitters then choose nothing this cycle
                log.exception("the free space of the storage elements could not be read")
                cycle["free"] = {}
        return cycle["free"]

    def create(self, spec: TransformationSpec, author: Identity) -> Transformation:
        """Store a new transformation (New) owned by ``author``, and attach the files its input
        query selects already.

        Everything is checked first (:meth:`check`); ``AlreadyExists`` for a name in use.
        """
        self.check(spec, author)
        with self.database.begin() as conn:
            tid = store.insert_transformation(conn, spec, author, self.clock.now())
        if spec.input_query is not None:
            assert self.catalog is not None
            self.add_files(tid, inputs.matching_files(self.catalog, spec.input_query))
        return self.get(tid)

    def check(self, spec: TransformationSpec, author: Identity) -> None:
        """Raise what :meth:`create` would raise for ``spec``, storing nothing:
        :class:`InvalidTransformation` naming the parameter (the type, the splitter built once with
        the parameters, which it checks, the body, the input query, parameters that are not JSON);
        ``PermissionDenied`` when ``author`` may not (``transformation.create``: ProductionManagement).
        The name is not checked.
        """
        require(author, Action.TRANSFORMATION_CREATE)
        if spec.type not in self.settings.types:
            raise InvalidTransformation(f"type: unknown transformation type {spec.type!r}; known: "
                                        f"{', '.join(sorted(self.settings.types))}", parameter="type")
        self._check_splitter(spec.plugin, splitter_parameters(spec.group_size, spec.parameters))
        types = self.requests.types if self.requests is not None else BUILTIN_TYPES
        bodies.check_body(spec.type, spec.body, processing=spec.type in self.settings.processing_types,
                          parameters=spec.parameters, operation_types=types)
        if spec.input_query is not None:
            inputs.check_query(self.catalog, spec.input_query)
        for name, value in (("parameters", spec.parameters), ("output_query", spec.output_query)):
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise InvalidTransformation(f"{name}: not JSON: {exc}", parameter=name) from exc

    def _check_splitter(self, plugin: str, parameters: Mapping[str, Any]) -> None:
        splitter_class = self.splitter_class(plugin)
        try:
            splitter_class(dict(parameters), SplitContext(se_sites=self._se_sites, tape_ses=self._tape))
        except InvalidTransformation:
            raise
        except (TypeError, ValueError, KeyError) as exc:  # a splitter that forgot to translate
            raise InvalidTransformation(f"plugin {plugin}: bad parameters: {exc}", parameter="parameters",
                                        plugin=plugin) from exc

    def set_parameters(self, key: Key, parameters: Mapping[str, Any]) -> Transformation:
        """Set extra parameters, checked by the splitter like at creation."""
        current = self.get(key)
        self._check_splitter(current.plugin, {**current.splitter_parameters(), **parameters})
        with self.database.begin() as conn:
            store.lock(conn, current.transformation_id)
            store.set_parameters(conn, current.transformation_id, parameters)
        return self.get(current.transformation_id)

    # -- reading --------------------------------------------------------------------------

    def get(self, key: Key) -> Transformation:
        """One transformation by id or name; ``NotFound``."""
        with self.database.begin(read_only=True) as conn:
            found = store.read_transformations(conn, ids=[store.transformation_id_of(conn, key)])
        if not found:
            raise NotFound(f"transformation {key!r} does not exist", transformation=key)
        return found[0]

    def transformations(self, *, statuses: Collection[TransformationStatus] | None = None,
             types: Collection[str] | None = None) -> list[Transformation]:
        """Transformations, in id order, optionally only of some statuses and types."""
        with self.database.begin(read_only=True) as conn:
            return store.read_transformations(conn, statuses=statuses, types=types)

    def files(self, key: Key, *, statuses: Collection[TransformationFileStatus] | None = None,
              lfns: Sequence[str] | None = None, offset: int = 0, limit: int | None = None
              ) -> list[TransformationFile]:
        """A transformation's files, in the order they were added; without ``lfns``, ``limit``
        of them from ``offset`` (a page)."""
        with self.database.begin(read_only=True) as conn:
            tid = store.transformation_id_of(conn, key)
            wanted = list(normalize_lfns(lfns)[0].values()) if lfns is not None else None
            return [file_store.to_record(row) for row in file_store.read_files(
                conn, tid, lfns=wanted, statuses=statuses, offset=offset, limit=limit)]

    def tasks(self, key: Key, *, statuses: Collection[TaskStatus] | None = None,
              task_ids: Sequence[int] | None = None, offset: int = 0, limit: int | None = None
              ) -> list[Task]:
        """A transformation's tasks with their files, in id order; without ``task_ids``, ``limit``
        of them from ``offset`` (a page)."""
        with self.database.begin(read_only=True) as conn:
            return task_store.read_tasks(conn, store.transformation_id_of(conn, key), statuses=statuses,
                                         task_ids=task_ids, offset=offset, limit=limit)

    def stats(self, key: Key) -> TransformationStats:
        """Files and tasks per status, and DIRAC's processed percentage (None for extendable types,
        which have no input files: DIRAC shows "-")."""
        with self.database.begin(read_only=True) as conn:
            tid = store.transformation_id_of(conn, key)
            files = store.status_counts(conn, tfs_files, tid)
            tasks = store.status_counts(conn, tfs_tasks, tid)
            extendable = store.transformation_type(conn, tid) in self.settings.extendable_types
        total = sum(n for status, n in files.items() if not status.value.endswith("-inherited"))
        given_up = sum(files.get(status, 0) for status in self.settings.given_up)
        left = total - given_up
        processed = files.get(_F.PROCESSED, 0)
        percent = int(processed * 1000 / left) / 10 if left > 0 and not extendable else None
        return TransformationStats(
            files=files, total=total, processed_percent=percent,
            problematic=sum(files.get(status, 0) for status in self.settings.problematic),
            tasks=tasks, tasks_created=sum(tasks.values()))

    # -- status ---------------------------------------------------------------------------

    def set_status(self, key: Key, status: TransformationStatus | str, *, force: bool = False,
                   agent_type: AgentType | str | None = None) -> Transformation:
        """Move a transformation to ``status`` (and ``agent_type`` when given); ``InvalidTransition``
        when the table refuses it, unless ``force``."""
        wanted = TransformationStatus(status)
        with self.database.begin() as conn:
            tid = store.transformation_id_of(conn, key)
            row = store.lock(conn, tid)
            check_transition(TRANSFORMATION_TRANSITIONS, row.status, wanted, force=force,
                             subject=f"transformation {tid}")
            values: dict[str, Any] = {"status": wanted, "updated": self.clock.now()}
            if agent_type is not None:
                values["agent_type"] = AgentType(agent_type)
            conn.execute(tfs_transformations.update()
                         .where(tfs_transformations.c.transformation_id == tid).values(values))
        return self.get(tid)

    def start(self, key: Key) -> Transformation:
        """Active and Automatic: its tasks are made and submitted."""
        return self.set_status(key, _T.ACTIVE, agent_type=AgentType.AUTOMATIC)

    def stop(self, key: Key) -> Transformation:
        """Stopped and Manual: nothing new is made or submitted."""
        return self.set_status(key, _T.STOPPED, agent_type=AgentType.MANUAL)

    def flush(self, key: Key) -> Transformation:
        """Flush: the next splitting cycle makes tasks of incomplete groups too, then goes back
        to Active."""
        return self.set_status(key, _T.FLUSH)

    def complete(self, key: Key) -> Transformation:
        """Completed."""
        return self.set_status(key, _T.COMPLETED)

    def clean(self, key: Key) -> Transformation:
        """TransformationCleaned, its files and tasks forgotten (DIRAC's ``cleanTransformation``;
        its jobs and requests are left as they are)."""
        cleaned = self.set_status(key, _T.TRANSFORMATION_CLEANED)
        with self.database.begin() as conn:
            store.lock(conn, cleaned.transformation_id)
            store.delete_contents(conn, [cleaned.transformation_id])
        return cleaned

    # -- files ----------------------------------------------------------------------------

    def add_files(self, key: Key, lfns: Iterable[str]) -> BulkResult[str, FileAddition]:
        """Attach files (Unused): per LFN as given, ``Added`` or ``Present``; an invalid LFN fails
        with ``InvalidLFN``. ``InvalidTransformation`` for a transformation in a final status."""
        good, bad = normalize_lfns(lfns)
        result: BulkResult[str, FileAddition] = BulkResult(failed=bad)
        with self.database.begin() as conn:
            tid = store.transformation_id_of(conn, key)
            row = store.lock(conn, tid)
            if row.status in FINAL_TRANSFORMATION:
                raise InvalidTransformation(f"transformation {tid} is {row.status.value}: it takes no files")
            added = file_store.add_files(conn, tid, list(dict.fromkeys(good.values())),
                                         self.clock.now()) if good else {}
        for given, lfn in good.items():
            result.add_ok(given, added[lfn])
        return result

    def set_file_status(self, key: Key, statuses: Mapping[str, TransformationFileStatus | str], *,
                        force: bool = False) -> BulkResult[str, TransformationFileStatus]:
        """Ask for file statuses (by LFN), by the rules of
        :func:`~dirac_core.model.transformation.file_transition`: per LFN the status the file has
        afterwards (which may differ from the one asked); a file the transformation lacks fails
        with ``NotFound``. ``InvalidTransformation`` for an unknown status, before any change."""
        try:
            wanted = {lfn: TransformationFileStatus(status) for lfn, status in statuses.items()}
        except ValueError as exc:
            raise InvalidTransformation(f"unknown file status: {exc}", parameter="statuses") from exc
        good, bad = normalize_lfns(wanted)
        result: BulkResult[str, TransformationFileStatus] = BulkResult(failed=bad)
        with self.database.begin() as conn:
            tid = store.transformation_id_of(conn, key)
            store.lock(conn, tid)
            rows = file_store.by_lfn(file_store.read_files(conn, tid, lfns=list(good.values())))
            asked = [(rows[lfn], wanted[given]) for given, lfn in good.items() if lfn in rows]
            now = file_store.apply_transitions(conn, asked, force=force, max_reset=self.settings.max_reset,
                                               now=self.clock.now())
        for given, lfn in good.items():
            if lfn in now:
                result.add_ok(given, now[lfn])
            else:
                result.add_failed(given, NotFound(f"{lfn} is not a file of transformation {tid}",
                                                  lfn=lfn, transformation=tid))
        return result

    # -- cycles ---------------------------------------------------------------------------

    def _each(self, key: Key | None, statuses: Collection[TransformationStatus]) -> list[Transformation]:
        if key is not None:
            return [t for t in [self.get(key)] if t.status in statuses]
        return self.transformations(statuses=statuses)

    def split(self, key: Key | None = None) -> dict[int, SplitResult]:
        """One splitting cycle of one transformation, or of every one in Active, Completing or
        Flush; per transformation what it did (a failure is in its result, not raised)."""
        out: dict[int, SplitResult] = {}
        cycle: dict[str, Mapping[str, int]] = {}
        for t in self._each(key, SPLIT_TRANSFORMATION):
            try:
                splitter_class = self.splitter_class(t.plugin)
                context = self.split_context(t, self._space_for(splitter_class, cycle))
                out[t.transformation_id] = self._splitting.run(t, splitter_class, context)
            except Exception as exc:  # one transformation must not stop the others
                log.exception("transformation %d: splitting failed", t.transformation_id)
                out[t.transformation_id] = SplitResult(error=f"{type(exc).__name__}: {exc}")
        return out

    def submit_tasks(self, key: Key | None = None) -> dict[int, SubmitResult]:
        """One submission cycle of the Automatic transformations in Active, Completing or Flush."""
        out: dict[int, SubmitResult] = {}
        for t in self._each(key, SUBMIT_TRANSFORMATION):
            if t.agent_type is AgentType.AUTOMATIC:
                out[t.transformation_id] = self._submitter.submit(t)
        return out

    def monitor_tasks(self, key: Key | None = None, *, delay: timedelta | None = None
                      ) -> dict[int, dict[TaskStatus, int]]:
        """One monitoring cycle: tasks follow their jobs or requests, files their tasks. ``delay``:
        look at tasks unchecked for that long (default: ``settings.monitor_delay``; 0: all)."""
        return {t.transformation_id: self._monitor.monitor(t, delay=delay)
                for t in self._each(key, _MONITORED)}

    def recover_reserved(self) -> dict[int, tuple[int, int]]:
        """Tasks Reserved too long, looked up by name: (found, put back) per transformation."""
        return self._submitter.recover({t.transformation_id: t for t in self.transformations()})

    def clean_transformations(self, key: Key | None = None) -> dict[int, CleaningResult]:
        """One cleaning cycle (:mod:`dirac_core.transformation.cleaning`): Cleaning -> Cleaned,
        RemovingFiles -> Completed, Completed for ``archive_after`` -> Archived; per transformation
        acted on, what was done (a failure is in its result, not raised)."""
        return self._cleaner.run(self._each(key, CLEANER_STATUSES))

    def extend_tasks(self, key: Key | None = None) -> dict[int, ExtensionResult]:
        """One MC extension cycle (:mod:`dirac_core.transformation.extension`): input-less tasks for
        the Active transformations of extendable types with ``max_tasks``; per transformation what
        it made."""
        return {t.transformation_id: self._extender.extend(t.transformation_id)
                for t in self._each(key, {_T.ACTIVE})
                if t.type in self.settings.extendable_types and t.max_tasks > 0}

    def scan_input_queries(self) -> dict[int, int]:
        """Run every Active transformation's input query; per transformation, the files added."""
        if self.catalog is None:
            return {}
        out: dict[int, int] = {}
        with self.database.begin(read_only=True) as conn:
            queried = store.read_transformations(conn, statuses=[_T.ACTIVE], with_input_query=True)
        for t in queried:
            assert t.input_query is not None
            added = self.add_files(t.transformation_id, inputs.matching_files(self.catalog, t.input_query))
            out[t.transformation_id] = sum(1 for value in added.ok.values() if value is FileAddition.ADDED)
        return out

    def attach_registered(self, lfns: Sequence[str], metadata: Mapping[str, Mapping[str, Any]]
                          ) -> dict[int, list[str]]:
        """Attach newly registered files (canonical LFNs) to the transformations in New, Active,
        Stopped, Completing or Flush whose input query their metadata matches; per transformation
        the LFNs it took."""
        with self.database.begin(read_only=True) as conn:
            queried = store.read_transformations(conn, statuses=INPUT_TRANSFORMATION, with_input_query=True)
        if not queried or not lfns:
            return {}
        known = inputs.file_metadata(self.catalog, lfns, metadata)
        fields, file_fields = inputs.query_fields(self.catalog)
        out: dict[int, list[str]] = {}
        for t in queried:
            assert t.input_query is not None
            chosen = inputs.select_matches(t.input_query, known, fields, file_fields)
            if chosen:
                self.add_files(t.transformation_id, chosen)
                out[t.transformation_id] = chosen
        return out
