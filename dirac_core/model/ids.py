"""Identifiers: time-ordered UUIDs for objects that are not numbered by the database.

Job ids are database integers (DIRAC compatibility); pilots' stamps, request
ids and tokens' ``jti`` use UUIDv7-style values, whose time-ordered prefix
keeps B-tree inserts at the right edge of the index.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime

from dirac_core.model.clock import ensure_utc

__all__ = ["new_uuid", "uuid_time"]


def new_uuid(now: datetime) -> uuid.UUID:
    """A version-7 UUID whose first 48 bits are ``now`` in milliseconds since the epoch."""
    millis = int(ensure_utc(now, name="now").timestamp() * 1000)
    if not 0 <= millis < 1 << 48:
        raise ValueError(f"time out of range for a UUIDv7: {now.isoformat()}")
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | (0x7 << 76) | ((rand >> 68) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


def uuid_time(value: uuid.UUID) -> int:
    """The millisecond timestamp stored in a UUIDv7 made by :func:`new_uuid`."""
    if value.version != 7:
        raise ValueError(f"not a version-7 UUID: {value}")
    return value.int >> 80
