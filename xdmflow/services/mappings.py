"""Mapping sets (Data Prep): storage with versions, compile checks, preview, and the flow's plan.

Every version of a mapping set stays readable (flows pin ``mappingVersion``). A mapping set
is compiled against its target schema when it is created or replaced: unknown destination
paths, duplicates, bad expressions are refused before any data flows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, NotFoundError, ValidationFailedError
from xdmflow.ids import new_hex_id, now_ms
from xdmflow.mapping.engine import apply
from xdmflow.mapping.model import Mapping, normalize_mapping, normalize_mappings, render_stored_mapping
from xdmflow.mapping.plan import MappingPlan, compile_mapping
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.services.document_stores import DATASETS, MAPPING_SET_VERSIONS, MAPPING_SETS, SOURCE_CONNECTIONS
from xdmflow.services.identity import Principal
from xdmflow.services.resource_docs import require_object, rows_to_json
from xdmflow.services.schemas import compiled_schema
from xdmflow.store.documents import Scope
from xdmflow.store.tables import Document

__all__ = [
    "create_mapping_set",
    "replace_mapping_set",
    "get_mapping_set",
    "list_mapping_sets",
    "validate_mapping_set",
    "preview_mapping_set",
    "load_mappings",
    "check_mapping_for_flow",
    "plan_for_flow",
    "source_schema_from_columns",
]

_XDM_TO_ARROW = {
    "string": pa.string(),
    "number": pa.float64(),
    "double": pa.float64(),
    "long": pa.int64(),
    "integer": pa.int64(),
    "int": pa.int32(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "date-time": pa.timestamp("us", tz="UTC"),
}


def _schema_id(body: dict[str, Any]) -> str:
    out = body.get("outputSchema") or {}
    if not isinstance(out, dict):
        raise BadRequestError('\'outputSchema\' must be an object: {"schemaRef": {"id": ...}}')
    ref = out.get("schemaRef") or {}
    top = body.get("schemaRef") or {}
    if not isinstance(ref, dict) or not isinstance(top, dict):
        raise BadRequestError('\'schemaRef\' must be an object: {"id": ..., "contentType": ...}')
    sid = ref.get("id") or body.get("xdmSchema") or top.get("id")
    if not isinstance(sid, str) or not sid:
        raise BadRequestError(
            "The mapping set needs its target schema: 'outputSchema.schemaRef.id' (or 'xdmSchema')"
        )
    return sid


def _compiled(s: Session, scope: Scope, schema_id: str) -> CompiledSchema:

    return compiled_schema(s, scope, schema_id)


def _view(
    doc_id: str,
    version: int,
    body: dict[str, Any],
    mappings: list[Mapping],
    meta: dict[str, Any],
    mapping_ids: list[str],
) -> dict[str, Any]:
    schema_id = _schema_id(body)
    content_type = ((body.get("outputSchema") or {}).get("schemaRef") or {}).get("contentType") or body.get(
        "xdmVersion", "1.0"
    )
    rendered = []
    for m, mid in zip(mappings, mapping_ids, strict=True):
        rendered.append(
            render_stored_mapping(
                m,
                id=mid,
                version=version,
                createdDate=meta["createdDate"],
                modifiedDate=meta["modifiedDate"],
                createdBy=meta["createdBy"],
                modifiedBy=meta["modifiedBy"],
            )
        )
    return {
        "id": doc_id,
        "version": version,
        **meta,
        "supportVersion": "1.1",
        "outputSchema": {"schemaRef": {"id": schema_id, "contentType": content_type}},
        "mappings": rendered,
        "status": "PUBLISHED",
        "strictMapping": bool(body.get("strictMapping", False)),
        "allowNullValues": bool(body.get("allowNullValues", False)),
        "xdmVersion": str(body.get("xdmVersion", "1.0")),
        "schemaRef": {"id": schema_id, "contentType": content_type},
        "xdmSchema": schema_id,
    }


def _check(s: Session, scope: Scope, body: dict[str, Any]) -> tuple[list[Mapping], MappingPlan]:
    mappings = normalize_mappings(body)
    if not mappings:
        raise ValidationFailedError("The mapping set has no mappings", details={"errors": []})
    schema_id = _schema_id(body)
    target = _compiled(s, scope, schema_id)
    plan = compile_mapping(mappings, target, allow_null_on_error=bool(body.get("allowNullValues", False)))
    return mappings, plan


def _store_version(s: Session, scope: Scope, set_id: str, version: int, view: dict[str, Any]) -> None:
    MAPPING_SET_VERSIONS.insert(s, scope, f"{set_id}:{version}", view, parent_id=set_id)


def create_mapping_set(s: Session, p: Principal, body: Any) -> dict[str, Any]:
    body = require_object(body, "mapping set")
    scope = Scope(p.org_id, p.sandbox_name)
    mappings, _plan = _check(s, scope, body)
    set_id = new_hex_id(16)
    ts = now_ms()
    meta = {"createdDate": ts, "modifiedDate": ts, "createdBy": p.user, "modifiedBy": p.user}
    view = _view(set_id, 0, body, mappings, meta, [new_hex_id(16) for _ in mappings])
    MAPPING_SETS.insert(s, scope, set_id, view, name=body.get("name"))
    _store_version(s, scope, set_id, 0, view)
    return {"id": set_id, "version": 0, **meta}


def replace_mapping_set(s: Session, p: Principal, set_id: str, body: Any) -> dict[str, Any]:
    body = require_object(body, "mapping set")
    scope = Scope(p.org_id, p.sandbox_name)
    doc = MAPPING_SETS.get(s, scope, set_id)
    mappings, _plan = _check(s, scope, body)
    version = int(doc.body["version"]) + 1
    meta = {
        "createdDate": doc.body["createdDate"],
        "modifiedDate": now_ms(),
        "createdBy": doc.body["createdBy"],
        "modifiedBy": p.user,
    }
    view = _view(set_id, version, body, mappings, meta, [new_hex_id(16) for _ in mappings])
    MAPPING_SETS.save(s, doc, view)
    _store_version(s, scope, set_id, version, view)
    return view


def get_mapping_set(s: Session, scope: Scope, set_id: str, version: int | None = None) -> dict[str, Any]:
    if version is None:
        return dict(MAPPING_SETS.get(s, scope, set_id).body)
    MAPPING_SETS.get(s, scope, set_id)
    doc = MAPPING_SET_VERSIONS.find(s, scope, f"{set_id}:{version}")
    if doc is None:
        raise NotFoundError(
            f"Mapping set {set_id} has no version {version}",
            resource_type="mappingSets",
            resource_id=set_id,
            code="1412",
        )
    return dict(doc.body)


def list_mapping_sets(
    s: Session, scope: Scope, *, limit: int, start: int, name: str | None, order_by: str | None
) -> dict[str, Any]:
    docs: Sequence[Document] = MAPPING_SETS.query(s, scope)
    rows = [d.body for d in docs if name is None or d.name == name]
    if order_by:
        key = order_by.lstrip("+-")
        if key not in ("createdDate", "modifiedDate", "updatedDate"):
            raise BadRequestError(
                f"Invalid orderBy {order_by!r}; use createdDate or modifiedDate with + or -"
            )
        key = "modifiedDate" if key == "updatedDate" else key
        rows.sort(key=lambda r: r.get(key, 0), reverse=order_by.startswith("-"))
    page = rows[start : start + limit]
    return {"data": page, "_page": {"count": len(page), "limit": limit}, "_links": {}}


def load_mappings(view: dict[str, Any]) -> list[Mapping]:
    return [normalize_mapping(m) for m in view["mappings"]]


def validate_mapping_set(s: Session, p: Principal, body: Any) -> dict[str, Any]:
    """One entry per mapping: SUCCESS, or FAILED with its TransformErrorInfo list."""
    body = require_object(body, "mapping set")
    scope = Scope(p.org_id, p.sandbox_name)
    mappings = normalize_mappings(body)
    target = _compiled(s, scope, _schema_id(body))
    errors_by_dest: dict[str, list[dict[str, Any]]] = {}
    try:
        compile_mapping(mappings, target)
    except ValidationFailedError as exc:
        for e in exc.details.get("errors", []):
            errors_by_dest.setdefault(str(e.get("destination")), []).append(e)
    out = []
    for m in mappings:
        errs = errors_by_dest.get(m.destination)
        out.append(
            {
                "status": "FAILED" if errs else "SUCCESS",
                "errors": errs or None,
                "destination": m.destination,
                "source": m.source,
            }
        )
    return {"validationResponse": out}


def preview_mapping_set(s: Session, p: Principal, body: Any) -> list[dict[str, Any]]:
    """Apply the mapping set (inline, or stored via ``mappingSetId``) to the sample rows given."""
    body = require_object(body, "preview")
    scope = Scope(p.org_id, p.sandbox_name)
    spec = body.get("mappingSet") if isinstance(body.get("mappingSet"), dict) else body
    if body.get("mappingSetId"):
        view = get_mapping_set(s, scope, str(body["mappingSetId"]), body.get("mappingSetVersion"))
        mappings, target = load_mappings(view), _compiled(s, scope, view["xdmSchema"])
    else:
        mappings, target = normalize_mappings(spec), _compiled(s, scope, _schema_id(spec))
    rows = body.get("sampleData", body.get("data"))
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadRequestError("'sampleData' must be an array of JSON objects (the source rows)")
    if not rows:
        return []
    plan = compile_mapping(mappings, target)
    mapped = apply(plan, pa.Table.from_pylist(rows))
    rejected: dict[int, list[dict[str, Any]]] = {}
    for r in mapped.rejects:
        rejected.setdefault(r.row, []).append(
            {"destination": r.destination, "source": r.source, "exception": r.reason, "value": r.value}
        )
    good_rows = iter(rows_to_json(mapped.good))
    out = []
    for i in range(len(rows)):
        if i in rejected:
            out.append({"data": None, "errors": rejected[i]})
        else:
            out.append({"data": _drop_nulls(next(good_rows)), "errors": None})
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        cleaned = {k: _drop_nulls(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


# -- flows -------------------------------------------------------------------------------


def source_schema_from_columns(columns: Any) -> pa.Schema | None:
    """The source's Arrow schema from a source connection's ``params.columns`` (when given)."""
    if not isinstance(columns, list) or not columns:
        return None
    fields = []
    for c in columns:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str):
            return None
        xdm = c.get("xdm") or {}
        kind = c.get("meta:xdmType") or xdm.get("format") or xdm.get("type") or c.get("type") or "string"
        fields.append(pa.field(c["name"], _XDM_TO_ARROW.get(str(kind).lower(), pa.string())))
    return pa.schema(fields)


def _flow_mapping(s: Session, scope: Scope, params: dict[str, Any]) -> dict[str, Any]:
    set_id = params.get("mappingId")
    if not isinstance(set_id, str) or not set_id:
        raise BadRequestError("The Mapping transformation needs 'mappingId'", code="1419")
    if MAPPING_SETS.find(s, scope, set_id) is None:
        raise BadRequestError(
            f"Mapping set {set_id} is not found in sandbox {scope.sandbox_name}", code="1419"
        )
    raw = params.get("mappingVersion")
    try:
        version = int(raw) if raw is not None else None
    except (TypeError, ValueError):
        raise BadRequestError(f"mappingVersion {raw!r} is not a valid version", code="1412") from None
    try:
        return get_mapping_set(s, scope, set_id, version)
    except NotFoundError:
        raise BadRequestError(f"Mapping set {set_id} has no version {raw}", code="1412") from None


def check_mapping_for_flow(
    s: Session, scope: Scope, params: dict[str, Any], dataset_ids: list[str], source_ids: list[str]
) -> None:
    """The mapping fits the flow: its schema is the dataset's (1425) and it compiles on the source (1419)."""
    view = _flow_mapping(s, scope, params)
    for ds_id in dataset_ids:
        ds = DATASETS.get(s, scope, ds_id)
        ds_schema = (ds.body.get("schemaRef") or {}).get("id")
        if ds_schema != view["xdmSchema"]:
            raise BadRequestError(
                f"Mapping set {view['id']} targets schema {view['xdmSchema']} but dataset {ds_id} uses "
                f"{ds_schema}; map to the dataset's schema",
                code="1425",
            )
    target = _compiled(s, scope, view["xdmSchema"])
    for sid in source_ids:
        sc = SOURCE_CONNECTIONS.get(s, scope, sid)
        source_schema = source_schema_from_columns((sc.body.get("params") or {}).get("columns"))
        try:
            compile_mapping(load_mappings(view), target, source_schema)
        except ValidationFailedError as exc:
            raise ValidationFailedError(
                f"Mapping validation failed: {exc.message}", code="1419", details=exc.details
            ) from None


def plan_for_flow(
    s: Session, scope: Scope, flow: dict[str, Any], target: CompiledSchema
) -> MappingPlan | None:
    """The compiled plan of the flow's pinned mapping version (``None`` without a Mapping step)."""
    t = next((t for t in flow.get("transformations", []) if t["name"] == "Mapping"), None)
    if t is None:
        return None
    view = _flow_mapping(s, scope, t["params"])
    return compile_mapping(load_mappings(view), target, allow_null_on_error=bool(view.get("allowNullValues")))
