"""Building the messaging of an interware from its ``[messaging]`` section: :func:`start_messaging`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any

import pluggy

from dirac_core.config.messaging import MessagingSettings
from dirac_core.db.database import Database
from dirac_core.errors import ConfigError
from dirac_core.messaging.buffer import DiskBuffer
from dirac_core.messaging.hooks import MessagingHooks, job_vos
from dirac_core.messaging.messages import MessageKind
from dirac_core.messaging.publisher import Publisher
from dirac_core.model.clock import Clock
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import load_driver
from dirac_core.plugins.messaging import MessageQueue

__all__ = ["Messaging", "start_messaging"]

log = logging.getLogger(__name__)


class Messaging:
    """An interware's publisher and the hooks feeding it; :meth:`close` detaches and stops both."""

    def __init__(self, settings: MessagingSettings, publisher: Publisher, hooks: pluggy.PluginManager,
                 *, clock: Clock, database: Database) -> None:
        self.settings = settings
        #: the publisher (its ``stats()``, ``flush()``, ``retry_now()``)
        self.publisher = publisher
        self._hooks = hooks
        self._impl = MessagingHooks(self.publish, settings.destinations, clock=clock,
                                    vos_of_jobs=functools.partial(job_vos, database))
        hooks.register(self._impl)

    def __repr__(self) -> str:
        return f"Messaging({self.publisher!r})"

    def publish(self, kind: MessageKind | str, message: Mapping[str, Any]) -> bool:
        """Publish ``message`` to the destination of ``kind``; False when that kind is switched
        off ("" destination) or the message was dropped. Never blocks on the broker; raises
        ``ValueError`` only for a ``kind`` that is not a :class:`MessageKind`."""
        destination = getattr(self.settings.destinations, MessageKind(kind).value)
        if not destination:
            return False
        return self.publisher.publish(destination, message)

    def close(self, timeout: float = 10.0) -> None:
        """Stop publishing the interware's events; send or buffer what is in memory; close the driver."""
        if self._hooks.is_registered(self._impl):
            self._hooks.unregister(self._impl)
        self.publisher.close(timeout)


def start_messaging(settings: MessagingSettings, *, hooks: pluggy.PluginManager, database: Database,
                    clock: Clock) -> Messaging | None:
    """The messaging ``settings`` describe, its hooks registered in ``hooks``; None without a driver.

    Raises ``PluginNotFound``/``PluginUnavailable`` for the driver, ``ConfigError`` for options the
    driver does not take or a buffer folder that cannot be created.
    """
    if settings.type is None:
        return None
    factory = load_driver(PluginGroup.MESSAGE_QUEUES, settings.type)
    try:
        queue: MessageQueue = factory(**settings.options)
    except TypeError as exc:
        raise ConfigError([("messaging.options", f"driver {settings.type!r}: {exc}")]) from None
    try:
        buffer = DiskBuffer(settings.buffer_dir or "", limit=settings.buffer_limit)
    except OSError as exc:
        queue.close()
        raise ConfigError([("messaging.buffer_dir", f"cannot use {settings.buffer_dir}: {exc.strerror}")]) \
            from None
    publisher = Publisher(queue, buffer, queue_size=settings.queue_size, retry_initial=settings.retry_initial,
                          retry_max=settings.retry_max)
    log.info("publishing messages through %r (buffer %s)", queue, buffer.directory)
    return Messaging(settings, publisher, hooks, clock=clock, database=database)
