"""The policy decision point: running the policies of one element and combining what they say.

DIRAC's rule: the most restrictive status (the lowest level) wins, and the reasons of the
policies that gave it are joined with ``" ### "``. Two deliberate differences:

- a policy that raises, or answers Error, has *not decided*: its outcome is reported (logged, and
  kept in the evaluation result) but takes no part in the combination. When no policy decides,
  there is no decision and the element keeps its status; the other policies and elements are
  evaluated as usual. (In DIRAC an Error answer, level 0, would win and stop the element because
  a command failed to fetch its data.)
- Unknown ("no data") does take part, with its level 5: it only wins when every deciding policy
  has no data, as DIRAC's "No policy applies" gives Unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from dirac_core.model.resource_status import Element, ResourceStatus, StatusType
from dirac_core.plugins.policies import Observations, Policy
from dirac_core.rss.records import PolicyOutcome

__all__ = ["REASON_SEPARATOR", "combine", "run_policies"]

log = logging.getLogger(__name__)

#: between the reasons of the policies that gave the winning status (DIRAC's)
REASON_SEPARATOR = " ### "


def run_policies(policies: Sequence[tuple[str, Policy]], element: Element, status_type: StatusType,
                 observations: Observations) -> list[PolicyOutcome]:
    """Every policy's outcome for ``element`` / ``status_type``, in order; a policy that raises
    gives an error outcome (and a log line) instead of stopping the others."""
    outcomes = []
    for label, policy in policies:
        try:
            result = policy.evaluate(element, status_type, observations)
        except Exception as exc:
            log.warning("policy %s failed on %s %s (%s): %s: %s", label, element.element_type, element.name,
                        status_type, type(exc).__name__, exc)
            outcomes.append(PolicyOutcome(policy=label, status=ResourceStatus.ERROR,
                                          reason=f"{type(exc).__name__}: {exc}", error=True))
            continue
        outcomes.append(PolicyOutcome(policy=label, status=result.status, reason=result.reason,
                                      error=result.status is ResourceStatus.ERROR))
    return outcomes


def combine(outcomes: Sequence[PolicyOutcome]) -> tuple[ResourceStatus | None, str]:
    """The combined status (None: no policy decided) and its reason.

    The reason of a decision is ``"<policy>: <reason>"`` for every policy that gave the winning
    status, joined with :data:`REASON_SEPARATOR`; without a decision it lists the failures.
    """
    deciding = [o for o in outcomes if not o.error]
    if not deciding:
        if not outcomes:
            return None, "no policy applies"
        return None, REASON_SEPARATOR.join(f"{o.policy} failed: {o.reason}" for o in outcomes)
    winner = min(deciding, key=lambda o: o.status.level).status
    return winner, REASON_SEPARATOR.join(f"{o.policy}: {o.reason}" for o in deciding if o.status is winner)
