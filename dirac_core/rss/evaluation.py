"""One evaluation pass: DIRAC's element and site inspectors, and its PEP, as one function.

For each configured element (resources first, then sites) and each of its status types, the
policies that apply (by element type, name and status type) run when the row is due (its last
check older than its status's period, or ``force``), unless a manual status holds it. Their
outcomes are combined (:mod:`dirac_core.rss.pdp`), the transition rule is applied
(:func:`~dirac_core.model.resource_status.next_status`), and every change is written at the end
in one transaction, each one only if its row did not move meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, MutableMapping, Sequence
from datetime import datetime, timedelta

from dirac_core.config.resource_status import PolicySettings, ResourceStatusSettings
from dirac_core.model.resource_status import (
    Element,
    ElementKey,
    ElementType,
    ResourceStatus,
    StatusType,
    next_status,
)
from dirac_core.plugins.policies import Observations, Policy
from dirac_core.rss.elements import ElementCatalog
from dirac_core.rss.pdp import combine, run_policies
from dirac_core.rss.records import POLICY_OWNER, ElementEvaluation, EvaluationReport, StatusRecord
from dirac_core.rss.store import StatusChange, StatusStore

__all__ = ["evaluate_elements", "policies_for"]

Observe = Callable[[datetime, MutableMapping[ElementKey, ResourceStatus]], Observations]


def policies_for(policies: Sequence[tuple[PolicySettings, Policy]], element: Element,
                 status_type: StatusType) -> list[tuple[str, Policy]]:
    """The (label, policy) pairs that judge ``element`` for ``status_type``, in configuration order."""
    return [(settings.label, policy) for settings, policy in policies
            if element.element_type in settings.element_types
            and (not settings.names or element.name in settings.names)
            and (not settings.status_types or status_type in settings.status_types)]


def _skip_reason(record: StatusRecord | None, now: datetime, settings: ResourceStatusSettings,
                 force: bool) -> str | None:
    if record is None:
        return None
    if record.overridden(now):
        expiry = record.token_expiration
        until = "for good" if expiry is None else f"until {expiry.isoformat()}"
        return f"set by {record.token_owner} {until}"
    due = record.last_check + timedelta(seconds=settings.period(record.status))
    if not force and record.token_owner == POLICY_OWNER and due > now:
        return f"not due before {due.isoformat()}"
    return None


def evaluate_elements(*, now: datetime, catalog: ElementCatalog, store: StatusStore,
                      settings: ResourceStatusSettings, policies: Sequence[tuple[PolicySettings, Policy]],
                      observe: Observe, force: bool = False, names: Collection[str] | None = None,
                      element_types: Collection[ElementType] | None = None) -> EvaluationReport:
    """One pass over the elements (only ``names`` / ``element_types`` when given); what it did."""
    records = {r.key: r for r in store.records()}
    statuses: dict[ElementKey, ResourceStatus] = {k: r.status for k, r in records.items()}
    observations = observe(now, statuses)
    report = EvaluationReport()
    changes: list[StatusChange] = []
    checked: list[tuple[ElementKey, ResourceStatus]] = []
    for element in catalog:
        if (names is not None and element.name not in names) or (
                element_types is not None and element.element_type not in element_types):
            continue
        for status_type in element.status_types:
            applicable = policies_for(policies, element, status_type)
            key = element.key(status_type)
            record = records.get(key)
            skip = _skip_reason(record, now, settings, force) if applicable else None
            if not applicable or skip is not None:
                if skip is not None:
                    report.skipped[key] = skip
                continue
            outcomes = tuple(run_policies(applicable, element, status_type, observations))
            decided, reason = combine(outcomes)
            before = record.status if record is not None else None
            after = before if decided is None else next_status(before, decided)
            if decided is not None and after is not decided:
                reason = f"{before} moves to {after} before {decided}: {reason}"
            report.evaluated.append(ElementEvaluation(key=key, outcomes=outcomes, decided=decided,
                                                      before=before, after=after, reason=reason))
            if after is None:  # no decision on an element without a status: nothing to keep
                continue
            statuses[key] = after
            if record is not None and (decided is None or (after == before and reason == record.reason
                                                           and record.token_owner == POLICY_OWNER)):
                checked.append((key, record.status))
                continue
            changes.append(StatusChange(
                key=key, status=after, reason=reason, expected=before,
                expected_owner=None if record is None else record.token_owner,
                record=record is None or after != before or record.token_owner != POLICY_OWNER))
    applied = {c.key for c in store.apply(changes, now)} if changes else set()
    for change in changes:
        if change.key not in applied:
            report.skipped[change.key] = "changed by someone else during the evaluation"
    report.evaluated = [e for e in report.evaluated if e.key not in report.skipped]
    if checked:
        store.checked(checked, now)
    return report
