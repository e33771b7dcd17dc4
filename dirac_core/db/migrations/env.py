"""Alembic environment for dirac-core, driven from code by ``Database.upgrade()``.

No ``alembic.ini`` and no URL: the caller passes an open connection in
``config.attributes["connection"]`` (see ``Database.alembic_config``). The
target metadata is every system's, from ``all_metadata()``.
"""

from __future__ import annotations

from alembic import context

from dirac_core.db.migrating import compare_type
from dirac_core.db.registry import all_metadata

config = context.config
target_metadata = list(all_metadata())


def run_migrations_offline() -> None:
    """Write the SQL for the dialect named by ``config.attributes['dialect_name']``."""
    context.configure(
        dialect_name=config.attributes.get("dialect_name", "sqlite"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=compare_type,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection handed over by the caller."""
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "dirac-core migrations run through Database.upgrade() or with a connection in "
            "config.attributes['connection']"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=compare_type,
        # SQLite cannot ALTER most things: batch mode recreates the table
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
