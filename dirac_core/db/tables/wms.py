"""Tables of the ``wms`` system: jobs, their history and commands, task queues, pilots' jobs.

Design choices (against DIRAC's pain points):

- Job ids are allocated in blocks from ``wms_counters`` in a short
  transaction of their own, so a bulk submission inserts every row with a
  plain ``executemany`` (no per-row ``RETURNING``) and concurrent submitters
  never wait on each other's long transactions.
- The status history is append-only and keyed by its own auto-increment id:
  no per-job sequence number, no trigger, so bulk inserts cannot deadlock
  (DIRAC#8224). Order is ``(status_time, id)``.
- A task queue is found by the ``fingerprint`` of its definition (a hash of
  owner, group, CPU segment and the sorted requirement sets), one indexed
  lookup instead of DIRAC's count-equality joins; the sets themselves are kept
  as sorted, ``\\x1f``-separated text because they are only read whole (the
  matcher caches definitions in memory).
- A job waiting in a queue has one ``wms_tq_jobs`` row; matching claims it
  by deleting that row (rowcount 1 wins), with ``SKIP LOCKED`` where the
  backend has it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.job import JobStatus
from dirac_core.model.pilot import PilotStatus

__all__ = [
    "counters",
    "heartbeats",
    "input_data",
    "job_commands",
    "job_history",
    "job_jdls",
    "job_parameters",
    "job_to_pilot",
    "jobs",
    "metadata",
    "pilot_outputs",
    "pilots",
    "sandbox_jobs",
    "sandboxes",
    "status_changes",
    "status_counts",
    "task_queues",
    "tq_jobs",
]

metadata = new_metadata("wms")

#: MEDIUMTEXT on MariaDB (TEXT stops at 64 KiB); TEXT elsewhere.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

#: Named counters (``job_id``): the next free value.
counters = Table(
    "wms_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger(), nullable=False),
)

#: One row per job: the attributes searched, sorted and summarised.
jobs = Table(
    "wms_jobs",
    metadata,
    Column("job_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("status", StrEnumType(JobStatus), nullable=False),
    Column("minor_status", String(128), nullable=False, default=""),
    Column("application_status", String(255), nullable=False, default="Unknown"),
    Column("owner", String(64), nullable=False),
    Column("owner_group", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("job_name", String(128), nullable=False),
    Column("job_type", String(32), nullable=False),
    Column("job_group", String(128), nullable=False, default=""),
    Column("site", String(128), nullable=False, default="ANY"),
    Column("user_priority", Integer(), nullable=False),
    Column("cpu_time", Integer(), nullable=False),
    Column("submission_time", UTCDateTime(), nullable=False),
    Column("last_update_time", UTCDateTime(), nullable=False),
    Column("reschedule_time", UTCDateTime(), nullable=True),
    Column("start_exec_time", UTCDateTime(), nullable=True),
    Column("end_exec_time", UTCDateTime(), nullable=True),
    Column("heartbeat_time", UTCDateTime(), nullable=True),
    Column("reschedule_counter", Integer(), nullable=False, default=0),
    Column("verified_flag", Boolean(), nullable=False, default=True),
    Column("accounted_flag", Boolean(), nullable=False, default=False),
    # a status, then the VO every search by a user adds, then the key pages are sorted by: the job
    # monitor's page (status and VO given, newest first) reads 100 entries in order, and its total
    # and the status counts of a VO are counted in this index alone (migration 0017)
    Index(None, "status", "vo", "job_id"),
    Index(None, "site", "status"),
    Index(None, "owner"),
    Index(None, "owner_group"),
    Index(None, "job_group"),
    Index(None, "last_update_time"),
)

#: The JDL of each job as accepted (parametric expansion and ``%j`` applied, identity set).
job_jdls = Table(
    "wms_job_jdls",
    metadata,
    Column("job_id", BigInteger(), ForeignKey("wms_jobs.job_id", ondelete="CASCADE"),
           primary_key=True),
    Column("jdl", LongText, nullable=False),
)

#: Input data of each job, in JDL order.
input_data = Table(
    "wms_input_data",
    metadata,
    Column("job_id", BigInteger(), ForeignKey("wms_jobs.job_id", ondelete="CASCADE"),
           primary_key=True),
    Column("position", Integer(), primary_key=True, autoincrement=False),
    Column("lfn", String(1024), nullable=False),
    Column("status", String(32), nullable=False, default="AprioriGood"),
)

#: Free job parameters (``name -> value``) set by the job wrapper, pilot or users.
job_parameters = Table(
    "wms_job_parameters",
    metadata,
    Column("job_id", BigInteger(), ForeignKey("wms_jobs.job_id", ondelete="CASCADE"),
           primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", Text(), nullable=False),
)

#: The status history, append-only. A NULL status part means "unchanged"
#: (DIRAC's ``idem``); ``refused`` marks a requested transition the state
#: machine did not allow (the job kept its status).
job_history = Table(
    "wms_job_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("job_id", BigInteger(), nullable=False),
    Column("status", StrEnumType(JobStatus), nullable=True),
    Column("minor_status", String(128), nullable=True),
    Column("application_status", String(255), nullable=True),
    Column("status_time", UTCDateTime(), nullable=False),
    Column("source", String(64), nullable=False),
    Column("refused", Boolean(), nullable=False, default=False),
    # a job's records, and its latest time as one index dive (status updates read it)
    Index(None, "job_id", "status_time"),
    Index(None, "status_time"),
)

#: Metrics sent with heartbeats (DIRAC's HeartBeatLoggingInfo).
heartbeats = Table(
    "wms_heartbeats",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("job_id", BigInteger(), nullable=False),
    Column("name", String(64), nullable=False),
    Column("value", String(255), nullable=False),
    Column("heartbeat_time", UTCDateTime(), nullable=False),
    Index(None, "job_id"),
)

#: Commands for running jobs (``Kill``), delivered in heartbeat replies.
job_commands = Table(
    "wms_job_commands",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("job_id", BigInteger(), nullable=False),
    Column("command", String(32), nullable=False),
    Column("arguments", String(1024), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="Received"),
    Column("reception_time", UTCDateTime(), nullable=False),
    Column("execution_time", UTCDateTime(), nullable=True),
    Index(None, "job_id", "status"),
)

#: Which pilot ran which job.
job_to_pilot = Table(
    "wms_job_to_pilot",
    metadata,
    Column("job_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("pilot_stamp", String(64), primary_key=True),
    Column("start_time", UTCDateTime(), nullable=False),
    Index(None, "pilot_stamp"),
)

#: Task queues: jobs with identical requirements, and the queue's fair-share priority.
task_queues = Table(
    "wms_task_queues",
    metadata,
    Column("tq_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("fingerprint", String(64), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("owner_group", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("cpu_time", BigInteger(), nullable=False),
    Column("sites", Text(), nullable=False, default=""),
    Column("banned_sites", Text(), nullable=False, default=""),
    Column("grid_ces", Text(), nullable=False, default=""),
    Column("platforms", Text(), nullable=False, default=""),
    Column("job_types", Text(), nullable=False, default=""),
    Column("tags", Text(), nullable=False, default=""),
    Column("priority", Float(), nullable=False, default=1.0),
    Column("created", UTCDateTime(), nullable=False),
    Index(None, "fingerprint"),
    Index(None, "owner_group", "owner"),
)

#: Jobs waiting in a task queue; matching claims a job by deleting its row.
#: ``rank`` is minus the user priority, so that the index gives the best job
#: first (highest priority, then oldest) in ascending order on every backend.
tq_jobs = Table(
    "wms_tq_jobs",
    metadata,
    Column("job_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("tq_id", BigInteger(), nullable=False),
    Column("rank", Integer(), nullable=False),
    Column("real_priority", Float(), nullable=False),
    Index(None, "tq_id", "rank", "job_id"),
)

#: Pilots: where each was sent, and where it is in its life (PilotStatus's table).
pilots = Table(
    "wms_pilots",
    metadata,
    Column("pilot_stamp", String(64), primary_key=True),
    Column("vo", String(64), nullable=False),
    Column("grid_type", String(32), nullable=False, default=""),
    Column("grid_site", String(128), nullable=False, default=""),
    Column("destination_site", String(128), nullable=False, default=""),
    Column("queue", String(128), nullable=False, default=""),
    Column("pilot_reference", String(255), nullable=False, default=""),
    Column("status", StrEnumType(PilotStatus), nullable=False),
    Column("status_reason", String(255), nullable=False, default=""),
    Column("submission_time", UTCDateTime(), nullable=False),
    Column("last_update_time", UTCDateTime(), nullable=False),
    Index(None, "status"),
    Index(None, "grid_site", "status"),
    Index(None, "destination_site", "status"),
    Index(None, "pilot_reference"),
)

#: What a pilot printed, fetched from its CE once it ended (so pilot logs outlive the CE's copy).
pilot_outputs = Table(
    "wms_pilot_outputs",
    metadata,
    Column("pilot_stamp", String(64), primary_key=True),
    Column("stdout", LongText, nullable=False),
    Column("stderr", LongText, nullable=False),
    Column("retrieved", UTCDateTime(), nullable=False),
)

#: Sandboxes: content-addressed archives (``pfn`` names the content's SHA-256).
sandboxes = Table(
    "wms_sandboxes",
    metadata,
    Column("pfn", String(512), primary_key=True),
    Column("vo", String(64), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("owner_group", String(64), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("format", String(16), nullable=False),
    Column("uploaded", Boolean(), nullable=False, default=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("last_access", UTCDateTime(), nullable=False),
    Index(None, "last_access"),
)

#: Which sandboxes a job has, as input or output.
sandbox_jobs = Table(
    "wms_sandbox_jobs",
    metadata,
    Column("job_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("kind", String(8), primary_key=True),
    Column("pfn", String(512), primary_key=True),
    Index(None, "pfn"),
)

#: Job counts per VO, owner group and status, as of the last fold of ``wms_status_changes``
#: (the job monitor's status counts without counting a million index entries). The row with
#: empty VO, group and status is the fold's lock.
status_counts = Table(
    "wms_status_counts",
    metadata,
    Column("vo", String(64), primary_key=True),
    Column("owner_group", String(64), primary_key=True),
    Column("status", String(32), primary_key=True),
    Column("count", BigInteger(), nullable=False, default=0),
)

#: Status changes not yet folded into ``wms_status_counts``: appended in the transaction that
#: changes the jobs (one row per VO, group and old -> new status, with how many jobs), so
#: writers never wait on each other for a counter row. NULL old status: new jobs; NULL new
#: status: jobs removed.
status_changes = Table(
    "wms_status_changes",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("vo", String(64), nullable=False),
    Column("owner_group", String(64), nullable=False),
    Column("old_status", String(32), nullable=True),
    Column("new_status", String(32), nullable=True),
    Column("count", Integer(), nullable=False),
)
