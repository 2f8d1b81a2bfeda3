"""The firing tick's bulk path: a tick over a few hundred due flows queues exactly one run per flow,
each run stored as a single fire (:func:`xdmflow.runs.queue.enqueue_run`) stores it; two ticks at
once fire none twice; a duplicate dedupe key inside one bulk insert falls back to one fire at a time."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from tests.scheduler.schedhelp import schedule_row
from xdmflow.firetimes import Schedule
from xdmflow.ids import new_uuid
from xdmflow.runs import queue
from xdmflow.runs.queue import ScheduledFire, enqueue_run, enqueue_scheduled_runs
from xdmflow.scheduler import loop
from xdmflow.scheduler.loop import tick
from xdmflow.services.document_stores import FLOWS
from xdmflow.store.db import Database
from xdmflow.store.documents import Scope
from xdmflow.store.migrate import upgrade
from xdmflow.store.tables import Document, FlowSchedule, RunQueue

SCOPE = Scope("ORG@AdobeOrg", "prod")
T0 = 1_700_000_000
FLOWS_DUE = 300
#: Text that COPY must escape and JSON must keep: tab, newline, backslash, quotes, non-ASCII.
ODD = 'tab\there\nline \\ back "quoted" ü € 𝄞'


@pytest.fixture
def db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.setattr(loop, "_CHUNK", 128)  # 300 flows = 3 chunks, the last one partial
    d = Database(db_url)
    upgrade(d.engine)
    yield d
    d.dispose()


def flow_body(flow_id: str, i: int) -> dict[str, Any]:
    return {
        "id": flow_id,
        "name": f"flow {i} {ODD}",
        "state": "enabled",
        "flowSpec": {"id": "spec-1", "version": "1.0", "note": ODD},
        "recordTypes": [{"type": "experienceevent", "extensions": {"n": i, "big": 2**62, "x": 0.1}}],
        "transformations": [],
    }


def add_flows(
    db: Database, n: int, schedule: Schedule, bodies: list[dict[str, Any]] | None = None
) -> list[str]:
    ids = [f"f{i:04d}-{new_uuid()}" for i in range(n)]
    with db.session() as s:
        for i, flow_id in enumerate(ids):
            body = flow_body(flow_id, i) if bodies is None else {"id": flow_id, **bodies[i]}
            FLOWS.insert(s, SCOPE, flow_id, body, state="enabled")
            s.add(schedule_row(SCOPE, flow_id, schedule))
    return ids


def runs_by_flow(db: Database) -> dict[str, list[Document]]:
    out: dict[str, list[Document]] = {}
    with db.session() as s:
        for d in s.scalars(select(Document).where(Document.kind == "run")):
            out.setdefault(str(d.parent_id), []).append(d)
    return out


def comparable(doc: Document) -> dict[str, Any]:
    """A run document without what differs between any two runs (ids, etags, clocks)."""
    body = dict(doc.body)
    assert body.pop("id") == doc.id
    assert body.pop("providerRefId") == f"M-{doc.parent_id}-scheduled-0:{doc.id}"
    for key in ("createdAt", "updatedAt"):
        assert isinstance(body.pop(key), int)
    return {
        "body": body,
        "columns": (doc.kind, doc.org_id, doc.sandbox_name, doc.name, doc.parent_id, doc.state),
        "version": doc.version,
        "secret": doc.secret,
        "created_is_updated": doc.created_at == doc.updated_at,
        "etag_format": re.sub("[0-9a-f]", "x", doc.etag),
    }


def test_one_tick_queues_one_run_per_flow_as_a_single_fire_does(db: Database) -> None:
    ids = add_flows(db, FLOWS_DUE, Schedule(T0, "hour", 1))
    woken = threading.Event()
    queue.add_wake_listener(woken)
    try:
        made = tick(db, T0 + 10)
    finally:
        queue.remove_wake_listener(woken)
    assert len(made) == len(set(made)) == FLOWS_DUE
    assert woken.is_set()  # workers of this process wake once the chunk's runs are committed
    runs = runs_by_flow(db)
    assert sorted(runs) == sorted(ids)
    assert all(len(r) == 1 for r in runs.values())
    with db.session() as s:
        queued = {q.run_id: q for q in s.scalars(select(RunQueue))}
        schedules = {r.flow_id: r for r in s.scalars(select(FlowSchedule))}
    assert sorted(queued) == sorted(made)
    for i, flow_id in enumerate(ids):
        (run,) = runs[flow_id]
        assert run.dedupe_key == f"{flow_id}@{T0}"
        assert run.id in made
        assert (schedules[flow_id].last_fired, schedules[flow_id].next_fire) == (T0, T0 + 3600)
        q = queued[run.id]
        assert (q.flow_id, q.status, q.claimed_by, q.heartbeat_at, q.attempts, q.not_before) == (
            flow_id,
            "queued",
            None,
            None,
            0,
            0,
        )
        assert q.created_at == run.created_at
        # the same fire queued by the single-run path, in a transaction rolled back afterwards
        with db.sessions() as s:  # never committed: closing the session rolls it back
            flow = FLOWS.get(s, SCOPE, flow_id)
            single = enqueue_run(s, flow, params=run.body["params"], audit=loop._audit(run.created_at))
            expected = comparable(single)
        assert comparable(run) == expected
        assert (
            run.body["flowSpec"]["note"] == ODD
            and run.body["recordTypes"] == flow_body(flow_id, i)["recordTypes"]
        )
    assert tick(db, T0 + 20) == []  # nothing due until the next hour


ODD_BODIES: list[dict[str, Any]] = [
    {"state": "enabled"},  # neither flowSpec nor recordTypes
    {"state": "enabled", "flowSpec": None, "recordTypes": None},
    {"state": "enabled", "flowSpec": "a string", "recordTypes": True},
    {"state": "enabled", "flowSpec": 12.50, "recordTypes": False},
    {"state": "enabled", "flowSpec": {"v": [-0.0, 123456789012345678, 0.1]}, "recordTypes": []},
    {"state": True, "flowSpec": {}},  # not "enabled": never fires
    {"state": "disabled"},
]


def test_odd_flow_bodies_fire_as_a_single_fire_would(db: Database) -> None:
    ids = add_flows(db, len(ODD_BODIES), Schedule(T0, "hour", 1), ODD_BODIES)
    made = tick(db, T0 + 10)
    runs = runs_by_flow(db)
    assert len(made) == 5 and sorted(runs) == sorted(ids[:5])
    for flow_id in ids[:5]:
        (run,) = runs[flow_id]
        with db.sessions() as s:  # never committed: closing the session rolls it back
            flow = FLOWS.get(s, SCOPE, flow_id)
            single = enqueue_run(s, flow, params=run.body["params"], audit=loop._audit(run.created_at))
            assert comparable(run) == comparable(single)


def test_two_ticks_at_once_fire_each_flow_once(db: Database) -> None:
    ids = add_flows(db, FLOWS_DUE, Schedule(T0, "hour", 1))
    dbs = [Database(db.url) for _ in range(2)]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def fire(d: Database) -> None:
        try:
            start.wait()
            results.append(tick(d, T0 + 2 * 3600))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(d,)) for d in dbs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in dbs:
        d.dispose()
    assert not errors, errors
    made = [run_id for r in results for run_id in r]
    assert len(made) == len(set(made)) == FLOWS_DUE * 3  # backfill: T0, T0 + 1 h, T0 + 2 h
    runs = runs_by_flow(db)
    for flow_id in ids:
        assert sorted(str(r.dedupe_key) for r in runs[flow_id]) == [
            f"{flow_id}@{T0 + k * 3600}" for k in range(3)
        ]
    with db.session() as s:
        assert sorted(s.scalars(select(RunQueue.run_id))) == sorted(made)


def test_a_dedupe_key_taken_inside_the_bulk_insert_falls_back_to_one_fire_at_a_time(db: Database) -> None:
    (flow_id,) = add_flows(db, 1, Schedule(T0, "hour", 1))
    with db.session() as s:
        flow = FLOWS.get(s, SCOPE, flow_id)
        fires = [
            ScheduledFire(
                flow, {"startTime": T0, "windowStartTime": T0, "windowEndTime": T0}, f"{flow_id}@{T0}"
            ),
            ScheduledFire(
                flow, {"startTime": T0, "windowStartTime": T0, "windowEndTime": T0}, f"{flow_id}@{T0}"
            ),
            ScheduledFire(
                flow,
                {"startTime": T0 + 3600, "windowStartTime": T0, "windowEndTime": T0 + 3600},
                f"{flow_id}@{T0 + 3600}",
            ),
        ]
        made = enqueue_scheduled_runs(s, fires, audit=loop._audit(1))
    assert len(made) == 2 and all(queued for _, queued in made)
    runs = runs_by_flow(db)[flow_id]
    assert sorted(str(r.dedupe_key) for r in runs) == [f"{flow_id}@{T0}", f"{flow_id}@{T0 + 3600}"]
    with db.session() as s:
        assert sorted(s.scalars(select(RunQueue.run_id))) == sorted(run_id for run_id, _ in made)
