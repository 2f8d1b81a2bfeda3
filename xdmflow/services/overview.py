"""Paged lists and summaries for the web console (flows with their schedule and last run, runs of a
flow, datasets with their last batch, rejected rows of a run), scoped like every other service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xdmflow.lake.diagnostics import ErrorStore
from xdmflow.services.document_stores import BATCHES, CONNECTIONS, DATASETS, FLOWS, RUNS
from xdmflow.store.documents import DocumentStore, Scope
from xdmflow.store.tables import Document, FlowSchedule

__all__ = [
    "Page",
    "page_of",
    "flows_page",
    "next_fire",
    "run_summary",
    "runs_of_flow",
    "datasets_page",
    "batches_of_dataset",
    "rejected_rows",
    "connections_page",
    "PAGE_SIZE",
]

PAGE_SIZE = 25


@dataclass
class Page:
    items: list[Any]
    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _scoped(store: DocumentStore, scope: Scope) -> Any:
    return (
        Document.kind == store.kind,
        Document.org_id == scope.org_id,
        Document.sandbox_name == scope.sandbox_name,
    )


def page_of(s: Session, scope: Scope, store: DocumentStore, page: int = 1, size: int = PAGE_SIZE) -> Page:
    """One page of a kind of document, newest first (ix_documents_scope drives both queries)."""
    page = max(1, page)
    where = _scoped(store, scope)
    total = int(s.scalar(select(func.count()).select_from(Document).where(*where)) or 0)
    docs = list(
        s.scalars(
            select(Document)
            .where(*where)
            .order_by(Document.created_at.desc(), Document.pk.desc())
            .limit(size)
            .offset((page - 1) * size)
        )
    )
    return Page(docs, page, size, total)


def run_summary(doc: Document) -> dict[str, Any]:
    """Status, record counts and duration of one run document."""
    body = doc.body
    metrics = body.get("metrics") or {}
    records = metrics.get("recordSummary") or {}
    duration = metrics.get("durationSummary") or {}
    started = int(duration.get("startedAtUTC") or 0)
    completed = int(duration.get("completedAtUTC") or 0)
    return {
        "id": doc.id,
        "flowId": body.get("flowId"),
        "state": doc.state or body.get("state"),
        "trigger": body.get("trigger", "scheduled"),
        "createdAt": doc.created_at,
        "startedAt": started,
        "completedAt": completed,
        "durationMs": completed - started if started and completed >= started else None,
        "input": int(records.get("inputRecordCount") or 0),
        "output": int(records.get("outputRecordCount") or 0),
        "failed": int(records.get("failedRecordCount") or 0),
    }


def _last_runs(s: Session, scope: Scope, flow_ids: list[str]) -> dict[str, Document]:
    """The newest run of each flow (one query over ix_documents_parent)."""
    if not flow_ids:
        return {}
    newest = (
        select(Document.parent_id, func.max(Document.pk).label("pk"))
        .where(Document.kind == RUNS.kind, Document.parent_id.in_(flow_ids))
        .group_by(Document.parent_id)
        .subquery()
    )
    rows = s.scalars(
        select(Document).join(newest, Document.pk == newest.c.pk).where(Document.org_id == scope.org_id)
    )
    return {d.parent_id or "": d for d in rows if d.sandbox_name == scope.sandbox_name}


def flows_page(s: Session, scope: Scope, page: int = 1, size: int = PAGE_SIZE) -> Page:
    """Flows with their state, schedule, next fire time and last run."""
    out = page_of(s, scope, FLOWS, page, size)
    ids = [d.id for d in out.items]
    schedules = (
        {r.flow_id: r for r in s.scalars(select(FlowSchedule).where(FlowSchedule.flow_id.in_(ids)))}
        if ids
        else {}
    )
    last = _last_runs(s, scope, ids)
    items = []
    for d in out.items:
        sched = schedules.get(d.id)
        run = last.get(d.id)
        items.append(
            {
                "id": d.id,
                "name": d.body.get("name"),
                "state": d.state or d.body.get("state"),
                "schedule": d.body.get("scheduleParams") or {},
                "nextFire": sched.next_fire if sched is not None and sched.enabled else None,
                "lastRun": run_summary(run) if run is not None else None,
                "createdAt": d.created_at,
            }
        )
    out.items = items
    return out


def next_fire(s: Session, flow_id: str) -> int | None:
    """When the flow's schedule fires next (epoch seconds); ``None`` when it is off or done."""
    row = s.get(FlowSchedule, flow_id)
    return row.next_fire if row is not None and row.enabled else None


def runs_of_flow(s: Session, scope: Scope, flow_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` runs of a flow, oldest first (for the charts and the run list)."""
    FLOWS.get(s, scope, flow_id, code="1439")
    docs = s.scalars(
        select(Document)
        .where(
            Document.kind == RUNS.kind,
            Document.parent_id == flow_id,
            Document.org_id + "" == scope.org_id,
            Document.sandbox_name == scope.sandbox_name,
        )
        .order_by(Document.pk.desc())
        .limit(limit)
    )
    return [run_summary(d) for d in reversed(list(docs))]


def batches_of_dataset(s: Session, scope: Scope, dataset_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest batches of a dataset: status, records, errors."""
    DATASETS.get(s, scope, dataset_id)
    out = []
    for d in s.scalars(
        select(Document)
        .where(
            Document.kind == BATCHES.kind,
            Document.parent_id == dataset_id,
            Document.org_id + "" == scope.org_id,
            Document.sandbox_name == scope.sandbox_name,
        )
        .order_by(Document.pk.desc())
        .limit(limit)
    ):
        metrics = d.body.get("metrics") or {}
        out.append(
            {
                "id": d.id,
                "status": d.state or d.body.get("status"),
                "createdAt": d.created_at,
                "records": int(metrics.get("recordCount") or metrics.get("outputRecordCount") or 0),
                "failed": int(metrics.get("failedRecordCount") or 0),
                "size": int(metrics.get("outputByteSize") or metrics.get("inputByteSize") or 0),
                "errors": d.body.get("errors") or [],
            }
        )
    return out


def datasets_page(s: Session, scope: Scope, page: int = 1, size: int = PAGE_SIZE) -> Page:
    """Datasets with their row count and size (sums over their successful batches) and last batch."""
    out = page_of(s, scope, DATASETS, page, size)
    totals: dict[str, list[int]] = {}
    ids = [d.id for d in out.items]
    if ids:
        for b in s.scalars(
            select(Document).where(
                Document.kind == BATCHES.kind,
                Document.parent_id.in_(ids),
                Document.org_id + "" == scope.org_id,
                Document.sandbox_name == scope.sandbox_name,
                Document.state == "success",
            )
        ):
            m = b.body.get("metrics") or {}
            t = totals.setdefault(b.parent_id or "", [0, 0])
            t[0] += int(m.get("outputRecordCount") or 0)
            t[1] += int(m.get("outputByteSize") or 0)
    items = []
    for d in out.items:
        last = d.body.get("lastBatchId")
        rows, nbytes = totals.get(d.id, [0, 0])
        items.append(
            {
                "id": d.id,
                "name": d.body.get("name"),
                "schema": (d.body.get("schemaRef") or {}).get("id"),
                "lastBatchId": last,
                "lastBatchStatus": d.body.get("lastBatchStatus"),
                "rows": rows,
                "size": nbytes,
                "createdAt": d.created_at,
            }
        )
    out.items = items
    return out


def connections_page(s: Session, scope: Scope, page: int = 1, size: int = PAGE_SIZE) -> Page:
    out = page_of(s, scope, CONNECTIONS, page, size)
    out.items = [
        {
            "id": d.id,
            "name": d.body.get("name"),
            "spec": (d.body.get("connectionSpec") or {}).get("id"),
            "state": d.body.get("state", "enabled"),
            "createdAt": d.created_at,
        }
        for d in out.items
    ]
    return out


def rejected_rows(
    s: Session, scope: Scope, errors: ErrorStore, run_id: str, page: int = 1, size: int = PAGE_SIZE
) -> Page:
    """One page of the rejected rows of a run (its batch's diagnostics), each with its reasons."""
    run = RUNS.get(s, scope, run_id)
    batch_id = run.body.get("batchId")
    page = max(1, page)
    if not batch_id:
        return Page([], page, size, 0)
    total = 0
    items: list[dict[str, Any]] = []
    start = (page - 1) * size
    for i, record in enumerate(errors.rows(str(batch_id))):
        total += 1
        if start <= i < start + size:
            items.append(record)
    return Page(items, page, size, total)
