"""The worker loop: claim queued runs, heartbeat them, execute them, recover runs of dead workers.

Claims are compare-and-swap updates of ``run_queue`` (:mod:`xdmflow.runs.claim`); each claimed
run is handed, with its :class:`~xdmflow.runs.claim.Claim`, to the worker's :class:`RunHandler`
(in a service process: :class:`xdmflow.runs.execute.ContextRuns`), which passes the claim down to
the lake commit.

A worker heartbeats the runs it executes every ``heartbeat_interval``. A run whose heartbeat is
older than ``stale_after`` belonged to a worker that disappeared (kill -9, machine lost): any
other worker takes it over atomically (``running`` → ``recovering``, ``claimed_by`` = itself)
and the handler's ``recover`` reconciles it with the lake:

* the batch was committed before the worker died → the run is finalised as a success;
* nothing was committed → the run is marked failed (its orphan files deleted, the watermark
  untouched) and, when the flow's ``options.maxRetries`` allows another attempt, a new run
  (``trigger: retry``, ``retryOf`` = the failed run) is queued and executed like any other.

The failed run itself is never executed again, so a run id is executed at most once. A worker
that was only stalled (not dead) past ``stale_after`` finds its claim gone at the fence checked
just before the lake commit (:meth:`~xdmflow.runs.claim.Claim.ensure_held`) and does not commit.
A recovery whose own worker dies is taken over the same way (``recovering`` rows go stale too).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from xdmflow.runs.claim import (
    Claim,
    claim_next,
    dead_holder_runs,
    finish,
    heartbeat,
    register_holder,
    stale_runs,
    unregister_holder,
    worker_holder_id,
)
from xdmflow.runs.queue import add_wake_listener, remove_wake_listener
from xdmflow.store.db import Database
from xdmflow.store.notify import Listener

__all__ = ["RunHandler", "Worker"]

log = logging.getLogger("xdmflow.worker")


class RunHandler(Protocol):
    """What a worker does with the runs it claims."""

    def execute(self, claim: Claim) -> None:
        """Execute the claimed run; run-level failures are recorded on the run, not raised."""

    def recover(self, claim: Claim) -> None:
        """Reconcile a run whose worker died (or whose execution raised) with the lake."""


class Worker:
    """Executes queued runs with ``handler.execute(claim)`` in ``slots`` threads.

    ``handler.recover(claim)`` handles runs whose worker died.
    """

    def __init__(
        self,
        db: Database,
        handler: RunHandler,
        *,
        slots: int = 2,
        poll_interval: float = 0.5,
        heartbeat_interval: float = 5.0,
        stale_after: float = 60.0,
    ) -> None:
        self.db = db
        self.handler = handler
        self.slots = max(1, slots)
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.worker_id = worker_holder_id()
        register_holder(self.worker_id)
        self._stop = threading.Event()
        # set by a committed enqueue in this process (runs/queue.py) and by stop(): the loop
        # waits on it between polls, so polling is only the fallback (other processes' runs)
        self._wake = threading.Event()
        # PostgreSQL: runs queued by other processes wake it too (LISTEN/NOTIFY, store/notify.py)
        self.listener = Listener(db, self._wake.set)
        self._active: dict[str, Claim] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        add_wake_listener(self._wake)
        self.listener.start()
        for i in range(self.slots):
            t = threading.Thread(target=self._loop, name=f"xdmflow-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        hb = threading.Thread(target=self._heartbeats, name="xdmflow-heartbeat", daemon=True)
        hb.start()
        self._threads.append(hb)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        remove_wake_listener(self._wake)
        self.listener.stop()
        for t in self._threads:
            t.join(timeout=30)
        unregister_holder(self.worker_id)

    def run_once(self) -> bool:
        """Recover runs of dead workers, then claim and execute one run; ``False`` when idle.

        A run is recovered at once when its worker's process is gone (same machine), else once
        its heartbeat is older than ``stale_after``.
        """
        orphaned = dead_holder_runs(self.db, self.worker_id)
        for stale in orphaned + stale_runs(self.db, int(self.stale_after * 1000), self.worker_id):
            run_id = stale.run_id
            log.warning("run %s: its worker is gone; recovering it", run_id)
            with self._lock:
                self._active[run_id] = stale
            try:
                self.handler.recover(stale)
            except Exception:
                log.exception("recovering run %s failed", run_id)
            finally:
                with self._lock:
                    self._active.pop(run_id, None)
                finish(self.db, run_id, self.worker_id)
        claim = claim_next(self.db, self.worker_id)
        if claim is None:
            return False
        run_id = claim.run_id
        with self._lock:
            self._active[run_id] = claim
        try:
            self.handler.execute(claim)
        except Exception:
            # the handler records run-level failures itself; an exception here left the run
            # unfinished (e.g. the store was unreachable): reconcile it as a dead worker's run.
            log.exception("run %s failed unexpectedly; recovering it", run_id)
            try:
                self.handler.recover(claim)
            except Exception:
                log.exception("recovering run %s failed", run_id)
        finally:
            with self._lock:
                self._active.pop(run_id, None)
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
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def _heartbeats(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            with self._lock:
                active = list(self._active.values())
            for claim in active:
                run_id = claim.run_id
                try:
                    if not heartbeat(claim):
                        with self._lock:
                            lost = run_id in self._active  # else it just finished
                        if lost:
                            log.error("run %s: claim lost (another worker took it over)", run_id)
                except Exception:
                    log.exception("heartbeat of run %s failed", run_id)
