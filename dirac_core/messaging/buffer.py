"""Messages waiting for the broker, on disk, in order: :class:`DiskBuffer`.

The buffer is a folder of *segments*, JSON-lines files named by a growing number
(``000000000001.jsonl``), each holding at most ``segment_size`` messages as
``{"destination": ..., "message": {...}}``. New messages are appended to the last segment and
fsync'd before :meth:`DiskBuffer.append` returns, so a message the publisher buffered survives a
crash or a restart; the oldest are read from the first segment, and how many of them were sent
is kept in the file ``progress`` (a crash between a send and that note sends a message twice,
hence the ``id`` of every message). A segment whose messages were all sent is deleted.

When more than ``limit`` messages wait, the OLDEST segment is deleted whole (its messages are
counted in :attr:`DiskBuffer.dropped` and reported by the caller): a consumer cares most about
the latest states, and dropping a whole file costs nothing, where stopping to accept would lose
exactly the newest changes. Segments hold about a tenth of ``limit``, so a drop removes at most
that many messages at a time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["BufferedMessage", "DiskBuffer"]

log = logging.getLogger(__name__)

#: a destination and its message
BufferedMessage = tuple[str, dict[str, Any]]

_SUFFIX = ".jsonl"
_PROGRESS = "progress"


class DiskBuffer:
    """An ordered, size-limited queue of messages in the folder ``directory`` (created if needed).

    Thread-safe; opening it again on the same folder finds what was left there. Raises
    ``OSError`` when the folder cannot be created or written.
    """

    def __init__(self, directory: str | os.PathLike[str], *, limit: int = 100_000,
                 segment_size: int | None = None) -> None:
        if limit < 1:
            raise ValueError("a message buffer holds at least one message")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self.segment_size = segment_size or max(1, min(1000, limit // 10))
        #: messages deleted because the buffer was full, since it was opened
        self.dropped = 0
        self._lock = threading.Lock()
        self._segments: list[list[int]] = []  # [number, messages in it], oldest first
        self._sent = 0  # messages of the first segment already sent
        self._head: list[BufferedMessage] | None = None  # the first segment, read
        self._load()

    def __len__(self) -> int:
        with self._lock:
            return sum(count for _, count in self._segments) - self._sent

    def __repr__(self) -> str:
        return f"DiskBuffer({str(self.directory)!r}, {len(self)} message(s))"

    def append(self, items: Sequence[BufferedMessage]) -> int:
        """Add ``items`` after the others, on disk (fsync'd) when this returns.

        Returns how many of the oldest messages were dropped to stay within ``limit``.
        """
        if not items:
            return 0
        with self._lock:
            pending = list(items)
            while pending:
                if not self._segments or self._segments[-1][1] >= self.segment_size:
                    number = self._segments[-1][0] + 1 if self._segments else 1
                    self._segments.append([number, 0])
                    new_file = True
                else:
                    new_file = False
                tail = self._segments[-1]
                room = self.segment_size - tail[1]
                chunk, pending = pending[:room], pending[room:]
                lines = "".join(json.dumps({"destination": d, "message": m}, separators=(",", ":"),
                                           default=str) + "\n" for d, m in chunk)
                with self._path(tail[0]).open("a", encoding="utf-8") as out:
                    out.write(lines)
                    out.flush()
                    os.fsync(out.fileno())
                if new_file:
                    _fsync_dir(self.directory)
                tail[1] += len(chunk)
                if len(self._segments) == 1:
                    self._head = None  # the first segment grew: read it again
            return self._enforce_limit()

    def peek(self, count: int) -> list[BufferedMessage]:
        """The ``count`` oldest messages (fewer when fewer wait; never past the first segment)."""
        with self._lock:
            if not self._segments:
                return []
            if self._head is None:
                self._head = _read(self._path(self._segments[0][0]))
            return self._head[self._sent:self._sent + count]

    def ack(self, count: int) -> None:
        """The ``count`` oldest messages were delivered: forget them."""
        with self._lock:
            while count > 0 and self._segments:
                _, total = self._segments[0]
                step = min(count, total - self._sent)
                self._sent += step
                count -= step
                if self._sent >= total:
                    self._drop_head()
            if self._segments and self._sent:
                _write_progress(self.directory, self._segments[0][0], self._sent)

    # -- inside ------------------------------------------------------------------------

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:012d}{_SUFFIX}"

    def _drop_head(self) -> None:
        number, _ = self._segments.pop(0)
        self._path(number).unlink(missing_ok=True)
        (self.directory / _PROGRESS).unlink(missing_ok=True)
        self._sent = 0
        self._head = None

    def _enforce_limit(self) -> int:
        dropped = 0
        while len(self._segments) > 1 and sum(c for _, c in self._segments) - self._sent > self.limit:
            dropped += self._segments[0][1] - self._sent
            self._drop_head()
        self.dropped += dropped
        return dropped

    def _load(self) -> None:
        numbers = sorted(int(p.name[:-len(_SUFFIX)]) for p in self.directory.glob(f"*{_SUFFIX}")
                         if p.name[:-len(_SUFFIX)].isdigit())
        for number in numbers:
            count = len(_read(self._path(number), repair=True))
            if count:
                self._segments.append([number, count])
            else:
                self._path(number).unlink(missing_ok=True)
        progress = self.directory / _PROGRESS
        if self._segments and progress.exists():
            try:
                number, sent = (int(x) for x in progress.read_text().split())
            except ValueError:
                number, sent = -1, 0
            if number == self._segments[0][0]:
                self._sent = min(sent, self._segments[0][1])
        if self._segments:
            log.info("message buffer %s holds %d message(s) from an earlier run", self.directory, len(self))


def _read(path: Path, *, repair: bool = False) -> list[BufferedMessage]:
    """The messages of a segment. ``repair`` cuts a last line that a crash left half-written
    (so that appending goes on from a line's start); an unreadable line is skipped, saying so."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if repair and data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        log.warning("message buffer %s: dropping a half-written last line", path)
        with path.open("r+b") as out:
            out.truncate(keep)
        data = data[:keep]
    items: list[BufferedMessage] = []
    for number, line in enumerate(data.splitlines(), 1):
        try:
            record = json.loads(line)
            items.append((str(record["destination"]), dict(record["message"])))
        except (ValueError, KeyError, TypeError):
            log.warning("message buffer %s: line %d is not a message, skipped", path, number)
    return items


def _write_progress(directory: Path, number: int, sent: int) -> None:
    tmp = directory / f"{_PROGRESS}.tmp"
    tmp.write_text(f"{number} {sent}\n")
    tmp.replace(directory / _PROGRESS)


def _fsync_dir(directory: Path) -> None:
    """Make a new file's name durable (its contents are fsync'd separately)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse it
        pass
    finally:
        os.close(fd)
