"""Who is calling: the identity every engine call acts for.

The server builds it from a verified token or proxy; an embedded interware
builds it from the registry (:meth:`Interware.identity`). Engines never read
owner, group or VO from user input such as a JDL.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from attrs import validators as v

__all__ = ["Identity"]

_TEXT = v.and_(v.instance_of(str), v.min_len(1))


def _properties(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


@attrs.frozen(kw_only=True)
class Identity:
    """A user acting in one group of one VO, with the group's properties.

    ``properties`` are plain strings (see
    :class:`dirac_core.config.registry.Property` for DIRAC's standard ones).
    """

    user: str = attrs.field(validator=_TEXT)
    group: str = attrs.field(validator=_TEXT)
    vo: str = attrs.field(validator=_TEXT)
    properties: frozenset[str] = attrs.field(default=frozenset(), converter=_properties)
    #: set for a pilot's token: the pilot it was issued to (it may act on that pilot's jobs only)
    pilot_stamp: str | None = None

    def has(self, prop: str) -> bool:
        """True when the identity holds the property ``prop``."""
        return prop in self.properties
