"""Previews: the first rows of a batch's uploaded files, and of a dataset's table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from xdmflow.connectors.files.uploaded import Chunk, InputFormat, read_file
from xdmflow.errors import BadRequestError
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.services.catalog.datasets import dataset_target
from xdmflow.services.document_stores import BATCHES
from xdmflow.services.identity import Principal
from xdmflow.services.ingest.uploads import Uploads
from xdmflow.services.resource_docs import rows_to_json
from xdmflow.store.documents import Scope

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake

__all__ = ["batch_preview", "dataset_preview", "DEFAULT_PREVIEW_ROWS"]

DEFAULT_PREVIEW_ROWS = 100


def _int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequestError(f"Invalid '{name}' {raw!r}: expected an integer") from None
    if not low <= value <= high:
        raise BadRequestError(f"Invalid '{name}' {raw!r}: must be between {low} and {high}")
    return value


def batch_preview(
    s: Session, p: Principal, uploads: Uploads, batch_id: str, dataset_id: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """``GET /batches/{b}/datasets/{d}/preview``: ``{formatParams, preview{columns, rows}}``."""
    scope = Scope(p.org_id, p.sandbox_name)
    doc = BATCHES.get(s, scope, batch_id)
    if doc.parent_id != dataset_id:
        raise BadRequestError(f"Batch {batch_id} does not write dataset {dataset_id}")
    _, schema, _ = dataset_target(s, scope, dataset_id)
    stored = dict(doc.body.get("inputFormat") or {})
    for key in ("format", "delimiter", "quote", "escape", "charset", "header", "isMultiLineJson"):
        if params.get(key):
            stored[key] = params[key]
    fmt = InputFormat.from_json(stored)
    nrow = _int(params.get("nrow"), "nrow", 0, 0, 10_000) or DEFAULT_PREVIEW_ROWS
    target = to_arrow_schema(schema)
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for name, path in uploads.files(batch_id):
        for item in read_file(path, name, fmt, target, schema):
            if isinstance(item, Chunk):
                names = names or item.table.schema.names
                rows.extend(rows_to_json(item.table, nrow - len(rows)))
            if len(rows) >= nrow:
                break
        if len(rows) >= nrow:
            break
    columns = [{"cid": str(i), "name": n} for i, n in enumerate(names)]
    return {
        "formatParams": {
            "format": fmt.format,
            "delimiter": fmt.delimiter,
            "quote": fmt.quote,
            "escape": fmt.escape or "\\",
            "charset": fmt.charset,
            "header": fmt.header,
        },
        "preview": {
            "columns": columns,
            "rows": [{str(i): r.get(n) for i, n in enumerate(names)} for r in rows],
        },
    }


def dataset_preview(
    s: Session, scope: Scope, lake: Lake, dataset_id: str, params: Mapping[str, str]
) -> dict[str, Any]:
    """``GET /export/datasets/{id}/preview``: ``{"data": [rows], "columns": [names]}``."""
    namespace, _, _ = dataset_target(s, scope, dataset_id)
    limit = _int(params.get("limit"), "limit", DEFAULT_PREVIEW_ROWS, 1, 1000)
    table = lake.scan(namespace, dataset_id, limit=limit)
    return {"data": rows_to_json(table, limit), "columns": table.schema.names}
