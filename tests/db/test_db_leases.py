"""Task leases on every backend, driven by a fake clock."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from dirac_core.db import Database, acquire_lease, get_lease, record_run, release_lease
from dirac_core.model.clock import FakeClock

TTL = timedelta(seconds=60)


def _acquire(db: Database, owner: str, clock: FakeClock, name: str = "site-director") -> bool:
    with db.begin() as conn:
        return acquire_lease(conn, name, owner, clock.now(), TTL)


def test_first_acquire_wins_and_others_are_refused_while_held(database: Database) -> None:
    clock = FakeClock()
    assert _acquire(database, "replica-a", clock)
    clock.advance(59)
    assert not _acquire(database, "replica-b", clock)
    with database.begin() as conn:
        lease = get_lease(conn, "site-director")
    assert lease is not None
    assert lease.owner == "replica-a"
    assert lease.acquired_at == FakeClock.DEFAULT_START
    assert lease.expires_at == FakeClock.DEFAULT_START + TTL
    assert lease.held_at(clock.now())
    assert (lease.run_count, lease.last_run_at) == (0, None)


def test_expired_lease_is_stolen(database: Database) -> None:
    clock = FakeClock()
    assert _acquire(database, "replica-a", clock)
    clock.advance(TTL)  # expires_at <= now: expired
    assert _acquire(database, "replica-b", clock)
    assert not _acquire(database, "replica-a", clock)
    with database.begin() as conn:
        lease = get_lease(conn, "site-director")
    assert lease is not None
    assert lease.owner == "replica-b"
    assert lease.acquired_at == clock.now()


def test_holder_renews_keeping_acquired_at(database: Database) -> None:
    clock = FakeClock()
    start = clock.now()
    assert _acquire(database, "replica-a", clock)
    clock.advance(30)
    assert _acquire(database, "replica-a", clock)
    with database.begin() as conn:
        lease = get_lease(conn, "site-director")
    assert lease is not None
    assert lease.acquired_at == start
    assert lease.expires_at == clock.now() + TTL


def test_retaking_own_expired_lease_starts_a_new_tenure(database: Database) -> None:
    clock = FakeClock()
    assert _acquire(database, "replica-a", clock)
    clock.advance(TTL * 2)
    assert _acquire(database, "replica-a", clock)
    with database.begin() as conn:
        lease = get_lease(conn, "site-director")
    assert lease is not None
    assert lease.acquired_at == clock.now()


def test_release_lets_another_owner_in_at_once(database: Database) -> None:
    clock = FakeClock()
    assert _acquire(database, "replica-a", clock)
    with database.begin() as conn:
        assert not release_lease(conn, "site-director", "replica-b", clock.now())
        assert release_lease(conn, "site-director", "replica-a", clock.now())
        assert not release_lease(conn, "site-director", "replica-a", clock.now())
    assert _acquire(database, "replica-b", clock)


def test_record_run_counts_only_for_the_owner(database: Database) -> None:
    clock = FakeClock()
    assert _acquire(database, "replica-a", clock)
    with database.begin() as conn:
        assert record_run(conn, "site-director", "replica-a", clock.now())
        clock.advance(5)
        assert record_run(conn, "site-director", "replica-a", clock.now())
        assert not record_run(conn, "site-director", "replica-b", clock.now())
        assert not record_run(conn, "no-such-task", "replica-a", clock.now())
        lease = get_lease(conn, "site-director")
    assert lease is not None
    assert lease.run_count == 2
    assert lease.last_run_at == clock.now()
    # the history survives a release and a takeover
    with database.begin() as conn:
        release_lease(conn, "site-director", "replica-a", clock.now())
        assert acquire_lease(conn, "site-director", "replica-b", clock.now(), 10.0)
        lease = get_lease(conn, "site-director")
    assert lease is not None
    assert lease.run_count == 2


def test_leases_are_independent_per_task(database: Database) -> None:
    clock = FakeClock()
    assert _acquire(database, "replica-a", clock, "task-1")
    assert _acquire(database, "replica-b", clock, "task-2")
    with database.begin() as conn:
        assert get_lease(conn, "task-3") is None


def test_bad_arguments_are_refused(database: Database) -> None:
    clock = FakeClock()
    with database.begin() as conn:
        with pytest.raises(ValueError, match="ttl"):
            acquire_lease(conn, "t", "o", clock.now(), 0)
        with pytest.raises(ValueError, match="name"):
            acquire_lease(conn, "x" * 129, "o", clock.now(), TTL)
        with pytest.raises(ValueError, match="naive"):
            acquire_lease(conn, "t", "o", clock.now().replace(tzinfo=None), TTL)


@pytest.mark.parametrize("existing", ["absent", "expired"])
def test_concurrent_acquire_has_exactly_one_winner(database: Database, existing: str) -> None:
    clock = FakeClock()
    if existing == "expired":
        assert _acquire(database, "old-owner", clock)
        clock.advance(TTL * 2)
    now = clock.now()
    rounds = 5
    for attempt in range(rounds):
        name = f"race-{attempt}" if existing == "absent" else "site-director"
        barrier = threading.Barrier(2)
        results: dict[str, bool] = {}
        errors: list[BaseException] = []

        def contend(owner: str, *, name: str = name, barrier: threading.Barrier = barrier,
                    results: dict[str, bool] = results, errors: list[BaseException] = errors,
                    now: datetime = now) -> None:
            try:
                # SQLite's BEGIN IMMEDIATE makes the second transaction wait for
                # the first: meet before it there; elsewhere meet inside, so that
                # both transactions really overlap
                if database.dialect == "sqlite":
                    barrier.wait(timeout=10)
                with database.begin() as conn:
                    if database.dialect != "sqlite":
                        barrier.wait(timeout=10)
                    results[owner] = acquire_lease(conn, name, owner, now, TTL)
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=contend, args=(f"replica-{i}",)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert sorted(results.values()) == [False, True], results
        winner = next(owner for owner, won in results.items() if won)
        with database.begin() as conn:
            lease = get_lease(conn, name)
        assert lease is not None
        assert lease.owner == winner
        if existing == "expired":
            # let the next round race for an expired lease again
            now += TTL * 2
