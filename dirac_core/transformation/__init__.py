"""Transformations and productions: operations applied to whole datasets.

A transformation takes the files its input query selects, groups them into tasks with a
splitter (:mod:`dirac_core.plugins.splitters`) and turns each task into a WMS job (processing)
or a request (replication, removal); outcomes flow back to the files' statuses. A production
chains transformations whose output and input queries match.

:class:`TransformationSystem` is the engine; :func:`transformation_tasks` its periodic tasks.
"""

from __future__ import annotations

from dirac_core.transformation.cleaning import CleaningResult
from dirac_core.transformation.extension import ExtensionResult
from dirac_core.transformation.periodic import (
    CleaningTask,
    ExtensionTask,
    InputQueryTask,
    MonitorTask,
    ReservationTask,
    SplitTask,
    SubmitTask,
    transformation_tasks,
)
from dirac_core.transformation.records import (
    SplitResult,
    Task,
    Transformation,
    TransformationFile,
    TransformationSettings,
    TransformationSpec,
    TransformationStats,
)
from dirac_core.transformation.submission import SubmitResult
from dirac_core.transformation.system import TransformationSystem

__all__ = ["CleaningResult", "CleaningTask", "ExtensionResult", "ExtensionTask", "InputQueryTask",
           "MonitorTask", "ReservationTask", "SplitResult", "SplitTask", "SubmitResult", "SubmitTask", "Task",
           "Transformation", "TransformationFile", "TransformationSettings", "TransformationSpec",
           "TransformationStats", "TransformationSystem", "transformation_tasks"]
