"""Pytest fixtures that run a test on SQLite, MariaDB/MySQL and PostgreSQL.

Each backend gets a fresh, private database for the test session, so CI and a
developer can run the suite at the same time against one server:

- ``sqlite``: a file in the session's temporary directory;
- ``mysql``: ``CREATE DATABASE dirac_t_<random>`` through the server named by
  ``DIRAC_TEST_MYSQL_URL`` (e.g. ``mysql+mysqldb://root@127.0.0.1:3306/test``),
  dropped at session end;
- ``postgresql``: the same through ``DIRAC_TEST_POSTGRESQL_URL`` (e.g.
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); leftover
  connections are terminated before the drop.

Fixtures:

- ``dirac_test_databases`` (session): the :class:`TestDatabases` that makes and
  drops those databases on first use;
- ``db_url`` (function): a :class:`sqlalchemy.URL`, parametrized with ids
  ``sqlite``, ``mysql``, ``postgresql``;
- ``database`` (function): a :class:`~dirac_core.db.Database` on the same
  parameter, migrated to head once per session; every table of
  ``all_metadata()`` is emptied after each test.

``DIRAC_TEST_BACKENDS=sqlite,mysql`` narrows the backends. A backend whose
URL variable is unset, or whose server cannot be reached, is skipped, except
when ``CI=true``: then the test fails, since CI must never skip silently.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy import exc as sa_exc

from dirac_core.db.database import Database, normalize_url
from dirac_core.db.registry import all_metadata
from dirac_core.errors import DatabaseError

__all__ = [
    "ALL_BACKENDS",
    "URL_ENV_VARS",
    "TestDatabases",
    "database",
    "db_url",
    "dirac_test_databases",
    "empty_all_tables",
    "in_ci",
    "selected_backends",
    "skip_or_fail",
]

#: Every backend the suite knows, in the order tests are parametrized.
ALL_BACKENDS: tuple[str, ...] = ("sqlite", "mysql", "postgresql")
#: Environment variable giving the admin URL of each server backend.
URL_ENV_VARS: dict[str, str] = {
    "mysql": "DIRAC_TEST_MYSQL_URL",
    "postgresql": "DIRAC_TEST_POSTGRESQL_URL",
}


def in_ci() -> bool:
    """True when running in CI (``CI=true``), where missing backends fail instead of skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip the current test with ``reason``, or fail it when :func:`in_ci`; never returns."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a backend may not be skipped)", pytrace=False)
    pytest.skip(reason)


def selected_backends() -> list[str]:
    """The backends to test: ``DIRAC_TEST_BACKENDS`` (comma-separated) or all of them.

    Raises ``ValueError`` for a name that is not in :data:`ALL_BACKENDS`.
    """
    raw = os.environ.get("DIRAC_TEST_BACKENDS", "").strip()
    if not raw:
        return list(ALL_BACKENDS)
    names = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_BACKENDS))
    if unknown:
        raise ValueError(f"DIRAC_TEST_BACKENDS names unknown backends {unknown}; known: {ALL_BACKENDS}")
    return [name for name in ALL_BACKENDS if name in names]


class TestDatabases:
    """Creates one private database per backend on first request; drops them in :meth:`close`.

    A backend that cannot be provided is remembered with its reason, so the
    server is tried once per session, not once per test.
    """

    __test__ = False  # not a test class, whatever its name

    def __init__(self, tmp_dir: Path) -> None:
        self._tmp_dir = tmp_dir
        self._urls: dict[str, URL] = {}
        self._failures: dict[str, str] = {}
        self._databases: dict[str, Database] = {}
        self._created: list[tuple[str, URL, str]] = []  # backend, admin URL, db name

    def url(self, backend: str) -> URL:
        """The URL of ``backend``'s private database; skips or fails the test if unavailable."""
        if backend not in self._urls and backend not in self._failures:
            try:
                self._urls[backend] = self._create(backend)
            except (DatabaseError, _Unavailable) as exc:
                self._failures[backend] = str(exc)
            except sa_exc.DBAPIError as exc:
                self._failures[backend] = " ".join(str(exc.orig).split())
        if backend in self._failures:
            skip_or_fail(f"{backend} backend unavailable: {self._failures[backend]}")
        return self._urls[backend]

    def database(self, backend: str) -> Database:
        """A :class:`Database` on ``backend``'s private database, migrated to head once."""
        if backend not in self._databases:
            db = Database(self.url(backend))
            db.upgrade()
            self._databases[backend] = db
        return self._databases[backend]

    def _create(self, backend: str) -> URL:
        if backend == "sqlite":
            return make_url(f"sqlite:///{self._tmp_dir / 'dirac-test.sqlite'}")
        var = URL_ENV_VARS[backend]
        raw = os.environ.get(var, "").strip()
        if not raw:
            raise _Unavailable(f"{var} is not set")
        admin = normalize_url(raw)
        name = f"dirac_t_{secrets.token_hex(6)}"
        # probe with the Database class so an unreachable server gives the
        # password-free DatabaseUnavailable message
        with Database(admin) as probe:
            probe.check()
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        try:
            quoted = engine.dialect.identifier_preparer.quote_identifier(name)
            with engine.connect() as conn:
                if backend == "mysql":
                    # binary collation: string comparison is case-sensitive, as elsewhere
                    conn.execute(text(f"CREATE DATABASE {quoted} "
                                      "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
                else:
                    conn.execute(text(f"CREATE DATABASE {quoted} ENCODING 'UTF8'"))
        finally:
            engine.dispose()
        self._created.append((backend, admin, name))
        return admin.set(database=name)

    def close(self) -> None:
        """Dispose every engine and drop every database this object created."""
        for db in self._databases.values():
            db.close()
        self._databases.clear()
        for backend, admin, name in self._created:
            engine = create_engine(admin, isolation_level="AUTOCOMMIT")
            try:
                quoted = engine.dialect.identifier_preparer.quote_identifier(name)
                with engine.connect() as conn:
                    if backend == "postgresql":
                        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                          "WHERE datname = :name AND pid <> pg_backend_pid()"),
                                     {"name": name})
                    conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
            finally:
                engine.dispose()
        self._created.clear()


class _Unavailable(Exception):
    """A backend is not configured (its URL variable is unset)."""


def empty_all_tables(db: Database) -> None:
    """Delete every row of every table in ``all_metadata()``, children before parents.

    ``DELETE`` rather than ``TRUNCATE``: on a few small tables it is faster
    and it respects foreign keys on every backend.
    """
    with db.begin() as conn:
        for metadata in reversed(all_metadata()):
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(scope="session")
def dirac_test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabases]:
    """The session's private test databases, dropped when the session ends."""
    databases = TestDatabases(tmp_path_factory.mktemp("dirac-db"))
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture(params=selected_backends(), ids=str)
def db_url(request: pytest.FixtureRequest, dirac_test_databases: TestDatabases) -> URL:
    """URL of a private database on each backend (ids ``sqlite``, ``mysql``, ``postgresql``)."""
    backend: str = request.param
    return dirac_test_databases.url(backend)


@pytest.fixture
def database(db_url: URL, dirac_test_databases: TestDatabases) -> Iterator[Database]:
    """A migrated :class:`Database` on each backend; all tables are emptied after the test."""
    db = dirac_test_databases.database(db_url.get_backend_name())
    try:
        yield db
    finally:
        empty_all_tables(db)
