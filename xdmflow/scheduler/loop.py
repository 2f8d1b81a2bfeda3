"""The scheduler: turn due fire times into queued runs, exactly once per fire time.

``tick(db, now)`` is idempotent: each fire time becomes a run whose ``dedupe_key`` is
``{flow_id}@{fire_time}`` (unique in the store), so two schedulers on one PostgreSQL — or a
restart in the middle of a tick — never create a fire's run twice, and the schedule row is
advanced with compare-and-swap on ``last_fired``. Missed fires follow ``backfill``: with
``backfill`` every missed fire time is run (up to ``max_catchup`` per tick); without it only
the newest missed fire runs and the older ones are skipped.

``SchedulerLoop`` ticks only while it holds the ``scheduler`` lease (:mod:`xdmflow.scheduler.lease`),
so of several scheduler processes one fires at a time and the others take over when it dies.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import Text, func, literal_column, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from xdmflow.errors import InvalidValueError
from xdmflow.firetimes import Schedule, count_fires_between, fires_between, next_fire_after
from xdmflow.ids import holder_id
from xdmflow.runs.queue import QueueBudget, QueueLimits, ScheduledFire, enqueue_scheduled_runs
from xdmflow.scheduler import lease
from xdmflow.services.document_stores import FLOWS
from xdmflow.store.db import Database
from xdmflow.store.tables import Document, FlowSchedule

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


#: Due flows fired per transaction: one commit per chunk, and per chunk one query for the schedule
#: rows, one for the flow documents, one claim per distinct schedule state (usually one), one
#: insert of the run documents and one of the queue rows.
_CHUNK = 1000


def _claim(s: Session, groups: dict[tuple[int | None, int, int | None], list[str]]) -> set[str]:
    """Advance the schedule rows with compare-and-swap on ``last_fired``: one ``UPDATE`` per
    group of flows sharing (old ``last_fired``, new ``last_fired``, new ``next_fire``); returns
    the flows claimed. A row another scheduler advanced first no longer matches and is left out
    (on PostgreSQL the update waits for that scheduler's transaction, then re-checks the row)."""
    claimed: set[str] = set()
    returning = s.get_bind().dialect.update_returning
    for (old_last, new_last, next_fire), ids in groups.items():
        cond = (
            FlowSchedule.last_fired == old_last if old_last is not None else FlowSchedule.last_fired.is_(None)
        )
        stmt = (
            update(FlowSchedule)
            .values(last_fired=new_last, next_fire=next_fire)
            .execution_options(synchronize_session=False)
        )
        if returning:
            claimed.update(
                s.scalars(stmt.where(FlowSchedule.flow_id.in_(ids), cond).returning(FlowSchedule.flow_id))
            )
        else:  # no UPDATE … RETURNING (MySQL/MariaDB): one compare-and-swap per flow
            for flow_id in ids:
                res = s.execute(stmt.where(FlowSchedule.flow_id == flow_id, cond))
                if getattr(res, "rowcount", 1) == 1:
                    claimed.add(flow_id)
    return claimed


@dataclass(frozen=True)
class _Flow:
    """What the tick reads of a flow document (no ORM object per due flow): its id, its scope and
    the body fields a run is made of (``state``, ``flowSpec``, ``recordTypes``; a field missing in
    the document is missing here)."""

    id: str
    org_id: str
    sandbox_name: str
    body: dict[str, Any]


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses and json accepts (NaN, huge integers)
        return json.loads(text)


#: The body fields queuing a run reads (:func:`xdmflow.runs.queue._run_body`) besides ``state``.
_RUN_FIELDS = ("flowSpec", "recordTypes")


def _flow_columns(dialect: str) -> tuple[Any, ...]:
    """What the tick reads of a flow document: id, scope, then either ``state`` and, per field of
    ``_RUN_FIELDS``, its JSON text (``'null'`` for a JSON null or a missing field) and its JSON
    type (``NULL`` when it is missing) — extracted by the store (SQLite, PostgreSQL), so the bodies
    (~2 KB each) are not decoded in Python — or else the whole body's text."""
    head: tuple[Any, ...] = (Document.id, Document.org_id, Document.sandbox_name)
    body = Document.body
    if dialect == "sqlite":
        # json_quote(json_extract(…)) is a field's exact JSON text (numbers keep their source text)
        return head + (
            func.json_extract(body, "$.state"),
            *(
                col
                for f in _RUN_FIELDS
                for col in (
                    func.json_quote(func.json_extract(body, f"$.{f}")),
                    func.json_type(body, f"$.{f}"),
                )
            ),
        )
    if dialect == "postgresql":
        return head + (
            body.op("->>", return_type=Text)(literal_column("'state'")),
            *(
                col
                for f in _RUN_FIELDS
                for col in (
                    func.coalesce(sql_cast(body.op("->")(literal_column(f"'{f}'")), Text), "null"),
                    func.json_typeof(body.op("->")(literal_column(f"'{f}'"))),
                )
            ),
        )
    return (*head, sql_cast(body, Text))


def _flow_of(row: Any) -> _Flow:
    if len(row) == 4:  # the whole body
        return _Flow(row[0], row[1], row[2], cast(dict[str, Any], _loads(row[3])))
    body: dict[str, Any] = {"state": row[3]}
    for k, f in enumerate(_RUN_FIELDS):
        kind = row[5 + 2 * k]  # the field's JSON type, None when it is missing
        if kind is not None:  # SQLite's json_extract gives true/false as 1/0: the type says which
            body[f] = True if kind == "true" else False if kind == "false" else _loads(row[4 + 2 * k])
    return _Flow(row[0], row[1], row[2], body)


_SCHEDULE_COLUMNS = (
    FlowSchedule.flow_id,
    FlowSchedule.org_id,
    FlowSchedule.sandbox_name,
    FlowSchedule.start_time,
    FlowSchedule.frequency,
    FlowSchedule.interval,
    FlowSchedule.backfill,
    FlowSchedule.last_fired,
)


def _fire_chunk(
    s: Session, ids: list[str], t: int, max_catchup: int, budget: QueueBudget | None
) -> list[str]:
    rows = s.execute(
        select(*_SCHEDULE_COLUMNS).where(FlowSchedule.flow_id.in_(ids), FlowSchedule.enabled.is_(True))
    ).all()
    columns = _flow_columns(s.get_bind().dialect.name)
    found = s.execute(
        select(*columns).where(Document.kind == FLOWS.kind, Document.id.in_([r.flow_id for r in rows]))
    )
    flows = {(f.id, f.org_id, f.sandbox_name): f for f in map(_flow_of, found)}
    due: dict[str, tuple[Schedule, list[int]]] = {}
    groups: dict[tuple[int | None, int, int | None], list[str]] = {}
    for row in rows:
        sched = Schedule(row.start_time, row.frequency, row.interval, row.backfill)
        keep = max_catchup if sched.backfill else 1
        fires = fires_between(sched, row.last_fired, t, last=keep)
        if not fires:
            continue
        skipped = count_fires_between(sched, row.last_fired, t) - len(fires)
        if skipped:
            log.info("flow %s: %d missed fire(s) skipped", row.flow_id, skipped)
        due[row.flow_id] = (sched, fires)
        key = (row.last_fired, fires[-1], next_fire_after(sched, max(t, fires[-1])))
        groups.setdefault(key, []).append(row.flow_id)
    if not due:
        return []
    claimed = _claim(s, groups)
    batch: list[ScheduledFire] = []
    by_row = {r.flow_id: r for r in rows}
    for flow_id in ids:
        if flow_id not in claimed:
            continue
        row = by_row[flow_id]
        flow = flows.get((flow_id, row.org_id, row.sandbox_name))  # the flow of the schedule's scope
        if flow is None:
            continue
        if flow.body.get("state") != "enabled":
            continue
        sched, fires = due[flow_id]
        for fire in fires:
            prev = fire - sched.period if sched.period and fire - sched.period >= sched.start_time else None
            params = {
                "startTime": fire,
                "windowStartTime": prev if prev is not None else sched.start_time,
                "windowEndTime": fire,
            }
            batch.append(ScheduledFire(flow, params, f"{flow_id}@{fire}"))
    made: list[str] = []
    results = enqueue_scheduled_runs(s, batch, audit=_audit(int(time.time() * 1000)), budget=budget)
    for run_id, queued in results:
        if queued:
            made.append(run_id)
    if len(made) < len(results):  # skipped: the queue is at its bound
        log.warning("%d scheduled fire(s) skipped, the run queue is full", len(results) - len(made))
    return made


def tick(
    db: Database, now: float, *, max_catchup: int = 1000, limits: QueueLimits | None = None
) -> list[str]:
    """Queue the runs of every fire time due at ``now`` (epoch seconds); returns the new run ids.

    The due flows are fired in chunks of ``_CHUNK``, each chunk in one transaction: the schedule
    rows are claimed with compare-and-swap on ``last_fired`` (so a concurrent scheduler skips, or
    waits for, the flows this one claimed) and the runs are inserted in bulk
    (:func:`xdmflow.runs.queue.enqueue_scheduled_runs`); a failure rolls back the chunk's claims
    and runs together.
    """
    t = int(now)
    with db.session() as s:
        due = list(
            s.scalars(
                select(FlowSchedule.flow_id)
                .where(
                    FlowSchedule.enabled.is_(True),
                    FlowSchedule.next_fire.is_not(None),
                    FlowSchedule.next_fire <= t,
                )
                .order_by(FlowSchedule.next_fire, FlowSchedule.flow_id)
            )
        )
    made: list[str] = []
    for start in range(0, len(due), _CHUNK):
        with db.session() as s:
            budget = QueueBudget(limits) if limits is not None else None
            made += _fire_chunk(s, due[start : start + _CHUNK], t, max_catchup, budget)
    return made


class SchedulerLoop:
    """Calls ``tick`` every ``interval`` seconds in a daemon thread — while it holds the lease.

    Every instance tries to acquire (or renew) the ``scheduler`` lease each iteration; only the
    holder ticks, so with several scheduler processes one fires and the others stand by. A
    standby takes over once the holder's lease expires (``lease_seconds`` after its last
    renewal) or right away when the holder stopped cleanly (:meth:`stop` releases the lease).
    The per-fire-time dedupe key of :func:`tick` stays the second guard: even two holders in
    an overlapping moment (a tick that outlasts the lease) never create a fire's run twice.
    """

    LEASE = "scheduler"

    def __init__(
        self,
        db: Database,
        interval: float,
        clock: Clock = time.time,
        *,
        lease_seconds: float = 30.0,
        holder: str | None = None,
        limits: QueueLimits | None = None,
        maintenance: Callable[[], object] | None = None,
        maintenance_interval: float = 3600.0,
        queries: Callable[[float], list[str]] | None = None,
    ) -> None:
        if lease_seconds <= interval:
            raise InvalidValueError("the scheduler lease must last longer than the scheduler interval")
        self.db = db
        self.interval = interval
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.holder = holder or holder_id()
        self.limits = limits
        #: Whether the last iteration held the lease.
        self.is_leader = False
        #: How many ticks this instance ran (as the lease holder).
        self.ticks = 0
        #: A periodic job run by the lease holder only (lake maintenance), every ``maintenance_interval``.
        self.maintenance = maintenance
        self.maintenance_interval = maintenance_interval
        self.maintenance_runs = 0
        self._last_maintenance: float | None = None
        #: Fires the due query schedules at a time (the Query Service's ``/schedules``), lease holder only.
        self.queries = queries
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xdmflow-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, release_lease: bool = True) -> None:
        """Stop the loop; give the lease up unless ``release_lease`` is false (as a crash would)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if release_lease and self.is_leader:
            try:
                lease.release(self.db, self.LEASE, self.holder)
            except Exception:
                log.exception("releasing the scheduler lease failed")
        self.is_leader = False

    def step(self) -> list[str]:
        """One iteration: acquire/renew the lease, tick if held; returns the runs queued (flow
        runs, then query schedule runs)."""
        now = self.clock()
        held = lease.acquire(
            self.db, self.LEASE, self.holder, ttl_ms=int(self.lease_seconds * 1000), now_ms=int(now * 1000)
        )
        if held != self.is_leader:
            log.info("scheduler %s %s the lease", self.holder, "acquired" if held else "lost")
        self.is_leader = held
        if not held:
            return []
        self.ticks += 1
        made = tick(self.db, now, limits=self.limits)
        if self.queries is not None:
            try:
                made += self.queries(now)
            except Exception:  # flows keep firing; the next iteration retries the query schedules
                log.exception("firing query schedules failed")
        self._maybe_maintain(now)
        return made

    def _maybe_maintain(self, now: float) -> None:
        if self.maintenance is None or self.maintenance_interval <= 0:
            return
        if self._last_maintenance is not None and now - self._last_maintenance < self.maintenance_interval:
            return
        self._last_maintenance = now
        try:
            self.maintenance()
            self.maintenance_runs += 1
        except Exception:  # the next interval retries; firing flows is never held up by it
            log.exception("lake maintenance failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # keep the loop alive; the next iteration retries
                log.exception("scheduler iteration failed")
            self._stop.wait(self.interval)
