"""How the request executor and the request cleaning run (the ``[requests]`` section).

DIRAC's RequestExecutingAgent and CleanReqDBAgent options, in seconds:

- ``requests_per_cycle``: the most requests one executor holds at a time (DIRAC: 100 per cycle);
- ``threads``: operations run at once by one executor;
- ``max_in_flight_per_se``: the most operations in flight per target SE, so that one slow site
  never holds every thread (a request whose target is saturated waits for the next cycle);
- ``max_attempts``: a file tried more often fails (DIRAC's template: 256);
- ``banned_delay``: how long a request waits when an SE it needs refuses access now (60 min);
- ``interval``: how often the executor's periodic task runs;
- ``stuck_after``: a request held (Assigned) for longer is put back (its executor died);
- ``keep_done``: Done requests older than that are deleted (60 days);
  ``clean_failed``: Failed and Canceled ones too.
"""

from __future__ import annotations

import attrs
from attrs import validators as v

from dirac_core.config._validators import POSITIVE

__all__ = ["RequestSettings"]


@attrs.frozen(kw_only=True)
class RequestSettings:
    """The executor's limits and the cleaning's delays (see the module's description)."""

    requests_per_cycle: int = attrs.field(default=100, validator=POSITIVE)
    threads: int = attrs.field(default=8, validator=POSITIVE)
    max_in_flight_per_se: int = attrs.field(default=4, validator=POSITIVE)
    max_attempts: int = attrs.field(default=256, validator=POSITIVE)
    banned_delay: int = attrs.field(default=3600, validator=POSITIVE)
    interval: int = attrs.field(default=60, validator=POSITIVE)
    stuck_after: int = attrs.field(default=3600, validator=POSITIVE)
    keep_done: int = attrs.field(default=60 * 86400, validator=POSITIVE)
    clean_failed: bool = attrs.field(default=False, validator=v.instance_of(bool))
