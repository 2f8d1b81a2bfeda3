"""The worker loop: claim queued runs, heartbeat them, execute them, recover runs of dead workers.

Claims are compare-and-swap updates of ``run_queue`` (``status='queued'`` → ``running``, with
``claimed_by`` = the worker's id), so several workers — threads of one process or processes on
several machines sharing one PostgreSQL — never execute a run twice; on PostgreSQL the
candidate is picked with ``FOR UPDATE SKIP LOCKED``, so claimers do not wait on each other.

A worker heartbeats the runs it executes every ``heartbeat_interval``. A run whose heartbeat is
older than ``stale_after`` belonged to a worker that disappeared (kill -9, machine lost): any
other worker takes it over atomically (``running`` → ``recovering``, ``claimed_by`` = itself)
and ``recover`` reconciles it with the lake:

* the batch was committed before the worker died → the run is finalised as a success;
* nothing was committed → the run is marked failed (its orphan files deleted, the watermark
  untouched) and, when the flow's ``options.maxRetries`` allows another attempt, a new run
  (``trigger: retry``, ``retryOf`` = the failed run) is queued and executed like any other.

The failed run itself is never executed again, so a run id is executed at most once. A worker
that was only stalled (not dead) past ``stale_after`` finds its claim gone at the fence checked
just before the lake commit (:mod:`xdmflow.store.claims`) and does not commit. A recovery whose
own worker dies is taken over the same way (``recovering`` rows go stale too).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import select, update

from xdmflow.ids import holder_id, now_ms
from xdmflow.store.claims import executing
from xdmflow.store.db import Database
from xdmflow.store.tables import RunQueue

__all__ = ["Worker", "claim_next", "heartbeat", "finish", "stale_runs"]

log = logging.getLogger("xdmflow.worker")

#: Queue states of a run some worker holds (executing it, or recovering it).
_TAKEN_OVER = ("running", "recovering")


def claim_next(db: Database, worker_id: str) -> str | None:
    """Claim the oldest queued run; ``None`` when there is none."""
    with db.session() as s:
        q = (
            select(RunQueue.run_id)
            .where(RunQueue.status == "queued", RunQueue.not_before <= now_ms())
            .order_by(RunQueue.created_at)
            .limit(1)
        )
        if not db.is_sqlite:
            q = q.with_for_update(skip_locked=True)
        run_id = s.scalar(q)
        if run_id is None:
            return None
        res = s.execute(
            update(RunQueue)
            .where(RunQueue.run_id == run_id, RunQueue.status == "queued")
            .values(
                status="running", claimed_by=worker_id, heartbeat_at=now_ms(), attempts=RunQueue.attempts + 1
            )
            .execution_options(synchronize_session=False)
        )
        return str(run_id) if getattr(res, "rowcount", 1) == 1 else None


def heartbeat(db: Database, run_id: str, worker_id: str) -> bool:
    with db.session() as s:
        res = s.execute(
            update(RunQueue)
            .where(
                RunQueue.run_id == run_id,
                RunQueue.claimed_by == worker_id,
                RunQueue.status.in_(_TAKEN_OVER),
            )
            .values(heartbeat_at=now_ms())
            .execution_options(synchronize_session=False)
        )
        return getattr(res, "rowcount", 1) == 1


def finish(db: Database, run_id: str, worker_id: str | None = None) -> bool:
    """Mark the run done (only while ``worker_id`` holds it, when given); ``True`` if marked."""
    cond = [RunQueue.run_id == run_id]
    if worker_id is not None:
        cond.append(RunQueue.claimed_by == worker_id)
    with db.session() as s:
        res = s.execute(
            update(RunQueue).where(*cond).values(status="done").execution_options(synchronize_session=False)
        )
        return getattr(res, "rowcount", 1) == 1


def stale_runs(db: Database, stale_after_ms: int, worker_id: str = "recovery") -> list[str]:
    """Runs whose worker stopped heartbeating, taken over atomically by ``worker_id`` for recovery.

    ``recovering`` rows count too: a worker that died while recovering is replaced the same way.
    """
    limit = now_ms() - stale_after_ms
    out = []
    with db.session() as s:
        ids = list(
            s.scalars(
                select(RunQueue.run_id).where(RunQueue.status.in_(_TAKEN_OVER), RunQueue.heartbeat_at < limit)
            )
        )
    for run_id in ids:
        with db.session() as s:
            res = s.execute(
                update(RunQueue)
                .where(
                    RunQueue.run_id == run_id,
                    RunQueue.status.in_(_TAKEN_OVER),
                    RunQueue.heartbeat_at < limit,
                )
                .values(status="recovering", claimed_by=worker_id, heartbeat_at=now_ms())
                .execution_options(synchronize_session=False)
            )
            if getattr(res, "rowcount", 1) == 1:
                out.append(str(run_id))
    return out


class Worker:
    """Executes queued runs with ``execute(run_id)`` in ``slots`` threads.

    ``recover(run_id)`` handles runs whose worker died.
    """

    def __init__(
        self,
        db: Database,
        execute: Callable[[str], None],
        recover: Callable[[str], None],
        *,
        slots: int = 2,
        poll_interval: float = 0.5,
        heartbeat_interval: float = 5.0,
        stale_after: float = 60.0,
    ) -> None:
        self.db = db
        self.execute = execute
        self.recover = recover
        self.slots = max(1, slots)
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.worker_id = holder_id()
        self._stop = threading.Event()
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.slots):
            t = threading.Thread(target=self._loop, name=f"xdmflow-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        hb = threading.Thread(target=self._heartbeats, name="xdmflow-heartbeat", daemon=True)
        hb.start()
        self._threads.append(hb)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def run_once(self) -> bool:
        """Recover stale runs, then claim and execute one run; ``False`` when idle."""
        for run_id in stale_runs(self.db, int(self.stale_after * 1000), self.worker_id):
            log.warning("run %s: its worker stopped heartbeating; recovering it", run_id)
            with self._lock:
                self._active.add(run_id)
            try:
                self.recover(run_id)
            except Exception:
                log.exception("recovering run %s failed", run_id)
            finally:
                with self._lock:
                    self._active.discard(run_id)
                finish(self.db, run_id, self.worker_id)
        claimed = claim_next(self.db, self.worker_id)
        if claimed is None:
            return False
        run_id = claimed
        with self._lock:
            self._active.add(run_id)
        try:
            with executing(run_id, self.worker_id):
                self.execute(run_id)
        except Exception:
            # ``execute`` records run-level failures itself; an exception here left the run
            # unfinished (e.g. the store was unreachable): reconcile it as a dead worker's run.
            log.exception("run %s failed unexpectedly; recovering it", run_id)
            try:
                self.recover(run_id)
            except Exception:
                log.exception("recovering run %s failed", run_id)
        finally:
            with self._lock:
                self._active.discard(run_id)
            if not finish(self.db, run_id, self.worker_id):
                log.warning("run %s was taken over by another worker while this one executed it", run_id)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:
                log.exception("worker loop error")
                busy = False
            if not busy:
                self._stop.wait(self.poll_interval)

    def _heartbeats(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            with self._lock:
                active = list(self._active)
            for run_id in active:
                try:
                    if not heartbeat(self.db, run_id, self.worker_id):
                        with self._lock:
                            lost = run_id in self._active  # else it just finished
                        if lost:
                            log.error("run %s: claim lost (another worker took it over)", run_id)
                except Exception:
                    log.exception("heartbeat of run %s failed", run_id)
