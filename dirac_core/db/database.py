"""The :class:`Database`: one engine on SQLite, MariaDB/MySQL or PostgreSQL.

URLs name the backend; drivers are fixed so that behaviour is the same
everywhere the code runs:

=========================================  ==============================
URL given                                  used as
=========================================  ==============================
``sqlite:///path.db``, ``sqlite://``       ``sqlite+pysqlite`` (stdlib)
``mysql://``, ``mariadb://``,              ``mysql+mysqldb`` (mysqlclient),
``mysql+mysqldb://``                       ``charset=utf8mb4``
``postgresql://``, ``postgres://``,        ``postgresql+psycopg`` (psycopg 3)
``postgresql+psycopg://``
=========================================  ==============================

Anything else raises :class:`~dirac_core.errors.DatabaseError`. A database
that cannot be reached raises :class:`~dirac_core.errors.DatabaseUnavailable`
naming backend, host, port and database, never the password.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, Connection, Engine, MetaData, create_engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import ConnectionPoolEntry

from dirac_core.db.checkpoints import SAFETY_PAGES, Checkpointer
from dirac_core.db.mysql_conversions import conversions
from dirac_core.db.registry import all_metadata
from dirac_core.errors import DatabaseError, DatabaseUnavailable

__all__ = ["SUPPORTED_SCHEMES", "Database", "normalize_url"]

logger = logging.getLogger(__name__)

#: URL scheme given -> driver name used.
SUPPORTED_SCHEMES: dict[str, str] = {
    "sqlite": "sqlite+pysqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "mysql": "mysql+mysqldb",
    "mysql+mysqldb": "mysql+mysqldb",
    "mariadb": "mysql+mysqldb",
    "mariadb+mysqldb": "mysql+mysqldb",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}

_EXTRAS = {"mysql+mysqldb": "mysql", "postgresql+psycopg": "postgresql"}
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_SQLITE_BUSY_TIMEOUT_MS = 30_000
# a pooled connection idle for longer than this is pinged before it is handed out
_PING_AFTER_IDLE_S = 1.0


def normalize_url(url: str | URL) -> URL:
    """Return ``url`` with its driver fixed as in the table above.

    Raises :class:`DatabaseError` for an unparsable URL or an unsupported
    scheme; the message lists the supported schemes and never the password.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except sa_exc.ArgumentError:
        # the text may contain a password: do not repeat it
        raise DatabaseError("cannot parse the database URL (expected scheme://...)") from None
    driver = SUPPORTED_SCHEMES.get(parsed.drivername)
    if driver is None:
        supported = ", ".join(sorted(SUPPORTED_SCHEMES))
        raise DatabaseError(
            f"unsupported database URL scheme {parsed.drivername!r}; supported: {supported}",
            scheme=parsed.drivername,
        )
    parsed = parsed.set(drivername=driver)
    if driver == "mysql+mysqldb" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


class Database:
    """An SQLAlchemy engine with the project's settings, and its schema operations.

    ``Database(url)`` takes a URL string or ``sqlalchemy.URL`` (see the module
    docstring for the accepted schemes). Creating it does not connect; the
    first :meth:`connect`, :meth:`begin` or :meth:`check` does. Use it as a
    context manager or call :meth:`close` to release the pool.

    Per backend:

    - SQLite: every connection runs ``PRAGMA journal_mode=WAL``,
      ``foreign_keys=ON``, ``synchronous=NORMAL`` and a 30 s ``busy_timeout``.
      A database file is checkpointed by a thread of its own after writes
      (:mod:`dirac_core.db.checkpoints`), so writers rarely wait for it.
      Transactions opened by :meth:`begin` are ``BEGIN IMMEDIATE`` (the write
      lock is taken up front, so read-then-write transactions never fail
      with "database is locked" halfway); ``begin(read_only=True)`` uses a
      plain ``BEGIN``. The pool hands out the connection returned last, whose
      page cache is still valid. ``sqlite://`` (in memory) is backed by a private
      temporary file, removed when the object is garbage-collected, so that
      threads share it with the same WAL concurrency as a file.
    - MariaDB/MySQL and PostgreSQL: a pool of ``pool_size`` connections plus
      ``max_overflow``, recycled hourly; ``READ COMMITTED`` isolation on
      both, so they behave alike. A connection that sat idle in the pool for
      more than a second is pinged before use (a dead one is replaced); one
      checked in just now is not: on a busy server the ping and the pool's
      reset-on-return rollback would each cost a round trip per transaction.
      Every transaction is ended by :meth:`begin` or by closing the
      ``Connection``, so the pool has nothing left to roll back.
    """

    def __init__(self, url: str | URL, *, pool_size: int = 5, max_overflow: int = 10,
                 connect_timeout: int = 10, echo: bool = False) -> None:
        self.url: URL = normalize_url(url)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        kwargs: dict[str, Any] = {"echo": echo}
        backend = self.url.get_backend_name()
        engine_url = self.url
        if backend == "sqlite" and self.url.database in (None, "", ":memory:"):
            # A private file deleted on close, rather than SQLite's :memory:
            # (one connection per database, so threads would have to take
            # turns on it): the same WAL concurrency as a file database.
            self._scratch = tempfile.TemporaryDirectory(prefix="dirac-db-")
            engine_url = self.url.set(database=f"{self._scratch.name}/scratch.sqlite")
        if backend != "sqlite":
            kwargs.update(pool_size=pool_size, max_overflow=max_overflow, pool_recycle=3600,
                          pool_reset_on_return=None, isolation_level="READ COMMITTED",
                          connect_args={"connect_timeout": connect_timeout})
            if self.url.drivername == "mysql+mysqldb":
                kwargs["connect_args"]["conv"] = conversions()
        if backend == "sqlite":
            # the connection returned last is the next one out: in WAL mode a connection drops its
            # whole page cache when another connection has committed since its last transaction,
            # so a pool that rotated through two connections (FIFO, after a nested read opened
            # the second) made every transaction start cold: 2,700 -> 3,000 matches/s
            kwargs["pool_use_lifo"] = True
        self._engine_kwargs = kwargs
        #: MariaDB/MySQL: a second pool whose connections stay in autocommit (:meth:`autocommit`)
        self._autocommit_engine: Engine | None = None
        self._lock = threading.Lock()
        try:
            self.engine: Engine = create_engine(engine_url, **kwargs)
        except ImportError as exc:
            extra = _EXTRAS.get(self.url.drivername, "all")
            raise DatabaseError(
                f"the {backend} driver is not installed ({exc.name}): "
                f"pip install 'dirac-core[{extra}]'", backend=backend,
            ) from None
        self._write_lock: threading.RLock | None = None
        self._checkpointer: Checkpointer | None = None
        if backend == "sqlite":
            self._write_lock = threading.RLock()
            if self._scratch is None and engine_url.database:
                self._checkpointer = Checkpointer(engine_url.database)
                weakref.finalize(self, self._checkpointer.stop)
            self._setup_sqlite()
        else:
            self._setup_idle_ping(self.engine)

    def _setup_idle_ping(self, engine: Engine) -> None:
        dialect = engine.dialect

        @event.listens_for(engine, "checkin")
        def _on_checkin(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
            record.info["dirac_idle_since"] = time.monotonic()

        @event.listens_for(engine, "checkout")
        def _on_checkout(dbapi_conn: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
            idle_since = record.info.get("dirac_idle_since")
            if idle_since is None or time.monotonic() - idle_since <= _PING_AFTER_IDLE_S:
                return
            try:
                dialect.do_ping(dbapi_conn)
            except dialect.loaded_dbapi.Error as exc:
                if dialect.is_disconnect(exc, dbapi_conn, None):
                    # the pool discards this connection and checks out another
                    raise sa_exc.DisconnectionError(str(exc)) from None
                raise

    # -- SQLite specifics -------------------------------------------------

    def _setup_sqlite(self) -> None:
        checkpointer = self._checkpointer

        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
            # let SQLAlchemy, not pysqlite, decide when a transaction begins
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA synchronous=NORMAL")
                if checkpointer is not None:  # checkpoints are its work; a writer's only past this
                    cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_PAGES:d}")
                cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS:d}")
            finally:
                cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = "" if conn.get_execution_options().get("dirac_read_only") else " IMMEDIATE"
            # straight to the driver: exec_driver_sql cost about 50 µs, a tenth of a match
            conn.connection.dbapi_connection.execute(f"BEGIN{mode}")  # type: ignore[union-attr]

    # -- connections ------------------------------------------------------

    @property
    def dialect(self) -> str:
        """The dialect name: ``"sqlite"``, ``"mysql"`` (also for MariaDB) or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def backend_description(self) -> str:
        """A password-free description: ``mysql database 'test' at 127.0.0.1:3306 as root``."""
        url = self.url
        backend = url.get_backend_name()
        if backend == "sqlite":
            return f"sqlite database {url.database or ':memory:'!r}"
        default_port = {"mysql": 3306, "postgresql": 5432}.get(backend)
        where = f"{url.host or 'localhost'}:{url.port or default_port}"
        user = f" as {url.username}" if url.username else ""
        return f"{backend} database {url.database or ''!r} at {where}{user}"

    def _error_fields(self) -> dict[str, Any]:
        return {"backend": self.url.get_backend_name(), "host": self.url.host,
                "port": self.url.port, "database": self.url.database}

    def _safe_reason(self, exc: BaseException) -> str:
        orig = getattr(exc, "orig", None) or exc
        reason = " ".join(str(orig).split()) or type(orig).__name__
        password = self.url.password
        if password:
            reason = reason.replace(str(password), "***")
        return reason[:500]

    def connect(self) -> Connection:
        """Return a new pooled :class:`~sqlalchemy.Connection` (close it, or use ``with``).

        Raises :class:`DatabaseUnavailable` if no connection can be made.
        """
        return self._connect(self.engine)

    def _connect(self, engine: Engine) -> Connection:
        reason: str | None = None
        try:
            return engine.connect()
        except sa_exc.DBAPIError as exc:
            reason = self._safe_reason(exc)
        # raised outside the except block on purpose: the SQLAlchemy error
        # must be neither cause nor context, its text could hold the password
        raise DatabaseUnavailable(f"cannot connect to {self.backend_description}: {reason}",
                                  **self._error_fields())

    @contextmanager
    def begin(self, *, read_only: bool = False) -> Iterator[Connection]:
        """Yield a connection inside a transaction; commit on success, roll back on error.

        ``read_only=True`` only matters on SQLite, where it opens a deferred
        transaction that does not take the write lock. Raises
        :class:`DatabaseUnavailable` if no connection can be made.
        """
        if self._write_lock is not None and not read_only:
            # SQLite has one writer at a time, and its busy handler retries by sleeping, in no
            # order: under many threads some writers starve for the whole busy timeout. Writers
            # of this process queue here instead, before taking a pooled connection.
            with self._write_lock:
                if self._checkpointer is not None:
                    self._checkpointer.wrote()
                yield from self._transaction(read_only=False)
            return
        yield from self._transaction(read_only=read_only)

    def _transaction(self, *, read_only: bool) -> Iterator[Connection]:
        with self.connect() as conn:
            tx_conn = conn.execution_options(dirac_read_only=True) if read_only else conn
            with tx_conn.begin():
                yield tx_conn

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """Yield a connection on which every statement commits by itself.

        For a write done in one statement, on a server: no ``BEGIN`` and no
        ``COMMIT`` round trip. On SQLite this is :meth:`begin` (SQLite has no
        round trips to save). Raises :class:`DatabaseUnavailable` if no
        connection can be made.
        """
        dialect = self.engine.dialect.name
        if dialect == "sqlite":
            with self.begin() as conn:
                yield conn
            return
        if dialect == "mysql":
            with self._connect(self._autocommit_pool()) as conn:
                yield conn
            return
        with self.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    def _autocommit_pool(self) -> Engine:
        """MariaDB/MySQL: switching a connection to autocommit and back costs round trips at each
        checkout, so autocommit connections come from a pool of their own, made on first use,
        that keeps them so (and sends no ROLLBACK when one is returned: it has no transaction)."""
        with self._lock:
            if self._autocommit_engine is None:
                engine = create_engine(self.engine.url, **{**self._engine_kwargs,
                                                           "isolation_level": "AUTOCOMMIT",
                                                           "skip_autocommit_rollback": True})
                self._setup_idle_ping(engine)
                self._autocommit_engine = engine
            return self._autocommit_engine

    def check(self) -> None:
        """Connect once and run ``SELECT 1``; raise :class:`DatabaseUnavailable` if that fails."""
        with self.connect() as conn:
            conn.exec_driver_sql("SELECT 1").close()

    @property
    def supports_skip_locked(self) -> bool:
        """Whether ``SELECT ... FOR UPDATE SKIP LOCKED`` works here.

        True on PostgreSQL, MariaDB >= 10.6 and MySQL >= 8.0.1; False on
        SQLite (which locks the whole database anyway). On MariaDB/MySQL this
        connects once to learn the server version.
        """
        name = self.engine.dialect.name
        if name == "postgresql":
            return True
        if name != "mysql":
            return False
        if self.engine.dialect.server_version_info is None:
            self.check()
        version = self.engine.dialect.server_version_info or ()
        if getattr(self.engine.dialect, "is_mariadb", False):
            return tuple(version[:2]) >= (10, 6)
        return tuple(version[:3]) >= (8, 0, 1)

    # -- schema -----------------------------------------------------------

    def create_all(self, *metadatas: MetaData) -> None:
        """Create the tables of ``metadatas`` (default: :func:`all_metadata`) that are missing.

        Meant for tests and throwaway databases; a real deployment uses
        :meth:`upgrade` so that the migration history is recorded.
        """
        with self.begin() as conn:
            for metadata in metadatas or all_metadata():
                metadata.create_all(conn)

    def drop_all(self, *metadatas: MetaData) -> None:
        """Drop the tables of ``metadatas`` (default: :func:`all_metadata`), in reverse order."""
        with self.begin() as conn:
            for metadata in reversed(metadatas or all_metadata()):
                metadata.drop_all(conn)

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations shipped in ``dirac_core/db/migrations`` up to ``revision``.

        Alembic is configured in code (no ``alembic.ini`` is read) and runs on
        a connection of this database, in one transaction where the backend
        has transactional DDL (SQLite, PostgreSQL).
        """
        with self.begin() as conn:
            command.upgrade(self.alembic_config(conn), revision)

    def current_revision(self) -> str | None:
        """The migration revision the database is at, or None if never migrated."""
        with self.begin(read_only=True) as conn:
            return MigrationContext.configure(conn).get_current_revision()

    @staticmethod
    def alembic_config(connection: Connection | None = None) -> Config:
        """An ``alembic.config.Config`` for the package's migrations, bound to ``connection``.

        With it, Alembic's ``command`` functions (``upgrade``, ``revision``,
        ``history``) work from Python; ``env.py`` refuses to run without a
        connection in ``config.attributes["connection"]`` unless generating
        offline SQL.
        """
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    # -- lifecycle --------------------------------------------------------

    def close(self) -> None:
        """Close every pooled connection (and stop SQLite's checkpoint thread); the object may be
        used again afterwards."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
        if self._autocommit_engine is not None:
            self._autocommit_engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"
