"""What the resource status system reads back and reports: status records, history entries,
and the outcome of an evaluation pass."""

from __future__ import annotations

from datetime import datetime

import attrs

from dirac_core.model.resource_status import ElementKey, ResourceStatus

__all__ = ["POLICY_OWNER", "ElementEvaluation", "EvaluationReport", "HistoryEntry", "PolicyOutcome",
           "StatusRecord"]

#: the owner of a status the policies decide (DIRAC's ``rs_svc``); any other owner is a manual override
POLICY_OWNER = "rss"


@attrs.frozen(kw_only=True)
class StatusRecord:
    """One element's status for one status type and VO, as stored.

    ``token_owner`` is :data:`POLICY_OWNER` unless someone set the status by hand; then the
    policies leave it alone until ``token_expiration`` (None: never).
    """

    key: ElementKey
    status: ResourceStatus
    reason: str
    date_effective: datetime
    last_check: datetime
    token_owner: str = POLICY_OWNER
    token_expiration: datetime | None = None

    def overridden(self, now: datetime) -> bool:
        """Whether a manual status holds at ``now`` (the policies must not change it)."""
        return self.token_owner != POLICY_OWNER and (self.token_expiration is None
                                                     or self.token_expiration > now)


@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One change of an element's status: to what, from what, why, by whom, when (and until when
    a manual status was to hold)."""

    key: ElementKey
    status: ResourceStatus
    previous: ResourceStatus | None
    reason: str
    owner: str
    changed: datetime
    token_expiration: datetime | None = None


@attrs.frozen(kw_only=True)
class PolicyOutcome:
    """What one policy said of one element: its status and reason, or (``error``) why it failed."""

    policy: str
    status: ResourceStatus
    reason: str
    error: bool = False


@attrs.frozen(kw_only=True)
class ElementEvaluation:
    """The evaluation of one element's status type: the policies' outcomes, the combined decision
    (None when no policy decided: the status is kept), and the status before and after."""

    key: ElementKey
    outcomes: tuple[PolicyOutcome, ...]
    decided: ResourceStatus | None
    before: ResourceStatus | None
    after: ResourceStatus | None
    reason: str

    @property
    def changed(self) -> bool:
        """Whether the status changed."""
        return self.after is not None and self.after != self.before

    @property
    def errors(self) -> tuple[PolicyOutcome, ...]:
        """The outcomes of the policies that failed."""
        return tuple(o for o in self.outcomes if o.error)


@attrs.define(kw_only=True)
class EvaluationReport:
    """One evaluation pass: every element evaluated, and those skipped with why (not due,
    held by a manual status, changed by someone else meanwhile)."""

    evaluated: list[ElementEvaluation] = attrs.field(factory=list)
    skipped: dict[ElementKey, str] = attrs.field(factory=dict)

    @property
    def changes(self) -> list[ElementEvaluation]:
        """The evaluations that changed a status."""
        return [e for e in self.evaluated if e.changed]

    @property
    def errors(self) -> list[tuple[ElementKey, PolicyOutcome]]:
        """Every policy that failed, with the element it failed on."""
        return [(e.key, o) for e in self.evaluated for o in e.errors]

    def result(self, key: ElementKey) -> ElementEvaluation:
        """The evaluation of ``key``; raises ``KeyError`` when it was not evaluated."""
        for evaluation in self.evaluated:
            if evaluation.key == key:
                return evaluation
        raise KeyError(key)
