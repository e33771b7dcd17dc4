"""Transformations: their definitions, files, tasks and the tasks' inputs (system ``tfs``).

- ``tfs_transformations``: one row per transformation; ``last_task_id`` is the per-transformation
  task counter, advanced under the row's lock by whoever writes tasks (no trigger, no gaps).
- ``tfs_parameters``: extra key/value parameters (values as JSON text, so types survive).
- ``tfs_queries``: the input and output metadata queries (JSON text), ``kind`` ``Input``/``Output``.
- ``tfs_files``: the files attached to a transformation, with their status, the task they are in,
  the SE string the splitter gave that task (``used_se``) and their error count. LFNs are up to
  1,024 characters: uniqueness per transformation is on ``lfn_key`` (BLAKE2b of the LFN), which
  every backend can index whole.
- ``tfs_tasks``: one row per task, keyed ``(transformation_id, task_id)``; ``external_id`` is the
  job id or the request id; ``checked`` is when the monitor last looked at it.
- ``tfs_task_inputs``: a task's files, as the space-separated ids of their ``tfs_files`` rows in
  the task's order, one row per task (DIRAC's ``InputVector`` holds the LFNs): writing 10,000 tasks
  is 10,000 short rows, not one per file nor 100,000 LFNs again.

The splitting cycle reads a transformation's Unused files through ``(transformation_id, status)``,
a partial index of the candidate files only on SQLite and PostgreSQL;
the monitor reads tasks by status through ``(transformation_id, status)`` and finds the files of
a task from its inputs, by primary key (an index on ``task_id`` would cost every assignment of
every file one more index update: the splitting cycle's hot path);
stuck reservations are found through ``(status, updated)``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import mysql

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.transformation import (
    AgentType,
    TaskStatus,
    TransformationFileStatus,
    TransformationStatus,
)

__all__ = ["CANDIDATE_FILTER", "metadata", "tfs_files", "tfs_parameters", "tfs_queries", "tfs_task_inputs",
           "tfs_tasks", "tfs_transformations"]

metadata = new_metadata("tfs")

#: The files a splitting cycle may put into a task (SQL text: a partial index is only used by a
#: query that repeats its condition word for word).
CANDIDATE_FILTER = text(f"status IN ('{TransformationFileStatus.UNUSED.value}', "
                        f"'{TransformationFileStatus.PROB_IN_FC.value}')")

#: MEDIUMTEXT on MariaDB (TEXT stops at 64 KiB); TEXT elsewhere.
_LONG_TEXT = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
_ID = BigInteger().with_variant(Integer(), "sqlite")

tfs_transformations = Table(
    "tfs_transformations",
    metadata,
    Column("transformation_id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", String(255), nullable=False, default=""),
    Column("long_description", Text(), nullable=False, default=""),
    Column("type", String(64), nullable=False),
    Column("status", StrEnumType(TransformationStatus), nullable=False),
    Column("agent_type", StrEnumType(AgentType), nullable=False),
    Column("plugin", String(64), nullable=False),
    Column("group_size", Float(), nullable=True),
    Column("body", _LONG_TEXT, nullable=False, default=""),
    Column("author", String(64), nullable=False),
    Column("author_group", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("transformation_group", String(64), nullable=False, default="General"),
    Column("max_tasks", Integer(), nullable=False, default=0),
    Column("last_task_id", Integer(), nullable=False, default=0),
    Column("created", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Index(None, "status"),
)

tfs_parameters = Table(
    "tfs_parameters",
    metadata,
    Column("transformation_id", BigInteger(),
           ForeignKey("tfs_transformations.transformation_id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Text(), nullable=False),
)

tfs_queries = Table(
    "tfs_queries",
    metadata,
    Column("transformation_id", BigInteger(),
           ForeignKey("tfs_transformations.transformation_id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("query", Text(), nullable=False),
)

tfs_files = Table(
    "tfs_files",
    metadata,
    Column("file_id", _ID, primary_key=True, autoincrement=True),
    Column("transformation_id", BigInteger(),
           ForeignKey("tfs_transformations.transformation_id", ondelete="CASCADE"), nullable=False),
    Column("lfn", String(1024), nullable=False),
    Column("lfn_key", String(32), nullable=False),
    Column("status", StrEnumType(TransformationFileStatus), nullable=False),
    Column("task_id", Integer(), nullable=True),
    Column("used_se", String(255), nullable=True),
    Column("error_count", Integer(), nullable=False, default=0),
    Column("inserted", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    UniqueConstraint("transformation_id", "lfn_key"),
    # only the files a task may take, where the backend has partial indexes: a file put in a task
    # leaves the index rather than moving in it (MariaDB indexes every file by status)
    Index(None, "transformation_id", "status", sqlite_where=CANDIDATE_FILTER,
          postgresql_where=CANDIDATE_FILTER),
)

tfs_tasks = Table(
    "tfs_tasks",
    metadata,
    Column("transformation_id", BigInteger(),
           ForeignKey("tfs_transformations.transformation_id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", Integer(), primary_key=True, autoincrement=False),
    Column("status", StrEnumType(TaskStatus), nullable=False),
    Column("external_id", BigInteger(), nullable=True),
    Column("target_ses", String(255), nullable=False, default=""),
    Column("created", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Column("checked", UTCDateTime(), nullable=False),
    Index(None, "transformation_id", "status"),
    Index(None, "status", "updated"),
)

tfs_task_inputs = Table(
    "tfs_task_inputs",
    metadata,
    Column("transformation_id", BigInteger(), primary_key=True),
    Column("task_id", Integer(), primary_key=True, autoincrement=False),
    Column("file_ids", _LONG_TEXT, nullable=False),
    ForeignKeyConstraint(["transformation_id", "task_id"],
                         ["tfs_tasks.transformation_id", "tfs_tasks.task_id"], ondelete="CASCADE"),
)
