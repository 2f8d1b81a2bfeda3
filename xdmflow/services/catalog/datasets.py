"""Catalog datasets: create (with their Iceberg table), read, list, replace, patch, delete.

A dataset document keeps, in its private section, the compiled schema its table was created
or last evolved from, so the pipeline reads its target with one query
(:func:`dataset_target`). Lake calls never run inside an open write transaction of the
metadata store (on SQLite the lake's catalog shares the database file).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, NotFoundError
from xdmflow.ids import new_dataset_id, now_ms
from xdmflow.lake.lake import namespace_for
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.services import schemas
from xdmflow.services.catalog.common import (
    PRIVATE,
    bump_version,
    check_if_match,
    public,
    require_object,
)
from xdmflow.services.catalog.query import parse_catalog_query, project
from xdmflow.services.document_stores import BATCHES, DATASETS
from xdmflow.services.identity import Principal
from xdmflow.services.jsonpatch import apply_patch
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document

if TYPE_CHECKING:
    from xdmflow.lake.diagnostics import ErrorStore
    from xdmflow.lake.lake import Lake
    from xdmflow.store.db import Database

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "create_dataset",
    "list_datasets",
    "get_dataset",
    "update_dataset",
    "delete_dataset",
    "dataset_target",
    "refresh_dataset_schema",
    "save_dataset",
    "operator_datasets",
]

log = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/vnd.adobe.xed+json;version=1"
#: Set by the service only; a body may repeat them unchanged (e.g. a PUT of a GET result).
SYSTEM_FIELDS = frozenset(
    {
        "id",
        "imsOrg",
        "created",
        "updated",
        "createdClient",
        "createdUser",
        "updatedUser",
        "version",
        "viewId",
        "files",
        "lastBatchId",
        "lastBatchStatus",
        "lastSuccessfulBatch",
        "lastFailedBatch",
        "sandboxName",
        PRIVATE,
    }
)
_FILTERABLE = {
    "name",
    "description",
    "enableErrorDiagnostics",
    "state",
    "createdUser",
    "createdClient",
    "updatedUser",
    "version",
    "created",
    "updated",
    "lastBatchId",
    "lastBatchStatus",
    "viewId",
}
_FORMATS = ("", "csv", "text", "parquet", "json", "sequencefile", "avro")


def _check_fields(body: dict[str, Any]) -> None:
    if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
        raise BadRequestError("'name' must be a non-empty string")
    if "description" in body and not isinstance(body["description"], str):
        raise BadRequestError("'description' must be a string")
    if "enableErrorDiagnostics" in body and not isinstance(body["enableErrorDiagnostics"], bool):
        raise BadRequestError("'enableErrorDiagnostics' must be true or false")
    tags = body.get("tags")
    if tags is not None:
        if not isinstance(tags, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in tags.values()
        ):
            raise BadRequestError("'tags' must be an object whose values are arrays of strings")
    fd = body.get("fileDescription")
    if fd is not None:
        if not isinstance(fd, dict):
            raise BadRequestError("'fileDescription' must be an object")
        fmt = fd.get("format")
        if fmt is not None and str(fmt).lower() not in _FORMATS:
            raise BadRequestError(
                f"Invalid fileDescription.format {fmt!r}; use one of {', '.join(f for f in _FORMATS if f)}"
            )
    ref = body.get("schemaRef")
    if ref is not None and (not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]):
        raise BadRequestError("'schemaRef' must be an object with 'id' (the schema's $id) and 'contentType'")


def _check_system(old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in SYSTEM_FIELDS:
        if key in new and new.get(key) != old.get(key):
            raise BadRequestError(f"'{key}' is set by the Catalog Service and cannot be changed")


def create_dataset(
    db: Database, lake: Lake, p: Principal, body: Any, *, request_data_source: bool = False
) -> str:
    """Create a dataset and its Iceberg table; returns the new dataset id.

    ``schemaRef.id`` must name a schema of the caller's sandbox (400 naming it otherwise).
    """
    body = require_object(body, "dataset")
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        raise BadRequestError("'name' is required and must be a non-empty string")
    if "schemaRef" not in body:
        raise BadRequestError("'schemaRef' ({id, contentType}) is required: the XDM schema of the dataset")
    _check_fields(body)
    for key in SYSTEM_FIELDS:
        if key in body:
            raise BadRequestError(f"'{key}' is set by the Catalog Service and cannot be sent")
    scope = Scope(p.org_id, p.sandbox_name)
    schema_id = body["schemaRef"]["id"]
    with db.session() as s:
        if not schemas.schema_exists(s, scope, schema_id):
            raise BadRequestError(
                f"Schema {schema_id} is not found in sandbox {p.sandbox_name}; create it with "
                "POST /data/foundation/schemaregistry/tenant/schemas first",
                details={"schemaRef": schema_id},
            )
        compiled: CompiledSchema = schemas.compiled_schema(s, scope, schema_id)
    ds_id = new_dataset_id()
    ts = now_ms()
    doc_body: dict[str, Any] = {
        **{k: copy.deepcopy(v) for k, v in body.items()},
        "schemaRef": {
            "id": schema_id,
            "contentType": body["schemaRef"].get("contentType") or DEFAULT_CONTENT_TYPE,
        },
        "version": "1.0.0",
        "imsOrg": p.org_id,
        "sandboxName": p.sandbox_name,
        "created": ts,
        "updated": ts,
        "createdClient": p.client_id,
        "createdUser": p.user,
        "updatedUser": p.user,
        "viewId": new_dataset_id(),
        "files": f"@/dataSetFiles?dataSetId={ds_id}",
        "tags": body.get("tags") or {},
        "state": body.get("state", "DRAFT"),
        PRIVATE: {"compiledSchema": compiled.to_json()},
    }
    doc_body.setdefault("description", "")
    doc_body.setdefault("enableErrorDiagnostics", False)
    # the schema's data behavior, as the platform reports it (aepp's getDataSets reads it)
    behavior = compiled.behaviors[0].rsplit("/", 1)[-1] if compiled.behaviors else "record"
    doc_body.setdefault("classification", {"dataBehavior": behavior})
    if request_data_source:
        doc_body["dataSourceId"] = int(ts % 100_000) + 10_000
    namespace = namespace_for(p.org_id, p.sandbox_name)
    lake.create_table(namespace, ds_id, compiled)
    try:
        with db.session() as s:
            DATASETS.insert(s, scope, ds_id, doc_body, name=doc_body["name"][:512], state=doc_body["state"])
    except BaseException:
        lake.drop_table(namespace, ds_id)
        raise
    return ds_id


def _views(docs: Sequence[Document]) -> list[dict[str, Any]]:
    return [{**public(d.body), "_id": d.id} for d in docs]


def _typed_tags(raw: str) -> Any:
    conds = []
    for item in raw.split(","):
        name, _, value = item.partition(":")
        if not name:
            raise BadRequestError(f"Invalid tags filter {raw!r}: use tags=name:value,name2:*")
        conds.append((name, value or "*"))

    def match(d: dict[str, Any]) -> bool:
        tags = d.get("tags") or {}
        for name, value in conds:
            if name not in tags or (value != "*" and value not in tags[name]):
                return False
        return True

    return match


def list_datasets(s: Session, scope: Scope, params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``GET /dataSets``: keyed, filtered, sorted, paged, projected."""
    q = parse_catalog_query(params, filterable=_FILTERABLE, typed={"tags": _typed_tags})
    out = {}
    for view in q.apply(_views(DATASETS.query(s, scope))):
        ds_id = view.pop("_id")
        out[ds_id] = project(view, q.properties)
    return out


def get_dataset(
    s: Session, scope: Scope, dataset_id: str, params: Sequence[tuple[str, str]]
) -> dict[str, Any]:
    """``GET /dataSets/{id}``: ``{"<id>": {...}}`` (``properties`` projection allowed)."""
    q = parse_catalog_query(params, filterable=set())
    doc = DATASETS.get(s, scope, dataset_id)
    return {dataset_id: project(public(doc.body), q.properties)}


def save_dataset(s: Session, doc: Document, body: dict[str, Any], user: str | None = None) -> Document:
    """Store a changed dataset body: ``version`` bumped, ``updated`` (and ``updatedUser``) set."""
    body["version"] = bump_version(doc.body.get("version"))
    body["updated"] = now_ms()
    if user is not None:
        body["updatedUser"] = user
    return DATASETS.save(s, doc, body, name=str(body.get("name", ""))[:512], state=body.get("state"))


def update_dataset(
    s: Session,
    p: Principal,
    dataset_id: str,
    body: Any,
    *,
    mode: str,
    if_match: str | None = None,
) -> None:
    """``PUT`` (``mode="replace"``), ``PATCH`` partial object (``"merge"``) or JSON Patch (``"patch"``)."""
    scope = Scope(p.org_id, p.sandbox_name)
    doc = DATASETS.get(s, scope, dataset_id)
    check_if_match(doc, if_match)
    old = public(doc.body)
    if mode == "patch":
        new = apply_patch(old, body, allowed={"add", "replace", "remove", "test", "copy", "move"})
        if not isinstance(new, dict):
            raise BadRequestError("The JSON Patch must leave the dataset an object")
    elif mode == "merge":
        new = {**old, **require_object(body, "dataset")}
    else:
        body = require_object(body, "dataset")
        if not isinstance(body.get("name"), str):
            raise BadRequestError("'name' is required in a PUT of a dataset")
        new = {k: old[k] for k in SYSTEM_FIELDS if k in old}
        new.update(body)
        new.setdefault("schemaRef", old.get("schemaRef"))
    _check_system(old, {k: v for k, v in new.items() if k in SYSTEM_FIELDS})
    for key in SYSTEM_FIELDS - {PRIVATE}:
        if key in old and key not in new:
            raise BadRequestError(f"'{key}' is set by the Catalog Service and cannot be removed")
    _check_fields(new)
    if not new.get("name"):
        raise BadRequestError("'name' cannot be removed")
    ref = new.get("schemaRef") or {}
    if ref.get("id") != (old.get("schemaRef") or {}).get("id"):
        raise BadRequestError(
            "'schemaRef.id' of a dataset cannot be changed; create a new dataset for another schema"
        )
    new[PRIVATE] = doc.body.get(PRIVATE, {})
    save_dataset(s, doc, new, p.user)


def delete_dataset(
    db: Database, lake: Lake, p: Principal, dataset_id: str, errors: ErrorStore | None = None
) -> None:
    """Delete the dataset, its table and data; its batches are marked ``deleted`` and their
    diagnostics (rejected rows, input file lists) deleted with ``errors``."""
    scope = Scope(p.org_id, p.sandbox_name)
    with db.session() as s:
        doc = DATASETS.get(s, scope, dataset_id)
        DATASETS.remove(s, doc)
        batch_ids = []
        for batch in BATCHES.query(s, scope, parent_ids=[dataset_id]):
            BATCHES.save(s, batch, {**batch.body, "status": "deleted", "updated": now_ms()}, state="deleted")
            batch_ids.append(batch.id)
    namespace = namespace_for(p.org_id, p.sandbox_name)
    try:
        lake.drop_table(namespace, dataset_id)
    except NotFoundError:
        log.warning("dataset %s had no table to drop", dataset_id)
    for batch_id in batch_ids:
        if errors is None:
            break
        try:
            errors.delete(batch_id)
        except BadRequestError:  # not one of our batch ids: nothing stored under it
            continue


def dataset_target(s: Session, scope: Scope, dataset_id: str) -> tuple[str, CompiledSchema, dict[str, Any]]:
    """What a pipeline writes to: (lake namespace, the table's compiled schema, the dataset body).

    ``NotFoundError`` when the dataset is not in the scope.
    """
    doc = DATASETS.get(s, scope, dataset_id)
    raw = (doc.body.get(PRIVATE) or {}).get("compiledSchema")
    if raw is None:
        raise NotFoundError(
            f"Dataset {dataset_id} has no schema recorded; recreate it",
            resource_type="dataSets",
            resource_id=dataset_id,
        )
    return namespace_for(scope.org_id, scope.sandbox_name), CompiledSchema.from_json(raw), public(doc.body)


def refresh_dataset_schema(s: Session, scope: Scope, dataset_id: str, *, lake: Lake) -> bool:
    """Evolve the dataset's table to its schema's current version (additive changes only).

    Returns whether the table changed; ``ValidationFailedError`` lists incompatible changes.
    On SQLite call it with a session that has not written yet (the lake commits separately).
    """
    doc = DATASETS.get(s, scope, dataset_id)
    schema_id = str((doc.body.get("schemaRef") or {}).get("id") or "")  # "": not found (XDM-1012)
    compiled: CompiledSchema = schemas.compiled_schema(s, scope, schema_id)
    changed = lake.evolve(namespace_for(scope.org_id, scope.sandbox_name), dataset_id, compiled)
    stored = (doc.body.get(PRIVATE) or {}).get("compiledSchema")
    if changed or stored != compiled.to_json():
        body = copy.deepcopy(doc.body)
        body.setdefault(PRIVATE, {})["compiledSchema"] = compiled.to_json()
        save_dataset(s, doc, body)
    return changed


def operator_datasets(
    s: Session, org: str | None = None, sandbox: str | None = None, dataset_id: str | None = None
) -> list[Document]:
    """Datasets across orgs and sandboxes, oldest first, optionally of one org, sandbox or id:
    what the operator's commands on the server host (``xdmflow datasets``) list; never an API
    call (those are scoped to one org and sandbox)."""
    q = select(Document).where(Document.kind == DATASETS.kind)
    if org:
        q = q.where(Document.org_id == org)
    if sandbox:
        q = q.where(Document.sandbox_name == sandbox.lower())
    if dataset_id:
        q = q.where(Document.id == dataset_id)
    return list(s.scalars(q.order_by(Document.created_at)))
