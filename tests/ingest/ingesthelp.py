"""Helpers for ingestion tests (a copy of tests/catalog/cathelp.py plus ingestion helpers).

Schemas through the Schema Registry API, datasets, batches."""

from __future__ import annotations

from typing import Any

from xdmflow.schema.builtins import PERSON_DETAILS, PERSONAL_DETAILS, PROFILE
from xdmflow.schema.naming import BEHAVIOR_ADHOC

REGISTRY = "/data/foundation/schemaregistry/tenant"
CATALOG = "/data/foundation/catalog"
IMPORT = "/data/foundation/import"
EXPORT = "/data/foundation/export"
XED = "application/vnd.adobe.xed+json"


def _post_xdm(api: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(f"{REGISTRY}/{path}", json=body, headers={"Accept": XED})
    assert r.status_code in (200, 201), r.text
    out: dict[str, Any] = r.json()
    return out


def profile_schema(api: Any, title: str = "PayPal target XDM schema") -> str:
    """The payments tutorial's profile schema (Profile + person + personal details); returns its $id."""
    body = {
        "title": title,
        "description": "payments target",
        "type": "object",
        "allOf": [{"$ref": PROFILE}, {"$ref": PERSON_DETAILS}, {"$ref": PERSONAL_DETAILS}],
    }
    return str(_post_xdm(api, "schemas", body)["$id"])


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


def create_dataset(api: Any, schema_id: str, name: str = "Target dataset for payments", **extra: Any) -> str:
    """POST /dataSets; returns the new id."""
    body = {"name": name, "schemaRef": {"id": schema_id, "contentType": f"{XED};version=1"}, **extra}
    r = api.post(f"{CATALOG}/dataSets", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()[0].split("/")[-1])


def create_batch(api: Any, dataset_id: str, fmt: str = "json", **extra: Any) -> str:
    """POST /import/batches; returns the batch id."""
    body = {"datasetId": dataset_id, "inputFormat": {"format": fmt}, **extra}
    if "inputFormat" in extra:
        body["inputFormat"] = extra["inputFormat"]
    r = api.post(f"{IMPORT}/batches", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "loading"
    return str(r.json()["id"])


def upload(api: Any, batch_id: str, dataset_id: str, name: str, data: bytes) -> Any:
    """PUT one file into a batch."""
    return api.put(
        f"{IMPORT}/batches/{batch_id}/datasets/{dataset_id}/files/{name}",
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )


def complete(api: Any, batch_id: str, action: str = "COMPLETE") -> Any:
    """POST /batches/{id}?action=..."""
    return api.post(f"{IMPORT}/batches/{batch_id}?action={action}")


def catalog_batch(api: Any, batch_id: str) -> dict[str, Any]:
    """The Catalog view of a batch."""
    r = api.get(f"{CATALOG}/batches/{batch_id}")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()[batch_id]
    return out


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
