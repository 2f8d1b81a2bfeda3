"""Sandbox delete and reset that do what they say: every resource of the sandbox goes.

A sandbox's resources are the documents scoped to it (connections with their encrypted
secrets, source and target connections, flows, runs, schemas and the rest of the Schema
Registry, mapping sets, datasets, batches), the rows keyed by its flows and runs (schedules,
the run queue, watermarks), its lake namespace (every dataset's Iceberg table with its data,
manifest and metadata files) and the files kept per batch (diagnostics, uploads).

``purge`` removes them in three steps, so that nothing of the sandbox runs once the first one
has committed:

1. one transaction marks the sandbox deleted (delete only) and removes its schedules and its
   runs' queue rows — the scheduler has nothing left to fire, no worker can claim a queued
   run, and a run in progress loses its claim, so its fence (``store.claims``) refuses the
   lake commit and its files are deleted;
2. the lake namespace and the per-batch files are deleted;
3. one transaction removes the documents and watermarks.

If step 2 or 3 fails (an object store down), the sandbox is already invisible (requests for a
deleted sandbox are refused), and the purge runs again when a sandbox of the same name is
created, so the new one always starts empty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError
from xdmflow.lake.lake import namespace_for
from xdmflow.runs import report as run_report
from xdmflow.services import identity
from xdmflow.services.context import AppContext
from xdmflow.services.document_stores import BATCHES, FLOWS, RUNS
from xdmflow.services.identity import Principal
from xdmflow.services.ingest.uploads import Uploads
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document, FlowSchedule, RunQueue, Sandbox, Watermark

__all__ = [
    "Purged",
    "create_sandbox",
    "delete_sandbox",
    "reset_sandbox",
    "purge",
    "stop_flow_runs",
    "stop_deleted_flow",
]

log = logging.getLogger(__name__)

_CHUNK = 500


@dataclass
class Purged:
    """What a purge removed (for logs and tests)."""

    flows: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    documents: int = 0


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def stop_flow_runs(s: Session, flow_ids: Sequence[str], run_ids: Sequence[str] = ()) -> None:
    """Remove the schedules of ``flow_ids`` and the queue rows of their runs (and of ``run_ids``):
    nothing fires, no queued run is claimed, a running run's claim is gone (its commit is fenced)."""
    for chunk in _chunks(list(flow_ids)):
        s.execute(delete(FlowSchedule).where(FlowSchedule.flow_id.in_(chunk)))
        s.execute(delete(RunQueue).where(RunQueue.flow_id.in_(chunk)))
    for chunk in _chunks(list(run_ids)):
        s.execute(delete(RunQueue).where(RunQueue.run_id.in_(chunk)))


def stop_deleted_flow(s: Session, scope: Scope, flow_id: str) -> list[str]:
    """A flow is being deleted: its schedule and queue rows go, and its runs that had not
    finished fail with a message saying why (a running one's commit is fenced). Returns their ids."""
    open_runs = list(
        s.scalars(select(RunQueue.run_id).where(RunQueue.flow_id == flow_id, RunQueue.status != "done"))
    )
    stop_flow_runs(s, [flow_id])
    for run_id in open_runs:
        doc = RUNS.find(s, scope, run_id)
        if doc is None or doc.state in ("success", "failed"):
            continue
        body = run_report.failed_body(
            doc.body, "FLOW-RUN-410", f"Flow {flow_id} was deleted; this run was cancelled.", retriable=False
        )
        body.pop("pending", None)
        RUNS.save(s, doc, body, state="failed")
    return open_runs


def _stop(s: Session, org_id: str, name: str, purged: Purged) -> None:
    rows = s.execute(
        select(Document.kind, Document.id, Document.body).where(
            Document.org_id == org_id,
            Document.sandbox_name == name,
            Document.kind.in_([FLOWS.kind, RUNS.kind, BATCHES.kind]),
        )
    ).all()
    for kind, doc_id, body in rows:
        if kind == FLOWS.kind:
            purged.flows.append(doc_id)
        elif kind == RUNS.kind:
            purged.runs.append(doc_id)
            pending = (body or {}).get("pending") or {}
            if pending.get("batchId"):
                purged.batches.append(str(pending["batchId"]))
        else:
            purged.batches.append(doc_id)
    s.execute(delete(FlowSchedule).where(FlowSchedule.org_id == org_id, FlowSchedule.sandbox_name == name))
    stop_flow_runs(s, purged.flows, purged.runs)


def _delete_files(ctx: AppContext, org_id: str, name: str, purged: Purged) -> None:
    purged.tables = ctx.lake.drop_namespace(namespace_for(org_id, name))
    uploads = Uploads.from_settings(ctx.settings)
    for batch_id in sorted(set(purged.batches)):
        try:
            ctx.diagnostics.delete(batch_id)
            uploads.remove(batch_id)
        except BadRequestError:  # not a batch id of ours: nothing was stored under it
            continue


def _delete_records(s: Session, org_id: str, name: str, purged: Purged) -> None:
    for chunk in _chunks(purged.flows):
        s.execute(delete(Watermark).where(Watermark.flow_id.in_(chunk)))
    result: Any = s.execute(delete(Document).where(Document.org_id == org_id, Document.sandbox_name == name))
    purged.documents = int(getattr(result, "rowcount", 0) or 0)


def purge(ctx: AppContext, org_id: str, name: str, *, mark_deleted_by: str | None = None) -> Purged:
    """Remove every resource of sandbox ``name`` of ``org_id`` (see the module's docstring).

    With ``mark_deleted_by`` the sandbox is marked deleted in the first transaction.
    """
    purged = Purged()
    with ctx.db.session() as s:
        if mark_deleted_by is not None:
            identity.delete_sandbox(s, org_id, name, mark_deleted_by)
        _stop(s, org_id, name, purged)
    _delete_files(ctx, org_id, name, purged)
    with ctx.db.session() as s:
        _delete_records(s, org_id, name, purged)
    log.info(
        "sandbox %s of %s purged: %d documents, %d flows, %d runs, %d lake tables",
        name,
        org_id,
        purged.documents,
        len(purged.flows),
        len(purged.runs),
        len(purged.tables),
    )
    return purged


def delete_sandbox(ctx: AppContext, p: Principal, name: str) -> dict[str, Any]:
    """``DELETE /sandboxes/{name}``: the sandbox and everything in it."""
    purge(ctx, p.org_id, name, mark_deleted_by=p.user)
    with ctx.db.session() as s:
        sb = s.scalars(select(Sandbox).where(Sandbox.org_id == p.org_id, Sandbox.name == name)).one()
        return identity.sandbox_view(sb)


def reset_sandbox(ctx: AppContext, p: Principal, name: str, body: Any) -> dict[str, Any]:
    """``PUT /sandboxes/{name}`` with ``{"action": "reset"}``: empty the sandbox, keep it."""
    if not isinstance(body, dict) or str(body.get("action", "")).lower() != "reset":
        raise BadRequestError('The body must be {"action": "reset"} to reset a sandbox')
    with ctx.db.session() as s:
        identity.get_sandbox(s, p.org_id, name)  # 404 unless it exists
    purge(ctx, p.org_id, name)
    with ctx.db.session() as s:
        sb = identity.get_sandbox(s, p.org_id, name)
        sb.etag += 1
        s.flush()
        return identity.sandbox_view(sb)


def create_sandbox(ctx: AppContext, p: Principal, body: Any) -> dict[str, Any]:
    """``POST /sandboxes``; a name once deleted is purged again first, so it starts empty."""
    body = body if isinstance(body, dict) else {}
    name = body.get("name")
    if isinstance(name, str):
        with ctx.db.session() as s:
            old = s.scalars(
                select(Sandbox).where(
                    Sandbox.org_id == p.org_id, Sandbox.name == name, Sandbox.state == "deleted"
                )
            ).first()
        if old is not None:
            purge(ctx, p.org_id, name)
    with ctx.db.session() as s:
        return identity.sandbox_view(identity.create_sandbox(s, p.org_id, body, p.user))
