"""Where the interware publishes its events: the ``[messaging]`` section.

::

    [messaging]
    type = "stomp"                        # a driver of ``dirac.message_queues``; absent: publish nothing
    buffer_dir = "/var/lib/dirac/messages"  # undelivered messages wait here (JSON lines, fsync'd)
    buffer_limit = 100000                 # messages on disk at most; past it the oldest are dropped
    options = { host = "mq.example.org", port = 61613, user = "dirac", password_file = "/etc/dirac/mq" }

    [messaging.destinations]              # one per kind of message; "" publishes none of that kind
    job_status = "/topic/dirac.jobs"
    pilot_event = "/topic/dirac.pilots"
    data_operation = "/topic/dirac.data"
    request_done = "/topic/dirac.requests"

``options`` are the driver's keyword arguments (the driver checks them). Secrets stay out of
them, since the server shows its configuration to every signed-in user: the ``stomp`` driver
reads its password from ``password_file``. ``queue_size`` bounds the messages
held in memory between the caller and the sender thread; ``retry_initial`` and ``retry_max``
(seconds) bound the back-off between attempts to reach a broker that went away. See
docs/messaging.md.
"""

from __future__ import annotations

import attrs
from attrs import validators as v

from dirac_core.config._validators import NAME, POSITIVE, OptionValue
from dirac_core.errors import ConfigError

__all__ = ["Destinations", "MessagingSettings"]

_SECONDS = v.and_(v.instance_of(float | int), v.gt(0))


@attrs.frozen(kw_only=True)
class Destinations:
    """The destination of each kind of message, in the broker's syntax; "" publishes none."""

    job_status: str = attrs.field(default="/topic/dirac.jobs", validator=v.instance_of(str))
    pilot_event: str = attrs.field(default="/topic/dirac.pilots", validator=v.instance_of(str))
    data_operation: str = attrs.field(default="/topic/dirac.data", validator=v.instance_of(str))
    request_done: str = attrs.field(default="/topic/dirac.requests", validator=v.instance_of(str))


@attrs.frozen(kw_only=True)
class MessagingSettings:
    """The message-queue driver, its options, the destinations and the disk buffer.

    Raises ``ConfigError`` when a driver is chosen without a ``buffer_dir``: messages that
    cannot be delivered must have somewhere to wait that survives a restart.
    """

    type: str | None = attrs.field(default=None, validator=v.optional(NAME))
    options: dict[str, OptionValue] = attrs.field(factory=dict, validator=v.instance_of(dict))
    destinations: Destinations = attrs.Factory(Destinations)
    buffer_dir: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    buffer_limit: int = attrs.field(default=100_000, validator=POSITIVE)
    queue_size: int = attrs.field(default=10_000, validator=POSITIVE)
    retry_initial: float = attrs.field(default=1.0, validator=_SECONDS)
    retry_max: float = attrs.field(default=300.0, validator=_SECONDS)

    def __attrs_post_init__(self) -> None:
        if self.type is not None and not self.buffer_dir:
            raise ConfigError([("buffer_dir", f"required when a driver is chosen (type = {self.type!r})")])
