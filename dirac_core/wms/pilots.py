"""Pilot records: where each pilot was sent and where it is in its life.

Statuses follow :data:`~dirac_core.model.pilot.PILOT_TRANSITIONS`: a late
report from a computing element cannot move a finished pilot backwards (it
fails that pilot's item with ``InvalidTransition``; DIRAC writes anything).
After the change is committed, ``dirac_pilot_event`` is called for each pilot
registered (``"registered"``), that started (``"started"``: now Running) or
ended (``"ended"``: a final status).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
import pluggy
from sqlalchemy import delete, func, insert, select, update

from dirac_core.db.chunks import ids_in
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import job_to_pilot, pilot_outputs, pilots
from dirac_core.errors import AlreadyExists, BulkResult, DiracError, NotFound
from dirac_core.model.clock import Clock
from dirac_core.model.pilot import PILOT_TRANSITIONS, PilotStatus
from dirac_core.model.status import check_transition

__all__ = ["PILOT_COLUMNS", "PilotRecord", "PilotRegistry"]

log = logging.getLogger(__name__)

#: Search column (DiracX's name) -> ``wms_pilots`` column.
PILOT_COLUMNS = {"PilotStamp": "pilot_stamp", "VO": "vo", "GridType": "grid_type",
                 "GridSite": "grid_site", "DestinationSite": "destination_site", "Queue": "queue",
                 "PilotJobReference": "pilot_reference", "Status": "status",
                 "StatusReason": "status_reason", "SubmissionTime": "submission_time",
                 "LastUpdateTime": "last_update_time"}
_NAMES = {v: k for k, v in PILOT_COLUMNS.items()}


@attrs.frozen(kw_only=True)
class PilotRecord:
    """A pilot to register."""

    pilot_stamp: str = attrs.field(validator=attrs.validators.and_(
        attrs.validators.instance_of(str), attrs.validators.min_len(1), attrs.validators.max_len(64)))
    vo: str
    grid_type: str = ""
    grid_site: str = ""
    destination_site: str = ""
    queue: str = ""
    pilot_reference: str = ""
    status: PilotStatus = attrs.field(default=PilotStatus.SUBMITTED, converter=PilotStatus)


def _search_value(name: str, value: Any) -> Any:
    """``value`` as the Python value of pilot column ``name``; ``DiracError`` (400) when it is not
    one (a number for a name, an unknown status, a time that is no ISO 8601 text)."""
    try:
        if name == "Status":
            return PilotStatus(value)
        if name in ("SubmissionTime", "LastUpdateTime"):
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        if isinstance(value, str):
            return value
    except (TypeError, ValueError):
        pass
    raise DiracError(f"bad value {str(value)[:64]!r} for pilot column {name}", parameter=name)


class PilotRegistry:
    """Register pilots, move their statuses, look them up."""

    def __init__(self, *, database: Database, clock: Clock,
                 hooks: pluggy.PluginManager | None = None) -> None:
        self._database = database
        self._clock = clock
        self._hooks = hooks

    def register(self, records: Sequence[PilotRecord]) -> BulkResult[str, None]:
        """Add pilots; a stamp already known fails its item with ``AlreadyExists``."""
        result: BulkResult[str, None] = BulkResult()
        now = self._clock.now()
        stamps = [r.pilot_stamp for r in records]
        with self._database.begin() as conn:
            known = set(conn.execute(select(pilots.c.pilot_stamp)
                                     .where(pilots.c.pilot_stamp.in_(stamps))).scalars())
            rows = []
            for record in records:
                if record.pilot_stamp in known:
                    result.add_failed(record.pilot_stamp, AlreadyExists(
                        f"pilot {record.pilot_stamp} is registered already"))
                    continue
                known.add(record.pilot_stamp)
                rows.append({**attrs.asdict(record), "status_reason": "",
                             "submission_time": now, "last_update_time": now})
                result.add_ok(record.pilot_stamp, None)
            if rows:
                conn.execute(insert(pilots), rows)
        self._notify([(row["pilot_stamp"], "registered", {**row, "time": now}) for row in rows])
        return result

    def set_status(self, updates: Mapping[str, tuple[PilotStatus | str, str]]
                   ) -> BulkResult[str, PilotStatus]:
        """Move pilots to new statuses (with a reason); the table refuses backward moves."""
        result: BulkResult[str, PilotStatus] = BulkResult()
        now = self._clock.now()
        events: list[tuple[str, str, dict[str, Any]]] = []
        with self._database.begin() as conn:
            rows = {row["pilot_stamp"]: row for row in conn.execute(
                select(pilots).where(pilots.c.pilot_stamp.in_(list(updates)))).mappings()}
            current = {stamp: row["status"] for stamp, row in rows.items()}
            for stamp, (wanted, reason) in updates.items():
                if stamp not in current:
                    result.add_failed(stamp, NotFound(f"pilot {stamp} not found", pilot=stamp))
                    continue
                try:
                    status = check_transition(PILOT_TRANSITIONS, current[stamp], PilotStatus(wanted),
                                              subject=f"pilot {stamp}")
                except (DiracError, ValueError) as exc:
                    result.add_failed(stamp, exc if isinstance(exc, DiracError)
                                      else DiracError(str(exc), pilot=stamp))
                    continue
                conn.execute(update(pilots).where(pilots.c.pilot_stamp == stamp).values(
                    status=status, status_reason=reason[:255], last_update_time=now))
                result.add_ok(stamp, status)
                event = "ended" if status.is_final else "started" if status is PilotStatus.RUNNING else None
                if event is not None and status is not current[stamp]:
                    previous = rows[stamp]
                    events.append((stamp, event, {
                        "status": status, "reason": reason, "time": now, "vo": previous["vo"],
                        "previous_status": previous["status"],
                        "previous_update": previous["last_update_time"],
                        "submission_time": previous["submission_time"]}))
        self._notify(events)
        return result

    def _notify(self, events: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """``dirac_pilot_event`` for committed changes; a failing implementation is logged only."""
        if self._hooks is None or not events:
            return
        for stamp, event, details in events:
            try:
                self._hooks.hook.dirac_pilot_event(pilot_stamp=stamp, event=event, details=details)
            except Exception:  # a notification must never undo a committed change
                log.exception("dirac_pilot_event hook failed for pilot %s", stamp)

    def get(self, stamps: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The records of the pilots that exist, with DiracX's column names."""
        wanted = sorted(set(stamps))
        with self._database.begin(read_only=True) as conn:
            rows = conn.execute(select(pilots).where(pilots.c.pilot_stamp.in_(wanted))).mappings()
            return {row["pilot_stamp"]: {_NAMES[k]: v for k, v in row.items()} for row in rows}

    def search(self, *, vo: str, equal: Mapping[str, Sequence[Any]] | None = None,
               page: int = 1, per_page: int = 100) -> tuple[list[dict[str, Any]], int]:
        """The pilots of ``vo`` whose columns (DiracX names) take one of the given values,
        newest first: one page and the total."""
        conds = [pilots.c.vo == vo]
        for name, values in (equal or {}).items():
            column = PILOT_COLUMNS.get(name)
            if column is None:
                raise DiracError(f"unknown pilot column {name!r}; known: "
                                 f"{', '.join(sorted(PILOT_COLUMNS))}", parameter=name)
            conds.append(pilots.c[column].in_([_search_value(name, value) for value in values]))
        with self._database.begin(read_only=True) as conn:
            total = conn.execute(select(func.count()).select_from(pilots).where(*conds)).scalar_one()
            rows = conn.execute(select(pilots).where(*conds)
                                .order_by(pilots.c.submission_time.desc(), pilots.c.pilot_stamp)
                                .offset((page - 1) * per_page).limit(per_page)).mappings()
            return [{_NAMES[k]: v for k, v in row.items()} for row in rows], int(total)

    def jobs_of(self, stamps: Sequence[str]) -> dict[str, list[int]]:
        """The jobs each pilot was given."""
        out: dict[str, list[int]] = {s: [] for s in stamps}
        with self._database.begin(read_only=True) as conn:
            for where in ids_in(conn, job_to_pilot.c.pilot_stamp, list(stamps)):  # type: ignore[arg-type]
                for job_id, stamp in conn.execute(select(job_to_pilot.c.job_id,
                                                         job_to_pilot.c.pilot_stamp).where(where)):
                    out[stamp].append(job_id)
        return out

    def status_counts(self, since: datetime) -> dict[tuple[str, str, str], dict[PilotStatus, int]]:
        """Pilots updated since ``since``, counted per (site, CE, queue) and status, every VO (the
        resource status system's pilot efficiencies); one grouped query."""
        cols = (pilots.c.grid_site, pilots.c.destination_site, pilots.c.queue, pilots.c.status)
        out: dict[tuple[str, str, str], dict[PilotStatus, int]] = {}
        with self._database.begin(read_only=True) as conn:
            for site, ce, queue, status, count in conn.execute(
                    select(*cols, func.count()).where(pilots.c.last_update_time >= since).group_by(*cols)):
                out.setdefault((site, ce, queue), {})[status] = int(count)
        return out

    def active(self, vo: str) -> list[dict[str, Any]]:
        """Every pilot of ``vo`` not in a final status (DiracX's column names), oldest first."""
        alive = [s for s in PilotStatus if not s.is_final]
        with self._database.begin(read_only=True) as conn:
            rows = conn.execute(select(pilots).where(pilots.c.vo == vo, pilots.c.status.in_(alive))
                                .order_by(pilots.c.submission_time, pilots.c.pilot_stamp)).mappings()
            return [{_NAMES[k]: v for k, v in row.items()} for row in rows]

    def without_output(self, vo: str, since: datetime) -> list[dict[str, Any]]:
        """Pilots of ``vo`` that ended (final status) after ``since`` and whose output was not kept."""
        final = [s for s in PilotStatus if s.is_final]
        kept = select(pilot_outputs.c.pilot_stamp).where(pilot_outputs.c.pilot_stamp == pilots.c.pilot_stamp)
        with self._database.begin(read_only=True) as conn:
            rows = conn.execute(select(pilots).where(
                pilots.c.vo == vo, pilots.c.status.in_(final), pilots.c.last_update_time >= since,
                ~kept.exists()).order_by(pilots.c.last_update_time)).mappings()
            return [{_NAMES[k]: v for k, v in row.items()} for row in rows]

    def keep_output(self, stamp: str, stdout: str, stderr: str, *, limit: int = 1_000_000) -> None:
        """Store what the pilot printed (the last ``limit`` characters of each), replacing any copy."""
        with self._database.begin() as conn:
            conn.execute(delete(pilot_outputs).where(pilot_outputs.c.pilot_stamp == stamp))
            conn.execute(insert(pilot_outputs).values(pilot_stamp=stamp, stdout=stdout[-limit:],
                                                      stderr=stderr[-limit:], retrieved=self._clock.now()))

    def output(self, stamp: str) -> tuple[str, str]:
        """The stored stdout and stderr of a pilot; ``NotFound`` when none was retrieved."""
        with self._database.begin(read_only=True) as conn:
            row = conn.execute(select(pilot_outputs.c.stdout, pilot_outputs.c.stderr)
                               .where(pilot_outputs.c.pilot_stamp == stamp)).first()
        if row is None:
            raise NotFound(f"no output of pilot {stamp} was retrieved", pilot=stamp)
        return str(row[0]), str(row[1])

    def pilot_of(self, job_id: int) -> str | None:
        """The stamp of the last pilot that was given ``job_id``."""
        with self._database.begin(read_only=True) as conn:
            stamps = conn.execute(select(job_to_pilot.c.pilot_stamp)
                                  .where(job_to_pilot.c.job_id == job_id)
                                  .order_by(job_to_pilot.c.start_time)).scalars().all()
        return str(stamps[-1]) if stamps else None
