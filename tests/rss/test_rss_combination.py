"""Combining policies: most restrictive wins, reasons joined; a raising policy decides nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rss_helpers import make_system, policy

from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.model.resource_status import Element, ElementKey, ResourceStatus, StatusType
from dirac_core.plugins.policies import Observations, Policy, PolicyResult
from dirac_core.rss import combine
from dirac_core.rss.pdp import run_policies
from dirac_core.rss.records import PolicyOutcome

R = ResourceStatus


def _o(policy: str, status: R, reason: str = "", *, error: bool = False) -> PolicyOutcome:
    return PolicyOutcome(policy=policy, status=status, reason=reason or status.value.lower(), error=error)


@pytest.mark.parametrize(("outcomes", "status", "reason"), [
    ([], None, "no policy applies"),
    ([_o("P", R.ACTIVE)], R.ACTIVE, "P: active"),
    ([_o("P", R.ACTIVE), _o("Q", R.DEGRADED)], R.DEGRADED, "Q: degraded"),
    ([_o("P", R.BANNED, "down"), _o("Q", R.DEGRADED), _o("S", R.BANNED, "full")], R.BANNED,
     "P: down ### S: full"),
    ([_o("P", R.PROBING), _o("Q", R.ACTIVE)], R.PROBING, "P: probing"),
    # Unknown (no data) only wins when nothing else decides
    ([_o("P", R.UNKNOWN), _o("Q", R.ACTIVE)], R.ACTIVE, "Q: active"),
    ([_o("P", R.UNKNOWN, "no data"), _o("Q", R.UNKNOWN, "none")], R.UNKNOWN, "P: no data ### Q: none"),
    # an error (raised, or answered Error) takes no part
    ([_o("P", R.ERROR, "boom", error=True), _o("Q", R.ACTIVE)], R.ACTIVE, "Q: active"),
    ([_o("P", R.ERROR, "boom", error=True)], None, "P failed: boom"),
    ([_o("P", R.ERROR, "a", error=True), _o("Q", R.ERROR, "b", error=True)], None,
     "P failed: a ### Q failed: b"),
])
def test_the_most_restrictive_wins(outcomes: list[PolicyOutcome], status: R | None, reason: str) -> None:
    assert combine(outcomes) == (status, reason)


class Raises(Policy):
    """A policy whose data source is down."""

    def evaluate(self, element: Element, status_type: StatusType, observations: Observations) -> PolicyResult:
        raise ConnectionError(f"no data for {element.name}")


class Says(Policy):
    """Whatever its ``status`` parameter says."""

    def evaluate(self, element: Element, status_type: StatusType, observations: Observations) -> PolicyResult:
        return PolicyResult(self.parameters["status"], "told so")


def test_run_policies_reports_a_raising_policy_and_runs_the_others() -> None:
    element = Element(element_type="Site", name="DIRAC.A.ch")
    outcomes = run_policies([("Raises", Raises()), ("Says", Says({"status": "Degraded"}))], element,
                            StatusType.ALL, observations=None)  # type: ignore[arg-type]
    assert outcomes == [_o("Raises", R.ERROR, "ConnectionError: no data for DIRAC.A.ch", error=True),
                        _o("Says", R.DEGRADED, "told so")]


SITE_A = ElementKey(element_type="Site", name="DIRAC.A.ch")
SITE_B = ElementKey(element_type="Site", name="DIRAC.B.fr")
CE_B = ElementKey(element_type="ComputingElement", name="ce-b")


def test_a_raising_policy_keeps_the_status_and_the_others_are_evaluated(
        database: Database, fake_clock: FakeClock, tmp_path: Path, caplog: Any) -> None:
    drivers = {"Raises": Raises, "Says": Says}
    first = make_system(database, fake_clock, tmp_path, policy("AlwaysBanned", "Site", names=["DIRAC.A.ch"]),
                        drivers=drivers)
    first.evaluate()
    assert first.status_of("DIRAC.A.ch") is R.BANNED
    # now site A's only policy raises; site B has a raising one and a deciding one; CE b a deciding one
    extra = (policy("Raises", "Site")
             + policy("Says", "Site", names=["DIRAC.B.fr"], parameters={"status": "Degraded"})
             + policy("Says", "ComputingElement", names=["ce-b"], parameters={"status": "Active"}))
    system = make_system(database, fake_clock, tmp_path, extra, drivers=drivers)
    report = system.evaluate(force=True)
    assert report.result(SITE_A).decided is None and report.result(SITE_A).after is R.BANNED
    assert report.result(SITE_A).reason == "Raises failed: ConnectionError: no data for DIRAC.A.ch"
    assert system.status_of("DIRAC.A.ch") is R.BANNED  # kept
    assert report.result(SITE_B).after is R.DEGRADED and report.result(SITE_B).reason == "Says: told so"
    assert system.status_of("ce-b") is R.ACTIVE
    assert [(key, o.policy) for key, o in report.errors] == [(SITE_A, "Raises"), (SITE_B, "Raises")]
    assert "policy Raises failed on Site DIRAC.A.ch" in caplog.text
    # nothing new in the history of A: its status did not change
    assert [(e.status, e.owner) for e in system.history("DIRAC.A.ch")] == [(R.BANNED, "rss")]


def test_banned_goes_through_probing(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    make_system(database, fake_clock, tmp_path, policy("AlwaysBanned", "Site")).evaluate()
    system = make_system(database, fake_clock, tmp_path, policy("AlwaysActive", "Site"))
    report = system.evaluate()
    assert report.evaluated == [] and report.skipped[SITE_A].startswith("not due before 2026-01-01T00:15:00")
    fake_clock.advance(15 * 60)  # Banned is inspected every 15 minutes
    assert system.evaluate().result(SITE_A).after is R.PROBING
    assert system.status_of("DIRAC.A.ch") is R.PROBING
    assert "Banned moves to Probing before Active: AlwaysActive: always Active" in system.statuses(
        name="DIRAC.A.ch")[0].reason
    fake_clock.advance(20 * 60)
    assert system.evaluate().result(SITE_A).after is R.ACTIVE
    assert [e.status for e in system.history("DIRAC.A.ch")] == [R.BANNED, R.PROBING, R.ACTIVE]
