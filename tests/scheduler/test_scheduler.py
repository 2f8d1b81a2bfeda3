"""Fire times, durable schedule state, exactly-once runs per fire time (two schedulers, one store)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from tests.scheduler.schedhelp import schedule_row
from xdmflow.errors import BadRequestError
from xdmflow.firetimes import (
    Schedule,
    count_fires_between,
    fires_between,
    next_fire_after,
    parse_schedule,
)
from xdmflow.scheduler.loop import tick
from xdmflow.services.document_stores import FLOWS, RUNS
from xdmflow.store.db import Database
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document, RunQueue

SCOPE = Scope("ORG@AdobeOrg", "prod")
T0 = 1_700_000_000
WEEK = 7 * 86_400


def test_parse_schedule_accepts_strings_and_enforces_rules() -> None:
    s = parse_schedule({"startTime": "1567411548", "frequency": "minute", "interval": "30"})
    assert s == Schedule(1567411548, "minute", 30, True)
    assert parse_schedule({"startTime": 5, "frequency": "once"}).period is None
    for bad in (
        {"startTime": 1, "frequency": "minute", "interval": 14},
        {"startTime": 1, "frequency": "hour", "interval": 0},
        {"startTime": 1, "frequency": "hour"},
        {"startTime": 1, "frequency": "once", "interval": 1},
        {"startTime": 1, "frequency": "once", "backfill": True},
        {"startTime": 1, "frequency": "fortnight", "interval": 1},
        {"frequency": "day", "interval": 1},
        {"startTime": "soon", "frequency": "day", "interval": 1},
        {"startTime": 1700000000000, "frequency": "day", "interval": 1},
    ):
        with pytest.raises(BadRequestError):
            parse_schedule(bad)


@given(
    start=st.integers(0, 2_000_000_000),
    freq=st.sampled_from(["minute", "hour", "day", "week"]),
    interval=st.integers(15, 100),
    span=st.integers(0, 10_000_000),
)
def test_fire_times_are_start_plus_k_intervals(start: int, freq: str, interval: int, span: int) -> None:
    s = Schedule(start, freq, interval)
    fires = fires_between(s, None, start + span)
    assert all((f - start) % s.period == 0 for f in fires)  # type: ignore[operator]
    assert len(fires) == count_fires_between(s, None, start + span) == span // s.period + 1  # type: ignore[operator]
    assert fires_between(s, None, start + span, last=3) == fires[-3:]
    nxt = next_fire_after(s, start + span)
    assert nxt is not None and nxt > start + span and (nxt - start) % s.period == 0  # type: ignore[operator]


def add_flow(db: Database, flow_id: str, schedule: Schedule, *, enabled: bool = True) -> None:
    with db.session() as s:
        FLOWS.insert(
            s,
            SCOPE,
            flow_id,
            {
                "id": flow_id,
                "state": "enabled" if enabled else "disabled",
                "flowSpec": {"id": "x"},
                "transformations": [],
            },
            state="enabled" if enabled else "disabled",
        )
        s.add(schedule_row(SCOPE, flow_id, schedule, enabled=enabled))


def run_fire_times(db: Database, flow_id: str) -> list[int]:
    with db.session() as s:
        docs = s.scalars(select(Document).where(Document.kind == "run", Document.parent_id == flow_id)).all()
    fire_times = []
    for d in docs:
        assert d.dedupe_key is not None  # a scheduled run's key: <flow>@<fire time>
        fire_times.append(int(d.dedupe_key.split("@")[1]))
    return sorted(fire_times)


def test_hourly_flow_over_a_simulated_week(db: Database) -> None:
    add_flow(db, "f1", Schedule(T0, "hour", 1))
    now = T0
    while now <= T0 + WEEK:
        tick(db, now)
        now += 600  # the scheduler ticks every 10 simulated minutes
    fires = run_fire_times(db, "f1")
    assert fires == [T0 + 3600 * k for k in range(7 * 24 + 1)]
    with db.session() as s:
        assert s.scalar(select(RunQueue).where(RunQueue.flow_id == "f1").limit(1)) is not None


def test_restart_neither_loses_nor_repeats(db: Database) -> None:
    add_flow(db, "f2", Schedule(T0, "day", 1))
    tick(db, T0 + 86_400)  # fires T0 and T0+1d
    # "restart": a new Database object on the same store, ticks over the same and later times
    db2 = Database(db.url)
    tick(db2, T0 + 86_400)
    tick(db2, T0 + 3 * 86_400 + 5)
    db2.dispose()
    assert run_fire_times(db, "f2") == [T0 + k * 86_400 for k in range(4)]


def test_missed_fires_follow_backfill(db: Database) -> None:
    add_flow(db, "bf", Schedule(T0, "hour", 1, backfill=True))
    add_flow(db, "nobf", Schedule(T0, "hour", 1, backfill=False))
    tick(db, T0 + 5 * 3600)  # down for five hours
    assert run_fire_times(db, "bf") == [T0 + 3600 * k for k in range(6)]
    assert run_fire_times(db, "nobf") == [T0 + 5 * 3600]


def test_once_fires_once_and_disabled_flows_do_not_fire(db: Database) -> None:
    add_flow(db, "once", Schedule(T0, "once"))
    add_flow(db, "off", Schedule(T0, "hour", 1), enabled=False)
    for k in range(5):
        tick(db, T0 + k * 3600)
    assert run_fire_times(db, "once") == [T0]
    assert run_fire_times(db, "off") == []


def tick_concurrently(db: Database, until: int, schedulers: int = 2) -> None:
    """``schedulers`` threads, each on its own connection pool, tick every half hour from T0 to
    ``T0 + until`` at the same time; any error of theirs fails the test."""
    others = [Database(db.url) for _ in range(schedulers)]
    errors: list[BaseException] = []

    def loop(d: Database) -> None:
        try:
            for step in range(0, until + 1, 1800):
                tick(d, T0 + step)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(d,)) for d in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in others:
        d.dispose()
    assert not errors, errors


def test_two_schedulers_create_each_run_once(db: Database) -> None:
    for i in range(5):
        add_flow(db, f"m{i}", Schedule(T0, "hour", 1))
    tick_concurrently(db, 24 * 3600)
    for i in range(5):
        assert run_fire_times(db, f"m{i}") == [T0 + 3600 * k for k in range(25)]
    with db.session() as s:
        assert RUNS.count(s, SCOPE) == 5 * 25
