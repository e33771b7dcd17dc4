"""The downtime calendar (JSON and iCalendar) and the downtime policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rss_helpers import make_system, policy

from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.model.resource_status import ElementKey, ResourceStatus, Severity
from dirac_core.rss import CalendarError, DowntimeCalendar, parse_calendar

R = ResourceStatus
T0 = datetime(2026, 1, 1, tzinfo=UTC)

ICAL = """BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VEVENT
UID:1@example.org
DTSTART:20260101T080000Z
DTEND:20260101T180000Z
LOCATION:SE-A
SUMMARY:tape library
  upgrade
CATEGORIES:MAINTENANCE,WARNING
END:VEVENT
BEGIN:VEVENT
DTSTART;VALUE=DATE:20260103
DTEND:20260104T000000
LOCATION:DIRAC.B.fr
END:VEVENT
END:VCALENDAR
"""


def test_json_and_icalendar_say_the_same() -> None:
    from_json = parse_calendar(json.dumps({"downtimes": [
        {"element": "SE-A", "start": "2026-01-01T08:00:00Z", "end": "2026-01-01T19:00:00+01:00",
         "severity": "warning", "description": "tape library upgrade"},
        {"element": "DIRAC.B.fr", "start": "2026-01-03", "end": "2026-01-04T00:00:00"},
    ]}))
    from_ical = parse_calendar(ICAL)
    assert from_json == from_ical
    first, second = from_ical
    assert (first.severity, first.start, first.end, first.description) == (
        Severity.WARNING, T0 + timedelta(hours=8), T0 + timedelta(hours=18), "tape library upgrade")
    assert (second.severity, second.start, second.end) == (  # times without an offset are UTC
        Severity.OUTAGE, T0 + timedelta(days=2), T0 + timedelta(days=3))
    assert parse_calendar("[]") == []


@pytest.mark.parametrize(("text", "error"), [
    ("{", "not JSON"),
    ('{"items": []}', "a JSON calendar is a list"),
    ('[{"start": "2026-01-01", "end": "2026-01-02"}]', r"downtimes\[0\]: 'element' .* is missing"),
    ('[{"element": "X", "start": "2026-01-01", "end": "2026-01-02", "severity": "HIGH"}]',
     "severity 'HIGH' is not OUTAGE or WARNING"),
    ('[{"element": "X", "start": "soon", "end": "2026-01-02"}]', r"downtimes\[0\].start: Invalid isoformat"),
    ('[{"element": "X", "start": "2026-01-02", "end": "2026-01-01"}]', r"ends .* before it starts"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101T000000Z\nDTEND:20260102T000000Z\nEND:VEVENT\n",
     "VEVENT 1: 'element' .* is missing"),
])
def test_a_bad_calendar_names_the_entry(text: str, error: str) -> None:
    with pytest.raises(CalendarError, match=error):
        parse_calendar(text)


def test_the_calendar_is_read_again_after_its_refresh(tmp_path: Path, fake_clock: FakeClock) -> None:
    path = tmp_path / "downtimes.json"
    path.write_text("[]")
    calendar = DowntimeCalendar(str(path), clock=fake_clock, refresh=900)
    assert calendar.downtimes() == []
    path.write_text('[{"element": "SE-A", "start": "2026-01-01", "end": "2026-01-02"}]')
    assert calendar.downtimes() == []  # kept for 15 minutes
    fake_clock.advance(900)
    assert [d.element for d in calendar.downtimes()] == ["SE-A"]
    path.unlink()
    calendar.invalidate()
    with pytest.raises(CalendarError, match=r"downtime calendar .*downtimes\.json cannot be read: .*No such"):
        calendar.downtimes()
    fetched: list[str] = []
    remote = DowntimeCalendar("https://gocdb.example.org/downtimes.ics", clock=fake_clock,
                              fetch=lambda url: fetched.append(url) or ICAL)
    assert len(remote.downtimes()) == 2 and fetched == ["https://gocdb.example.org/downtimes.ics"]


def _calendar(tmp_path: Path, *entries: dict[str, str]) -> str:
    path = tmp_path / "downtimes.json"
    path.write_text(json.dumps(list(entries)))
    return f'downtimes = "{path.as_posix()}"\n'


def test_downtime_policies(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    now = fake_clock.now()
    calendar = _calendar(
        tmp_path,
        {"element": "DIRAC.A.ch", "start": (now - timedelta(hours=1)).isoformat(),
         "end": (now + timedelta(hours=1)).isoformat(), "description": "power cut"},
        {"element": "ce-b", "start": now.isoformat(), "end": (now + timedelta(hours=3)).isoformat(),
         "severity": "WARNING"},
        {"element": "SE-B", "start": (now + timedelta(hours=5)).isoformat(),
         "end": (now + timedelta(hours=6)).isoformat()},
        {"element": "SE-A", "start": (now - timedelta(hours=3)).isoformat(),
         "end": (now - timedelta(hours=2)).isoformat()},  # over
    )
    extra = ("[resource_status]\n" + calendar
             + policy("DowntimeOngoing", "Site", "ComputingElement", "StorageElement")
             + policy("DowntimeScheduled", "StorageElement", name="DowntimeIn12h", parameters={"hours": 12}))
    system = make_system(database, fake_clock, tmp_path, extra)
    report = system.evaluate()
    assert report.errors == []
    assert system.status_of("DIRAC.A.ch") is R.BANNED
    assert system.statuses(name="DIRAC.A.ch")[0].reason == (
        "DowntimeOngoing: OUTAGE of DIRAC.A.ch 2025-12-31 23:00..2026-01-01 01:00 UTC power cut")
    assert system.status_of("ce-a1") is R.BANNED  # its site's downtime
    assert system.status_of("SE-A", "ReadAccess") is R.BANNED  # its site's downtime; its own is over
    assert system.status_of("ce-b") is R.DEGRADED
    assert system.status_of("DIRAC.B.fr") is R.ACTIVE
    assert system.status_of("SE-B", "WriteAccess") is R.BANNED  # 5 hours ahead: within 12
    assert report.result(ElementKey(element_type="StorageElement", name="SE-B", status_type="WriteAccess")
                         ).reason.startswith("DowntimeIn12h: OUTAGE of SE-B 2026-01-01 05:00")


def test_an_unreadable_calendar_keeps_the_statuses(database: Database, fake_clock: FakeClock,
                                                  tmp_path: Path) -> None:
    extra = "[resource_status]\n" + _calendar(tmp_path) + policy("DowntimeOngoing", "Site")
    system = make_system(database, fake_clock, tmp_path, extra)
    system.evaluate()
    assert system.status_of("DIRAC.B.fr") is R.ACTIVE
    (tmp_path / "downtimes.json").write_text("<html>gateway timeout</html>")
    system.calendar.invalidate()  # type: ignore[union-attr]
    report = system.evaluate(force=True)
    [(key, outcome), _] = report.errors
    assert key == ElementKey(element_type="Site", name="DIRAC.A.ch") and outcome.error
    assert outcome.reason.startswith("CalendarError: downtime calendar ") and "not JSON" in outcome.reason
    assert system.status_of("DIRAC.B.fr") is R.ACTIVE


def test_without_a_calendar_the_downtime_policies_know_nothing(database: Database, fake_clock: FakeClock,
                                                              tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, policy("DowntimeOngoing", "Site"))
    report = system.evaluate()
    assert report.result(ElementKey(element_type="Site", name="DIRAC.A.ch")).reason == (
        "DowntimeOngoing: no downtime calendar")
    assert system.status_of("DIRAC.A.ch") is R.UNKNOWN
