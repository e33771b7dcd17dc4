"""The ``logfile`` message-queue driver: every message as one JSON line appended to a file.

For sites that ship files (Filebeat, Fluent Bit, a cron job) rather than run a broker, and for
development. Options: ``path`` (required; its folder is created) and ``fsync`` (false: each line
is flushed; true: also fsync'd). Each line is the message with its ``destination`` first::

    {"destination":"/topic/dirac.jobs","schema":1,"type":"job.status","id":"...","time":"...",...}

The file is opened for each message, so that a log rotation (rename, then a new file) needs no
signal: the next message goes to the new file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dirac_core.errors import BrokerUnavailable
from dirac_core.plugins.messaging import MessageQueue

__all__ = ["LogFileQueue"]


class LogFileQueue(MessageQueue):
    """Appends each message as a JSON line to ``path``."""

    name = "logfile"

    def __init__(self, *, path: str, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"LogFileQueue({str(self.path)!r})"

    def publish(self, destination: str, message: Mapping[str, Any]) -> None:
        line = json.dumps({"destination": destination, **message}, separators=(",", ":"), default=str)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
        except OSError as exc:  # a full or read-only disk may come back: keep the message
            raise BrokerUnavailable(f"cannot append to {self.path}: {exc.strerror}",
                                    path=str(self.path)) from exc
