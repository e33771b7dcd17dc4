"""Database construction: URL normalisation, SQLite pragmas, errors that hide passwords."""

from __future__ import annotations

import threading
import traceback
from pathlib import Path

import pytest
from sqlalchemy import URL, Connection, make_url, text

import dirac_core.db.database as database_module
from dirac_core.db import Database, normalize_url
from dirac_core.errors import DatabaseError, DatabaseUnavailable
from dirac_core.testing.databases import TestDatabases, selected_backends

PASSWORD = "s3cr3t-XYZ"


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///x.db", "sqlite+pysqlite"),
        ("sqlite://", "sqlite+pysqlite"),
        ("mysql://u@h/db", "mysql+mysqldb"),
        ("mariadb://u@h/db", "mysql+mysqldb"),
        ("mysql+mysqldb://u@h/db", "mysql+mysqldb"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
    ],
)
def test_url_normalisation(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver
    assert normalize_url(make_url(given)).drivername == driver


def test_mysql_gets_utf8mb4_unless_told_otherwise() -> None:
    assert normalize_url("mysql://u@h/db").query["charset"] == "utf8mb4"
    assert normalize_url("mysql://u@h/db?charset=latin1").query["charset"] == "latin1"


@pytest.mark.parametrize("url", ["oracle://u@h/db", "postgresql+psycopg2://u@h/db", "mysql+pymysql://u@h/db"])
def test_unsupported_scheme_lists_supported_ones(url: str) -> None:
    with pytest.raises(DatabaseError, match="unsupported database URL scheme") as info:
        Database(url)
    assert "postgresql+psycopg" in str(info.value)
    assert "mysql+mysqldb" in str(info.value)
    assert "sqlite" in str(info.value)


def test_unparsable_url_does_not_echo_it() -> None:
    with pytest.raises(DatabaseError) as info:
        Database(f"not a url {PASSWORD}")
    assert PASSWORD not in str(info.value)
    assert info.value.__cause__ is None


def test_sqlite_file_pragmas(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'p.db'}") as db, db.connect() as conn:
        pragma = conn.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA busy_timeout").scalar() == 30000


def test_sqlite_reuses_the_connection_returned_last(tmp_path: Path) -> None:
    # a nested read opens a second connection; the writes after it must not alternate between
    # the two (each would find its page cache outdated by the other's commit)
    with Database(f"sqlite:///{tmp_path / 'p.db'}") as db:
        with db.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            with db.begin(read_only=True) as nested:
                nested.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
        used = []
        for value in range(6):
            with db.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
                used.append(id(conn.connection.dbapi_connection))
        assert db.engine.pool.checkedin() == 2
        assert len(set(used)) == 1


def test_session_settings_on_the_test_database(database: Database) -> None:
    with database.connect() as conn:
        if database.dialect == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:
            # both servers run READ COMMITTED, so they behave alike
            assert conn.get_isolation_level() == "READ COMMITTED"


def test_sqlite_memory_is_shared_across_threads() -> None:
    with Database("sqlite://") as db:
        assert db.dialect == "sqlite"
        with db.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        errors: list[BaseException] = []

        def insert(value: int) -> None:
            try:
                for _ in range(20):
                    with db.begin() as conn:
                        conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=insert, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 80
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_dialect_and_skip_locked(database: Database) -> None:
    assert database.dialect in ("sqlite", "mysql", "postgresql")
    expected = {"sqlite": False, "postgresql": True, "mysql": True}  # MariaDB 10.11 here
    assert database.supports_skip_locked is expected[database.dialect]


def test_check_and_rollback_on_error(database: Database) -> None:
    from dirac_core.db.tables.core import task_leases

    database.check()
    def insert_then_fail() -> None:
        with database.begin() as conn:
            conn.execute(task_leases.insert(), {"name": "x", "owner": "o", "acquired_at": _now(),
                                                "expires_at": _now()})
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    with database.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM core_task_leases")).scalar() == 0


def _now() -> object:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


def _assert_hidden(err: DatabaseUnavailable, host: str, port: int) -> None:
    text_all = "".join(traceback.format_exception(err))
    assert PASSWORD not in str(err)
    assert PASSWORD not in text_all
    assert PASSWORD not in repr(err)
    assert f"{host}:{port}" in str(err)
    assert err.__cause__ is None
    assert err.__context__ is None


@pytest.mark.parametrize(
    ("scheme", "backend"), [("mysql+mysqldb", "mysql"), ("postgresql+psycopg", "postgresql")]
)
def test_unreachable_server_names_host_and_port_not_password(scheme: str, backend: str) -> None:
    url = URL.create(scheme, username="dirac", password=PASSWORD, host="127.0.0.1", port=1,
                     database="dirac_db")
    db = Database(url)
    assert PASSWORD not in repr(db)
    with pytest.raises(DatabaseUnavailable) as info:
        db.check()
    err = info.value
    _assert_hidden(err, "127.0.0.1", 1)
    assert backend in str(err)
    assert "dirac_db" in str(err)
    assert err.fields["port"] == 1
    # the same through begin(), with the URL given as a string
    as_text = url.render_as_string(hide_password=False)
    with pytest.raises(DatabaseUnavailable) as info, Database(as_text).begin():
        pass
    _assert_hidden(info.value, "127.0.0.1", 1)


@pytest.mark.parametrize("db_url", ["mysql", "postgresql"], indirect=True)  # SQLite has no credentials
def test_bad_password_is_not_echoed(db_url: URL) -> None:
    url = db_url.set(username="dirac_no_such_user", password=PASSWORD)
    with pytest.raises(DatabaseUnavailable) as info:
        Database(url).check()
    _assert_hidden(info.value, db_url.host or "", db_url.port or {"mysql": 3306}.get(
        db_url.get_backend_name(), 5432))


def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="sqlite"):
        Database(f"sqlite:///{tmp_path / 'missing' / 'x.db'}").check()


def _server_session_id(database: Database) -> int:
    query = "SELECT CONNECTION_ID()" if database.dialect == "mysql" else "SELECT pg_backend_pid()"
    with database.connect() as conn:
        return int(conn.exec_driver_sql(query).scalar_one())


def _kill_session(database: Database, session_id: int) -> None:
    with Database(database.url) as other, other.connect() as conn:
        if database.dialect == "mysql":
            conn.exec_driver_sql(f"KILL {session_id:d}")
        else:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({session_id:d})")
            conn.commit()


@pytest.fixture(params=[b for b in selected_backends() if b != "sqlite"], ids=str)
def server_database(request: pytest.FixtureRequest, dirac_test_databases: TestDatabases) -> Database:
    """A fresh Database (its own pool) on each server backend."""
    return Database(dirac_test_databases.url(request.param))


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "busy"])
def test_only_idle_pooled_connections_are_pinged(server_database: Database, idle: bool,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle connection killed by the server is replaced unseen; a busy one is not pinged."""
    database = server_database
    dead = _server_session_id(database)  # checked out and back in: the pool keeps it
    _kill_session(database, dead)
    monkeypatch.setattr(database_module, "_PING_AFTER_IDLE_S", -1.0 if idle else 1e9)
    if idle:
        assert _server_session_id(database) != dead
    else:
        with pytest.raises(Exception, match=r"(?i)lost|gone|terminat|closed|server"):
            _server_session_id(database)
        assert _server_session_id(database) != dead  # the pool dropped the dead one
    database.close()


def _session_counters(conn: Connection) -> dict[str, int]:
    names = ("Com_rollback", "Com_set_option", "Com_commit")
    rows = conn.exec_driver_sql(
        "SHOW SESSION STATUS WHERE Variable_name IN ('Com_rollback', 'Com_set_option', 'Com_commit')").all()
    found = {name: int(value) for name, value in rows}
    return {name: found[name] for name in names}


def test_autocommit_connections_commit_each_statement(server_database: Database) -> None:
    database = server_database
    try:
        with database.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE core_autocommit_probe (n INTEGER)")
        with database.autocommit() as conn:
            conn.exec_driver_sql("INSERT INTO core_autocommit_probe (n) VALUES (1)")
            with database.connect() as other:  # committed before the block ends
                assert other.exec_driver_sql("SELECT n FROM core_autocommit_probe").scalars().all() == [1]
    finally:
        with database.begin() as conn:
            conn.exec_driver_sql("DROP TABLE core_autocommit_probe")
        database.close()


@pytest.mark.parametrize("backend", [b for b in selected_backends() if b == "mysql"])
def test_mariadb_autocommit_pool_sends_no_set_or_rollback_per_use(
        backend: str, dirac_test_databases: TestDatabases) -> None:
    """Its connections stay in autocommit: a checkout costs no SET autocommit, a return no ROLLBACK."""
    with Database(dirac_test_databases.url(backend), pool_size=1, max_overflow=0) as database:
        with database.autocommit() as conn:
            first = _session_counters(conn)
        for _ in range(3):
            with database.autocommit() as conn:
                conn.exec_driver_sql("SELECT 1").all()
        with database.autocommit() as conn:  # the same pooled session, one connection
            last = _session_counters(conn)
        assert last == first
        with database.begin() as conn:  # the transactional pool is another session
            assert conn.exec_driver_sql("SELECT @@autocommit").scalar() == 0
