"""Statuses, levels, the transition rule, element keys: pure values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dirac_core.model.resource_status import (
    RSS_TRANSITIONS,
    Downtime,
    ElementKey,
    ElementType,
    ResourceStatus,
    StatusType,
    next_status,
)

R = ResourceStatus


def test_levels_are_diracs() -> None:
    assert [s.value for s in sorted(R, key=lambda s: s.level, reverse=True)] == [
        "Unknown", "Active", "Degraded", "Probing", "Banned", "Error"]
    levels = [s.level for s in (R.UNKNOWN, R.ACTIVE, R.DEGRADED, R.PROBING, R.BANNED, R.ERROR)]
    assert levels == [5, 4, 3, 2, 1, 0]
    assert {s for s in R if s.usable} == {R.UNKNOWN, R.ACTIVE, R.DEGRADED}


@pytest.mark.parametrize(("current", "decided", "expected"), [
    (None, R.BANNED, R.BANNED),
    (R.ACTIVE, R.BANNED, R.BANNED),
    (R.BANNED, R.ACTIVE, R.PROBING),  # DIRAC's documented rule, applied on purpose
    (R.BANNED, R.DEGRADED, R.PROBING),
    (R.BANNED, R.UNKNOWN, R.PROBING),
    (R.BANNED, R.ERROR, R.ERROR),
    (R.BANNED, R.BANNED, R.BANNED),
    (R.BANNED, R.PROBING, R.PROBING),
    (R.PROBING, R.ACTIVE, R.ACTIVE),
    (R.ERROR, R.ACTIVE, R.ACTIVE),
])
def test_the_transition_rule(current: R | None, decided: R, expected: R) -> None:
    assert next_status(current, decided) is expected


def test_only_banned_is_restricted() -> None:
    assert {s for s in R if RSS_TRANSITIONS[s] != frozenset(R)} == {R.BANNED}


def test_keys_check_the_status_type_of_their_element_type() -> None:
    key = ElementKey(element_type="StorageElement", name="SE-A", status_type="WriteAccess")
    assert (key.status_type, key.vo, str(key)) == (StatusType.WRITE, "all", "StorageElement SE-A WriteAccess")
    site = ElementKey(element_type=ElementType.SITE, name="DIRAC.A.ch", vo="demo")
    assert str(site) == "Site DIRAC.A.ch all (demo)"
    with pytest.raises(ValueError, match="a StorageElement has no status type 'all'"):
        ElementKey(element_type="StorageElement", name="SE-A")
    with pytest.raises(ValueError, match="a Site has no status type 'WriteAccess'"):
        ElementKey(element_type="Site", name="DIRAC.A.ch", status_type="WriteAccess")
    with pytest.raises(ValueError, match="'Sit' is not a valid ElementType"):
        ElementKey(element_type="Sit", name="x")


def test_downtimes_know_when_they_apply() -> None:
    start = datetime(2026, 1, 1, 10, tzinfo=UTC)
    downtime = Downtime(element="SE-A", start=start, end=start + timedelta(hours=2))
    assert downtime.ongoing(start) and not downtime.ongoing(start + timedelta(hours=2))
    assert not downtime.within(start - timedelta(hours=1), timedelta(0))
    assert downtime.within(start - timedelta(hours=1), timedelta(hours=1, seconds=1))
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        Downtime(element="SE-A", start=start, end=start)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        Downtime(element="SE-A", start=datetime(2026, 1, 1), end=start)
