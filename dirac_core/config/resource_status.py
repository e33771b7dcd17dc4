"""How the resource status system runs (the ``[resource_status]`` section).

DIRAC's ``Operations/ResourceStatus``: which policies apply to which elements, the inspection
period of each status, the downtime calendar, manual overrides. Times are in seconds.

- ``policies``: the policies in use (``[[resource_status.policies]]``), each a driver of
  ``dirac.policies`` (``type``) applied to the elements of ``element_types`` (and, when given,
  only to those ``names`` and ``status_types``), with its ``parameters``; ``name`` labels it in
  reasons (default: its type), so one driver may be used twice with other parameters.
  Without the key, :data:`DEFAULT_POLICIES`; an empty list turns evaluation off.
- ``periods``: an element is re-evaluated when its last check is older than the period of its
  status (DIRAC's inspectors: Active, Degraded, Probing 20 min, Banned 15, Unknown 10, Error 5).
- ``evaluation_interval``: how often the evaluation task looks for elements that are due.
- ``downtimes``: the downtime calendar, a file path or an http(s) URL (JSON or iCalendar, see
  ``docs/status.md``); ``downtime_refresh``: how long a calendar read is kept.
- ``cache``: how long a process trusts its copy of the statuses (its own changes show at once).
- ``token_lifetime``: how long a manual status holds when no expiry is given (DIRAC: 1 day);
  ``expiry_interval``: how often expired overrides hand control back to the policies.
- ``test_transfers``: whether the SE test-transfer task runs (off by default: it writes to
  every SE); ``test_transfer_interval``; ``test_transfer_path``: the LFN directory of the test
  file (the SE's name is its file name).
"""

from __future__ import annotations

from typing import Any

import attrs
from attrs import validators as v

from dirac_core.config._validators import NAME, OPT_STR, POSITIVE, STR_SET, OptionValue
from dirac_core.errors import ConfigError
from dirac_core.model.resource_status import ElementType, ResourceStatus, StatusType

__all__ = ["DEFAULT_PERIODS", "DEFAULT_POLICIES", "PolicySettings", "ResourceStatusSettings"]


def _subset_of(allowed: type[ElementType] | type[StatusType]) -> Any:
    def check(instance: object, attribute: attrs.Attribute[frozenset[str]], value: frozenset[str]) -> None:
        unknown = sorted(value - {m.value for m in allowed})
        if unknown:
            raise ValueError(f"unknown {allowed.__name__} {unknown}; known: {', '.join(allowed)}")
    return v.and_(STR_SET, check)


@attrs.frozen(kw_only=True)
class PolicySettings:
    """One policy in use: its driver, the elements it judges, its parameters."""

    type: str = attrs.field(validator=NAME)
    element_types: frozenset[str] = attrs.field(validator=_subset_of(ElementType))
    name: str | None = attrs.field(default=None, validator=OPT_STR)
    names: frozenset[str] = attrs.field(default=frozenset(), validator=STR_SET)
    status_types: frozenset[str] = attrs.field(default=frozenset(), validator=_subset_of(StatusType))
    parameters: dict[str, OptionValue] = attrs.field(factory=dict, validator=v.instance_of(dict))

    @property
    def label(self) -> str:
        """The name in reasons and results: ``name``, else ``type``."""
        return self.name or self.type


def _policy(kind: str, *types: ElementType, status_types: frozenset[str] = frozenset()) -> PolicySettings:
    return PolicySettings(type=kind, element_types=frozenset(types), status_types=status_types)


_E = ElementType
#: the policies used when the configuration names none
DEFAULT_POLICIES: tuple[PolicySettings, ...] = (
    _policy("DowntimeOngoing", _E.SITE, _E.COMPUTING_ELEMENT, _E.STORAGE_ELEMENT),
    _policy("PilotEfficiency", _E.COMPUTING_ELEMENT, _E.QUEUE),
    _policy("FreeSpace", _E.STORAGE_ELEMENT, status_types=frozenset({StatusType.WRITE.value})),
    _policy("SETestTransfer", _E.STORAGE_ELEMENT),
    _policy("JobEfficiency", _E.SITE),
    _policy("Propagation", _E.SITE),
)

#: DIRAC's inspection periods, in seconds
DEFAULT_PERIODS: dict[ResourceStatus, int] = {
    ResourceStatus.ACTIVE: 1200, ResourceStatus.DEGRADED: 1200, ResourceStatus.PROBING: 1200,
    ResourceStatus.BANNED: 900, ResourceStatus.UNKNOWN: 600, ResourceStatus.ERROR: 300,
}


@attrs.frozen(kw_only=True)
class ResourceStatusSettings:
    """The resource status system's policies, periods and tasks (see the module's description).

    Raises :class:`ConfigError` for a period that is not a positive number of seconds.
    """

    policies: tuple[PolicySettings, ...] = attrs.field(default=DEFAULT_POLICIES,
                                                        validator=v.instance_of(tuple))
    periods: dict[ResourceStatus, int] = attrs.field(factory=lambda: dict(DEFAULT_PERIODS))
    evaluation_interval: int = attrs.field(default=60, validator=POSITIVE)
    downtimes: str | None = attrs.field(default=None, validator=OPT_STR)
    downtime_refresh: int = attrs.field(default=900, validator=POSITIVE)
    cache: int = attrs.field(default=30, validator=POSITIVE)
    token_lifetime: int = attrs.field(default=86400, validator=POSITIVE)
    expiry_interval: int = attrs.field(default=300, validator=POSITIVE)
    test_transfers: bool = attrs.field(default=False, validator=v.instance_of(bool))
    test_transfer_interval: int = attrs.field(default=3600, validator=POSITIVE)
    test_transfer_path: str = attrs.field(default="/rss/test-transfers", validator=v.matches_re(r"/.*"))

    def __attrs_post_init__(self) -> None:
        problems = [(f"periods.{status}", f"a period is a number of seconds >= 1, not {seconds!r}")
                    for status, seconds in self.periods.items()
                    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 1]
        if problems:
            raise ConfigError(problems)

    def period(self, status: ResourceStatus) -> int:
        """Seconds between two evaluations of an element at ``status``."""
        return self.periods.get(status, DEFAULT_PERIODS[status])
