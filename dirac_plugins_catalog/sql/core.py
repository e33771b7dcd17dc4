"""What every part of the SQL catalog's API shares: transactions, per-item results, identity.

:class:`CatalogCore` holds the database, clock, options and the
:class:`~dirac_plugins_catalog.sql.access.Guard` of the identity a view acts
for. Writes run in one transaction, retried (up to :data:`ATTEMPTS` times)
when the backend reports a deadlock, a serialization failure or a
uniqueness clash with a concurrent writer; any other database error becomes
a ``CatalogError`` (a lost server stays ``DatabaseUnavailable``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self, TypeVar, overload

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc

from dirac_core.db import Database
from dirac_core.errors import BulkResult, CatalogError, DiracError, PermissionDenied
from dirac_core.model.clock import Clock, SystemClock
from dirac_core.model.identity import Identity
from dirac_plugins_catalog.sql.access import Action, Guard
from dirac_plugins_catalog.sql.namespace import ROOT_OWNER, Owner, resolve_owner
from dirac_plugins_catalog.sql.options import CatalogOptions
from dirac_plugins_catalog.sql.paths import canonical

__all__ = ["ATTEMPTS", "CatalogCore", "Items"]

logger = logging.getLogger(__name__)

#: Times a write is tried when it collides with a concurrent one.
ATTEMPTS = 4

T = TypeVar("T")
V = TypeVar("V")


class Items:
    """The items of one bulk call: the canonical LFN of each key given, and the failures so far.

    With ``root``, ``/`` is a valid item (calls about directories).
    """

    def __init__(self, given: Iterable[object], *, root: bool = False) -> None:
        self.lfn_of, invalid, self._same = canonical(given, root=root)
        self.failed: dict[str, DiracError] = dict(invalid)

    @property
    def plain(self) -> bool:
        """Every key is its own canonical LFN and none failed: the shortcuts apply."""
        return self._same and not self.failed

    def lfns(self) -> list[str]:
        """The distinct canonical LFNs still alive, in the order given."""
        if self.plain:
            return list(self.lfn_of)
        return list(dict.fromkeys(lfn for key, lfn in self.lfn_of.items() if key not in self.failed))

    def fail(self, errors: Mapping[str, DiracError]) -> None:
        """Fail every key whose canonical LFN is in ``errors``."""
        if errors:
            for key, lfn in self.lfn_of.items():
                if key not in self.failed and lfn in errors:
                    self.failed[key] = errors[lfn]

    def result(self, values: Mapping[str, V] | None = None, *,
               missing: Callable[[str], DiracError] | None = None, default: Any = None) -> BulkResult[str, V]:
        """The bulk result: failures, then each other key's value (``default`` if not in ``values``;
        with ``missing``, an LFN absent from ``values`` fails with ``missing(lfn)`` instead).

        ``values`` is keyed by LFNs of these items only; a dict may be taken over as the result.
        """
        if self.plain:
            return self._plain_result(values, missing, default)
        result: BulkResult[str, V] = BulkResult(failed=self.failed)
        ok = result.ok
        for key, lfn in self.lfn_of.items():
            if key in self.failed:
                continue
            if values is None:
                ok[key] = default
            elif lfn in values:
                ok[key] = values[lfn]
            elif missing is not None:
                result.failed[key] = missing(lfn)
            else:
                ok[key] = default
        return result

    def _plain_result(self, values: Mapping[str, V] | None, missing: Callable[[str], DiracError] | None,
                      default: Any) -> BulkResult[str, V]:
        """:meth:`result` when every key is its LFN and none failed."""
        result: BulkResult[str, V] = BulkResult()
        if values is None:
            result.ok = dict.fromkeys(self.lfn_of, default)
            return result
        result.ok = values if type(values) is dict else dict(values)
        if len(values) == len(self.lfn_of):  # every LFN answered (values holds only LFNs asked)
            return result
        absent = self.lfn_of.keys() - values.keys()
        if missing is not None:
            result.failed = {lfn: missing(lfn) for lfn in absent}
        else:
            result.ok.update(dict.fromkeys(absent, default))
        return result


class CatalogCore:
    """Database access, options and access control of an SQL catalog or of a view of it."""

    def __init__(self, database: Database, *, clock: Clock | None = None,
                 options: CatalogOptions | None = None, name: str = "sql") -> None:
        self.name = name
        self.database = database
        self.clock: Clock = clock or SystemClock()
        self.options = options or CatalogOptions()
        self.identity: Identity | None = None
        self._guard = Guard(None, global_read=self.options.global_read)
        self._owns_database = False

    def acting_as(self, identity: Identity | None) -> Self:
        """A view of this catalog that checks what ``identity`` may do (None: trusted)."""
        view = copy.copy(self)
        view.identity = identity
        view._guard = Guard(identity, global_read=self.options.global_read)
        view._owns_database = False
        return view

    def close(self) -> None:
        """Release the database if this catalog opened it (a view never does)."""
        if self._owns_database:
            self.database.close()

    # -- transactions ---------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        try:
            with self.database.begin(read_only=True) as conn:
                _plan_each_statement(conn)
                yield conn
        except sa_exc.SQLAlchemyError as exc:
            raise CatalogError(f"catalog {self.name}: database error: {_reason(exc)}") from exc

    def _writing(self, work: Callable[[Connection], T], items: Items | None = None) -> T:
        """``work(conn)`` in a write transaction, retried after a collision with another writer
        (``items`` back as they were before each new attempt)."""
        before = dict(items.failed) if items is not None else {}
        for attempt in range(1, ATTEMPTS + 1):
            if items is not None:
                items.failed = dict(before)
            try:
                with self.database.begin() as conn:
                    _plan_each_statement(conn)
                    return work(conn)
            except sa_exc.DBAPIError as exc:
                if attempt == ATTEMPTS or not _collision(exc):
                    raise CatalogError(f"catalog {self.name}: database error: {_reason(exc)}") from exc
                logger.info("catalog %s: write collided with another (%s), attempt %d", self.name,
                            _reason(exc), attempt)
            except sa_exc.SQLAlchemyError as exc:
                raise CatalogError(f"catalog {self.name}: database error: {_reason(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # -- identity -------------------------------------------------------------

    def _owner(self, conn: Connection) -> Owner:
        """Who new entries belong to: the identity's user and group, or root for the trusted catalog."""
        user, group = (self.identity.user, self.identity.group) if self.identity else ROOT_OWNER
        return resolve_owner(conn, user, group, self.options.default_mode)

    def _admin_only(self, what: str) -> None:
        """``PermissionDenied`` unless the identity is an administrator (or the catalog is trusted)."""
        if not self._guard.administers():
            who = self.identity
            raise PermissionDenied(f"only catalog administrators may {what}",
                                   user=who.user if who else None, group=who.group if who else None)

    @overload
    def _check(self, conn: Connection, items: Items, action: Action, lfns: Iterable[str] | None = None
               ) -> list[str]: ...

    @overload
    def _check(self, conn: Connection, items: Items, action: Action, lfns: None = None, *, keys: bool
               ) -> Collection[str]: ...

    def _check(self, conn: Connection, items: Items, action: Action, lfns: Iterable[str] | None = None,
               *, keys: bool = False) -> Collection[str]:
        """Fail the items the identity may not ``action``; the LFNs still alive (with ``keys``, as a
        collection that may be a view of the items, for large lookups)."""
        if keys and lfns is None and items.plain and self._guard.allows_all(action):
            return items.lfn_of.keys()
        alive = items.lfns() if lfns is None else list(lfns)
        refused = self._guard.refused(conn, action, alive)
        if not refused:
            return alive
        items.fail(refused)
        return [lfn for lfn in alive if lfn not in refused]


def _plan_each_statement(conn: Connection) -> None:
    """PostgreSQL: plan every statement of this transaction for its own parameters.

    psycopg prepares a statement run five times, and PostgreSQL may then keep
    one generic plan for the connection's life: a plan made while a table was
    empty (a sequential scan) stays after a bulk registration filled it, and
    turns a one-millisecond delete into a scan of a million rows. Planning
    costs well under a millisecond per statement; ``SET LOCAL`` ends with the
    transaction, so the pooled connection is left as it was.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


def _collision(exc: sa_exc.DBAPIError) -> bool:
    """A deadlock, serialization failure, lock timeout or uniqueness clash: worth retrying."""
    if isinstance(exc, sa_exc.IntegrityError):
        return True
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    if code in ("40001", "40P01", "55P03"):
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1213, 1205):  # MariaDB: deadlock, lock wait timeout
        return True
    return "database is locked" in str(orig)


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return " ".join(str(orig).split())[:300] or type(orig).__name__
