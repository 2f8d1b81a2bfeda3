"""The run object of platform-api.md §1.11: metrics, activities (copy + promotion), errors."""

from __future__ import annotations

import dataclasses
from typing import Any

from xdmflow.ids import now_ms
from xdmflow.pipeline.run import RunResult
from xdmflow.store.tables import Document

__all__ = [
    "in_progress_metrics",
    "result_to_json",
    "result_from_json",
    "batch_tags",
    "finished_body",
    "failed_body",
]

EXPORT = "/data/foundation/export/batches"


def in_progress_metrics(started: int) -> dict[str, Any]:
    return {
        "durationSummary": {"startedAtUTC": started, "completedAtUTC": 0},
        "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
        "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
        "fileSummary": {"inputFileCount": 0, "outputFileCount": 0},
        "statusSummary": {"status": "inProgress", "errors": []},
    }


_RESULT_FIELDS = {f.name for f in dataclasses.fields(RunResult)} - {"dedupe"}


def result_to_json(r: RunResult) -> dict[str, Any]:
    return {name: getattr(r, name) for name in _RESULT_FIELDS}


def result_from_json(data: dict[str, Any]) -> RunResult:
    return RunResult(**{k: v for k, v in data.items() if k in _RESULT_FIELDS})


def batch_tags(run: Document, facts: dict[str, Any]) -> dict[str, Any]:
    return {"flowId": [facts["flow_id"]], "runId": [run.id]}


def _window(run_body: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    params = run_body.get("params", {})
    ext: dict[str, Any] = {}
    if params.get("windowStartTime") is not None:
        ext["windowStart"] = int(params["windowStartTime"]) * 1000
    if params.get("windowEndTime") is not None:
        ext["windowEnd"] = int(params["windowEndTime"]) * 1000
    if facts.get("watermark") is not None:
        ext["watermarkFrom"] = facts["watermark"]
    return ext


def finished_body(
    run_body: dict[str, Any], r: RunResult, batch_id: str, facts: dict[str, Any]
) -> dict[str, Any]:
    """The run's body once the pipeline finished (success or failed by the threshold)."""
    manifest = {
        "failedRecords": f"{EXPORT}/{batch_id}/meta?path=row_errors",
        "sampleErrors": f"{EXPORT}/{batch_id}/meta?path=row_error_samples.json",
    }
    status = r.status
    record_summary = {
        "inputRecordCount": r.input_records,
        "outputRecordCount": r.output_records,
        "failedRecordCount": r.failed_records,
        "skippedRecordCount": r.skipped_records,
    }
    copy_activity: dict[str, Any] = {
        "id": "copyActivity",
        "name": "Copy Activity",
        "updatedAtUTC": r.read_completed,
        "durationSummary": {
            "startedAtUTC": r.read_started,
            "completedAtUTC": r.read_completed,
            "extensions": _window(run_body, facts),
        },
        "sizeSummary": {"inputBytes": r.input_bytes, "outputBytes": r.input_bytes},
        "recordSummary": {
            "inputRecordCount": r.input_records + r.skipped_records,
            "outputRecordCount": r.input_records,
        },
        "fileSummary": {"inputFileCount": r.input_files, "outputFileCount": r.input_files},
        "statusSummary": {"status": "success", "extensions": {"type": "one-time"}},
        "sourceInfo": [
            {
                "id": facts["source_id"],
                "type": "SourceConnection",
                "reference": {"type": "RunId", "ids": [run_body["id"]]},
            }
        ],
    }
    warnings = _changed_file_warnings(r.extensions)
    if warnings:  # files changed in place since ingested: re-read whole or skipped, never silent
        copy_activity["statusSummary"]["warnings"] = warnings
    promotion = {
        "id": "promotionActivity",
        "name": "Promotion Activity",
        "updatedAtUTC": r.completed,
        "durationSummary": {"startedAtUTC": r.read_started, "completedAtUTC": r.completed},
        "sizeSummary": {"inputBytes": r.input_bytes, "outputBytes": r.output_bytes},
        "recordSummary": {
            "inputRecordCount": r.input_records,
            "outputRecordCount": r.output_records,
            "failedRecordCount": r.failed_records,
        },
        "fileSummary": {
            "inputFileCount": r.input_files,
            "outputFileCount": r.output_files,
            "extensions": {"manifest": {"fileInfo": f"{EXPORT}/{batch_id}/meta?path=input_files"}},
        },
        "statusSummary": {
            "status": status,
            "errors": r.errors,
            "extensions": {"manifest": manifest, "errors": r.errors},
        },
        "targetInfo": [
            {
                "id": facts["target_id"],
                "type": "TargetConnection",
                "reference": {"type": "Batch", "ids": [batch_id]},
            }
        ],
    }
    body = dict(run_body)
    body.update(
        state=status,
        updatedAt=now_ms(),
        batchId=batch_id,
        metrics={
            "durationSummary": {"startedAtUTC": r.started, "completedAtUTC": r.completed},
            "sizeSummary": {"inputBytes": r.input_bytes, "outputBytes": r.output_bytes},
            "recordSummary": record_summary,
            "fileSummary": {
                "inputFileCount": r.input_files,
                "outputFileCount": r.output_files,
                "activityRefs": ["promotionActivity"],
            },
            "statusSummary": {"status": status, "errors": r.errors, "activityRefs": ["promotionActivity"]},
        },
        activities=[copy_activity, promotion],
        sampleErrors=r.sample_errors[:10],
        watermark={"column": facts.get("delta"), "from": facts.get("watermark"), "to": r.new_watermark},
    )
    if r.extensions:
        body["metrics"]["customSummary"] = {"source": _jsonable(r.extensions)}
    return body


def _changed_file_warnings(extensions: dict[str, Any]) -> list[dict[str, Any]]:
    """Warnings of the copy activity for the files a file source found changed in place."""
    out = []
    reread = extensions.get("changedFilesReread") or []
    if reread:
        out.append(
            {
                "code": "CONNECTOR-FILES-REREAD",
                "message": f"{len(reread)} file(s) changed since they were ingested and were read again "
                "whole (options.changedFiles: reread); their earlier rows stay in the dataset.",
                "files": list(reread),
            }
        )
    skipped = extensions.get("changedFilesSkipped") or []
    if skipped:
        out.append(
            {
                "code": "CONNECTOR-FILES-SKIPPED",
                "message": f"{len(skipped)} file(s) changed since they were ingested and were not read "
                "(options.changedFiles: skip).",
                "files": list(skipped),
            }
        )
    return out


def failed_body(run_body: dict[str, Any], code: str, message: str, *, retriable: bool) -> dict[str, Any]:
    """The run's body when it failed before or instead of committing (nothing written)."""
    started = (run_body.get("metrics") or {}).get("durationSummary", {}).get("startedAtUTC") or now_ms()
    error = {"code": code, "message": message, "details": {"retriable": retriable}}
    body = dict(run_body)
    body.update(
        state="failed",
        updatedAt=now_ms(),
        metrics={
            "durationSummary": {"startedAtUTC": started, "completedAtUTC": now_ms()},
            "sizeSummary": {"inputBytes": 0, "outputBytes": 0},
            "recordSummary": {"inputRecordCount": 0, "outputRecordCount": 0, "failedRecordCount": 0},
            "fileSummary": {"inputFileCount": 0, "outputFileCount": 0},
            "statusSummary": {"status": "failed", "errors": [error]},
        },
        activities=[],
    )
    return body


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
