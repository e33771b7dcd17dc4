"""The status tables: reading statuses and history, writing changes with their history rows.

Every change of a status writes the new row and one history row in the same transaction. A change
the policies decided is conditional on the row still being what the evaluation read (same status,
still the policies' own): an operator's change made meanwhile wins, as DIRAC's PEP ensures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
from sqlalchemy import Connection, RowMapping, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dirac_core.db.database import Database
from dirac_core.db.tables.rss import history, se_tests, status
from dirac_core.model.resource_status import ElementKey, ElementType, ResourceStatus, TransferTest
from dirac_core.rss.records import POLICY_OWNER, HistoryEntry, StatusRecord

__all__ = ["DUE_NOW", "StatusChange", "StatusStore"]

#: a ``last_check`` that makes a row due at once (control handed back to the policies)
DUE_NOW = datetime(2000, 1, 1, tzinfo=UTC)

_REASON = 512


@attrs.frozen(kw_only=True)
class StatusChange:
    """A status to write, and its history row (``record``).

    ``expected`` and ``expected_owner`` are the status and owner the writer read (None: no row).
    A policy change (``manual`` false) only happens if the row is still so; a manual change
    always happens (``expected`` is then only the history's previous status).
    """

    key: ElementKey
    status: ResourceStatus
    reason: str
    owner: str = POLICY_OWNER
    until: datetime | None = None
    expected: ResourceStatus | None = None
    expected_owner: str | None = None
    manual: bool = False
    record: bool = True
    last_check: datetime | None = None


def _key_where(key: ElementKey) -> Any:
    return and_(status.c.element_type == key.element_type, status.c.name == key.name,
                status.c.status_type == str(key.status_type), status.c.vo == key.vo)


def _record(row: RowMapping) -> StatusRecord:
    key = ElementKey(element_type=row["element_type"], name=row["name"], status_type=row["status_type"],
                     vo=row["vo"])
    return StatusRecord(key=key, status=row["status"], reason=row["reason"],
                        date_effective=row["date_effective"], last_check=row["last_check"],
                        token_owner=row["token_owner"], token_expiration=row["token_expiration"])


class StatusStore:
    """Reads and writes ``rss_status``, ``rss_history`` and ``rss_se_tests``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- statuses -------------------------------------------------------------------------

    def records(self, *, element_type: ElementType | None = None, name: str | None = None
                ) -> list[StatusRecord]:
        """Every status row (of ``element_type`` / ``name`` when given), in key order."""
        stmt = select(status)
        if element_type is not None:
            stmt = stmt.where(status.c.element_type == element_type)
        if name is not None:
            stmt = stmt.where(status.c.name == name)
        stmt = stmt.order_by(status.c.element_type, status.c.name, status.c.status_type, status.c.vo)
        with self._database.begin(read_only=True) as conn:
            return [_record(row) for row in conn.execute(stmt).mappings()]

    def apply(self, changes: Sequence[StatusChange], now: datetime) -> list[StatusChange]:
        """Write ``changes`` (one transaction); the changes applied. A change whose row moved
        meanwhile (another status, a manual owner, or a row where none was expected) is dropped."""
        applied: list[StatusChange] = []
        entries: list[dict[str, Any]] = []
        with self._database.begin() as conn:
            for change in changes:
                if self._write(conn, change, now):
                    applied.append(change)
                    if change.record:
                        entries.append(self._history_row(change, now))
            if entries:
                conn.execute(insert(history), entries)
        return applied

    def _write(self, conn: Connection, change: StatusChange, now: datetime) -> bool:
        values = {"status": change.status, "reason": change.reason[:_REASON], "token_owner": change.owner,
                  "token_expiration": change.until, "last_check": change.last_check or now}
        if not change.manual and change.expected is None:
            try:
                with conn.begin_nested():  # a savepoint: PostgreSQL would abort the whole transaction
                    conn.execute(insert(status).values(**self._key_values(change.key), date_effective=now,
                                                       **values))
                return True
            except IntegrityError:  # someone set it meanwhile
                return False
        stmt = update(status).where(_key_where(change.key))
        if not change.manual:
            stmt = stmt.where(status.c.status == change.expected,
                              status.c.token_owner == change.expected_owner)
        if change.expected is None or change.status != change.expected:
            values["date_effective"] = now
        if conn.execute(stmt.values(**values)).rowcount == 1:
            return True
        if not change.manual:
            return False
        # a manual status on an element without a row yet
        values["date_effective"] = now
        conn.execute(insert(status).values(**self._key_values(change.key), **values))
        return True

    @staticmethod
    def _key_values(key: ElementKey) -> dict[str, Any]:
        return {"element_type": key.element_type, "name": key.name, "status_type": str(key.status_type),
                "vo": key.vo}

    @staticmethod
    def _history_row(change: StatusChange, now: datetime) -> dict[str, Any]:
        return {"element_type": change.key.element_type, "name": change.key.name,
                "status_type": str(change.key.status_type), "vo": change.key.vo, "status": change.status,
                "previous": change.expected, "reason": change.reason[:_REASON], "owner": change.owner,
                "token_expiration": change.until, "changed": now}

    def checked(self, keys: Iterable[tuple[ElementKey, ResourceStatus]], now: datetime) -> None:
        """Record that the policies looked at these rows (still theirs, still at that status)."""
        with self._database.begin() as conn:
            for key, current in keys:
                conn.execute(update(status).where(_key_where(key), status.c.status == current,
                                                  status.c.token_owner == POLICY_OWNER)
                             .values(last_check=now))

    def expired(self, now: datetime) -> list[StatusRecord]:
        """The manual statuses whose token expired at ``now``."""
        stmt = select(status).where(status.c.token_owner != POLICY_OWNER,
                                    status.c.token_expiration.is_not(None), status.c.token_expiration <= now)
        with self._database.begin(read_only=True) as conn:
            return [_record(row) for row in conn.execute(stmt).mappings()]

    # -- history ----------------------------------------------------------------------------

    def history(self, *, element_type: ElementType | None = None, name: str | None = None,
                limit: int = 100) -> list[HistoryEntry]:
        """The latest ``limit`` changes (of one element when given), oldest first."""
        stmt = select(history)
        if element_type is not None:
            stmt = stmt.where(history.c.element_type == element_type)
        if name is not None:
            stmt = stmt.where(history.c.name == name)
        stmt = stmt.order_by(history.c.changed.desc(), history.c.entry_id.desc()).limit(limit)
        with self._database.begin(read_only=True) as conn:
            rows = list(conn.execute(stmt).mappings())
        return [HistoryEntry(key=ElementKey(element_type=r["element_type"], name=r["name"],
                                            status_type=r["status_type"], vo=r["vo"]),
                             status=r["status"], previous=r["previous"], reason=r["reason"], owner=r["owner"],
                             changed=r["changed"], token_expiration=r["token_expiration"])
                for r in reversed(rows)]

    # -- SE test transfers ------------------------------------------------------------------

    def save_test(self, test: TransferTest) -> None:
        """Keep ``test`` as the SE's last test transfer."""
        values = {"checked": test.checked, "write_ok": test.write_ok, "read_ok": test.read_ok,
                  "remove_ok": test.remove_ok, "error": test.error[:1024], "seconds": test.seconds}
        with self._database.begin() as conn:
            conn.execute(delete(se_tests).where(se_tests.c.se == test.se))
            conn.execute(insert(se_tests).values(se=test.se, **values))

    def tests(self) -> dict[str, TransferTest]:
        """The last test transfer of every SE tested."""
        with self._database.begin(read_only=True) as conn:
            rows = conn.execute(select(se_tests)).mappings().all()
        return {r["se"]: TransferTest(se=r["se"], checked=r["checked"], write_ok=r["write_ok"],
                                      read_ok=r["read_ok"], remove_ok=r["remove_ok"], error=r["error"],
                                      seconds=r["seconds"]) for r in rows}
