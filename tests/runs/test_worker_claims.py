"""Run claims on one store: each run claimed once, stale claims taken over, a stalled worker fenced."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, update

from xdmflow.runs.claim import Claim, ClaimLostError, claim_next, finish, heartbeat, stale_runs
from xdmflow.runs.worker import Worker
from xdmflow.store.db import Database
from xdmflow.store.tables import RunQueue


def queue(db: Database, n: int) -> list[str]:
    ids = [f"run-{i:04d}" for i in range(n)]
    with db.session() as s:
        for i, run_id in enumerate(ids):
            s.add(
                RunQueue(
                    run_id=run_id, flow_id=f"f{i}", status="queued", attempts=0, not_before=0, created_at=i
                )
            )
    return ids


def age_heartbeat(db: Database, run_id: str, seconds: float) -> None:
    with db.session() as s:
        s.execute(
            update(RunQueue)
            .where(RunQueue.run_id == run_id)
            .values(heartbeat_at=int((time.time() - seconds) * 1000))
        )


def test_concurrent_claimers_take_each_run_once(db: Database) -> None:
    ids = queue(db, 60)
    claims: dict[str, list[str]] = {}
    lock = threading.Lock()
    dbs = [Database(db.url) for _ in range(4)]

    def claimer(d: Database, who: str) -> None:
        while (claim := claim_next(d, who)) is not None:
            with lock:
                claims.setdefault(claim.run_id, []).append(who)

    threads = [threading.Thread(target=claimer, args=(d, f"w{i}")) for i, d in enumerate(dbs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in dbs:
        d.dispose()
    assert sorted(claims) == ids
    assert all(len(who) == 1 for who in claims.values())
    with db.session() as s:
        rows = s.scalars(select(RunQueue)).all()
    assert {r.status for r in rows} == {"running"} and {r.attempts for r in rows} == {1}
    assert {r.claimed_by for r in rows} == {w[0] for w in claims.values()}


def test_a_stale_claim_is_taken_over_and_the_stalled_worker_is_fenced(db: Database) -> None:
    (run_id,) = queue(db, 1)
    a = claim_next(db, "a")
    assert a == Claim(db, run_id, "a")
    assert a.held()
    assert heartbeat(a)
    assert stale_runs(db, 60_000, "b") == []  # fresh heartbeat: nothing to recover
    age_heartbeat(db, run_id, 120)
    (b,) = stale_runs(db, 60_000, "b")
    assert b == Claim(db, run_id, "b") and b.held()
    assert stale_runs(db, 60_000, "c") == []  # taken over once
    # a was only stalled: its heartbeat, its fence and its finish all see the claim is gone.
    assert not heartbeat(a)
    assert not a.held()
    with pytest.raises(ClaimLostError):
        a.ensure_held()
    assert not finish(db, run_id, "a")
    assert heartbeat(b)
    # b dies while recovering: the recovering row goes stale and c takes it over.
    age_heartbeat(db, run_id, 120)
    assert [c.run_id for c in stale_runs(db, 60_000, "c")] == [run_id]
    assert finish(db, run_id, "c")
    with db.session() as s:
        row = s.get(RunQueue, run_id)
        assert row is not None and row.status == "done" and row.claimed_by == "c"


def test_workers_execute_each_run_once_and_recover_dead_ones(db: Database) -> None:
    ids = queue(db, 20)
    executed: list[tuple[str, str]] = []
    recovered: list[tuple[str, str]] = []
    lock = threading.Lock()
    workers: list[Worker] = []
    dbs = [Database(db.url) for _ in range(2)]

    def make(d: Database) -> Worker:
        w: Worker

        class Recording:
            """Records which worker executed or recovered each run."""

            def execute(self, claim: Claim) -> None:
                with lock:
                    executed.append((claim.run_id, w.worker_id))
                time.sleep(0.01)

            def recover(self, claim: Claim) -> None:
                with lock:
                    recovered.append((claim.run_id, w.worker_id))

        w = Worker(d, Recording(), slots=2, poll_interval=0.02, heartbeat_interval=0.05, stale_after=0.5)
        return w

    # A dead worker's claim: claimed by an id that never heartbeats again.
    dead = claim_next(db, "dead-worker")
    assert dead is not None and dead.run_id == ids[0]
    age_heartbeat(db, ids[0], 10)
    try:
        for d in dbs:
            workers.append(make(d))
            workers[-1].start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with db.session() as s:
                if all(r.status == "done" for r in s.scalars(select(RunQueue))):
                    break
            time.sleep(0.05)
    finally:
        for w in workers:
            w.stop()
        for d in dbs:
            d.dispose()
    run_ids = sorted(r for r, _ in executed)
    assert run_ids == ids[1:]  # every live run executed exactly once
    assert [r for r, _ in recovered] == [ids[0]]  # the dead worker's run recovered, not re-executed
    assert {w for _, w in executed} == {w.worker_id for w in workers}  # both workers did some work
