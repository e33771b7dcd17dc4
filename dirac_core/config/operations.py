"""Operations: the policy each VO runs under (limits, delays, failover SEs, job defaults).

It mirrors DIRAC's ``/Operations/Defaults`` and ``/Operations/<VO>``. In a
config file ``[operations.defaults]`` holds the policy of every VO and
``[operations.vos.<vo>]`` only what differs; the loader merges the two, so
``Operations.vos[vo]`` is always the complete, effective policy.
"""

from __future__ import annotations

import attrs
from attrs import validators as v

from dirac_core.config._validators import NON_NEGATIVE, OPT_STR, POSITIVE, STR_SET
from dirac_core.errors import ConfigError

__all__ = ["LimitTable", "Operations", "VOPolicy"]

#: site -> job attribute (``JobType``, ``Owner``, ...) -> attribute value -> number
LimitTable = dict[str, dict[str, dict[str, int]]]


@attrs.frozen(kw_only=True)
class VOPolicy:
    """The complete policy of one VO; every time is in seconds.

    - ``running_limits``: at most that many running jobs with that attribute
      value at that site (DIRAC's ``JobScheduling/RunningLimit``).
    - ``matching_delays``: at least that many seconds between two matches of
      such jobs at that site (``JobScheduling/MatchingDelay``).
    - ``output_ses``: where a job's output data goes when its JDL names no ``OutputSE``.
    - ``failover_ses``: where outputs go when their destination fails.
    - ``default_cpu_time`` / ``max_cpu_time``: a job's CPU time when it gives
      none, and the most it may ask for.
    - ``default_priority`` within ``min_priority``..``max_priority``.
    - ``max_parametric_jobs``: the most jobs one parametric submission expands to.
    - ``stalled_time``: a running job silent for that long becomes Stalled;
      ``failed_time``: a stalled job silent for that long becomes Failed;
      ``reschedule_stalled``: ... and is then rescheduled (within ``max_rescheduling``).
    - ``allowed_job_types``: the job types users may submit.
    - ``max_rescheduling``: a job rescheduled more often fails instead;
      ``reschedule_delays``: how long the n-th rescheduling holds the job
      (the last value repeats).
    - ``matched_time``: a job Matched for longer is rescheduled (its pilot died).
    - ``remove_delay``: final jobs older than that are deleted (0: never).
    - ``heartbeat_retention``: heartbeat metrics older than that are removed.
    - ``cpu_shares``: site -> share of the VO's processing (any positive numbers, normalised
      by the ``ByShare`` splitter).
    """

    running_limits: LimitTable = attrs.Factory(dict)
    matching_delays: LimitTable = attrs.Factory(dict)
    output_ses: tuple[str, ...] = attrs.field(
        default=(), validator=v.deep_iterable(v.instance_of(str), v.instance_of(tuple)))
    failover_ses: tuple[str, ...] = attrs.field(
        default=(), validator=v.deep_iterable(v.instance_of(str), v.instance_of(tuple)))
    default_cpu_time: int = attrs.field(default=86400, validator=NON_NEGATIVE)
    max_cpu_time: int = attrs.field(default=500000, validator=NON_NEGATIVE)
    default_priority: int = attrs.field(default=1, validator=NON_NEGATIVE)
    min_priority: int = attrs.field(default=0, validator=NON_NEGATIVE)
    max_priority: int = attrs.field(default=10, validator=NON_NEGATIVE)
    default_platform: str | None = attrs.field(default=None, validator=OPT_STR)
    max_parametric_jobs: int = attrs.field(default=1000, validator=POSITIVE)
    max_input_files: int = attrs.field(default=10000, validator=POSITIVE)
    stalled_time: int = attrs.field(default=7200, validator=POSITIVE)
    failed_time: int = attrs.field(default=21600, validator=POSITIVE)
    reschedule_stalled: bool = attrs.field(default=False, validator=v.instance_of(bool))
    allowed_job_types: frozenset[str] = attrs.field(
        default=frozenset({"User", "Test", "Hospital", "DataProcessing", "MCSimulation", "Merge"}),
        validator=STR_SET)
    max_rescheduling: int = attrs.field(default=3, validator=NON_NEGATIVE)
    reschedule_delays: tuple[int, ...] = attrs.field(
        default=(60, 180, 300, 600),
        validator=v.deep_iterable(NON_NEGATIVE, v.and_(v.instance_of(tuple), v.min_len(1))))
    matched_time: int = attrs.field(default=7200, validator=POSITIVE)
    remove_delay: int = attrs.field(default=7 * 86400, validator=NON_NEGATIVE)
    heartbeat_retention: int = attrs.field(default=30 * 86400, validator=POSITIVE)
    cpu_shares: dict[str, float] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        problems = []
        if not self.min_priority <= self.default_priority <= self.max_priority:
            problems.append(("default_priority", f"{self.default_priority} is outside "
                                                 f"{self.min_priority}..{self.max_priority}"))
        if self.default_cpu_time > self.max_cpu_time:
            problems.append(("default_cpu_time",
                             f"{self.default_cpu_time} exceeds max_cpu_time {self.max_cpu_time}"))
        problems += [(f"cpu_shares.{site}", f"a share is a number >= 0, not {share!r}")
                     for site, share in self.cpu_shares.items()
                     if isinstance(share, bool) or not isinstance(share, int | float) or share < 0]
        if problems:
            raise ConfigError(problems)

    def running_limit(self, site: str, attribute: str, value: str) -> int | None:
        """The running-job limit for jobs with ``attribute == value`` at ``site``, or None."""
        return self.running_limits.get(site, {}).get(attribute, {}).get(value)

    def reschedule_delay(self, counter: int) -> int:
        """Seconds the ``counter``-th rescheduling (1-based) holds a job before it may run."""
        if counter <= 0:
            return 0
        return self.reschedule_delays[min(counter, len(self.reschedule_delays)) - 1]

    def matching_delay(self, site: str, attribute: str, value: str) -> int:
        """Seconds to wait between two matches of such jobs at ``site`` (0: none)."""
        return self.matching_delays.get(site, {}).get(attribute, {}).get(value, 0)


@attrs.frozen(kw_only=True)
class Operations:
    """The default policy and the effective policy of each VO that has its own."""

    defaults: VOPolicy = attrs.Factory(VOPolicy)
    vos: dict[str, VOPolicy] = attrs.Factory(dict)

    def policy(self, vo: str) -> VOPolicy:
        """The effective policy of ``vo``: its own when it has one, else the defaults."""
        return self.vos.get(vo, self.defaults)
