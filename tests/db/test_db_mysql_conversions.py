"""The timestamp reader given to mysqlclient reads what mysqlclient's own reads, the same way."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from MySQLdb import converters, times
from MySQLdb.constants import FIELD_TYPE

from dirac_core.db.mysql_conversions import conversions, read_datetime


@given(st.datetimes(min_value=datetime(1000, 1, 1)), st.sampled_from([0, 1, 3, 6]))
def test_reads_every_datetime_mariadb_writes_as_mysqlclient_does(when: datetime, digits: int) -> None:
    text = when.isoformat(" ", "microseconds")[:20 + digits].rstrip(".")
    assert read_datetime(text) == times.DateTime_or_None(text)
    assert type(read_datetime(text)) is datetime


@pytest.mark.parametrize("text", ["0000-00-00 00:00:00", "2026-12-07", "2026-02-30 10:00:00", "garbage",
                                  b"2026-12-07 17:14:36.5"])
def test_anything_else_goes_to_mysqlclient(text: str) -> None:
    got, expected = read_datetime(text), times.DateTime_or_None(text)
    assert got == expected and type(got) is type(expected)


def test_only_the_timestamp_readers_change() -> None:
    conv = conversions()
    changed = {key for key in conv if conv[key] is not converters.conversions.get(key)}
    assert changed == {FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP}
