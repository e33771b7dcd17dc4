"""Manual statuses: an owner and an expiry; the policies wait, then take over again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from rss_helpers import close_interware, make_interware, make_system, policy

from dirac_core.db import Database
from dirac_core.errors import DiracError, NotFound
from dirac_core.model import FakeClock
from dirac_core.model.resource_status import Element, ElementKey, ResourceStatus, StatusType
from dirac_core.plugins.policies import Observations, Policy, PolicyResult
from dirac_core.rss import ResourceStatusSystem
from dirac_core.tasks import TaskOutcome

R = ResourceStatus
SITE_A = ElementKey(element_type="Site", name="DIRAC.A.ch")
HOUR = timedelta(hours=1)


def test_an_override_holds_until_it_expires(database: Database, fake_clock: FakeClock,
        tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, policy("AlwaysActive", "Site"))
    system.evaluate()
    [record] = system.set_status("DIRAC.A.ch", "Banned", reason="network works", owner="admin",
                                 until=2 * HOUR)
    assert (record.status, record.token_owner, record.token_expiration) == (
        R.BANNED, "admin", fake_clock.now() + 2 * HOUR)
    assert system.status_of("DIRAC.A.ch") is R.BANNED
    assert system.evaluate(force=True).skipped[SITE_A] == "set by admin until 2026-01-01T02:00:00+00:00"
    fake_clock.advance(HOUR)
    assert system.expire_overrides() == []
    assert SITE_A in system.evaluate(force=True).skipped
    fake_clock.advance(HOUR)
    assert system.expire_overrides() == [SITE_A]
    [record] = system.statuses(name="DIRAC.A.ch")
    assert (record.status, record.token_owner, record.token_expiration) == (R.BANNED, "rss", None)
    # handed back: due at once; the policies say Active, and Banned passes through Probing
    assert system.evaluate().result(SITE_A).after is R.PROBING
    fake_clock.advance(20 * 60)
    assert system.evaluate().result(SITE_A).after is R.ACTIVE
    history = [(e.previous, e.status, e.owner, e.reason) for e in system.history("DIRAC.A.ch")]
    assert history == [
        (None, R.ACTIVE, "rss", "AlwaysActive: always Active"),
        (R.ACTIVE, R.BANNED, "admin", "network works"),
        (R.BANNED, R.BANNED, "rss", "status of admin expired"),
        (R.BANNED, R.PROBING, "rss", "Banned moves to Probing before Active: AlwaysActive: always Active"),
        (R.PROBING, R.ACTIVE, "rss", "AlwaysActive: always Active"),
    ]
    assert system.history("DIRAC.A.ch")[1].token_expiration == fake_clock.now() - timedelta(minutes=20)


def test_the_expiry_task_through_the_scheduler(database: Database, fake_clock: FakeClock,
        tmp_path: Path) -> None:
    iw = make_interware(database, fake_clock, tmp_path, policy("AlwaysActive", "ComputingElement"))
    try:
        assert {"rss.evaluation", "rss.expiry"} <= set(iw.scheduler.tasks)
        assert "rss.test_transfers" not in iw.scheduler.tasks  # off unless configured
        iw.status.set_status("ce-b", "Banned", reason="upgrade", owner="admin", until=HOUR)
        runs = iw.scheduler.run_due()
        assert runs["rss.expiry"].result == 0 and runs["rss.evaluation"].result == {
            "evaluated": 2, "changed": 2, "errors": []}  # ce-a1, ce-a2 get their first status; ce-b is held
        fake_clock.advance(HOUR)
        assert iw.scheduler.tasks["rss.expiry"].run_once() == 1
        assert iw.status.status_of("ce-b") is R.BANNED  # until the next evaluation
        runs = iw.scheduler.run_due()
        assert runs["rss.evaluation"].outcome is TaskOutcome.RAN and runs["rss.expiry"].result == 0
        assert iw.status.status_of("ce-b") is R.PROBING
    finally:
        close_interware(iw)


def test_set_status_checks_what_it_is_given(database: Database, fake_clock: FakeClock,
        tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, policy("AlwaysActive", "StorageElement"))
    records = system.set_status("SE-A", "Degraded", reason="slow", owner="admin")
    assert [str(r.key.status_type) for r in records] == ["CheckAccess", "ReadAccess", "RemoveAccess",
                                                        "WriteAccess"]  # every access of the SE
    assert {r.token_expiration for r in records} == {fake_clock.now() + timedelta(days=1)}  # token_lifetime
    [write] = system.set_status("SE-A", "Banned", reason="full", owner="admin", status_type="WriteAccess",
                                until=fake_clock.now() + 3 * HOUR)
    assert write.token_expiration == fake_clock.now() + 3 * HOUR
    assert system.status_of("SE-A", "WriteAccess") is R.BANNED
    assert system.status_of("SE-A", "ReadAccess") is R.DEGRADED
    with pytest.raises(NotFound, match="no element 'SE-Z' in the configuration"):
        system.set_status("SE-Z", "Banned", reason="", owner="admin")
    with pytest.raises(ValueError, match="a StorageElement has no status type 'all'"):
        system.set_status("SE-A", "Banned", reason="", owner="admin", status_type="all")
    with pytest.raises(ValueError, match="is not in the future"):
        system.set_status("SE-A", "Banned", reason="", owner="admin", until=fake_clock.now())
    with pytest.raises(ValueError, match="'Closed' is not a valid ResourceStatus"):
        system.set_status("SE-A", "Closed", reason="", owner="admin")


def test_a_status_set_as_the_policies_is_theirs_at_once(database: Database, fake_clock: FakeClock,
                                                       tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, policy("AlwaysActive", "Site"))
    [record] = system.set_status("DIRAC.B.fr", "Degraded", reason="try", owner="rss")
    assert record.token_expiration is None
    assert system.evaluate().result(ElementKey(element_type="Site", name="DIRAC.B.fr")).after is R.ACTIVE


def test_release_hands_back_early(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, policy("AlwaysDegraded", "Queue"))
    system.set_status("ce-a1/q1", "Banned", reason="drain", owner="admin")
    assert system.release("ce-a2/q1") == []  # nothing held there
    [key] = system.release("ce-a1/q1", by="alice")
    assert key == ElementKey(element_type="Queue", name="ce-a1/q1")
    assert system.history("ce-a1/q1")[-1].reason == "status of admin released by alice"
    assert system.evaluate().result(key).after is R.PROBING


class GrabsTheSite(Policy):
    """While the evaluation runs, an operator bans the site (a race the conditional write wins)."""

    system: ResourceStatusSystem

    def evaluate(self, element: Element, status_type: StatusType, observations: Observations) -> PolicyResult:
        self.system.set_status(element.name, "Banned", reason="operator", owner="admin")
        return PolicyResult(R.ACTIVE, "fine")


def test_an_operator_change_during_an_evaluation_wins(database: Database, fake_clock: FakeClock,
                                                      tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, policy("AlwaysActive", "Site"))
    system.evaluate()
    racing = make_system(database, fake_clock, tmp_path, policy("GrabsTheSite", "Site", names=["DIRAC.A.ch"]),
                         drivers={"GrabsTheSite": GrabsTheSite})
    racing.policies[0][1].system = racing  # type: ignore[attr-defined]
    report = racing.evaluate(force=True)
    assert report.skipped[SITE_A] == "changed by someone else during the evaluation"
    assert [(r.status, r.token_owner) for r in racing.statuses(name="DIRAC.A.ch")] == [(R.BANNED, "admin")]


def test_a_name_shared_by_two_elements_needs_its_type(database: Database, fake_clock: FakeClock,
                                                      tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, '[resources.storage_elements.ce-b]\nname = "ce-b"\n'
                         + policy("AlwaysActive", "ComputingElement"))
    with pytest.raises(DiracError, match=r"'ce-b' names several elements \(ComputingElement, StorageEl"):
        system.set_status("ce-b", "Banned", reason="x", owner="admin")
    [record] = system.set_status("ce-b", "Banned", reason="x", owner="admin", element_type="ComputingElement")
    assert record.key == ElementKey(element_type="ComputingElement", name="ce-b")
    assert system.status_of("ce-b", element_type="ComputingElement") is R.BANNED
