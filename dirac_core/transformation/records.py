"""The values the transformation system takes and returns, and its settings.

- :class:`TransformationSpec`: what :meth:`TransformationSystem.create` needs;
- :class:`Transformation`, :class:`TransformationFile`, :class:`Task`: stored records, read back;
- :class:`TransformationStats`: files and tasks per status and the processed percentage;
- :class:`SplitResult`: what one splitting cycle did to one transformation;
- :class:`TransformationSettings`: the knobs (DIRAC's agent options), with DIRAC's defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
from attrs import validators as v

from dirac_core.model.transformation import (
    DEFAULT_MAX_RESET,
    AgentType,
    TaskStatus,
    TransformationFileStatus,
    TransformationStatus,
    task_name,
)

__all__ = ["SplitResult", "Task", "Transformation", "TransformationFile", "TransformationSettings",
           "TransformationSpec", "TransformationStats", "splitter_parameters"]

_F = TransformationFileStatus

#: DIRAC's data-processing types (``Operations/Transformations/DataProcessing``) and more: each
#: task becomes a job.
PROCESSING_TYPES = frozenset({"MCSimulation", "Simulation", "MCReconstruction", "DataReconstruction",
                              "DataStripping", "Merge", "Processing", "DataProcessing", "Test"})
#: DIRAC's data-manipulation types: each task becomes a request.
DATA_TYPES = frozenset({"Replication", "Removal"})


def splitter_parameters(group_size: float | None, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A splitter's parameters: ``GroupSize`` from the column when set (an integer when it is
    whole), then the extra parameters, which win."""
    out: dict[str, Any] = {}
    if group_size is not None:
        out["GroupSize"] = int(group_size) if float(group_size).is_integer() else group_size
    out.update(parameters)
    return out


def _mapping(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


def _query(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


@attrs.frozen(kw_only=True)
class TransformationSpec:
    """A transformation to create.

    ``type`` decides what its tasks become (see :class:`TransformationSettings`); ``plugin`` names
    the splitter (a ``dirac.splitters`` driver) and ``parameters`` are given to it (and to request
    bodies, ``TASK:<name>``); ``group_size`` is DIRAC's ``GroupSize`` column, passed to the splitter
    as the ``GroupSize`` parameter when set. ``body`` is a JDL template (processing types) or a
    request body (data types: ``""``, ``"<anything>;<OperationType>"`` or a JSON list of
    ``[OperationType, {attribute: value}]``). ``input_query`` selects the files it processes from
    the catalog's metadata; ``output_query`` describes what it produces (productions chain on it).
    ``max_tasks`` 0 means no limit.
    """

    name: str = attrs.field(validator=v.and_(v.instance_of(str), v.min_len(1), v.max_len(255)))
    type: str = attrs.field(validator=v.and_(v.instance_of(str), v.min_len(1), v.max_len(64)))
    plugin: str = attrs.field(default="Standard", validator=v.and_(v.instance_of(str), v.max_len(64)))
    group_size: float | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    body: str = attrs.field(default="", validator=v.instance_of(str))
    parameters: dict[str, Any] = attrs.field(factory=dict, converter=_mapping)
    input_query: dict[str, Any] | None = attrs.field(default=None, converter=_query)
    output_query: dict[str, Any] | None = attrs.field(default=None, converter=_query)
    description: str = attrs.field(default="", validator=v.max_len(255))
    long_description: str = ""
    transformation_group: str = attrs.field(default="General", validator=v.max_len(64))
    max_tasks: int = attrs.field(default=0, validator=v.ge(0))
    agent_type: AgentType = attrs.field(default=AgentType.MANUAL, converter=AgentType)


@attrs.frozen(kw_only=True)
class Transformation:
    """A stored transformation; ``author``, ``author_group`` and ``vo`` say who owns its tasks."""

    transformation_id: int
    name: str
    type: str
    status: TransformationStatus
    agent_type: AgentType
    plugin: str
    group_size: float | None
    body: str
    parameters: dict[str, Any]
    input_query: dict[str, Any] | None
    output_query: dict[str, Any] | None
    author: str
    author_group: str
    vo: str
    description: str
    long_description: str
    transformation_group: str
    max_tasks: int
    last_task_id: int
    created: datetime
    updated: datetime

    def splitter_parameters(self) -> dict[str, Any]:
        """The splitter's parameters: ``GroupSize`` when the column is set (an integer when it is
        whole: DIRAC's Standard plugin counts files), then the extra parameters (a ``GroupSize``
        parameter set later wins)."""
        return splitter_parameters(self.group_size, self.parameters)

    def task_name(self, task_id: int) -> str:
        """The name of one of its tasks (``%08d_%08d``)."""
        return task_name(self.transformation_id, task_id)


@attrs.frozen(kw_only=True)
class TransformationFile:
    """A file of a transformation: its status, task (None when it has none) and error count."""

    transformation_id: int
    lfn: str
    status: TransformationFileStatus
    task_id: int | None
    used_se: str | None
    error_count: int
    inserted: datetime
    updated: datetime


@attrs.frozen(kw_only=True)
class Task:
    """A task: its files, the SEs its splitter targeted, and the job or request it became."""

    transformation_id: int
    task_id: int
    status: TaskStatus
    external_id: int | None
    target_ses: tuple[str, ...]
    lfns: tuple[str, ...]
    created: datetime
    updated: datetime

    @property
    def name(self) -> str:
        """``%08d_%08d``: its job's or request's name."""
        return task_name(self.transformation_id, self.task_id)


@attrs.frozen(kw_only=True)
class TransformationStats:
    """Files and tasks of one transformation per status.

    ``total`` counts the files, ``-inherited`` statuses excepted (as DIRAC's
    ``getTransformationStats``); ``processed_percent`` is DIRAC's
    ``int(Processed * 1000 / (Total - given up)) / 10`` (None when nothing is left to count);
    ``tasks_created`` counts every task.
    """

    files: dict[TransformationFileStatus, int]
    total: int
    processed_percent: float | None
    problematic: int
    tasks: dict[TaskStatus, int]
    tasks_created: int


@attrs.frozen(kw_only=True)
class SplitResult:
    """One splitting cycle of one transformation: tasks made, files put in them, files found
    missing from the catalog (MissingInFC) or not answered for (ProbInFC); ``flushed`` when a
    Flush went back to Active; ``conflict`` when someone changed its files meanwhile (nothing of
    that batch was written; the next cycle sees the new state); ``error`` when the cycle failed
    (the catalog did not answer, the splitter broke its contract)."""

    tasks: int = 0
    files: int = 0
    missing: int = 0
    problematic: int = 0
    flushed: bool = False
    conflict: bool = False
    error: str | None = None


def _types(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@attrs.frozen(kw_only=True)
class TransformationSettings:
    """How the transformation system works; the defaults are DIRAC's.

    - ``processing_types``: types whose tasks become jobs; ``data_types``: types whose tasks
      become requests. Any other type is refused at creation.
    - ``max_reset``: DIRAC's ``FilesMaxResetCounter``.
    - ``files_per_cycle``: the most Unused files one splitting cycle reads per transformation
      (``MaxFilesToProcess``); ``batch_files``: files per written transaction.
    - ``tasks_per_cycle``: tasks one submission cycle takes per transformation (``TasksPerLoop``).
    - ``reserved_timeout``: a task Reserved that long was lost by its task manager
      (``CheckReserved``); ``monitor_delay``: a task is looked at again after that long.
    - ``given_up``: file statuses left out of the processed percentage's denominator
      (``GivenUpFileStatus``); ``problematic``: statuses counted as problematic.
    - ``archive_after``: a Completed transformation not updated for that long is archived
      (the cleaning agent's ``ArchiveAfter``, 7 days); ``id_metadata``: the catalog metadata
      field that names the transformation an output file comes from (``TransfIDMeta``).
    - ``extendable_types``: types whose tasks are made without input files, up to ``max_tasks``
      (``ExtendableTransfTypes``); ``tasks_per_iteration``, ``max_failure_rate`` (percent of the
      tasks made) and ``max_waiting_jobs``: the MC extension agent's ``TasksPerIteration``,
      ``MaxFailureRate`` and ``MaxWaitingJobs``.
    """

    processing_types: frozenset[str] = attrs.field(default=PROCESSING_TYPES, converter=_types)
    data_types: frozenset[str] = attrs.field(default=DATA_TYPES, converter=_types)
    max_reset: int = attrs.field(default=DEFAULT_MAX_RESET, validator=v.gt(0))
    files_per_cycle: int = attrs.field(default=5000, validator=v.gt(0))
    batch_files: int = attrs.field(default=10_000, validator=v.gt(0))
    tasks_per_cycle: int = attrs.field(default=50, validator=v.gt(0))
    reserved_timeout: timedelta = timedelta(hours=1)
    monitor_delay: timedelta = timedelta(minutes=10)
    monitor_chunk: int = attrs.field(default=1000, validator=v.gt(0))
    given_up: frozenset[TransformationFileStatus] = frozenset({_F.MISSING_IN_FC})
    problematic: frozenset[TransformationFileStatus] = frozenset({_F.PROBLEMATIC})
    archive_after: timedelta = timedelta(days=7)
    id_metadata: str = "TransformationID"
    extendable_types: frozenset[str] = attrs.field(default=frozenset({"MCSimulation"}), converter=_types)
    tasks_per_iteration: int = attrs.field(default=50, validator=v.gt(0))
    max_failure_rate: float = attrs.field(default=30.0, validator=v.ge(0))
    max_waiting_jobs: int = attrs.field(default=1000, validator=v.ge(0))

    def __attrs_post_init__(self) -> None:
        both = self.processing_types & self.data_types
        if both:
            raise ValueError(f"types both processing and data: {sorted(both)}")

    @property
    def types(self) -> frozenset[str]:
        """Every accepted transformation type."""
        return self.processing_types | self.data_types
