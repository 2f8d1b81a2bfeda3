"""The run queue: creating runs (scheduled, on demand, re-triggered, retried) as queued rows."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, ConflictError, XdmflowError
from xdmflow.ids import new_uuid, now_ms
from xdmflow.runs.states import FINISHED, QueueStatus, RunState
from xdmflow.services.document_stores import FLOWS, RUNS
from xdmflow.services.identity import Principal
from xdmflow.services.resource_docs import audit_create, require_object
from xdmflow.store.bulk import insert_rows
from xdmflow.store.documents import Scope
from xdmflow.store.notify import notify_on_commit
from xdmflow.store.tables import Document, RunQueue

if TYPE_CHECKING:
    from xdmflow.settings import Settings

__all__ = [
    "QueueBudget",
    "QueueFullError",
    "QueueLimits",
    "enqueue_run",
    "FlowLike",
    "ScheduledFire",
    "enqueue_scheduled_runs",
    "create_run_on_demand",
    "retrigger",
    "run_view",
    "empty_metrics",
    "add_wake_listener",
    "remove_wake_listener",
]

# Workers of this process wait on these events between polls; a committed enqueue sets them,
# so a queued run is claimed at once instead of after the poll interval.
_wake_listeners: set[threading.Event] = set()
_wake_lock = threading.Lock()


def add_wake_listener(wake: threading.Event) -> None:
    """Set ``wake`` whenever a transaction that queued a run commits (in this process)."""
    with _wake_lock:
        _wake_listeners.add(wake)


def remove_wake_listener(wake: threading.Event) -> None:
    with _wake_lock:
        _wake_listeners.discard(wake)


def _wake_workers(_session: Session) -> None:
    with _wake_lock:
        listeners = list(_wake_listeners)
    for wake in listeners:
        wake.set()


def _wake_after_commit(s: Session) -> None:
    """Wake this process's workers once ``s`` commits (never before: the row is not visible), and
    on PostgreSQL every other process's too (``NOTIFY``, delivered at the commit)."""
    if not event.contains(s, "after_commit", _wake_workers):
        event.listen(s, "after_commit", _wake_workers, once=True)
    notify_on_commit(s)


class QueueFullError(XdmflowError):
    """The run queue (of a flow, or of the whole service) is at its bound: retry later."""

    status = 429
    default_title = "Too Many Requests"


@dataclass(frozen=True)
class QueueLimits:
    """How many queued runs may wait, per flow and in all (``0``: no bound)."""

    per_flow: int = 0
    total: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueLimits:
        return cls(settings.max_queued_runs_per_flow, settings.max_queued_runs)


@dataclass
class QueueBudget:
    """The room left in the queue under ``limits``, counted once per transaction and kept up to
    date by the runs it admits (the scheduler queues many runs per transaction).

    The bound is checked, not locked: concurrent requests in other transactions may overshoot it
    by the number of requests racing at that moment.
    """

    limits: QueueLimits
    _total: int | None = None
    _flows: dict[str, int] = field(default_factory=dict)

    def refusal(self, s: Session, flow_id: str) -> str | None:
        """Why a run of ``flow_id`` may not be queued now; ``None`` when there is room."""
        if self.limits.total > 0:
            if self._total is None:
                self._total = _count_queued(s)
            if self._total >= self.limits.total:
                return (
                    f"The run queue is full: {self._total} runs are waiting "
                    f"(XDMFLOW_MAX_QUEUED_RUNS={self.limits.total}). Retry once runs have finished."
                )
        if self.limits.per_flow > 0:
            if flow_id not in self._flows:
                self._flows[flow_id] = _count_queued(s, flow_id)
            if self._flows[flow_id] >= self.limits.per_flow:
                return (
                    f"Flow {flow_id} already has {self._flows[flow_id]} runs waiting "
                    f"(XDMFLOW_MAX_QUEUED_RUNS_PER_FLOW={self.limits.per_flow}). "
                    "Retry once its runs have finished."
                )
        return None

    def prefill(self, s: Session, flow_ids: Iterable[str]) -> None:
        """Count the queued runs of all ``flow_ids`` (and in all) in one query each, so that
        :meth:`refusal` asks the store nothing more for them."""
        if self.limits.total > 0 and self._total is None:
            self._total = _count_queued(s)
        if self.limits.per_flow > 0:
            todo = sorted({f for f in flow_ids if f not in self._flows})
            for start in range(0, len(todo), _IN_CHUNK):
                part = todo[start : start + _IN_CHUNK]
                counts = dict(
                    s.execute(
                        select(RunQueue.flow_id, func.count())
                        .where(RunQueue.status == QueueStatus.QUEUED, RunQueue.flow_id.in_(part))
                        .group_by(RunQueue.flow_id)
                    ).all()
                )
                for f in part:
                    self._flows[f] = int(counts.get(f, 0))

    def _snapshot(self) -> tuple[int | None, dict[str, int]]:
        return self._total, dict(self._flows)

    def _restore(self, snap: tuple[int | None, dict[str, int]]) -> None:
        self._total, self._flows = snap[0], dict(snap[1])

    def admit(self, flow_id: str) -> None:
        if self._total is not None:
            self._total += 1
        if flow_id in self._flows:
            self._flows[flow_id] += 1


#: Values per ``IN (…)`` list of the bulk queries (well under every driver's parameter limit).
_IN_CHUNK = 500


def _count_queued(s: Session, flow_id: str | None = None) -> int:
    q = select(func.count()).select_from(RunQueue).where(RunQueue.status == QueueStatus.QUEUED)
    if flow_id is not None:
        q = q.where(RunQueue.flow_id == flow_id)
    return int(s.scalar(q) or 0)


def empty_metrics(started: int | None = None) -> dict[str, Any]:
    return {
        "durationSummary": {"startedAtUTC": started or 0, "completedAtUTC": 0},
        "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
        "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
        "fileSummary": {"inputFileCount": 0, "outputFileCount": 0},
        "statusSummary": {"status": RunState.SCHEDULED.value, "errors": []},
    }


class FlowLike(Protocol):
    """What queuing a run reads of its flow: a flow :class:`Document`, or the scheduler's
    lighter row of the same columns (no ORM object per due flow)."""

    @property
    def id(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def sandbox_name(self) -> str: ...
    @property
    def body(self) -> dict[str, Any]: ...


def _run_body(
    flow: FlowLike,
    run_id: str,
    *,
    params: dict[str, Any],
    audit: dict[str, Any],
    trigger: str,
    refusal: str | None,
    now: int,
) -> dict[str, Any]:
    """A new run's document body: queued, or — when the queue refused it (``refusal``) — a
    skipped run, failed at ``now`` with the reason."""
    body: dict[str, Any] = {
        "id": run_id,
        "flowId": flow.id,
        **audit,
        "flowSpec": flow.body.get("flowSpec"),
        "providerRefId": f"M-{flow.id}-{trigger}-0:{run_id}",
        "params": params,
        "state": RunState.SCHEDULED.value,
        "metrics": empty_metrics(),
        "activities": [],
        "recordTypes": flow.body.get("recordTypes", []),
        "trigger": trigger,
    }
    if refusal is not None:
        body["state"] = RunState.FAILED.value
        body["skipped"] = True
        body["metrics"] = empty_metrics(now)
        body["metrics"]["durationSummary"]["completedAtUTC"] = now
        error = {"code": "FLOW-1429-429", "message": f"Skipped: {refusal}", "details": {"skipped": True}}
        body["metrics"]["statusSummary"] = {"status": RunState.FAILED.value, "errors": [error]}
    return body


def enqueue_run(
    s: Session,
    flow: FlowLike,
    *,
    params: dict[str, Any],
    audit: dict[str, Any],
    dedupe_key: str | None = None,
    trigger: str = "scheduled",
    budget: QueueBudget | None = None,
) -> Document:
    """Insert a queued run of ``flow`` (``ConflictError`` when ``dedupe_key`` was already used).

    With a ``budget`` and no room left, an on-demand run is refused (:class:`QueueFullError`,
    429) and a scheduled fire is recorded as a skipped run — a failed run saying why — that is
    never queued.
    """
    scope = Scope(flow.org_id, flow.sandbox_name)
    refusal = budget.refusal(s, flow.id) if budget is not None else None
    if refusal is not None and trigger != "scheduled":
        raise QueueFullError(refusal, code="1429", details={"flowId": flow.id})
    run_id = new_uuid()
    body = _run_body(flow, run_id, params=params, audit=audit, trigger=trigger, refusal=refusal, now=now_ms())
    if refusal is not None:
        return RUNS.insert(
            s, scope, run_id, body, parent_id=flow.id, state=RunState.FAILED, dedupe_key=dedupe_key
        )
    doc = RUNS.insert(
        s, scope, run_id, body, parent_id=flow.id, state=RunState.SCHEDULED, dedupe_key=dedupe_key
    )
    s.add(
        RunQueue(
            run_id=run_id,
            flow_id=flow.id,
            status=QueueStatus.QUEUED,
            attempts=0,
            not_before=0,
            created_at=now_ms(),
        )
    )
    s.flush()
    _wake_after_commit(s)
    if budget is not None:
        budget.admit(flow.id)
    return doc


@dataclass(frozen=True)
class ScheduledFire:
    """One fire time of a flow to queue as a scheduled run (see :func:`enqueue_scheduled_runs`)."""

    flow: FlowLike
    params: dict[str, Any]
    dedupe_key: str


_SCHEDULED, _FAILED, _QUEUED = RunState.SCHEDULED.value, RunState.FAILED.value, QueueStatus.QUEUED.value


def enqueue_scheduled_runs(
    s: Session,
    fires: Sequence[ScheduledFire],
    *,
    audit: dict[str, Any],
    budget: QueueBudget | None = None,
) -> list[tuple[str, bool]]:
    """Queue many scheduled runs at once: the bulk form of :func:`enqueue_run` for the scheduler.

    Returns ``(run_id, queued)`` per run created, in the order of ``fires``; ``queued`` is false
    for a fire recorded as skipped because the queue was at its bound (a failed run saying why,
    as :func:`enqueue_run` records it). A fire whose ``dedupe_key`` was already used creates no
    run. The documents and queue rows are inserted in bulk (:func:`xdmflow.store.bulk.insert_rows`:
    one ``COPY`` each on PostgreSQL, one ``executemany`` elsewhere), no ORM object per run; the
    queue bound is counted with one query for all the flows. Should a concurrent insert take one of
    the dedupe keys in between, the batch is rolled back to its savepoint and queued fire by
    fire through :func:`enqueue_run` instead.
    """
    if not fires:
        return []
    # Optimistic first: a fire's dedupe key is normally new (the schedule row's compare-and-swap
    # gave this tick the fire), so the runs go in without looking the keys up — that lookup's
    # plan depends on table statistics a busy PostgreSQL may not have yet (without them it
    # scanned every run: 0.4 s per 500 keys with 30,000 runs). Only when a key was taken are the
    # keys looked up, and the others queued in bulk again.
    made = _bulk_enqueue(s, fires, audit, budget)
    if made is not None:
        return made
    keys = [f.dedupe_key for f in fires]
    used: set[str] = set()
    for start in range(0, len(keys), _IN_CHUNK):
        part = keys[start : start + _IN_CHUNK]
        used.update(
            k
            for k in s.scalars(
                select(Document.dedupe_key).where(Document.kind == RUNS.kind, Document.dedupe_key.in_(part))
            )
            if k is not None
        )
    todo = [f for f in fires if f.dedupe_key not in used]
    if not todo:
        return []
    made = _bulk_enqueue(s, todo, audit, budget)
    if made is not None:
        return made
    # a dedupe key was taken since the lookup (another scheduler): one fire at a time
    made = []
    for f in todo:
        try:
            with s.begin_nested():
                run = enqueue_run(
                    s, f.flow, params=f.params, audit=audit, dedupe_key=f.dedupe_key, budget=budget
                )
        except ConflictError:
            continue
        made.append((run.id, run.state != RunState.FAILED.value))
    return made


def _bulk_enqueue(
    s: Session, todo: Sequence[ScheduledFire], audit: dict[str, Any], budget: QueueBudget | None
) -> list[tuple[str, bool]] | None:
    """The runs of ``todo`` inserted in bulk in a savepoint; ``None`` (nothing inserted, the
    queue budget as it was) when one of their dedupe keys is already taken."""
    snap = None
    if budget is not None:
        budget.prefill(s, {f.flow.id for f in todo})
        snap = budget._snapshot()
    ts = now_ms()
    docs: list[dict[str, Any]] = []
    queue: list[dict[str, Any]] = []
    made: list[tuple[str, bool]] = []
    for f in todo:
        flow = f.flow
        refusal = budget.refusal(s, flow.id) if budget is not None else None
        run_id = new_uuid()
        body = _run_body(
            flow, run_id, params=f.params, audit=audit, trigger="scheduled", refusal=refusal, now=ts
        )
        docs.append(
            RUNS.row(
                Scope(flow.org_id, flow.sandbox_name),
                run_id,
                body,
                parent_id=flow.id,
                state=_SCHEDULED if refusal is None else _FAILED,
                dedupe_key=f.dedupe_key,
                created_at=ts,
            )
        )
        if refusal is None:
            queue.append(
                {
                    "run_id": run_id,
                    "flow_id": flow.id,
                    "status": _QUEUED,
                    "claimed_by": None,
                    "heartbeat_at": None,
                    "attempts": 0,
                    "not_before": 0,
                    "created_at": ts,
                }
            )
            if budget is not None:
                budget.admit(flow.id)
        made.append((run_id, refusal is None))
    try:
        with s.begin_nested():
            insert_rows(s, Document, docs)
            insert_rows(s, RunQueue, queue)
    except IntegrityError:
        if budget is not None and snap is not None:
            budget._restore(snap)
        return None
    if queue:
        _wake_after_commit(s)
    return made


def _int_param(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"params.{name} must be an integer (epoch seconds)") from None


def create_run_on_demand(
    s: Session, p: Principal, body: Any, limits: QueueLimits | None = None
) -> dict[str, Any]:
    """Queue a run of ``body.flowId`` now; it waits behind the flow's run in progress, if any
    (one run of a flow at a time), and is refused with a 429 when the queue is at its bound."""
    body = require_object(body, "run")
    flow_id = body.get("flowId")
    if not isinstance(flow_id, str) or not flow_id:
        raise BadRequestError("'flowId' is required", code="1446")
    scope = Scope(p.org_id, p.sandbox_name)
    flow = FLOWS.get(s, scope, flow_id, code="1439")
    if flow.body.get("state") != "enabled":
        raise BadRequestError(f"Flow {flow_id} is disabled; enable it before running it", code="1444")
    raw = body.get("params") or {}
    if not isinstance(raw, dict):
        raise BadRequestError("'params' must be an object")
    params: dict[str, Any] = {}
    for key in ("startTime", "windowStartTime", "windowEndTime"):
        if key in raw:
            params[key] = _int_param(raw[key], key)
    if "deltaColumn" in raw:
        delta = raw["deltaColumn"]
        if not isinstance(delta, dict) or not isinstance(delta.get("name"), str):
            raise BadRequestError("params.deltaColumn must be an object with 'name'")
        copy_t = next((t for t in flow.body.get("transformations", []) if t["name"] == "Copy"), None)
        current = (copy_t or {}).get("params", {}).get("deltaColumn", {}).get("name")
        if current and current != delta["name"]:
            raise BadRequestError(
                f"The flow's delta column is {current!r}; it cannot be changed by a run", code="1412"
            )
        params["deltaColumn"] = delta
    budget = QueueBudget(limits) if limits is not None else None
    run = enqueue_run(s, flow, params=params, audit=audit_create(p), trigger="ondemand", budget=budget)
    return {"id": run.id, "etag": run.etag}


def retrigger(
    s: Session, p: Principal, run_id: str, op: str | None, limits: QueueLimits | None = None
) -> dict[str, Any]:
    if (op or "").upper() != "RE_TRIGGER":
        raise BadRequestError(f"Unsupported action op {op!r}; use RE_TRIGGER", code="1422")
    scope = Scope(p.org_id, p.sandbox_name)
    run = RUNS.get(s, scope, run_id)
    if run.state not in FINISHED:
        raise ConflictError(
            f"Run {run_id} is {run.state}; only a finished run can be re-triggered", code="1422", status=400
        )
    flow = FLOWS.get(s, scope, run.body["flowId"], code="1439")
    new = enqueue_run(
        s,
        flow,
        params=copy.deepcopy(run.body.get("params", {})),
        audit=audit_create(p),
        trigger="retrigger",
        budget=QueueBudget(limits) if limits is not None else None,
    )
    return {"id": new.id, "etag": new.etag}


def run_view(doc: Document) -> dict[str, Any]:
    return {**doc.body, "etag": doc.etag}


def queued_runs(s: Session) -> list[RunQueue]:
    return list(s.scalars(select(RunQueue).where(RunQueue.status == QueueStatus.QUEUED)))
