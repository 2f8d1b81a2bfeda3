"""Catalog batches, dataset files and last batches; the pipeline's batch bookkeeping.

A batch document (kind ``batch``) has ``parent_id`` = its dataset id and ``state`` = its status.
Its private section keeps the lake snapshot and the committed data files (path, records,
bytes), from which ``/dataSetFiles`` is served: file ``n`` of batch ``B`` has id ``B-n``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import Any

import fsspec
import pyarrow.parquet as pq
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.ids import now_ms
from xdmflow.pipeline.outcome import threshold_status
from xdmflow.services.catalog.common import PRIVATE, bump_version, public
from xdmflow.services.catalog.datasets import save_dataset
from xdmflow.services.catalog.query import Predicate, parse_catalog_query, project, time_filter
from xdmflow.services.document_stores import BATCHES, DATASETS
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document

__all__ = [
    "ingest_threshold_status",
    "record_batch",
    "new_batch_body",
    "save_batch",
    "batch_files_info",
    "list_batches",
    "get_batch",
    "list_dataset_files",
    "get_dataset_file",
    "find_dataset_file",
    "file_views",
    "last_batches",
]

log = logging.getLogger(__name__)

_BATCH_FILTERABLE = {
    "status",
    "externalId",
    "createdClient",
    "createdUser",
    "updatedUser",
    "version",
    "created",
    "updated",
    "started",
    "completed",
}


#: The one partial-ingestion rule (:func:`xdmflow.pipeline.outcome.threshold_status`).
ingest_threshold_status = threshold_status


def new_batch_body(
    *,
    batch_id: str,
    dataset_id: str,
    org_id: str,
    user: str,
    client_id: str,
    status: str,
    input_format: dict[str, Any],
    tags: dict[str, Any],
    external_id: str | None,
    ts: int | None = None,
) -> dict[str, Any]:
    """A fresh Catalog batch object (§3.4 / §5.1 shape)."""
    ts = ts or now_ms()
    return {
        "id": batch_id,
        "imsOrg": org_id,
        "created": ts,
        "updated": ts,
        "createdClient": client_id,
        "createdUser": user,
        "updatedUser": user,
        "status": status,
        "version": "1.0.0",
        "externalId": external_id or batch_id,
        "relatedObjects": [{"type": "dataSet", "id": dataset_id}],
        "tags": dict(tags),
        "inputFormat": dict(input_format),
        PRIVATE: {"dataSetId": dataset_id},
    }


def save_batch(s: Session, doc: Document, body: dict[str, Any]) -> Document:
    """Store a changed batch body (version bumped, ``updated`` set, state = status)."""
    body["version"] = bump_version(doc.body.get("version"))
    body["updated"] = now_ms()
    return BATCHES.save(s, doc, body, state=body.get("status"))


def batch_files_info(paths: Sequence[str]) -> list[dict[str, Any]]:
    """Path, record count and size of committed Parquet files (read from their footers)."""
    out = []
    for path in paths:
        records, size = 0, 0
        try:
            fs, p = fsspec.core.url_to_fs(path)
            size = int(fs.size(p) or 0)
            with fs.open(p, "rb") as fh:
                records = pq.ParquetFile(fh).metadata.num_rows
        except (OSError, ValueError) as exc:  # the files are listed even if unreadable now
            log.warning("cannot read footer of %s: %s", path, exc)
        out.append({"path": path, "records": records, "size": size})
    return out


def record_batch(
    s: Session,
    scope: Scope,
    *,
    dataset_id: str,
    batch_id: str,
    status: str,
    metrics: dict[str, Any],
    errors: list[dict[str, Any]],
    input_format: dict[str, Any],
    tags: dict[str, Any],
    snapshot_id: int | None,
    data_files: list[str],
    started: int,
    completed: int,
    external_id: str | None = None,
    created_by: str,
    client_id: str,
) -> dict[str, Any]:
    """Insert or update the Catalog batch and the dataset's ``lastBatch*`` fields.

    Returns the batch's API view. ``NotFoundError`` when the dataset is not in the scope.
    """
    ds = DATASETS.get(s, scope, dataset_id)
    doc = BATCHES.find(s, scope, batch_id)
    if doc is None:
        body = new_batch_body(
            batch_id=batch_id,
            dataset_id=dataset_id,
            org_id=scope.org_id,
            user=created_by,
            client_id=client_id,
            status=status,
            input_format=input_format,
            tags=tags,
            external_id=external_id,
        )
    else:
        if doc.parent_id != dataset_id:
            raise BadRequestError(f"Batch {batch_id} belongs to dataset {doc.parent_id}, not {dataset_id}")
        body = copy.deepcopy(doc.body)
        body["tags"] = {**body.get("tags", {}), **tags}
        if input_format:
            body["inputFormat"] = dict(input_format)
        if external_id:
            body["externalId"] = external_id
    body.update(status=status, metrics=dict(metrics), started=started, completed=completed)
    if errors:
        body["errors"] = [dict(e) for e in errors]
    else:
        body.pop("errors", None)
    body["updatedUser"] = created_by
    private = body.setdefault(PRIVATE, {})
    private.update(dataSetId=dataset_id, snapshotId=snapshot_id, dataFiles=batch_files_info(data_files))
    if doc is None:
        BATCHES.insert(s, scope, batch_id, body, parent_id=dataset_id, state=status)
    else:
        save_batch(s, doc, body)
    ds_body = copy.deepcopy(ds.body)
    ds_body["lastBatchId"] = batch_id
    ds_body["lastBatchStatus"] = status
    if status in ("success", "active"):
        ds_body["lastSuccessfulBatch"] = batch_id
    elif status in ("failed", "failure"):
        ds_body["lastFailedBatch"] = batch_id
    save_dataset(s, ds, ds_body)
    return public(body)


def _dataset_of(d: dict[str, Any]) -> str | None:
    for obj in d.get("relatedObjects") or []:
        if obj.get("type") == "dataSet":
            return str(obj.get("id"))
    return None


def _any_of(getter: Any) -> Any:
    def build(raw: str) -> Predicate:
        values = set(raw.split(","))
        return lambda d: getter(d) in values

    return build


def list_batches(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``GET /batches`` keyed by id, with the Catalog filters (``dataSet``, ``status``…)."""
    typed = {
        "dataSet": _any_of(_dataset_of),
        "batch": _any_of(lambda d: d.get("id")),
        "createdAfter": time_filter("created", True),
        "createdBefore": time_filter("created", False),
        "startAfter": time_filter("started", True),
        "startBefore": time_filter("started", False),
        "endAfter": time_filter("completed", True),
        "endBefore": time_filter("completed", False),
        "updatedAfter": time_filter("updated", True),
        "updatedBefore": time_filter("updated", False),
    }
    q = parse_catalog_query(params, filterable=_BATCH_FILTERABLE, typed=typed)
    docs = [public(d.body) for d in BATCHES.query(s, scope)]
    return {d["id"]: project(d, q.properties) for d in q.apply(docs)}


def get_batch(
    s: Session, scope: Scope, batch_id: str, params: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """``GET /batches/{id}`` keyed: ``{"<id>": {...}}``."""
    q = parse_catalog_query(params, filterable=set(), extra_allowed=("aggregate",))
    return {batch_id: project(public(BATCHES.get(s, scope, batch_id).body), q.properties)}


def file_views(doc: Document) -> list[tuple[str, dict[str, Any]]]:
    """(id, dataSetFile view) of each data file a batch committed."""
    body = doc.body
    private = body.get(PRIVATE) or {}
    out = []
    for n, f in enumerate(private.get("dataFiles") or [], start=1):
        out.append(
            (
                f"{doc.id}-{n}",
                {
                    "batchId": doc.id,
                    "dataSetId": doc.parent_id,
                    "dataSetViewId": private.get("viewId", ""),
                    "imsOrg": body.get("imsOrg"),
                    "createdUser": body.get("createdUser"),
                    "createdClient": body.get("createdClient"),
                    "updatedUser": body.get("updatedUser"),
                    "version": "1.0.0",
                    "created": body.get("completed") or body.get("updated"),
                    "updated": body.get("completed") or body.get("updated"),
                    "fileName": str(f["path"]).rsplit("/", 1)[-1],
                    "records": f.get("records", 0),
                    "size": f.get("size", 0),
                    "isValid": True,
                },
            )
        )
    return out


def _committed(doc: Document) -> bool:
    return doc.state in ("success", "active")


def list_dataset_files(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``GET /dataSetFiles[?dataSetId=|batchId=]``: one entry per committed data file."""
    wanted_ds = [v for k, v in params if k == "dataSetId"]
    wanted_b = [v for k, v in params if k == "batchId"]
    rest = [(k, v) for k, v in params if k not in ("dataSetId", "batchId")]
    q = parse_catalog_query(rest, filterable={"batchId", "fileName", "records", "size"})
    parents = [x for v in wanted_ds for x in v.split(",")] or None
    ids = [x for v in wanted_b for x in v.split(",")] or None
    views: list[dict[str, Any]] = []
    for doc in BATCHES.query(s, scope, parent_ids=parents, ids=ids):
        if _committed(doc):
            views.extend({"_id": fid, **v} for fid, v in file_views(doc))
    out = {}
    for v in q.apply(views):
        fid = v.pop("_id")
        out[fid] = project(v, q.properties)
    return out


def find_dataset_file(s: Session, scope: Scope, file_id: str) -> tuple[Document, dict[str, Any], str]:
    """The batch, the view and the storage path of dataset file ``file_id`` (``<batch>-<n>``)."""
    batch_id, _, n = file_id.rpartition("-")
    doc = BATCHES.find(s, scope, batch_id) if batch_id and n.isdigit() else None
    if doc is not None and _committed(doc):
        files = (doc.body.get(PRIVATE) or {}).get("dataFiles") or []
        idx = int(n) - 1
        if 0 <= idx < len(files):
            return doc, dict(file_views(doc))[file_id], str(files[idx]["path"])
    raise NotFoundError(
        f"The requested dataSetFiles resource {file_id} is not found.",
        resource_type="dataSetFiles",
        resource_id=file_id,
    )


def get_dataset_file(
    s: Session, scope: Scope, file_id: str, params: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """``GET /dataSetFiles/{id}`` keyed."""
    q = parse_catalog_query(params, filterable=set())
    _, view, _ = find_dataset_file(s, scope, file_id)
    return {file_id: project(view, q.properties)}


def last_batches(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``GET /lastBatches?dataSetId=a,b``: keyed by dataset id, with the Catalog list parameters
    (``limit``, ``start``, ``orderBy``, ``properties``, ``property``, simple filters) - clients
    such as aepp always send ``limit``."""
    ids = [x for k, v in params if k == "dataSetId" for x in v.split(",") if x]
    if not ids:
        raise BadRequestError("'dataSetId' is required: a comma-separated list of dataset ids")
    q = parse_catalog_query(
        [(k, v) for k, v in params if k != "dataSetId"],
        filterable={
            "lastBatchId",
            "lastBatchStatus",
            "lastSuccessfulBatchId",
            "lastFailedBatchId",
            "created",
            "updated",
        },
    )
    entries = []
    for doc in DATASETS.query(s, scope, ids=ids):
        b = doc.body
        entries.append(
            {
                "id": doc.id,
                "lastBatchId": b.get("lastBatchId"),
                "lastBatchStatus": b.get("lastBatchStatus"),
                "lastSuccessfulBatchId": b.get("lastSuccessfulBatch"),
                "lastFailedBatchId": b.get("lastFailedBatch"),
                "imsOrg": b.get("imsOrg"),
                "created": b.get("created"),
                "updated": b.get("updated"),
            }
        )
    out: dict[str, Any] = {}
    for e in q.apply(entries):
        dataset_id = e.pop("id")
        out[dataset_id] = project(e, q.properties)
    return out
