"""Batch Ingestion API service: create a batch, accept its files, COMPLETE / ABORT / FAIL it.

Status transitions: ``loading`` → (COMPLETE) ``processing`` → ``success`` | ``failed``;
``loading`` → (ABORT) ``aborted``; ``loading`` → (FAIL) ``failed``. COMPLETE runs in the
request. Lake work happens between two short metadata transactions, never inside one.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from xdmflow.connectors.files.uploaded import FileFormatError, InputFormat
from xdmflow.errors import BadRequestError, NotFoundError, PreconditionFailedError
from xdmflow.ids import new_batch_id, now_ms
from xdmflow.pipeline.run import RunResult, batch_metrics
from xdmflow.pipeline.uploads import CORRUPT_CODE, REQUIRED_CODE, ingest_uploaded
from xdmflow.services.catalog.batches import new_batch_body, record_batch, save_batch
from xdmflow.services.catalog.common import PRIVATE, public, require_object
from xdmflow.services.catalog.datasets import dataset_target
from xdmflow.services.document_stores import BATCHES, DATASETS
from xdmflow.services.identity import Principal
from xdmflow.services.ingest.uploads import Uploads
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document

if TYPE_CHECKING:
    from xdmflow.lake.diagnostics import ErrorStore
    from xdmflow.lake.lake import Lake
    from xdmflow.store.db import Database

__all__ = [
    "create_batch",
    "batch_of_dataset",
    "upload_target",
    "complete_batch",
    "abort_batch",
    "batch_action",
]

log = logging.getLogger(__name__)


def _scope(p: Principal) -> Scope:
    return Scope(p.org_id, p.sandbox_name)


def create_batch(s: Session, p: Principal, body: Any) -> dict[str, Any]:
    """``POST /batches``: a new batch in ``loading`` status (the dataset must exist)."""
    body = require_object(body, "batch")
    ds_id = body.get("datasetId")
    if not isinstance(ds_id, str) or not ds_id:
        raise BadRequestError("'datasetId' is required: the id of the dataset the batch writes to")
    if DATASETS.find(s, _scope(p), ds_id) is None:
        raise BadRequestError(f"Dataset {ds_id} is not found in sandbox {p.sandbox_name}")
    raw_fmt = body.get("inputFormat")
    if not isinstance(raw_fmt, dict):
        raise BadRequestError('\'inputFormat\' ({"format": "json|parquet|csv"}) is required')
    fmt = InputFormat.from_json(raw_fmt)
    diag = body.get("enableErrorDiagnostics", False)
    if not isinstance(diag, bool):
        raise BadRequestError("'enableErrorDiagnostics' must be true or false")
    percent = body.get("partialIngestionPercent")
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100
    ):
        raise BadRequestError("'partialIngestionPercent' must be a number between 0 and 100")
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        raise BadRequestError("'tags' must be an object")
    ext = body.get("externalId")
    if ext is not None and not isinstance(ext, str):
        raise BadRequestError("'externalId' must be a string")
    batch_id = new_batch_id()
    tags = dict(tags)
    if diag:
        tags["acp_enableErrorDiagnostics"] = True
    if percent is not None:
        tags["acp_partialIngestionPercent"] = percent
    out = new_batch_body(
        batch_id=batch_id,
        dataset_id=ds_id,
        org_id=p.org_id,
        user=p.user,
        client_id=p.client_id,
        status="loading",
        input_format={**raw_fmt, "format": fmt.format},
        tags=tags,
        external_id=ext,
    )
    if "replay" in body:
        if not isinstance(body["replay"], dict):
            raise BadRequestError("'replay' must be an object with 'predecessors' and 'reason'")
        out["replay"] = copy.deepcopy(body["replay"])
    out[PRIVATE].update(enableErrorDiagnostics=diag, partialIngestionPercent=percent)
    BATCHES.insert(s, _scope(p), batch_id, out, parent_id=ds_id, state="loading")
    return public(out)


def batch_of_dataset(s: Session, p: Principal, batch_id: str, dataset_id: str) -> Document:
    """The batch ``batch_id`` writing ``dataset_id`` (404 otherwise)."""
    doc = BATCHES.get(s, _scope(p), batch_id)
    if doc.parent_id != dataset_id:
        raise NotFoundError(
            f"Batch {batch_id} does not write dataset {dataset_id}",
            resource_type="dataSets",
            resource_id=dataset_id,
        )
    return doc


def upload_target(s: Session, p: Principal, batch_id: str, dataset_id: str) -> Document:
    """The batch a file is uploaded to: it must exist, be ``loading`` and write ``dataset_id``."""
    doc = batch_of_dataset(s, p, batch_id, dataset_id)
    if doc.state != "loading":
        raise BadRequestError(f"Batch {batch_id} is {doc.state}; files can only be added while it is loading")
    return doc


def _outcome_failed(
    files: list[tuple[str, Path]], message: str, code: str = "400"
) -> tuple[RunResult, list[dict[str, Any]]]:
    out = RunResult(
        status="failed", input_files=len(files), input_bytes=sum(p.stat().st_size for _, p in files)
    )
    return out, [{"code": code, "description": message}]


def _rows(numbers: list[int]) -> list[str]:
    return [str(n) for n in sorted(numbers)[:_MAX_ROWS_LISTED]]


def batch_errors(out: RunResult, *, diagnostics: bool, partial_percent: float | None) -> list[dict[str, Any]]:
    """The batch's ``errors`` for its row failures (INGEST-1212/1401/1555/1211-400)."""
    if not out.failed_records:
        return []
    if out.status == "success":
        summary = (
            f"Encountered {out.failed_records} errors in the data. Successfully ingested "
            f"{out.output_records} rows. Review the associated diagnostics for more details."
        )
    else:
        limit = "no partial ingestion" if partial_percent is None else f"the threshold of {partial_percent}%"
        summary = (
            f"Encountered {out.failed_records} errors in {out.input_records} rows, exceeding {limit}; "
            "no rows were ingested."
        )
    if not diagnostics:
        return [
            {
                "code": "INGEST-1211-400",
                "description": f"{summary} To see which rows failed and why, resend the data with error "
                "diagnostics enabled.",
            }
        ]
    errors: list[dict[str, Any]] = [{"code": "INGEST-1212-400", "description": summary}]
    corrupt = out.error_rows.get(CORRUPT_CODE, [])
    if corrupt:
        errors.append(
            {
                "code": CORRUPT_CODE,
                "description": "The row has corrupted data and cannot be read or converted. Please correct "
                "the data and try again.",
                "recordCount": len(corrupt),
                "rows": _rows(corrupt),
            }
        )
    required = out.error_rows.get(REQUIRED_CODE, [])
    if required:
        errors.append(
            {
                "code": REQUIRED_CODE,
                "description": "A required field is either missing or has a value of null. Please correct "
                "the data and try again.",
                "recordCount": len(required),
                "rows": _rows(required),
            }
        )
    return errors


def complete_batch(
    db: Database, lake: Lake, errors: ErrorStore, uploads: Uploads, p: Principal, batch_id: str
) -> dict[str, Any]:
    """``COMPLETE``: ingest the uploaded files as one lake batch; returns the final batch."""
    scope = _scope(p)
    with db.session() as s:
        doc = BATCHES.get(s, scope, batch_id)
        if doc.state != "loading":
            raise BadRequestError(f"Batch {batch_id} is {doc.state}; only a loading batch can be completed")
        files = uploads.files(batch_id)
        if not files:
            raise BadRequestError(f"Batch {batch_id} has no files; upload at least one before COMPLETE")
        pending = uploads.pending(batch_id)
        if pending:
            raise BadRequestError(f"Large file(s) {', '.join(pending)} were not completed (?action=COMPLETE)")
        dataset_id = str(doc.parent_id)
        namespace, schema, ds_body = dataset_target(s, scope, dataset_id)
        private = doc.body.get(PRIVATE) or {}
        diagnostics = bool(private.get("enableErrorDiagnostics") or ds_body.get("enableErrorDiagnostics"))
        percent = private.get("partialIngestionPercent")
        fmt = InputFormat.from_json(doc.body.get("inputFormat") or {})
        started = now_ms()
        save_batch(s, doc, {**doc.body, "status": "processing", "started": started})
    try:
        outcome = ingest_uploaded(
            lake,
            namespace,
            dataset_id,
            batch_id,
            schema,
            files,
            fmt,
            percent,
            errors if diagnostics else None,
        )
        errs = batch_errors(outcome, diagnostics=diagnostics, partial_percent=percent)
    except FileFormatError as exc:
        outcome, errs = _outcome_failed(files, exc.message)
    except Exception as exc:  # the batch fails; the table is unchanged (nothing committed)
        log.exception("batch %s failed", batch_id)
        outcome, errs = _outcome_failed(files, f"The batch could not be processed: {exc}", "INGEST-1500-500")
    finally:
        uploads.release(batch_id)  # staged copies of remote uploads (the uploads themselves stay)
    errors.write_input_files(batch_id, [name for name, _ in files])
    completed = now_ms()
    # Batches of the same dataset completing at the same moment (through any API process) update
    # its document with compare-and-swap: a lost race re-reads the documents and records again.
    for attempt in range(_RECORD_ATTEMPTS):
        try:
            with db.session() as s:
                return record_batch(
                    s,
                    scope,
                    dataset_id=dataset_id,
                    batch_id=batch_id,
                    status=outcome.status,
                    metrics=batch_metrics(outcome),
                    errors=errs,
                    input_format=doc.body.get("inputFormat") or {},
                    tags={},
                    snapshot_id=outcome.snapshot_id,
                    data_files=outcome.data_files,
                    started=started,
                    completed=completed,
                    created_by=p.user,
                    client_id=p.client_id,
                )
        except PreconditionFailedError:
            if attempt == _RECORD_ATTEMPTS - 1:
                raise
            time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


_RECORD_ATTEMPTS = 10
_MAX_ROWS_LISTED = 100


def abort_batch(s: Session, p: Principal, batch_id: str, status: str = "aborted") -> dict[str, Any]:
    """``ABORT`` (→ ``aborted``) or ``FAIL`` (→ ``failed``) a loading batch."""
    doc = BATCHES.get(s, _scope(p), batch_id)
    if doc.state != "loading":
        raise BadRequestError(f"Batch {batch_id} is {doc.state}; only a loading batch can be {status}")
    body = {**doc.body, "status": status, "completed": now_ms(), "updatedUser": p.user}
    save_batch(s, doc, body)
    return public(body)


def batch_action(
    db: Database, lake: Lake, errors: ErrorStore, uploads: Uploads, p: Principal, batch_id: str, action: str
) -> dict[str, Any]:
    """Dispatch ``?action=`` (case-insensitive) of ``POST /batches/{id}``."""
    act = action.strip().upper()
    if act == "COMPLETE":
        return complete_batch(db, lake, errors, uploads, p, batch_id)
    if act in ("ABORT", "FAIL"):
        with db.session() as s:
            out = abort_batch(s, p, batch_id, "aborted" if act == "ABORT" else "failed")
        if act == "ABORT":
            uploads.remove(batch_id)
        return out
    if act == "REVERT":
        raise BadRequestError(
            "action=REVERT is not supported; delete the dataset or ingest a replacement batch"
        )
    raise BadRequestError(f"Invalid action {action!r}: use COMPLETE, ABORT or FAIL")
