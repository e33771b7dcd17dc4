"""UTCDateTime and StrEnumType round trips on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy import exc as sa_exc

from dirac_core.db import Database, StrEnumType, UTCDateTime, new_metadata


class Colour(StrEnum):
    RED = "Red"
    GREEN = "Green"


metadata = new_metadata("testtypes")
samples = Table(
    "testtypes_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=True),
    Column("colour", StrEnumType(Colour), nullable=True),
)


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    database.create_all(metadata)
    try:
        yield database
    finally:
        database.drop_all(metadata)


def _fetch(db: Database, ident: int) -> tuple[datetime | None, Colour | None]:
    with db.begin(read_only=True) as conn:
        row = conn.execute(select(samples.c.at, samples.c.colour).where(samples.c.id == ident)).one()
    return row.at, row.colour


def test_aware_datetime_round_trips_as_utc_with_microseconds(db: Database) -> None:
    paris = timezone(timedelta(hours=2))
    given = datetime(2026, 3, 29, 3, 30, 15, 123456, tzinfo=paris)
    with db.begin() as conn:
        conn.execute(samples.insert(), [{"id": 1, "at": given}, {"id": 2, "at": None}])
    got, _ = _fetch(db, 1)
    assert got == given
    assert got is not None
    assert got.tzinfo is UTC
    assert (got.hour, got.microsecond) == (1, 123456)
    assert _fetch(db, 2) == (None, None)


def test_datetime_comparison_in_sql_uses_utc(db: Database) -> None:
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with db.begin() as conn:
        conn.execute(samples.insert(), [{"id": i, "at": base + timedelta(microseconds=i)} for i in range(5)])
        ids = conn.execute(select(samples.c.id).where(samples.c.at > base + timedelta(microseconds=2))
                           .order_by(samples.c.id)).scalars().all()
    assert ids == [3, 4]


def test_naive_datetime_is_refused(db: Database) -> None:
    with pytest.raises(sa_exc.StatementError) as info, db.begin() as conn:
        conn.execute(samples.insert(), {"id": 1, "at": datetime(2026, 1, 1)})
    assert isinstance(info.value.orig, ValueError)
    assert "naive" in str(info.value.orig)


def test_naive_datetime_is_refused_by_the_type_itself() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), Database("sqlite://").engine.dialect)


def test_strenum_round_trip_returns_members(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(samples.insert(), [{"id": 1, "colour": Colour.GREEN}, {"id": 2, "colour": "Red"}])
    assert _fetch(db, 1)[1] is Colour.GREEN
    assert _fetch(db, 2)[1] is Colour.RED
    with db.begin() as conn:
        stored = conn.exec_driver_sql("SELECT colour FROM testtypes_samples ORDER BY id").scalars().all()
    assert stored == ["Green", "Red"]


def test_strenum_unknown_value_is_refused(db: Database) -> None:
    with pytest.raises(sa_exc.StatementError) as info, db.begin() as conn:
        conn.execute(samples.insert(), {"id": 1, "colour": "Blue"})
    assert isinstance(info.value.orig, ValueError)


def test_strenum_is_a_varchar_not_a_database_enum(db: Database) -> None:
    ddl = str(samples.c.colour.type.compile(dialect=db.engine.dialect))
    assert ddl.startswith("VARCHAR(32)")


def test_strenum_length_shorter_than_values_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter"):
        StrEnumType(Colour, length=3)


def test_table_prefix_rule() -> None:
    from dirac_core.db import check_table_names

    check_table_names(metadata)
    stray = new_metadata("wms")
    Table("jobs", stray, Column("id", Integer, primary_key=True))
    with pytest.raises(ValueError, match="wms_"):
        check_table_names(stray)
    with pytest.raises(ValueError, match="lowercase"):
        new_metadata("Bad_Name")
    with pytest.raises(ValueError, match="new_metadata"):
        check_table_names(MetaData())


@pytest.mark.parametrize("given", [
    datetime(2026, 12, 7, 13, 31, 54, 803385, tzinfo=UTC),
    datetime(2026, 12, 7, 13, 31, 54, tzinfo=UTC),  # no microseconds: still written with six digits
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a three-digit year: padded to four
    datetime(2026, 6, 1, 2, 0, tzinfo=timezone(timedelta(hours=-5))),  # another zone: UTC is written
])
def test_sqlite_text_of_a_timestamp_is_sqlalchemys(given: datetime) -> None:
    """The SQLite bind shortcut writes exactly the text SQLAlchemy's own DATETIME would: rows written
    before it and after it compare and sort together."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.types import DateTime

    dialect = sqlite.dialect()
    ours = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(given) == theirs(given.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None
    with pytest.raises(ValueError, match="naive"):
        ours(given.replace(tzinfo=None))
