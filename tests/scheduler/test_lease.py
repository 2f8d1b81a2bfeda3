"""The scheduler lease: one scheduler ticks at a time; a standby takes over when the holder stops."""

from __future__ import annotations

import time

import pytest

from tests.scheduler.test_scheduler import T0, add_flow, run_fire_times
from xdmflow.firetimes import Schedule
from xdmflow.scheduler import lease
from xdmflow.scheduler.loop import SchedulerLoop
from xdmflow.store.db import Database

TTL = 30.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_lease_is_a_compare_and_swap(db: Database) -> None:
    ms = 1000
    assert lease.acquire(db, "x", "a", ttl_ms=30 * ms, now_ms=0)
    assert not lease.acquire(db, "x", "b", ttl_ms=30 * ms, now_ms=0)
    assert not lease.acquire(db, "x", "b", ttl_ms=30 * ms, now_ms=29 * ms)
    assert lease.acquire(db, "x", "a", ttl_ms=30 * ms, now_ms=10 * ms)  # renewal moves the expiry
    assert not lease.acquire(db, "x", "b", ttl_ms=30 * ms, now_ms=35 * ms)
    assert lease.holder_of(db, "x", now_ms=35 * ms) == "a"
    assert lease.acquire(db, "x", "b", ttl_ms=30 * ms, now_ms=40 * ms)  # expired: b takes over
    assert not lease.acquire(db, "x", "a", ttl_ms=30 * ms, now_ms=41 * ms)  # a cannot renew any more
    assert not lease.release(db, "x", "a")  # only the holder releases
    assert lease.release(db, "x", "b")
    assert lease.holder_of(db, "x", now_ms=41 * ms) is None
    assert lease.acquire(db, "x", "a", ttl_ms=30 * ms, now_ms=41 * ms)
    assert lease.acquire(db, "y", "b", ttl_ms=30 * ms, now_ms=41 * ms)  # leases are independent


def test_only_the_holder_ticks_and_a_standby_takes_over_after_expiry(db: Database) -> None:
    add_flow(db, "h", Schedule(T0, "hour", 1))
    clock = Clock(T0)
    a = SchedulerLoop(db, 5, clock, lease_seconds=TTL, holder="a")
    b = SchedulerLoop(db, 5, clock, lease_seconds=TTL, holder="b")
    # Both loops step every 10 simulated minutes for 6 hours: a got the lease first and keeps it.
    while clock.t <= T0 + 6 * 3600:
        a.step()
        b.step()
        clock.t += 600
    assert a.is_leader and not b.is_leader
    assert a.ticks > 0 and b.ticks == 0
    # a dies (no release); b keeps trying every 5 s and takes over once a's lease expired.
    last_renewal = clock.t = clock.t - 600
    a.stop(release_lease=False)
    taken_at = None
    while clock.t <= last_renewal + 4 * TTL:
        b.step()
        if b.is_leader:
            taken_at = clock.t
            break
        clock.t += 5
    assert taken_at is not None
    assert last_renewal + TTL <= taken_at <= last_renewal + TTL + 5
    # b fires everything a did not; each fire time exactly once.
    clock.t = T0 + 12 * 3600
    b.step()
    assert run_fire_times(db, "h") == [T0 + 3600 * k for k in range(13)]


def test_a_clean_stop_hands_the_lease_over_at_once(db: Database) -> None:
    clock = Clock(T0)
    a = SchedulerLoop(db, 5, clock, lease_seconds=TTL, holder="a")
    b = SchedulerLoop(db, 5, clock, lease_seconds=TTL, holder="b")
    a.step()
    b.step()
    assert a.is_leader and not b.is_leader
    a.stop()
    b.step()
    assert b.is_leader


def test_lease_must_outlast_the_interval(db: Database) -> None:
    with pytest.raises(ValueError, match="lease"):
        SchedulerLoop(db, 5, lease_seconds=5)


def test_two_running_loops_one_leader_then_takeover(db: Database) -> None:
    """Real threads and the real clock, on SQLite and PostgreSQL."""
    add_flow(db, "r", Schedule(int(time.time()) - 3600, "hour", 1))
    dbs = [Database(db.url) for _ in range(2)]
    loops = [SchedulerLoop(d, 0.05, lease_seconds=1.0) for d in dbs]
    try:
        for loop in loops:
            loop.start()
        time.sleep(0.6)
        leaders = [loop for loop in loops if loop.is_leader]
        assert len(leaders) == 1
        leader = leaders[0]
        standby = loops[1 - loops.index(leader)]
        assert leader.ticks > 3 and standby.ticks == 0
        stopped_at = time.monotonic()
        leader.stop(release_lease=False)  # as if killed
        while not standby.is_leader and time.monotonic() - stopped_at < 5:
            time.sleep(0.02)
        took = time.monotonic() - stopped_at
        assert standby.is_leader and standby.ticks > 0
        assert took <= 1.0 + 0.5, took
        assert len(run_fire_times(db, "r")) == 2  # the fires due now, once each
    finally:
        for loop in loops:
            loop.stop()
        for d in dbs:
            d.dispose()
