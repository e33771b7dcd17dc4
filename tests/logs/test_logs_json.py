"""Structured logs: one JSON object per line with time, level, logger, message, extra fields and
the exception; secrets masked; configure_logging replaces only its own handler."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from dirac_core.logs import JsonFormatter, LogFormat, configure_logging, mask_secrets


def _record(message: str, *args: object, level: int = logging.WARNING, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("dirac_core.pilot.wrapper", level, __file__, 10, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_line_has_the_standard_fields_then_fixed_then_extra_ones() -> None:
    line = JsonFormatter({"component": "pilot", "pilot_stamp": "p-1"}).format(
        _record("job %s: heartbeat failed: %s", 12, "timeout", job_id=12, request_id=None))
    data = json.loads(line)
    assert list(data)[:4] == ["time", "level", "logger", "message"]
    assert (data["level"], data["logger"], data["message"]) == ("WARNING", "dirac_core.pilot.wrapper",
                                                                "job 12: heartbeat failed: timeout")
    assert (data["component"], data["pilot_stamp"], data["job_id"], data["request_id"]) == (
        "pilot", "p-1", 12, None)
    assert datetime.fromisoformat(data["time"]).utcoffset() is not None
    assert "\n" not in line and "exception" not in data


def test_an_exception_is_a_field_with_type_message_and_traceback() -> None:
    log = logging.getLogger("dirac_core.test_logs")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log.addHandler(handler)
    try:
        try:
            raise ValueError("bad value 42")
        except ValueError:
            log.exception("request %s failed", 7, extra={"request_id": 7})
    finally:
        log.removeHandler(handler)
    data = json.loads(JsonFormatter().format(records[0]))
    assert (data["level"], data["message"], data["request_id"]) == ("ERROR", "request 7 failed", 7)
    assert data["exception"]["type"] == "ValueError" and data["exception"]["message"] == "bad value 42"
    assert "Traceback (most recent call last)" in data["exception"]["traceback"]
    assert 'raise ValueError("bad value 42")' in data["exception"]["traceback"]


def test_values_json_does_not_know_are_written_as_text() -> None:
    record = _record("x", when=datetime(2026, 1, 1), ses={"A"}, path=Path("/p"))
    data = json.loads(JsonFormatter().format(record))
    assert (data["when"], data["ses"], data["path"]) == ("2026-01-01T00:00:00", ["A"], "/p")


def test_secrets_are_masked_in_fields_and_in_the_text() -> None:
    data = json.loads(JsonFormatter({"client_secret": "s3cr3t"}).format(_record(
        "login with password=hunter22 and Authorization: Bearer eyJhbGciOi.abc.def to "
        "mysql://dirac:dbpass@db/x", password="hunter22", access_token="tok", refresh_token=None)))
    text = json.dumps(data)
    assert not [s for s in ("hunter22", "s3cr3t", "dbpass", "eyJhbGciOi") if s in text]
    assert (data["password"], data["access_token"], data["client_secret"]) == ("***", "***", "***")
    assert data["refresh_token"] is None  # nothing to hide
    assert "mysql://dirac:***@db/x" in data["message"]
    assert mask_secrets("no secret here: job 12 Done") == "no secret here: job 12 Done"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in ("sqlalchemy", "httpcore")}
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


@pytest.mark.usefixtures("restore_root")
def test_configure_logging_writes_json_lines_to_a_file_and_replaces_its_own_handler(tmp_path: Path) -> None:
    kept = logging.getLogger().handlers[:]  # pytest's capture handlers stay
    first = configure_logging(LogFormat.JSON, file=tmp_path / "a.log", fields={"component": "server"})
    second = configure_logging("json", level="DEBUG", file=tmp_path / "logs" / "b.log",
                               fields={"component": "server"})
    root = logging.getLogger()
    assert first not in root.handlers and second in root.handlers
    assert all(h in root.handlers for h in kept)
    logging.getLogger("dirac_core.test").debug("hello %s", "world", extra={"job_id": 3})
    second.flush()
    [line] = (tmp_path / "logs" / "b.log").read_text().splitlines()
    data = json.loads(line)
    assert (data["message"], data["component"], data["job_id"], data["level"]) == ("hello world", "server", 3,
                                                                                   "DEBUG")
    assert logging.getLogger("sqlalchemy").level == logging.WARNING  # would log every statement at INFO
    with pytest.raises(ValueError, match="xml"):
        configure_logging("xml")


@pytest.mark.usefixtures("restore_root")
def test_the_text_format_carries_the_fixed_fields(tmp_path: Path) -> None:
    handler = configure_logging("text", file=tmp_path / "t.log", fields={"pilot_stamp": "p-9"})
    logging.getLogger("dirac_core.test").warning("careful")
    handler.flush()
    assert " WARNING dirac_core.test pilot_stamp=p-9: careful" in (tmp_path / "t.log").read_text()
