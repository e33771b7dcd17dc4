"""The message-queue contract: where the interware publishes its events (``dirac.message_queues``).

A driver is chosen by name in ``[messaging] type`` and built with the keyword options of
``[messaging.options]`` (``StompQueue(host=..., port=...)``); unknown options are a ``TypeError``
that the wiring reports as a ``ConfigError``. It is called from ONE thread, the publisher's sender
(:mod:`dirac_core.messaging`), so a driver needs no locking; the publisher also does the buffering
and the retrying, so a driver does neither: it delivers one message or says why it could not.

Lifecycle: the driver connects lazily, on the first :meth:`MessageQueue.publish`; after a
connection is lost, the next ``publish`` connects again; :meth:`~MessageQueue.close` disconnects.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any

from dirac_core.plugins.driver import Driver

__all__ = ["MessageQueue"]


class MessageQueue(Driver):
    """Publishes JSON messages to named destinations of a broker (or a file)."""

    #: the name of the driver (its entry point in ``dirac.message_queues``)
    name: str = ""

    @abstractmethod
    def publish(self, destination: str, message: Mapping[str, Any]) -> None:
        """Deliver ``message`` (JSON-ready: str keys, str/int/float/bool/None, lists, dicts) to
        ``destination`` (a topic or queue name in the broker's syntax, e.g. ``/topic/dirac.jobs``).

        Returns once the broker has confirmed it (a STOMP receipt; a file written and flushed).
        Raises :class:`~dirac_core.errors.BrokerUnavailable` when the broker cannot be reached or
        does not confirm in time (the caller keeps the message and tries again later), and
        :class:`~dirac_core.errors.MessagingError` when the broker refused this very message
        (sending it again would not help).
        """
