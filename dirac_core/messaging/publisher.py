"""The publisher: messages leave the caller at once and reach the broker from a thread.

:meth:`Publisher.publish` puts the message in a bounded in-memory queue and returns; it never
waits for the broker and never raises, so a job's state change, a pilot's report or a transfer
is never slowed down or failed by messaging. One sender thread takes the messages in order:

- while the broker answers, it sends them (each confirmed by the driver: a STOMP receipt);
- when the broker cannot be reached, the message that failed and every later one are appended to
  the :class:`~dirac_core.messaging.buffer.DiskBuffer` (fsync'd), and the thread tries the broker
  again after a back-off that doubles from ``retry_initial`` up to ``retry_max`` seconds;
- while anything waits on disk, new messages go to the disk after it, and the buffer is sent
  oldest first once the broker answers: the broker sees the messages in the order they were
  published, outage or not. What was on disk when the process stopped is sent after a restart.

Limits, both reported with a WARNING and counted in :meth:`Publisher.stats`: past ``queue_size``
messages in memory (the sender is stuck on a slow broker longer than the queue lasts) the NEW
message is dropped, since the caller must not wait; past the disk buffer's ``limit`` the OLDEST
messages are dropped (see :mod:`dirac_core.messaging.buffer`). A message the broker refuses
(:class:`~dirac_core.errors.MessagingError`, e.g. an unknown destination) is logged and dropped.
Delivery is at-least-once: a message whose confirmation was lost is sent again.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

import attrs

from dirac_core.errors import BrokerUnavailable, MessagingError
from dirac_core.messaging.buffer import BufferedMessage, DiskBuffer
from dirac_core.plugins.messaging import MessageQueue

__all__ = ["Publisher", "PublisherStats"]

log = logging.getLogger(__name__)

#: messages sent, or moved to disk, per turn of the sender
_BATCH = 200


@attrs.frozen(kw_only=True)
class PublisherStats:
    """What a publisher did since it started."""

    published: int  #: accepted by :meth:`Publisher.publish`
    sent: int  #: confirmed by the broker
    buffered: int  #: waiting on disk now
    in_memory: int  #: waiting in memory now
    dropped_queue_full: int  #: refused by ``publish``: the memory queue was full
    dropped_buffer_full: int  #: deleted from the disk buffer, oldest first, past its limit
    rejected: int  #: refused by the broker (and dropped)
    lost: int  #: could not be written to the disk buffer (full disk, permissions)
    connected: bool  #: the last attempt to reach the broker succeeded


class Publisher:
    """Publishes through ``queue`` from a background thread, buffering on disk in ``buffer``.

    Start it by building it; :meth:`close` stops the thread (what cannot be sent is left on
    disk) and closes the driver.
    """

    def __init__(self, queue: MessageQueue, buffer: DiskBuffer, *, queue_size: int = 10_000,
                 retry_initial: float = 1.0, retry_max: float = 300.0, name: str = "dirac-messaging") -> None:
        self.queue = queue
        self.buffer = buffer
        self.queue_size = queue_size
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._pending: collections.deque[BufferedMessage] = collections.deque()
        self._cond = threading.Condition()
        self._busy = False  # the sender holds messages it took from ``_pending``
        self._closing = False
        self._abort = threading.Event()  # close() ran out of time: leave the rest on disk
        self._up = not len(buffer)  # nothing left from before: assume the broker answers
        self._next_try = 0.0  # monotonic time of the next attempt while down
        self._delay = retry_initial
        self._counts = collections.Counter[str]()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"Publisher({self.queue!r}, {self.buffer!r})"

    # -- the caller's side -------------------------------------------------------------

    def publish(self, destination: str, message: Mapping[str, Any]) -> bool:
        """Queue ``message`` for ``destination``; False when it was dropped (queue full, closed).

        Never blocks on the broker and never raises.
        """
        with self._cond:
            if self._closing:
                log.warning("message %s to %s dropped: the publisher is closed",
                            message.get("type"), destination)
                return False
            if len(self._pending) >= self.queue_size:
                self._counts["dropped_queue_full"] += 1
                dropped = self._counts["dropped_queue_full"]
                if dropped == 1 or dropped % 1000 == 0:
                    log.warning("message queue full (%d messages in memory, the sender is stuck on the "
                                "broker): %d new message(s) dropped so far", self.queue_size, dropped)
                return False
            self._pending.append((destination, dict(message)))
            self._counts["published"] += 1
            self._cond.notify_all()
        return True

    def stats(self) -> PublisherStats:
        """A snapshot of the counters."""
        with self._cond:
            in_memory = len(self._pending)
            counts = dict(self._counts)
            up = self._up
        return PublisherStats(published=counts.get("published", 0), sent=counts.get("sent", 0),
                              buffered=len(self.buffer), in_memory=in_memory,
                              dropped_queue_full=counts.get("dropped_queue_full", 0),
                              dropped_buffer_full=self.buffer.dropped, rejected=counts.get("rejected", 0),
                              lost=counts.get("lost", 0), connected=up)

    def retry_now(self) -> None:
        """Try the broker at once instead of at the end of the back-off (an operator knows it is back)."""
        with self._cond:
            self._next_try = 0.0
            self._delay = self.retry_initial
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no message is in memory or being handled (each was sent, buffered on disk
        or dropped); True when that happened within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until every message was delivered (memory and disk empty); True when that
        happened within ``timeout`` seconds. Tries the broker at once if it was down."""
        deadline = time.monotonic() + timeout
        self.retry_now()
        with self._cond:
            while self._pending or self._busy or len(self.buffer):
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop accepting messages, send what is in memory (or put it on disk if the broker does
        not answer), stop the thread and close the driver. After ``timeout`` seconds the rest is
        left on disk, to be sent by the next publisher on the same buffer."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(timeout)
        try:
            self.queue.close()
        except Exception:  # closing must not fail the interware's close
            log.exception("closing message queue driver %r failed", self.queue)

    # -- the sender thread -------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing and not self._flush_due():
                    self._cond.wait(self._wait_time())
                batch = [self._pending.popleft() for _ in range(min(_BATCH, len(self._pending)))]
                self._busy = True
                closing = self._closing
            try:
                if batch:
                    self._handle(batch)
                if len(self.buffer) and self._flush_due() and not (closing and not self._up):
                    self._flush_buffer()
            except Exception:  # the thread must survive anything; the messages are on disk or counted
                log.exception("message sender failed; going on")
            finally:
                with self._cond:
                    self._busy = False
                    done = self._closing and not self._pending
                    self._cond.notify_all()
            if done or self._abort.is_set():
                return

    def _flush_due(self) -> bool:
        return bool(len(self.buffer)) and (self._up or time.monotonic() >= self._next_try)

    def _wait_time(self) -> float | None:
        if not len(self.buffer):
            return None
        return max(0.0, self._next_try - time.monotonic()) if not self._up else 0.0

    def _handle(self, batch: list[BufferedMessage]) -> None:
        if self._up and not len(self.buffer):
            sent = self._send(batch)
            batch = batch[sent:]
        if batch:
            self._to_disk(batch)

    def _send(self, items: list[BufferedMessage]) -> int:
        """Send ``items`` in order; how many were dealt with (sent or refused) before the broker
        became unreachable (then the publisher is down and the rest is the caller's)."""
        for done, (destination, message) in enumerate(items):
            if self._abort.is_set():
                return done
            try:
                self.queue.publish(destination, message)
            except BrokerUnavailable as exc:
                self._went_down(exc)
                return done
            except MessagingError as exc:
                self._counts["rejected"] += 1
                log.error("message %s (%s) to %s refused by the broker, dropped: %s",
                          message.get("id"), message.get("type"), destination, exc)
                continue
            except Exception as exc:  # a driver bug must not lose messages: keep them, retry later
                log.exception("message queue driver %r failed", self.queue)
                self._went_down(exc)
                return done
            self._counts["sent"] += 1
        return len(items)

    def _flush_buffer(self) -> None:
        """Send the disk buffer oldest first, moving new messages behind it, until it is empty
        or the broker fails again."""
        was_down = not self._up
        sent_before = self._counts["sent"]
        while len(self.buffer) and not self._abort.is_set():
            chunk = self.buffer.peek(_BATCH)
            done = self._send(chunk)
            self.buffer.ack(done)
            if done < len(chunk):
                return
            self._set_up()
            if len(self.buffer):
                with self._cond:  # newer messages go behind the older ones on disk
                    newer = list(self._pending)
                    self._pending.clear()
                self._to_disk(newer)
        if was_down and self._up:
            log.warning("message broker reachable again (%r): %d buffered message(s) sent",
                        self.queue, self._counts["sent"] - sent_before)

    def _to_disk(self, items: list[BufferedMessage]) -> None:
        try:
            dropped = self.buffer.append(items)
        except OSError as exc:
            self._counts["lost"] += len(items)
            log.error("%d message(s) lost: cannot write the message buffer %s: %s",
                      len(items), self.buffer.directory, exc)
            return
        if dropped:
            log.warning("message buffer %s is full (limit %d messages): dropped the %d oldest "
                        "message(s); %d dropped since start", self.buffer.directory, self.buffer.limit,
                        dropped, self.buffer.dropped)

    def _went_down(self, exc: Exception) -> None:
        with self._cond:
            if self._up:
                log.warning("message broker unreachable (%s): buffering messages in %s, next try in "
                            "%.1f s", exc, self.buffer.directory, self.retry_initial)
                self._delay = self.retry_initial
            else:
                self._delay = min(self._delay * 2, self.retry_max)
                log.info("message broker still unreachable (%s); next try in %.1f s", exc, self._delay)
            self._up = False
            self._next_try = time.monotonic() + self._delay

    def _set_up(self) -> None:
        with self._cond:
            self._up = True
            self._delay = self.retry_initial
