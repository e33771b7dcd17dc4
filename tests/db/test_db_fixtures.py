"""The test fixtures themselves: private databases, isolation, backend selection."""

from __future__ import annotations

import pytest
from sqlalchemy import URL, text

from dirac_core.db import Database
from dirac_core.testing import databases as dbt


def test_db_url_is_a_private_database(db_url: URL) -> None:
    backend = db_url.get_backend_name()
    if backend == "sqlite":
        assert db_url.database is not None
        assert db_url.database.endswith("dirac-test.sqlite")
    else:
        assert db_url.database is not None
        assert db_url.database.startswith("dirac_t_")


@pytest.mark.parametrize("step", [1, 2])
def test_tables_are_emptied_between_tests(database: Database, step: int) -> None:
    # whichever of the two runs second would see the first one's row
    with database.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM core_task_leases")).scalar() == 0
        conn.execute(text("INSERT INTO core_task_leases (name, owner, acquired_at, expires_at, run_count) "
                          "VALUES ('t', 'o', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)"))


def test_backend_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIRAC_TEST_BACKENDS", raising=False)
    assert dbt.selected_backends() == ["sqlite", "mysql", "postgresql"]
    monkeypatch.setenv("DIRAC_TEST_BACKENDS", "postgresql, sqlite")
    assert dbt.selected_backends() == ["sqlite", "postgresql"]
    monkeypatch.setenv("DIRAC_TEST_BACKENDS", "oracle")
    with pytest.raises(ValueError, match="oracle"):
        dbt.selected_backends()


def test_missing_backend_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.delenv("DIRAC_TEST_MYSQL_URL", raising=False)
    monkeypatch.setenv("CI", "false")
    registry = dbt.TestDatabases(tmp_path_factory.mktemp("unset"))
    with pytest.raises(pytest.skip.Exception, match="DIRAC_TEST_MYSQL_URL is not set"):
        registry.url("mysql")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        registry.url("mysql")


def test_unreachable_server_fails_in_ci_without_password(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setenv("DIRAC_TEST_POSTGRESQL_URL", "postgresql://u:s3cr3t-XYZ@127.0.0.1:1/x")
    monkeypatch.setenv("CI", "true")
    registry = dbt.TestDatabases(tmp_path_factory.mktemp("down"))
    with pytest.raises(pytest.fail.Exception) as info:
        registry.url("postgresql")
    assert "127.0.0.1:1" in str(info.value)
    assert "s3cr3t-XYZ" not in str(info.value)
    registry.close()


def test_private_database_is_created_and_dropped(tmp_path_factory: pytest.TempPathFactory) -> None:
    import os

    if not os.environ.get("DIRAC_TEST_POSTGRESQL_URL"):
        dbt.skip_or_fail("DIRAC_TEST_POSTGRESQL_URL is not set")
    registry = dbt.TestDatabases(tmp_path_factory.mktemp("pg"))
    url = registry.url("postgresql")
    name = url.database
    registry.database("postgresql").check()
    registry.close()
    with Database(os.environ["DIRAC_TEST_POSTGRESQL_URL"]).begin() as conn:
        query = text("SELECT count(*) FROM pg_database WHERE datname = :n")
        count = conn.execute(query, {"n": name}).scalar()
    assert count == 0


def test_db_exports_are_pinned() -> None:
    import dirac_core.db

    assert dirac_core.db.__all__ == sorted(dirac_core.db.__all__, key=lambda n: (not n.isupper(), n))
    assert dirac_core.db.__all__ == [
        "NAMING_CONVENTION", "SUPPORTED_SCHEMES", "Database", "Lease", "StrEnumType", "UTCDateTime",
        "acquire_lease", "all_metadata", "check_table_names", "get_lease", "new_metadata",
        "normalize_url", "record_run", "release_lease",
    ]
    for name in dirac_core.db.__all__:
        obj = getattr(dirac_core.db, name)
        if callable(obj):
            assert obj.__doc__, name
