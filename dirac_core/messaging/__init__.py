"""Messages out of the interware: job state changes, pilot events, data operations, finished requests.

:func:`start_messaging` (called by :class:`~dirac_core.interware.Interware` for a ``[messaging]``
section with a ``type``) loads the driver (``dirac.message_queues``: ``stomp``, ``logfile``,
``memory``), opens the :class:`DiskBuffer` and starts the :class:`Publisher`, whose sender thread
delivers the messages that :class:`MessagingHooks` builds from the interware's hooks. The schema
is in :mod:`dirac_core.messaging.messages`; the whole story in docs/messaging.md.
"""

from __future__ import annotations

from dirac_core.messaging.buffer import DiskBuffer
from dirac_core.messaging.hooks import MessagingHooks
from dirac_core.messaging.messages import SCHEMA_VERSION, MessageKind
from dirac_core.messaging.publisher import Publisher, PublisherStats
from dirac_core.messaging.wiring import Messaging, start_messaging

__all__ = [
    "SCHEMA_VERSION",
    "DiskBuffer",
    "MessageKind",
    "Messaging",
    "MessagingHooks",
    "Publisher",
    "PublisherStats",
    "start_messaging",
]
