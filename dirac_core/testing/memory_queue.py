"""An in-memory message-queue driver (``memory`` in ``dirac.message_queues``), for tests and notebooks.

It keeps what it was given in :attr:`MemoryQueue.sent`; a test makes the "broker" go away and
come back with :attr:`MemoryQueue.available`, and refuses destinations with ``refuse``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from dirac_core.errors import BrokerUnavailable, MessagingError
from dirac_core.plugins.messaging import MessageQueue

__all__ = ["MemoryQueue"]


class MemoryQueue(MessageQueue):
    """Delivers into a list; ``available = False`` makes every publish raise ``BrokerUnavailable``."""

    name = "memory"

    def __init__(self, *, available: bool = True, refuse: Sequence[str] = ()) -> None:
        #: (destination, message) in the order they were delivered
        self.sent: list[tuple[str, dict[str, Any]]] = []
        #: whether the "broker" answers
        self.available = available
        #: destinations whose messages are refused (``MessagingError``)
        self.refuse = set(refuse)
        #: publish calls, failed ones included
        self.attempts = 0
        self.closed = False
        self._cond = threading.Condition()

    def publish(self, destination: str, message: Mapping[str, Any]) -> None:
        with self._cond:
            self.attempts += 1
            if not self.available:
                raise BrokerUnavailable("the memory broker is down")
            if destination in self.refuse:
                raise MessagingError(f"destination {destination} refused")
            self.sent.append((destination, dict(message)))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``count`` messages were delivered; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.sent) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self) -> None:
        self.closed = True
