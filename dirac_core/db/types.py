"""Column types shared by every system: UTC timestamps and string enums.

:class:`UTCDateTime` stores naive UTC on every backend (``DATETIME(6)`` on
MariaDB/MySQL, ``TIMESTAMP WITHOUT TIME ZONE`` on PostgreSQL, ISO text on
SQLite), so no session time zone can shift a value. Python code only ever
sees timezone-aware UTC datetimes: naive ones are refused when bound.

:class:`StrEnumType` stores a ``StrEnum`` member's value as ``VARCHAR``. A
database ``ENUM`` would need an ``ALTER TABLE`` for every new status; a
string column does not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, String
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from dirac_core.model.clock import ensure_utc

__all__ = ["StrEnumType", "UTCDateTime"]

E = TypeVar("E", bound=StrEnum)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column that accepts and returns timezone-aware UTC datetimes.

    Binding a naive datetime raises ``ValueError``; an aware one in another
    zone is converted to UTC. Values read back are aware UTC datetimes with
    their microseconds.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            # MySQL's DATETIME drops the fraction unless asked for 6 digits
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite stores text: SQLAlchemy's format (``%04d-%02d-%02d %02d:%02d:%02d.%06d`` from a
        # dict) is what isoformat gives at C speed; bulk writes bind several timestamps per row
        def process(value: datetime | None) -> str | None:
            naive = self.process_bind_param(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return process

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime needs a datetime, got {type(value).__name__}")
        if value.tzinfo is UTC:  # the common case, without a conversion
            return value.replace(tzinfo=None)
        return ensure_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        return value.replace(tzinfo=UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


class StrEnumType(TypeDecorator[E], Generic[E]):
    """Store a ``StrEnum`` as its value in a ``VARCHAR(length)``; read back the member.

    Binding accepts a member or its string value; anything else raises
    ``ValueError``. ``length`` defaults to 32, or more if a member's value is
    longer, so that new statuses fit without a migration.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum_cls: type[E], length: int | None = None) -> None:
        longest = max((len(member.value) for member in enum_cls), default=1)
        if length is None:
            length = max(32, longest)
        elif length < longest:
            raise ValueError(f"length {length} is shorter than the longest value of {enum_cls.__name__}")
        super().__init__(length=length)
        self.enum_cls = enum_cls
        self.length = length

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        # enum_cls(value) validates plain strings and passes members through
        return self.enum_cls(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        if value is None:
            return None
        return self.enum_cls(value)

    @property
    def python_type(self) -> type[E]:
        return self.enum_cls

    def __repr__(self) -> str:
        return f"StrEnumType({self.enum_cls.__name__}, length={self.length})"
