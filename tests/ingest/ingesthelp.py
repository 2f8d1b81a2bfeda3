"""Helpers for ingestion tests: the Catalog helpers plus an ad-hoc schema with required fields and
scan/snapshot/diagnostics readers."""

from __future__ import annotations

from typing import Any

from tests.catalog.cathelp import (  # noqa: F401 - re-exported for the ingestion tests
    CATALOG,
    EXPORT,
    IMPORT,
    REGISTRY,
    XED,
    _post_xdm,
    catalog_batch,
    complete,
    create_batch,
    create_dataset,
    profile_schema,
    upload,
)
from xdmflow.schema.naming import BEHAVIOR_ADHOC


def adhoc_schema(
    api: Any, fields: dict[str, dict[str, Any]], title: str = "CSV rows", required: list[str] | None = None
) -> tuple[str, str]:
    """An ad-hoc class with ``fields`` and a schema on it; returns (schema $id, dataset namespace)."""
    cls = _post_xdm(
        api,
        "classes",
        {
            "title": f"{title} class",
            "type": "object",
            "allOf": [
                {"$ref": BEHAVIOR_ADHOC},
                {
                    "properties": {
                        "_adhoc": {"type": "object", "properties": fields, "required": required or []}
                    }
                },
            ],
        },
    )
    schema = _post_xdm(api, "schemas", {"title": title, "type": "object", "allOf": [{"$ref": cls["$id"]}]})
    return str(schema["$id"]), str(cls["meta:datasetNamespace"])


def scan(api: Any, dataset_id: str, **kw: Any) -> list[dict[str, Any]]:
    """The dataset's rows, read back from the lake."""
    from xdmflow.lake.lake import namespace_for

    rows: list[dict[str, Any]] = api.ctx.lake.scan(
        namespace_for(api.creds["org_id"], "prod"), dataset_id, **kw
    ).to_pylist()
    return rows


def snapshots(api: Any, dataset_id: str) -> list[Any]:
    """The dataset table's snapshots."""
    from xdmflow.lake.lake import namespace_for

    return list(api.ctx.lake.snapshots(namespace_for(api.creds["org_id"], "prod"), dataset_id))


def meta_lines(api: Any, batch_id: str, path: str) -> list[dict[str, Any]]:
    """A diagnostics file of the export API, parsed (JSON Lines)."""
    import json

    r = api.get(f"{EXPORT}/batches/{batch_id}/meta?path={path}")
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]
