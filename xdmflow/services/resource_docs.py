"""What every Flow Service resource shares: audit fields, the items envelope, listing, PATCH rules."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
from sqlalchemy.orm import Session

from xdmflow.errors import BadRequestError, PreconditionRequiredError
from xdmflow.ids import now_ms
from xdmflow.services.identity import Principal
from xdmflow.services.query import parse_list_query
from xdmflow.store.documents import DocumentStore, Scope

__all__ = [
    "audit_create",
    "audit_update",
    "items",
    "list_documents",
    "require_if_match",
    "require_object",
    "spec_ref",
    "rows_to_json",
    "LIST_PARAMS",
]

LIST_PARAMS = ("property", "limit", "orderby", "continuationToken", "count")


def audit_create(p: Principal, ts: int | None = None) -> dict[str, Any]:
    ts = ts or now_ms()
    return {
        "createdAt": ts,
        "updatedAt": ts,
        "createdBy": p.user,
        "updatedBy": p.user,
        "createdClient": p.client_id,
        "updatedClient": p.client_id,
        "sandboxId": p.sandbox_id,
        "sandboxName": p.sandbox_name,
        "imsOrgId": p.org_id,
    }


def audit_update(body: dict[str, Any], p: Principal) -> dict[str, Any]:
    body["updatedAt"] = now_ms()
    body["updatedBy"] = p.user
    body["updatedClient"] = p.client_id
    return body


def items(body: dict[str, Any]) -> dict[str, Any]:
    """The Flow Service's single-resource envelope."""
    return {"items": [body]}


def require_object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestError(f"The {what} request body must be a JSON object", code="1405")
    if not body:
        raise BadRequestError(f"The {what} request body is empty", code="1405")
    return body


def require_if_match(if_match: str | None) -> str:
    if not if_match:
        raise PreconditionRequiredError(
            "The If-Match header is required: send the resource's current etag (from GET)", code="1403"
        )
    tag = if_match.strip()
    if tag.startswith('W/"'):
        tag = tag[2:]
    if not tag.startswith('"'):
        tag = f'"{tag}"'
    return tag


def spec_ref(body: dict[str, Any], key: str = "connectionSpec") -> str:
    ref = body.get(key)
    if not isinstance(ref, dict) or not isinstance(ref.get("id"), str) or not ref["id"]:
        raise BadRequestError(f"'{key}.id' is required", code="1413")
    return str(ref["id"])


def list_documents(
    s: Session,
    scope: Scope,
    store: DocumentStore,
    params: Sequence[tuple[str, str]],
    base_href: str,
    *,
    parent_field: str | None = None,
    default_limit: int = 100,
) -> dict[str, Any]:
    """Filter, order and page one kind of document with the Flow Service grammar."""
    q = parse_list_query(params)
    ids = q.equality("id")
    parents = q.equality(parent_field) if parent_field else None
    states = q.equality("state")
    docs = store.query(s, scope, ids=ids, parent_ids=parents, states=states)
    bodies = [{**d.body, "etag": d.etag, "version": d.etag} for d in docs]
    return q.page(q.apply(bodies), base_href, params, default_limit)


def _json_value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
            return v.isoformat(timespec="milliseconds") + "Z"
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: _json_value(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        if v and isinstance(v[0], tuple) and len(v[0]) == 2:  # Arrow maps come back as key/value pairs
            return {str(k): _json_value(x) for k, x in v}
        return [_json_value(x) for x in v]
    return v


def rows_to_json(table: pa.Table | None, limit: int | None = None) -> list[dict[str, Any]]:
    """Arrow rows as JSON-safe dicts (ISO timestamps, decimals as strings)."""
    if table is None:
        return []
    if limit is not None:
        table = table.slice(0, limit)
    return [{k: _json_value(v) for k, v in row.items()} for row in table.to_pylist()]
