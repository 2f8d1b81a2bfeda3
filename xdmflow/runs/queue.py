"""The run queue: creating runs (scheduled, on demand, re-triggered, retried) as queued rows."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, ConflictError
from xdmflow.ids import new_uuid, now_ms
from xdmflow.runs.states import FINISHED, QueueStatus, RunState
from xdmflow.services.flowbase import audit_create, require_object
from xdmflow.services.identity import Principal
from xdmflow.services.kinds import FLOWS, RUNS
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document, RunQueue

__all__ = ["enqueue_run", "create_run_on_demand", "retrigger", "run_view", "empty_metrics"]


def empty_metrics(started: int | None = None) -> dict[str, Any]:
    return {
        "durationSummary": {"startedAtUTC": started or 0, "completedAtUTC": 0},
        "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
        "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
        "fileSummary": {"inputFileCount": 0, "outputFileCount": 0},
        "statusSummary": {"status": RunState.SCHEDULED.value, "errors": []},
    }


def enqueue_run(
    s: Session,
    flow: Document,
    *,
    params: dict[str, Any],
    audit: dict[str, Any],
    dedupe_key: str | None = None,
    trigger: str = "scheduled",
) -> Document:
    """Insert a queued run of ``flow`` (``ConflictError`` when ``dedupe_key`` was already used)."""
    scope = Scope(flow.org_id, flow.sandbox_name)
    run_id = new_uuid()
    body = {
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
    return doc


def _int_param(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadRequestError(f"params.{name} must be an integer (epoch seconds)") from None


def create_run_on_demand(s: Session, p: Principal, body: Any) -> dict[str, Any]:
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
    run = enqueue_run(s, flow, params=params, audit=audit_create(p), trigger="ondemand")
    return {"id": run.id, "etag": run.etag}


def retrigger(s: Session, p: Principal, run_id: str, op: str | None) -> dict[str, Any]:
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
        s, flow, params=copy.deepcopy(run.body.get("params", {})), audit=audit_create(p), trigger="retrigger"
    )
    return {"id": new.id, "etag": new.etag}


def run_view(doc: Document) -> dict[str, Any]:
    return {**doc.body, "etag": doc.etag}


def queued_runs(s: Session) -> list[RunQueue]:
    return list(s.scalars(select(RunQueue).where(RunQueue.status == QueueStatus.QUEUED)))
