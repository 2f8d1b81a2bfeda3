"""The scheduler: turn due fire times into queued runs, exactly once per fire time.

``tick(db, now)`` is idempotent: each fire time becomes a run whose ``dedupe_key`` is
``{flow_id}@{fire_time}`` (unique in the store), so two schedulers on one PostgreSQL — or a
restart in the middle of a tick — never create a fire's run twice, and the schedule row is
advanced with compare-and-swap on ``last_fired``. Missed fires follow ``backfill``: with
``backfill`` every missed fire time is run (up to ``max_catchup`` per tick); without it only
the newest missed fire runs and the older ones are skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from xdmflow.errors import ConflictError
from xdmflow.scheduler.timing import Schedule, count_fires_between, fires_between, next_fire_after
from xdmflow.services.kinds import FLOWS
from xdmflow.store.db import Database
from xdmflow.store.documents import Scope
from xdmflow.store.tables import FlowSchedule

__all__ = ["tick", "SchedulerLoop"]

log = logging.getLogger("xdmflow.scheduler")

Clock = Callable[[], float]


def _audit(ts: int) -> dict[str, object]:
    return {
        "createdAt": ts,
        "updatedAt": ts,
        "createdBy": "scheduler",
        "updatedBy": "scheduler",
        "createdClient": "xdmflow-scheduler",
        "updatedClient": "xdmflow-scheduler",
    }


def _fire_flow(s: Session, row: FlowSchedule, now: int, max_catchup: int) -> list[str]:
    from xdmflow.services.runs import enqueue_run

    sched = Schedule(row.start_time, row.frequency, row.interval, row.backfill)
    keep = max_catchup if sched.backfill else 1
    total = count_fires_between(sched, row.last_fired, now)
    fires = fires_between(sched, row.last_fired, now, last=keep)
    if not fires:
        return []
    skipped = total - len(fires)
    if skipped:
        log.info("flow %s: %d missed fire(s) skipped", row.flow_id, skipped)
    old_last = row.last_fired
    claimed = s.execute(
        update(FlowSchedule)
        .where(
            FlowSchedule.flow_id == row.flow_id,
            (FlowSchedule.last_fired == old_last)
            if old_last is not None
            else FlowSchedule.last_fired.is_(None),
        )
        .values(last_fired=fires[-1], next_fire=next_fire_after(sched, max(now, fires[-1])))
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 1) != 1:
        return []  # another scheduler advanced this flow first
    flow = FLOWS.find(s, Scope(row.org_id, row.sandbox_name), row.flow_id)
    if flow is None or flow.body.get("state") != "enabled":
        return []
    made = []
    for fire in fires:
        prev = fire - sched.period if sched.period and fire - sched.period >= sched.start_time else None
        params = {
            "startTime": fire,
            "windowStartTime": prev if prev is not None else sched.start_time,
            "windowEndTime": fire,
        }
        try:
            with s.begin_nested():
                run = enqueue_run(
                    s,
                    flow,
                    params=params,
                    audit=_audit(int(time.time() * 1000)),
                    dedupe_key=f"{row.flow_id}@{fire}",
                )
            made.append(run.id)
        except ConflictError:
            continue
    return made


def tick(db: Database, now: float, *, max_catchup: int = 1000) -> list[str]:
    """Queue the runs of every fire time due at ``now`` (epoch seconds); returns the new run ids."""
    t = int(now)
    with db.session() as s:
        due = list(
            s.scalars(
                select(FlowSchedule).where(
                    FlowSchedule.enabled.is_(True),
                    FlowSchedule.next_fire.is_not(None),
                    FlowSchedule.next_fire <= t,
                )
            )
        )
    made: list[str] = []
    for row in due:
        with db.session() as s:
            fresh = s.get(FlowSchedule, row.flow_id)
            if fresh is None or not fresh.enabled:
                continue
            made += _fire_flow(s, fresh, t, max_catchup)
    return made


class SchedulerLoop:
    """Calls ``tick`` every ``interval`` seconds in a daemon thread."""

    def __init__(self, db: Database, interval: float, clock: Clock = time.time) -> None:
        self.db = db
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xdmflow-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                tick(self.db, self.clock())
            except Exception:  # keep the loop alive; the next tick retries
                log.exception("scheduler tick failed")
            self._stop.wait(self.interval)
