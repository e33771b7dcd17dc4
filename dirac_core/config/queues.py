"""A computing element's queue: the limits a job must fit in to run there."""

from __future__ import annotations

import attrs
from attrs import validators as v

from dirac_core.config._validators import NAME, NON_NEGATIVE, OPT_INT, OPT_STR, POSITIVE, STR_SET, OptionValue

__all__ = ["Queue"]


@attrs.frozen(kw_only=True)
class Queue:
    """One batch queue of a computing element.

    Times are in seconds (DIRAC's ``.cfg`` files give ``maxCPUTime`` in
    minutes; :func:`~dirac_core.config.load_dirac_cfg` converts).
    ``si00`` is the CPU power per core in SpecInt2000 units, used to normalise
    CPU time. ``max_wall_time`` and ``max_ram_mb`` are unknown when None.
    """

    name: str = attrs.field(validator=NAME)
    max_cpu_time: int = attrs.field(default=86400, validator=NON_NEGATIVE)
    max_wall_time: int | None = attrs.field(default=None, validator=OPT_INT)
    max_total_jobs: int = attrs.field(default=100, validator=NON_NEGATIVE)
    max_waiting_jobs: int = attrs.field(default=10, validator=NON_NEGATIVE)
    processors: int = attrs.field(default=1, validator=POSITIVE)
    max_ram_mb: int | None = attrs.field(default=None, validator=OPT_INT)
    si00: int | None = attrs.field(default=None, validator=OPT_INT)
    tags: frozenset[str] = attrs.field(default=frozenset(), validator=STR_SET)
    platform: str | None = attrs.field(default=None, validator=OPT_STR)
    options: dict[str, OptionValue] = attrs.field(factory=dict, validator=v.instance_of(dict))
