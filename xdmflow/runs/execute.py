"""Execute a queued run: gather its pieces from the store, run the pipeline, record what happened.

The order that keeps data safe:

1. the run is marked ``inProgress``;
2. the pipeline reads the source's partitions on the app's executor (threads, or Dask
   workers), each writing Parquet files of the batch; just before the lake commit the run
   records its *intent* (batch id, new watermark, counts) in the store;
3. the lake commit of every partition's files is one atomic snapshot (all of the batch or
   none of it; a failed run's files are deleted);
4. one store transaction then records the Catalog batch, the run's metrics, the flow's
   ``lastRunDetails`` and — only for a committed batch — the new watermark.

A worker killed between 3 and 4 leaves an intent whose batch is in the lake: recovery
finishes step 4 from the intent. Killed before 3, nothing was committed: the run is failed
(and retried when the flow's options ask for it) and the watermark has not moved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xdmflow.connectors.base import ReadRequest
from xdmflow.connectors.registry import get_connector
from xdmflow.errors import PreconditionFailedError, SourceError, XdmflowError
from xdmflow.ids import new_batch_id, now_ms
from xdmflow.pipeline.dedupe import DedupeState
from xdmflow.pipeline.partition import RunSpec
from xdmflow.pipeline.run import RunResult, batch_metrics, execute
from xdmflow.runs import report as run_report
from xdmflow.runs.claim import Claim, ClaimLostError
from xdmflow.runs.queue import enqueue_run
from xdmflow.runs.states import RunState, can_move
from xdmflow.services.catalog import dataset_target, record_batch
from xdmflow.services.connections import policed_auth
from xdmflow.services.context import AppContext
from xdmflow.services.document_stores import CONNECTIONS, FLOWS, RUNS, SOURCE_CONNECTIONS, TARGET_CONNECTIONS
from xdmflow.services.mappings import plan_for_flow
from xdmflow.services.write_mode import write_options
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document, Sandbox, Watermark

__all__ = ["ContextRuns", "execute_run", "recover_run", "build_spec", "finalize"]

log = logging.getLogger("xdmflow.runs")


def _copy_params(flow: dict[str, Any]) -> dict[str, Any]:
    t = next((t for t in flow.get("transformations", []) if t["name"] == "Copy"), None)
    return dict((t or {}).get("params", {}).get("deltaColumn") or {})


def _watermark(s: Session, flow_id: str, source_id: str) -> Watermark | None:
    return s.get(Watermark, (flow_id, source_id))


def build_spec(s: Session, ctx: AppContext, run: Document) -> tuple[RunSpec, dict[str, Any]]:
    """The pipeline's inputs for ``run`` (and facts the report needs)."""
    scope = Scope(run.org_id, run.sandbox_name)
    flow = FLOWS.get(s, scope, run.body["flowId"], code="1439")
    source = SOURCE_CONNECTIONS.get(s, scope, flow.body["sourceConnectionIds"][0])
    target = TARGET_CONNECTIONS.get(s, scope, flow.body["targetConnectionIds"][0])
    base = (
        CONNECTIONS.get(s, scope, source.body["baseConnectionId"])
        if source.body.get("baseConnectionId")
        else None
    )
    dataset_id = str(target.body["params"]["dataSetId"])
    namespace, schema, _dataset = dataset_target(s, scope, dataset_id)
    delta = _copy_params(flow.body) or dict(run.body.get("params", {}).get("deltaColumn") or {})
    mark = _watermark(s, flow.id, source.id)
    watermark = (mark.value or {}).get("value") if mark is not None else None
    sched = flow.body.get("scheduleParams", {})
    if watermark is None and str(sched.get("backfill", "true")).lower() == "false":
        start = int(sched.get("startTime", 0))
        watermark = dt.datetime.fromtimestamp(start, dt.UTC).isoformat().replace("+00:00", "Z")
    params = {
        **source.body.get("params", {}),
        **(source.body.get("data", {}).get("properties") or {}),
        "format": source.body.get("data", {}).get("format", "tabular"),
    }
    obj = str(params.get("tableName") or params.get("path") or "")
    connector = get_connector(source.body["connectionSpec"]["id"])
    options = flow.body.get("options") or {}
    files = (mark.value or {}).get("files") if mark is not None else None
    read = ReadRequest(
        object=obj,
        source_params=params,
        delta_column=delta.get("name"),
        watermark=watermark,
        # file sources: the files ingested so far (kept beside the watermark, see _advance_watermark)
        ingested_files=dict(files) if isinstance(files, dict) else None,
        changed_files=str(options.get("changedFiles") or "reread"),
    )
    run_params = run.body.get("params", {})
    if run_params.get("windowEndTime"):
        read = dataclasses.replace(read, window_end=float(run_params["windowEndTime"]))
    dedupe = None
    policy = connector.dedupe_policy(read)
    if policy is not None and delta.get("name"):
        state = (mark.value or {}).get("dedupe") if mark is not None else None
        dedupe = DedupeState.from_state(state, policy[0], str(delta["name"]), policy[1])
    partial = options.get("partialIngestionPercent")
    plan = plan_for_flow(s, scope, flow.body, schema)
    write_mode, key_columns = write_options(options, connector, read, plan, schema)
    spec = RunSpec(
        run_id=run.id,
        batch_id=str(run.body.get("pending", {}).get("batchId") or new_batch_id()),
        connector_spec_id=connector.spec.id,
        auth=policed_auth(connector, base, ctx.keys, ctx.policy) if base is not None else {},
        read=read,
        plan=plan,
        target=schema,
        namespace=namespace,
        dataset_id=dataset_id,
        partial_ingestion_percent=float(partial) if partial is not None else None,
        error_diagnostics=bool(options.get("errorDiagnosticsEnabled")),
        dedupe=dedupe,
        write_mode=write_mode,
        key_columns=key_columns,
    )
    facts = {
        "flow_id": flow.id,
        "source_id": source.id,
        "target_id": target.id,
        "dataset_id": dataset_id,
        "delta": delta.get("name"),
        "watermark": watermark,
        "input_format": params.get("format"),
    }
    return spec, facts


def _mark_started(ctx: AppContext, run_id: str) -> Document | None:
    with ctx.db.session() as s:
        run = RUNS.find_unscoped(s, run_id)
        if run is None or not can_move(run.state, RunState.IN_PROGRESS):
            return None  # gone, or already finished: a run id is executed at most once
        body = dict(run.body)
        started = now_ms()
        body["state"] = RunState.IN_PROGRESS.value
        body["metrics"] = run_report.in_progress_metrics(started)
        # The batch id is chosen (and recorded) before any file is written, so that recovery
        # can delete the files of a run killed while writing them.
        body["pending"] = {"batchId": str((run.body.get("pending") or {}).get("batchId") or new_batch_id())}
        RUNS.save(s, run, body, state=RunState.IN_PROGRESS)
        return run


def _save_intent(ctx: AppContext, claim: Claim, spec: RunSpec, result: RunResult) -> None:
    claim.ensure_held()  # a stalled worker whose run was recovered must not commit
    run_id = claim.run_id
    pending = {
        "batchId": spec.batch_id,
        "watermark": result.new_watermark,
        "dedupe": spec.dedupe.next_state(result.new_watermark) if spec.dedupe is not None else None,
        "result": run_report.result_to_json(result),
    }
    with ctx.db.session() as s:
        run = RUNS.find_unscoped(s, run_id)
        if run is None or run.state == "failed" or not _sandbox_active(s, run.org_id, run.sandbox_name):
            # its sandbox or flow was deleted (the run cancelled) while it ran: nothing may land
            raise ClaimLostError(
                f"Run {run_id} was deleted with its sandbox or flow; its batch is not committed."
            )
        RUNS.save(s, run, {**run.body, "pending": pending})


def _sandbox_active(s: Session, org_id: str, name: str) -> bool:
    state = s.scalars(select(Sandbox.state).where(Sandbox.org_id == org_id, Sandbox.name == name)).first()
    return state is not None and state != "deleted"


def execute_run(ctx: AppContext, claim: Claim) -> None:
    """Execute one claimed run end to end (never raises for run-level failures).

    ``claim`` is checked just before the lake commit: a worker that lost it commits nothing.
    """
    run_id = claim.run_id
    run = _mark_started(ctx, run_id)
    if run is None:
        return
    try:
        with ctx.db.session() as s:
            spec, facts = build_spec(s, ctx, run)
        connector = get_connector(spec.connector_spec_id)
        result = execute(
            spec,
            connector,
            ctx.lake,
            ctx.diagnostics,
            before_commit=lambda r: _save_intent(ctx, claim, spec, r),
            executor=ctx.executor,
        )
    except ClaimLostError as exc:  # another worker recovered the run: it owns the run's state now
        log.warning("%s", exc.message)
        return
    except XdmflowError as exc:
        _finish_failed(ctx, run_id, exc)
        return
    except Exception as exc:  # a bug or an unexpected library error: the run fails, loudly
        log.exception("run %s failed unexpectedly", run_id)
        _finish_failed(
            ctx, run_id, XdmflowError(f"Internal error while running: {type(exc).__name__}: {exc}")
        )
        return
    finalize(
        ctx,
        run_id,
        spec.batch_id,
        facts,
        result,
        watermark=result.new_watermark,
        dedupe=spec.dedupe.next_state(result.new_watermark) if spec.dedupe is not None else None,
    )


def finalize(
    ctx: AppContext,
    run_id: str,
    batch_id: str,
    facts: dict[str, Any],
    result: RunResult,
    *,
    watermark: Any,
    dedupe: dict[str, Any] | None,
) -> None:
    """Record the batch, the run's report, the flow's last run and (on success) the watermark — atomically.

    Runs of other flows finishing at the same moment update the same dataset document (its last
    batch): a lost compare-and-swap retries the whole transaction on fresh documents.
    """
    for attempt in range(_FINALIZE_ATTEMPTS):
        try:
            _finalize_once(ctx, run_id, batch_id, facts, result, watermark=watermark, dedupe=dedupe)
            return
        except PreconditionFailedError:
            if attempt == _FINALIZE_ATTEMPTS - 1:
                raise
            time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))


_FINALIZE_ATTEMPTS = 10


def _finalize_once(
    ctx: AppContext,
    run_id: str,
    batch_id: str,
    facts: dict[str, Any],
    result: RunResult,
    *,
    watermark: Any,
    dedupe: dict[str, Any] | None,
) -> None:
    with ctx.db.session() as s:
        run = RUNS.find_unscoped(s, run_id)
        if run is None:
            return
        scope = Scope(run.org_id, run.sandbox_name)
        record_batch(
            s,
            scope,
            dataset_id=facts["dataset_id"],
            batch_id=batch_id,
            status=result.status,
            metrics=batch_metrics(result),
            errors=result.errors,
            input_format={"format": facts.get("input_format") or "parquet"},
            tags=run_report.batch_tags(run, facts),
            snapshot_id=result.snapshot_id,
            data_files=result.data_files,
            started=result.started,
            completed=result.completed,
            external_id=run_id,
            created_by=str(run.body.get("createdBy", "scheduler")),
            client_id=str(run.body.get("createdClient", "xdmflow")),
        )
        if result.status == RunState.SUCCESS:
            _advance_watermark(s, facts, watermark, dedupe, batch_id, result.source_files)
        body = run_report.finished_body(run.body, result, batch_id, facts)
        body.pop("pending", None)
        RUNS.save(s, run, body, state=body["state"])
        _update_flow(s, scope, facts["flow_id"], run_id, body)


def _advance_watermark(
    s: Session,
    facts: dict[str, Any],
    value: Any,
    dedupe: dict[str, Any] | None,
    batch_id: str,
    files: dict[str, str] | None,
) -> None:
    mark = s.get(Watermark, (facts["flow_id"], facts["source_id"]))
    if value is None and mark is not None:
        value = (mark.value or {}).get("value")
    payload: dict[str, Any] = {"value": value, "dedupe": dedupe}
    # file sources: the set of files ingested grows by this committed run's files (never before
    # the commit: a failed run's files are read again)
    known = (mark.value or {}).get("files") if mark is not None else None
    if files is not None or known is not None:
        payload["files"] = {**(known or {}), **(files or {})}
    if mark is None:
        s.add(
            Watermark(
                flow_id=facts["flow_id"],
                source_id=facts["source_id"],
                delta_column=str(facts.get("delta") or "_mtime"),
                value=payload,
                batch_id=batch_id,
                updated_at=now_ms(),
            )
        )
    else:
        mark.value = payload
        mark.batch_id = batch_id
        mark.updated_at = now_ms()
    s.flush()


def _update_flow(s: Session, scope: Scope, flow_id: str, run_id: str, run_body: dict[str, Any]) -> None:
    flow = FLOWS.find(s, scope, flow_id)
    if flow is None:
        return
    summary = run_body["metrics"]["durationSummary"]
    body = dict(flow.body)
    body["lastRunDetails"] = {
        "id": run_id,
        "state": run_body["state"],
        "startedAtUTC": summary.get("startedAtUTC"),
        "completedAtUTC": summary.get("completedAtUTC"),
    }
    FLOWS.save(s, flow, body)


def _finish_failed(ctx: AppContext, run_id: str, exc: XdmflowError) -> None:
    code = "CONNECTOR-2001-500" if isinstance(exc, SourceError) else f"FLOW-RUN-{exc.status}"
    with ctx.db.session() as s:
        run = RUNS.find_unscoped(s, run_id)
        if run is None:
            return
        body = run_report.failed_body(
            run.body, code, exc.message, retriable=isinstance(exc, SourceError) and exc.retriable
        )
        body.pop("pending", None)
        RUNS.save(s, run, body, state=RunState.FAILED)
        _update_flow(s, Scope(run.org_id, run.sandbox_name), run.body["flowId"], run_id, body)
    log.warning("run %s failed: %s", run_id, exc.message)


def recover_run(ctx: AppContext, claim: Claim) -> None:
    """Finish or fail a run whose worker died (kill -9): never half-committed, never run twice."""
    run_id = claim.run_id
    with ctx.db.session() as s:
        run = RUNS.find_unscoped(s, run_id)
        if run is None or run.state in (RunState.SUCCESS, RunState.FAILED):
            return
        pending = run.body.get("pending")
        flow = FLOWS.find(s, Scope(run.org_id, run.sandbox_name), run.body["flowId"])
    if pending and flow is not None:
        with ctx.db.session() as s:
            spec, facts = build_spec(s, ctx, run)
        committed = ctx.lake.batch_snapshot(spec.namespace, spec.dataset_id, pending["batchId"])
        if committed is not None and "result" in pending:
            result = run_report.result_from_json(pending["result"])
            result.status = RunState.SUCCESS.value
            # The intent was saved before the commit: the run completes now, when it is recovered.
            result.completed = result.completed or now_ms()
            result.snapshot_id = committed.snapshot_id
            result.data_files = list(committed.data_files)
            result.output_bytes = committed.byte_size
            result.output_files = len(committed.data_files)
            finalize(
                ctx,
                run_id,
                pending["batchId"],
                facts,
                result,
                watermark=pending.get("watermark"),
                dedupe=pending.get("dedupe"),
            )
            return
        try:
            removed = ctx.lake.discard_uncommitted(spec.namespace, spec.dataset_id, pending["batchId"])
        except Exception:  # the run is still failed below; the files stay for an operator
            log.warning(
                "run %s: could not delete the files of batch %s", run_id, pending["batchId"], exc_info=True
            )
        else:
            if removed:
                log.warning("run %s: deleted %d file(s) its dead worker left", run_id, len(removed))
    _finish_failed(
        ctx,
        run_id,
        XdmflowError(
            "The worker executing this run stopped before the batch was committed; nothing was written. "
            "Re-trigger the run with POST /runs/{id}/action?op=RE_TRIGGER.",
            status=500,
        ),
    )
    _maybe_retry(ctx, run_id)


def _maybe_retry(ctx: AppContext, run_id: str) -> None:
    with ctx.db.session() as s:
        run = RUNS.find_unscoped(s, run_id)
        if run is None:
            return
        flow = FLOWS.find(s, Scope(run.org_id, run.sandbox_name), run.body["flowId"])
        if flow is None:
            return
        retries = int((flow.body.get("options") or {}).get("maxRetries", 0) or 0)
        attempt = int(run.body.get("attempt", 1))
        if attempt > retries:
            return
        new = enqueue_run(
            s,
            flow,
            params=dict(run.body.get("params", {})),
            audit={
                k: run.body.get(k)
                for k in (
                    "createdAt",
                    "updatedAt",
                    "createdBy",
                    "updatedBy",
                    "createdClient",
                    "updatedClient",
                    "sandboxId",
                    "sandboxName",
                    "imsOrgId",
                )
            },
            trigger="retry",
        )
        body = dict(new.body)
        body["attempt"] = attempt + 1
        body["retryOf"] = run_id
        RUNS.save(s, new, body)


class ContextRuns:
    """The :class:`~xdmflow.runs.worker.RunHandler` of a service process: executes and recovers
    runs with the app's context (its store, lake, executor and policy)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def execute(self, claim: Claim) -> None:
        execute_run(self.ctx, claim)

    def recover(self, claim: Claim) -> None:
        recover_run(self.ctx, claim)
