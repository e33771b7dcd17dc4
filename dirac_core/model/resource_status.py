"""Resource statuses: what the resource status system says of sites, CEs, queues and SEs.

An element (a site, a computing element, a CE queue, a storage element) has one status per
*status type* (``all``, or for an SE each kind of access: ``ReadAccess``, ``WriteAccess``,
``CheckAccess``, ``RemoveAccess``) and per VO (``all`` unless a VO has its own row).

Statuses have DIRAC's levels: Unknown 5 > Active 4 > Degraded 3 > Probing 2 > Banned 1 > Error 0;
a lower level is more restrictive, and when policies disagree the most restrictive wins.
An element is *usable* at Degraded or above: Active, Degraded and Unknown (no information, which
defers to the configuration) let work through; Probing, Banned and Error stop it.

The one transition rule is DIRAC's, which DIRAC documents but never applies (its state machine
starts at Unknown and refuses every change, reference dms.md section 6): from Banned the policies
may only go to Probing (or stay, or Error). We apply it on purpose: a banned element the policies
find healthy again is Probing for one inspection period before it is Active, so that an element
that fails intermittently does not flap between Banned and Active. :func:`next_status` applies it;
a manual change (an operator's) is not subject to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import attrs

from dirac_core.model.clock import ensure_utc
from dirac_core.model.status import make_table

__all__ = ["ALL", "RSS_TRANSITIONS", "STATUS_TYPES", "Downtime", "Element", "ElementKey", "ElementType",
           "ResourceStatus", "Severity", "StatusType", "TransferTest", "next_status"]

#: the status type and the VO of a row that applies to every status type / VO
ALL = "all"


class ResourceStatus(StrEnum):
    """The status of an element for one status type (DIRAC's RSS statuses)."""

    UNKNOWN = "Unknown"
    ACTIVE = "Active"
    DEGRADED = "Degraded"
    PROBING = "Probing"
    BANNED = "Banned"
    ERROR = "Error"

    @property
    def level(self) -> int:
        """DIRAC's level: 5 (Unknown) down to 0 (Error); lower is more restrictive."""
        return _LEVELS[self]

    @property
    def usable(self) -> bool:
        """Whether work may go there: Active, Degraded and Unknown (level >= Degraded's)."""
        return self.level >= _LEVELS[ResourceStatus.DEGRADED]


_R = ResourceStatus
_LEVELS = {_R.UNKNOWN: 5, _R.ACTIVE: 4, _R.DEGRADED: 3, _R.PROBING: 2, _R.BANNED: 1, _R.ERROR: 0}

#: which status a policy decision may move an element to (manual changes are free)
RSS_TRANSITIONS = make_table(ResourceStatus, {
    _R.UNKNOWN: tuple(_R),
    _R.ACTIVE: tuple(_R),
    _R.DEGRADED: tuple(_R),
    _R.PROBING: tuple(_R),
    _R.BANNED: (_R.PROBING, _R.ERROR),
    _R.ERROR: tuple(_R),
})


def next_status(current: ResourceStatus | None, decided: ResourceStatus) -> ResourceStatus:
    """The status a policy decision ``decided`` moves an element at ``current`` to: ``decided``
    when the table allows it (or the element has no status yet), else Probing (DIRAC's rule)."""
    if current is None or decided == current or decided in RSS_TRANSITIONS[current]:
        return decided
    return ResourceStatus.PROBING


class ElementType(StrEnum):
    """The kinds of element the resource status system follows."""

    SITE = "Site"
    COMPUTING_ELEMENT = "ComputingElement"
    QUEUE = "Queue"
    STORAGE_ELEMENT = "StorageElement"


class StatusType(StrEnum):
    """What a status is about: everything, or one kind of access to a storage element."""

    ALL = "all"
    READ = "ReadAccess"
    WRITE = "WriteAccess"
    CHECK = "CheckAccess"
    REMOVE = "RemoveAccess"


#: the status types of each element type (DIRAC's documented ``Config/StatusTypes``)
STATUS_TYPES: dict[ElementType, tuple[StatusType, ...]] = {
    ElementType.SITE: (StatusType.ALL,),
    ElementType.COMPUTING_ELEMENT: (StatusType.ALL,),
    ElementType.QUEUE: (StatusType.ALL,),
    ElementType.STORAGE_ELEMENT: (StatusType.READ, StatusType.WRITE, StatusType.CHECK, StatusType.REMOVE),
}


def _status_type(instance: ElementKey, attribute: object, value: StatusType) -> None:
    if value not in STATUS_TYPES[instance.element_type]:
        allowed = ", ".join(STATUS_TYPES[instance.element_type])
        raise ValueError(f"a {instance.element_type} has no status type '{value}' (it has: {allowed})")


@attrs.frozen(kw_only=True)
class ElementKey:
    """What one status row is about: element type, name, status type and VO.

    Raises ``ValueError`` for a status type the element type does not have.
    """

    element_type: ElementType = attrs.field(converter=ElementType)
    name: str = attrs.field(validator=attrs.validators.min_len(1))
    status_type: StatusType = attrs.field(default=StatusType.ALL, converter=StatusType,
                                          validator=_status_type)
    vo: str = attrs.field(default=ALL, validator=attrs.validators.min_len(1))

    def __str__(self) -> str:
        vo = "" if self.vo == ALL else f" ({self.vo})"
        return f"{self.element_type} {self.name} {self.status_type}{vo}"


@attrs.frozen(kw_only=True)
class Element:
    """An element as policies see it: its kind, name, and where it sits.

    ``site`` is the site of a CE, queue or SE (None for a site, and for an SE no site lists);
    ``ce`` the CE of a queue. A queue is named ``<ce>/<queue>``.
    """

    element_type: ElementType = attrs.field(converter=ElementType)
    name: str
    site: str | None = None
    ce: str | None = None

    def key(self, status_type: StatusType = StatusType.ALL, vo: str = ALL) -> ElementKey:
        """The key of this element's row for ``status_type`` and ``vo``."""
        return ElementKey(element_type=self.element_type, name=self.name, status_type=status_type, vo=vo)

    @property
    def status_types(self) -> tuple[StatusType, ...]:
        """The status types this element has."""
        return STATUS_TYPES[self.element_type]


class Severity(StrEnum):
    """How bad a downtime is (GOCDB's): an outage stops the element, a warning slows it."""

    OUTAGE = "OUTAGE"
    WARNING = "WARNING"


def _utc_start(value: datetime) -> datetime:
    return ensure_utc(value, name="start")


def _utc_end(value: datetime) -> datetime:
    return ensure_utc(value, name="end")


@attrs.frozen(kw_only=True)
class Downtime:
    """A planned or ongoing downtime of one element, from the downtime calendar."""

    element: str
    start: datetime = attrs.field(converter=_utc_start)
    end: datetime = attrs.field(converter=_utc_end)
    severity: Severity = attrs.field(default=Severity.OUTAGE, converter=Severity)
    description: str = ""

    def __attrs_post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"downtime of {self.element} ends ({self.end.isoformat()}) "
                             f"before it starts ({self.start.isoformat()})")

    def ongoing(self, at: datetime) -> bool:
        """Whether the downtime covers ``at``."""
        return self.start <= at < self.end

    def within(self, at: datetime, horizon: timedelta) -> bool:
        """Whether the downtime is ongoing at ``at`` or starts in the next ``horizon``."""
        return self.start <= at + horizon and at < self.end


@attrs.frozen(kw_only=True)
class TransferTest:
    """The outcome of one test transfer to an SE: a tiny file written, read back and removed.

    Each step is True (worked), False (failed) or None (not tried: a step after a failed write).
    """

    se: str
    checked: datetime
    write_ok: bool | None
    read_ok: bool | None
    remove_ok: bool | None
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every step worked."""
        return bool(self.write_ok and self.read_ok and self.remove_ok)
