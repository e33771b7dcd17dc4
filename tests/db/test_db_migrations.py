"""The migrations create exactly the schema the code declares, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from dirac_core.db import Database, all_metadata, check_table_names
from dirac_core.db.migrating import schema_differences
from dirac_core.testing.databases import TestDatabases, selected_backends


def _head() -> str | None:
    return ScriptDirectory.from_config(Database.alembic_config()).get_current_head()


def test_upgrade_from_empty_matches_metadata(database: Database) -> None:
    # the fixture's database was empty before upgrade() ran on it
    assert database.current_revision() == _head() == "0019"
    with database.begin() as conn:
        assert schema_differences(conn) == []


def test_constraint_names_follow_the_convention(database: Database) -> None:
    with database.connect() as conn:
        pk = inspect(conn).get_pk_constraint("core_task_leases")
    assert pk["constrained_columns"] == ["name"]
    if database.dialect != "mysql":  # MariaDB calls every primary key PRIMARY
        assert pk["name"] == "pk_core_task_leases"


def test_a_schema_difference_is_detected(database: Database) -> None:
    with database.begin() as conn:
        conn.execute(text("CREATE TABLE core_stray (id INTEGER PRIMARY KEY)"))
    try:
        with database.begin() as conn:
            diffs = schema_differences(conn)
        assert [d[0] for d in diffs] == ["remove_table"]
    finally:
        with database.begin() as conn:
            conn.execute(text("DROP TABLE core_stray"))


def test_upgrade_is_idempotent_and_downgrade_works(tmp_path: Path) -> None:
    with Database(f"sqlite:///{tmp_path / 'm.db'}") as db:
        assert db.current_revision() is None
        db.upgrade()
        db.upgrade()
        assert db.current_revision() == "0019"
        from alembic import command

        with db.begin() as conn:
            command.downgrade(db.alembic_config(conn), "base")
        with db.connect() as conn:
            assert not inspect(conn).has_table("core_task_leases")


def test_every_system_follows_the_table_prefix_rule() -> None:
    systems = [md.info["system"] for md in all_metadata()]
    assert systems[0] == "core"
    assert len(set(systems)) == len(systems)
    for metadata in all_metadata():
        check_table_names(metadata)


@pytest.fixture(params=[b for b in selected_backends() if b == "mysql"], ids=str)
def mariadb(request: pytest.FixtureRequest, dirac_test_databases: TestDatabases) -> Database:
    """The migrated MariaDB test database."""
    return dirac_test_databases.database(request.param)


def test_mariadb_claim_procedure_is_used_only_as_0019_defines_it(mariadb: Database) -> None:
    from alembic import command

    from dirac_core.wms.claims import PickClaimer, ProcedureClaimer, claimer_for

    def claimer() -> type:
        with mariadb.begin() as conn:
            return type(claimer_for(conn, skip_locked=True))

    assert claimer() is ProcedureClaimer
    try:
        with mariadb.begin() as conn:
            command.downgrade(mariadb.alembic_config(conn), "0018")
        assert claimer() is PickClaimer  # 0018's procedure takes five parameters, not seven
        with mariadb.begin() as conn:
            command.downgrade(mariadb.alembic_config(conn), "0002")
        assert claimer() is PickClaimer  # a schema without the procedure still matches
    finally:
        mariadb.upgrade()
    assert claimer() is ProcedureClaimer
