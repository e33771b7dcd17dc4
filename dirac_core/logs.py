"""Structured logging for the applications (server, pilot): one JSON object per line.

The library itself only logs through ``logging.getLogger(__name__)`` and never configures
logging; the commands do, with :func:`configure_logging`. A JSON line holds ``time`` (ISO 8601,
UTC, microseconds), ``level``, ``logger`` and ``message``, then the fields given to
:func:`configure_logging` (``component``, ``pilot_stamp``, ...), then every ``extra=`` field of
the call (``job_id``, ``request_id``, ...), then ``exception`` (``type``, ``message``,
``traceback``) when there is one::

    {"time": "2026-01-01T12:00:00.000123+00:00", "level": "WARNING", "logger": "dirac_core.pilot.wrapper",
     "message": "job 12: heartbeat failed: ...", "pilot_stamp": "abc", "job_id": 12}

Secrets: a field whose name says it holds one (``password``, ``token``, ``secret``,
``passcode``, ``authorization``, ``cookie``, ``private_key``) is written as ``"***"``, and the
message text has bearer tokens, ``password=...`` pairs and the password of URLs masked. This is a
second line of defence: code must still not log secrets.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = ["JsonFormatter", "LogFormat", "configure_logging", "mask_secrets"]

#: the attributes every LogRecord has: anything else came from ``extra=``
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SECRET_KEY = re.compile(r"pass(word|wd|code|phrase)?$|secret|token|authorization|cookie|private_key|"
                         r"credential", re.IGNORECASE)
_SECRET_TEXT = [
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r"(?i)\b((?:pass(?:word|wd|code)?|secret|token|client_secret|refresh_token|access_token)"
                r"\s*[=:]\s*)(['\"]?)[^\s'\",;&]+"), r"\1\2***"),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),
]
MASK = "***"
#: libraries too talkative below WARNING for a service's log (unless their level was set already)
_QUIET = ("sqlalchemy", "httpcore")
#: marks the handlers installed by :func:`configure_logging` (replaced on the next call)
_OURS = "_dirac_core_handler"


class LogFormat(StrEnum):
    """How the commands write their logs."""

    TEXT = "text"
    JSON = "json"


def mask_secrets(text: str) -> str:
    """``text`` with bearer tokens, ``password=...``-like pairs and URL passwords masked."""
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line (see the module's text); ``fields`` go on every line."""

    def __init__(self, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.fields = dict(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_secrets(record.getMessage()),
        }
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}
        for key, value in {**self.fields, **extras}.items():
            if key not in out:
                out[key] = MASK if _SECRET_KEY.search(key) and value is not None else value
        if record.exc_info and record.exc_info[0] is not None:
            kind, exc, tb = record.exc_info
            out["exception"] = {"type": kind.__name__, "message": mask_secrets(str(exc)),
                                "traceback": mask_secrets("".join(traceback.format_exception(kind, exc, tb)))}
        elif record.exc_text:
            out["exception"] = {"traceback": mask_secrets(record.exc_text)}
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """JSON for what ``json`` does not know: times as ISO 8601, sets as lists, the rest as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def configure_logging(log_format: LogFormat | str = LogFormat.TEXT, *, level: int | str = logging.INFO,
                      file: str | Path | None = None, fields: Mapping[str, Any] | None = None
                      ) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to ``file`` (appended; reopened when
    rotated away) or to standard error, as JSON lines or as text; returns the handler.

    For applications (commands, services), never for library code. Calling it again replaces
    the handler it installed before; other handlers (pytest's, an embedding application's) stay.
    Raises ``ValueError`` for an unknown format and ``OSError`` when ``file`` cannot be opened.
    """
    fmt = LogFormat(log_format)
    handler: logging.Handler
    if file is not None:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    if fmt is LogFormat.JSON:
        handler.setFormatter(JsonFormatter(fields))
    else:
        extra = " ".join(f"{k}={v}" for k, v in (fields or {}).items())
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s %(levelname)s %(name)s{' ' + extra if extra else ''}: %(message)s"))
    setattr(handler, _OURS, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:  # at INFO SQLAlchemy would log every statement and its parameters
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler
