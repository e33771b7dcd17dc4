"""Productions: ordered steps, each a transformation, chained by their metadata queries.

A :class:`ProductionStep` describes a transformation (type, splitter, body, parameters, queries)
and names the earlier steps it reads from. Steps pass no files to each other: a step's input
query selects what its parents registered with their output metadata, so
:meth:`ProductionSystem.create` checks every link with
:func:`~dirac_core.transformation.chaining.chain_problem` and every step as a transformation
would be checked, before anything is stored.

:meth:`ProductionSystem.start` creates one transformation per step, named
``<production id %08d>_<step name>``, and starts them all; stopping, flushing, completing and
cleaning act on every transformation of the production. Production statuses follow
:data:`~dirac_core.model.production.PRODUCTION_TRANSITIONS`. :meth:`ProductionSystem.progress`
gives each step's files and tasks by status, and the whole production's processed fraction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
from attrs import validators as v
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from dirac_core.authorization import Action, allowed, require
from dirac_core.db import Database
from dirac_core.db.tables.productions import prod_productions, prod_steps
from dirac_core.errors import AlreadyExists, InvalidTransformation, NotFound, PermissionDenied
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.production import PRODUCTION_TRANSITIONS, ProductionStatus
from dirac_core.model.status import check_transition
from dirac_core.model.transformation import TaskStatus, TransformationFileStatus
from dirac_core.transformation.chaining import chain_problem
from dirac_core.transformation.records import TransformationSpec, TransformationStats
from dirac_core.transformation.system import TransformationSystem

__all__ = ["Production", "ProductionProgress", "ProductionStep", "ProductionSystem", "StepProgress"]

_P = ProductionStatus
_NAME = v.and_(v.instance_of(str), v.matches_re(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"))


@attrs.frozen(kw_only=True)
class ProductionStep:
    """One step: the transformation to make (see :class:`TransformationSpec` for the fields) and
    the names of the earlier steps whose output it reads (``parents``)."""

    name: str = attrs.field(validator=_NAME)
    type: str
    plugin: str = "Standard"
    group_size: float | None = None
    body: str = ""
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=dict)
    input_query: dict[str, Any] | None = None
    output_query: dict[str, Any] | None = None
    parents: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    description: str = ""

    def spec(self, production_id: int) -> TransformationSpec:
        """The transformation this step becomes in production ``production_id``."""
        return TransformationSpec(name=f"{production_id:08d}_{self.name}", type=self.type, plugin=self.plugin,
                                  group_size=self.group_size, body=self.body, parameters=self.parameters,
                                  input_query=self.input_query, output_query=self.output_query,
                                  description=self.description[:255],
                                  transformation_group=f"{production_id:08d}")


@attrs.frozen(kw_only=True)
class Production:
    """A stored production: its steps in order, and the transformation of each once started."""

    production_id: int
    name: str
    description: str
    status: ProductionStatus
    author: str
    author_group: str
    vo: str
    steps: tuple[ProductionStep, ...]
    transformations: tuple[int | None, ...]
    created: datetime
    updated: datetime


@attrs.frozen(kw_only=True)
class StepProgress:
    """One step: its transformation, that transformation's status and statistics."""

    step: str
    transformation_id: int | None
    status: str | None
    stats: TransformationStats | None


@attrs.frozen(kw_only=True)
class ProductionProgress:
    """A production's steps, and overall: files by status, tasks by status, processed percent
    (DIRAC's formula over the sum of the steps' files; None before any file)."""

    production: Production
    steps: tuple[StepProgress, ...]
    files: dict[TransformationFileStatus, int]
    tasks: dict[TaskStatus, int]
    processed_percent: float | None


class ProductionSystem:
    """Productions over a :class:`TransformationSystem`."""

    def __init__(self, *, database: Database, clock: Clock, transformations: TransformationSystem) -> None:
        self.database = database
        self.clock = clock
        self.transformations = transformations

    # -- defining ---------------------------------------------------------------------------

    def create(self, name: str, steps: Sequence[ProductionStep], author: Identity, *,
               description: str = "") -> Production:
        """Store a New production; :class:`InvalidTransformation` naming the step and what is wrong
        (a duplicate or unknown parent, a link whose queries do not chain, a step that would not
        make a valid transformation); ``AlreadyExists`` for a name in use; ``PermissionDenied``
        unless ``author`` may (``production.create``: ProductionManagement)."""
        require(author, Action.PRODUCTION_CREATE)
        _check_links(steps)
        for step in steps:  # every step as the transformation it will become (id 0: names are not stored)
            try:
                self.transformations.check(step.spec(0), author)
            except InvalidTransformation as exc:
                raise InvalidTransformation(f"step {step.name!r}: {exc}", step=step.name) from exc
        now = self.clock.now()
        try:
            with self.database.begin() as conn:
                new = conn.execute(insert(prod_productions).values(
                    name=name, description=description[:255], status=_P.NEW, author=author.user,
                    author_group=author.group, vo=author.vo, created=now, updated=now))
                key = new.inserted_primary_key
                assert key is not None
                production_id = int(key[0])
                conn.execute(insert(prod_steps), [
                    {"production_id": production_id, "position": i, "name": step.name,
                     "definition": json.dumps(_definition(step)), "parents": json.dumps(list(step.parents)),
                     "transformation_id": None} for i, step in enumerate(steps)])
        except IntegrityError as exc:
            raise AlreadyExists(f"a production named {name!r} exists already", production=name) from exc
        return self.get(production_id)

    # -- reading ----------------------------------------------------------------------------

    def get(self, key: int | str) -> Production:
        """One production by id or name; ``NotFound``."""
        with self.database.begin(read_only=True) as conn:
            found = _read(conn, key)
        if found is None:
            raise NotFound(f"production {key!r} does not exist", production=key)
        return found

    def productions(self) -> list[Production]:
        """Every production, in id order."""
        with self.database.begin(read_only=True) as conn:
            ids = list(conn.execute(select(prod_productions.c.production_id)
                                    .order_by(prod_productions.c.production_id)).scalars())
            return [p for p in (_read(conn, i) for i in ids) if p is not None]

    def progress(self, key: int | str) -> ProductionProgress:
        """Each step's progress and the production's."""
        production = self.get(key)
        steps: list[StepProgress] = []
        files: dict[TransformationFileStatus, int] = {}
        tasks: dict[TaskStatus, int] = {}
        for step, tid in zip(production.steps, production.transformations, strict=True):
            if tid is None:
                steps.append(StepProgress(step=step.name, transformation_id=None, status=None, stats=None))
                continue
            stats = self.transformations.stats(tid)
            status = self.transformations.get(tid).status.value
            steps.append(StepProgress(step=step.name, transformation_id=tid, status=status, stats=stats))
            for file_status, n in stats.files.items():
                files[file_status] = files.get(file_status, 0) + n
            for task_status, n in stats.tasks.items():
                tasks[task_status] = tasks.get(task_status, 0) + n
        total = sum(_countable(s.stats) for s in steps if s.stats is not None)
        processed = files.get(TransformationFileStatus.PROCESSED, 0)
        percent = int(processed * 1000 / total) / 10 if total > 0 else None
        return ProductionProgress(production=production, steps=tuple(steps), files=files, tasks=tasks,
                                  processed_percent=percent)

    # -- status -----------------------------------------------------------------------------

    def start(self, key: int | str, identity: Identity) -> Production:
        """Create a transformation per step (New -> Active the first time) and start them all;
        from Stopped or Flush, start them again. The first start creates the transformations as
        ``identity``, which must then be allowed to (``transformation.create``)."""
        production = self._owned(key, identity)
        check_transition(PRODUCTION_TRANSITIONS, production.status, _P.ACTIVE,
                         subject=f"production {production.production_id}")
        if production.status is _P.NEW:
            creating = allowed(identity, Action.TRANSFORMATION_CREATE)
            if not creating:
                raise PermissionDenied(f"{identity.user} may not start production {production.name!r}, which "
                                       f"creates its transformations: {creating.reason}",
                                       user=identity.user, group=identity.group)
            self._make_transformations(production, identity)
            production = self.get(production.production_id)
        for tid in production.transformations:
            if tid is not None:
                self.transformations.start(tid)
        return self._set(production, _P.ACTIVE)

    def stop(self, key: int | str, identity: Identity) -> Production:
        """Stop every transformation: no new tasks."""
        return self._apply(key, identity, _P.STOPPED, self.transformations.stop)

    def flush(self, key: int | str, identity: Identity) -> Production:
        """Flush every transformation: incomplete groups become tasks too."""
        return self._apply(key, identity, _P.FLUSH, self.transformations.flush)

    def complete(self, key: int | str, identity: Identity) -> Production:
        """Complete every transformation."""
        return self._apply(key, identity, _P.COMPLETED, self.transformations.complete)

    def clean(self, key: int | str, identity: Identity) -> Production:
        """Clean every transformation (files and tasks forgotten)."""
        return self._apply(key, identity, _P.CLEANED, self.transformations.clean)

    def _apply(self, key: int | str, identity: Identity, status: ProductionStatus, action: Any) -> Production:
        production = self._owned(key, identity)
        check_transition(PRODUCTION_TRANSITIONS, production.status, status,
                         subject=f"production {production.production_id}")
        for tid in production.transformations:
            if tid is not None:
                action(tid)
        return self._set(production, status)

    def _owned(self, key: int | str, identity: Identity) -> Production:
        """The production ``key`` if ``identity`` may change it (``production.change``); ``NotFound``
        for another VO's, as if it did not exist, ``PermissionDenied`` without the property."""
        production = self.get(key)
        decision = allowed(identity, Action.PRODUCTION_CHANGE, production)
        if not decision.visible:
            raise NotFound(f"production {key!r} does not exist", production=key)
        if not decision.allowed:
            raise PermissionDenied(f"{identity.user} may not manage production {production.name!r}: "
                                   f"{decision.reason}", user=identity.user, group=identity.group)
        return production

    def _make_transformations(self, production: Production, identity: Identity) -> None:
        """One transformation per step, owned by whoever starts the production (a production
        manager of its VO): their identity submits the jobs and requests."""
        for position, step in enumerate(production.steps):
            made = self.transformations.create(step.spec(production.production_id), identity)
            with self.database.begin() as conn:
                conn.execute(update(prod_steps).where(
                    prod_steps.c.production_id == production.production_id, prod_steps.c.position == position)
                    .values(transformation_id=made.transformation_id))

    def _set(self, production: Production, status: ProductionStatus) -> Production:
        with self.database.begin() as conn:
            conn.execute(update(prod_productions)
                         .where(prod_productions.c.production_id == production.production_id)
                         .values(status=status, updated=self.clock.now()))
        return self.get(production.production_id)


def _countable(stats: TransformationStats) -> int:
    """Files that count towards the processed fraction (those not given up)."""
    given_up = stats.files.get(TransformationFileStatus.MISSING_IN_FC, 0)
    return stats.total - given_up


def _check_links(steps: Sequence[ProductionStep]) -> None:
    if not steps:
        raise InvalidTransformation("a production needs at least one step", parameter="steps")
    seen: dict[str, ProductionStep] = {}
    for step in steps:
        if step.name in seen:
            raise InvalidTransformation(f"step {step.name!r} appears twice", step=step.name)
        for parent in step.parents:
            if parent not in seen:
                raise InvalidTransformation(f"step {step.name!r}: parent {parent!r} is not an earlier step",
                                            step=step.name)
            problem = chain_problem(seen[parent].output_query or {}, step.input_query or {})
            if problem is not None:
                raise InvalidTransformation(f"step {step.name!r} does not follow {parent!r}: {problem}",
                                            step=step.name)
        seen[step.name] = step


def _definition(step: ProductionStep) -> dict[str, Any]:
    data = attrs.asdict(step)
    data.pop("name")
    data.pop("parents")
    return data


def _read(conn: Connection, key: int | str) -> Production | None:
    p = prod_productions.c
    where = p.production_id == key if isinstance(key, int) else p.name == key
    row = conn.execute(select(prod_productions).where(where)).first()
    if row is None:
        return None
    steps, tids = [], []
    for step in conn.execute(select(prod_steps).where(prod_steps.c.production_id == row.production_id)
                             .order_by(prod_steps.c.position)):
        steps.append(ProductionStep(name=step.name, parents=tuple(json.loads(step.parents)),
                                    **json.loads(step.definition)))
        tids.append(step.transformation_id)
    return Production(production_id=row.production_id, name=row.name, description=row.description,
                      status=row.status, author=row.author, author_group=row.author_group, vo=row.vo,
                      steps=tuple(steps), transformations=tuple(tids), created=row.created,
                      updated=row.updated)

