"""Report periods from text, as the command line and the server take them.

``since`` and ``until`` are either a span back from now (``90m``, ``36h``, ``7d``, ``4w``) or a
full or partial UTC timestamp (``2026``, ``2026-03``, ``2026-03-15``, ``2026-03-15T10:30``,
a zone allowed). A partial timestamp names a period (:func:`~dirac_core.wms.query.period`):
``since`` is its start and ``until`` its end, so ``--since 2026-03 --until 2026-03`` is March.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from dirac_core.accounting.query import InvalidReport
from dirac_core.wms.query import period

__all__ = ["parse_period", "parse_time"]

_SPAN = re.compile(r"(\d+)\s*([mhdw])", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(text: str, now: datetime, *, end: bool = False) -> datetime:
    """The instant ``text`` names (the end of a partial timestamp's period when ``end``).

    Raises :class:`InvalidReport` for text that is neither a span nor a timestamp.
    """
    found = _SPAN.fullmatch(text.strip())
    if found is not None:
        return now - timedelta(**{_UNITS[found.group(2).lower()]: int(found.group(1))})
    try:
        start, stop = period(text)
    except (TypeError, ValueError) as exc:
        raise InvalidReport(f"bad time {text!r}: expected a span back from now (90m, 36h, 7d, 4w) or a "
                            f"UTC timestamp (2026-03-15, 2026-03-15T10:30): {exc}") from None
    return stop if end else start


def parse_period(since: str | None, until: str | None, now: datetime) -> tuple[datetime | None, datetime]:
    """``(since, until)`` from their texts; None since is the engine's default (a week before
    ``until``), None until is now."""
    end = parse_time(until, now, end=True) if until else now
    return (parse_time(since, now) if since else None), end
