"""The downtime calendar: planned and ongoing downtimes of sites, CEs and SEs.

DIRAC reads GOCDB; we read a calendar a site, an operator or a script publishes, as a file or at
an http(s) URL, in one of two formats (parsed with the standard library):

- JSON: a list (or ``{"downtimes": [...]}``) of objects ``{"element", "start", "end",
  "severity", "description"}``. ``element`` is a site, CE or SE name; ``start``/``end`` are ISO 8601
  times (UTC when they carry no offset); ``severity`` is ``OUTAGE`` (the default) or ``WARNING``.
- iCalendar (the text starts with ``BEGIN:VCALENDAR``): one ``VEVENT`` per downtime, the element in
  ``LOCATION``, the times in ``DTSTART``/``DTEND`` (UTC, ``...Z``, or floating times read as UTC),
  the severity in ``X-SEVERITY`` or ``CATEGORIES`` (default OUTAGE), the description in ``SUMMARY``.

A calendar that cannot be read or parsed raises :class:`CalendarError` naming the source and
the entry; the downtime policies then fail (an Error outcome: statuses are kept).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from dirac_core.errors import DiracError
from dirac_core.model.clock import Clock
from dirac_core.model.resource_status import Downtime, Severity

__all__ = ["CalendarError", "DowntimeCalendar", "parse_calendar"]


class CalendarError(DiracError):
    """The downtime calendar cannot be read, or an entry of it is malformed."""


def _time(text: Any, where: str) -> datetime:
    if not isinstance(text, str):
        raise CalendarError(f"{where}: expected an ISO 8601 time, got {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CalendarError(f"{where}: {exc}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _downtime(fields: dict[str, Any], where: str) -> Downtime:
    element = fields.get("element")
    if not isinstance(element, str) or not element:
        raise CalendarError(f"{where}: 'element' (a site, CE or SE name) is missing")
    severity = str(fields.get("severity") or Severity.OUTAGE).upper()
    if severity not in tuple(Severity):
        raise CalendarError(f"{where}: severity {severity!r} is not OUTAGE or WARNING")
    try:
        return Downtime(element=element, start=_time(fields.get("start"), f"{where}.start"),
                        end=_time(fields.get("end"), f"{where}.end"), severity=Severity(severity),
                        description=str(fields.get("description") or ""))
    except ValueError as exc:
        raise CalendarError(f"{where}: {exc}") from exc


def _parse_json(text: str) -> list[Downtime]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalendarError(f"not JSON: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("downtimes")
    if not isinstance(data, list):
        raise CalendarError("a JSON calendar is a list of downtimes (or {\"downtimes\": [...]})")
    out = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise CalendarError(f"downtimes[{i}]: expected an object, got {item!r}")
        out.append(_downtime(item, f"downtimes[{i}]"))
    return out


def _ical_time(value: str) -> str:
    # 20260101T100000Z -> 2026-01-01T10:00:00+00:00; a bare date is midnight
    value = value.strip()
    utc = value.endswith("Z")
    digits = value.rstrip("Z")
    date, _, clock = digits.partition("T")
    clock = (clock + "000000")[:6]
    iso = f"{date[:4]}-{date[4:6]}-{date[6:8]}T{clock[:2]}:{clock[2:4]}:{clock[4:6]}"
    return iso + ("+00:00" if utc else "")


def _parse_ical(text: str) -> list[Downtime]:
    lines: list[str] = []
    for raw in text.splitlines():
        if raw[:1] in (" ", "\t") and lines:  # a folded line continues the previous one
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.rstrip())
    out: list[Downtime] = []
    event: dict[str, Any] | None = None
    for line in lines:
        name, _, value = line.partition(":")
        name = name.split(";", 1)[0].upper()
        if name == "BEGIN" and value.upper() == "VEVENT":
            event = {}
        elif name == "END" and value.upper() == "VEVENT" and event is not None:
            out.append(_downtime(event, f"VEVENT {len(out) + 1}"))
            event = None
        elif event is not None:
            if name in ("DTSTART", "DTEND"):
                event["start" if name == "DTSTART" else "end"] = _ical_time(value)
            elif name == "LOCATION":
                event["element"] = value.strip()
            elif name == "SUMMARY":
                event["description"] = value.replace("\\,", ",").replace("\\n", "\n").strip()
            elif name in ("X-SEVERITY", "CATEGORIES"):
                found = [c.strip().upper() for c in value.split(",") if c.strip().upper() in tuple(Severity)]
                if found:
                    event["severity"] = found[0]
    return out


def parse_calendar(text: str) -> list[Downtime]:
    """The downtimes of a calendar in either format; raises :class:`CalendarError`."""
    stripped = text.lstrip()
    if stripped.upper().startswith("BEGIN:VCALENDAR"):
        return _parse_ical(stripped)
    return _parse_json(text)


class DowntimeCalendar:
    """A calendar source (path or URL) read at most once per ``refresh`` seconds.

    ``fetch(url)`` returns the text at an http(s) URL (default: httpx, 30 s timeout).
    """

    def __init__(self, source: str, *, clock: Clock, refresh: float = 900.0,
                 fetch: Callable[[str], str] | None = None) -> None:
        self.source = source
        self._clock = clock
        self._refresh = refresh
        self._fetch = fetch or _http_get
        self._lock = threading.Lock()
        self._loaded: tuple[float, list[Downtime]] | None = None

    def downtimes(self) -> list[Downtime]:
        """Every downtime of the calendar; raises :class:`CalendarError` when it cannot be read."""
        with self._lock:
            now = self._clock.monotonic()
            if self._loaded is None or now - self._loaded[0] >= self._refresh:
                self._loaded = (now, self._read())
            return list(self._loaded[1])

    def invalidate(self) -> None:
        """Read the source again at the next call."""
        with self._lock:
            self._loaded = None

    def _read(self) -> list[Downtime]:
        try:
            if self.source.startswith(("http://", "https://")):
                text = self._fetch(self.source)
            else:
                path = self.source.removeprefix("file://")
                text = Path(path).read_text(encoding="utf-8")
            return parse_calendar(text)
        except CalendarError as exc:
            raise CalendarError(f"downtime calendar {self.source}: {exc.message}",
                                source=self.source) from exc
        except Exception as exc:
            raise CalendarError(f"downtime calendar {self.source} cannot be read: {exc}",
                                source=self.source) from exc


def _http_get(url: str) -> str:
    answer = httpx.get(url, timeout=30.0, follow_redirects=True)
    answer.raise_for_status()
    return answer.text
