"""Typed request bodies: declared in /openapi.json, validated before the services, 400 naming the field."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from xdmflow.api.openapi import api_routes

FLOW = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
CONV = "/data/foundation/conversion"
IMPORT = "/data/foundation/import"

#: Operations that take no body at all (the query string says what to do).
BODYLESS = {
    ("POST", f"{FLOW}/flows/{{flow_id}}/action"),
    ("POST", f"{FLOW}/runs/{{run_id}}/action"),
    ("POST", f"{IMPORT}/batches/{{batch_id}}"),
    ("POST", f"{IMPORT}/batches/{{batch_id}}/datasets/{{dataset_id}}/files/{{file_path}}"),
}


def _is_form(op: dict[str, Any]) -> bool:
    content = (op.get("requestBody") or {}).get("content") or {}
    return any(m in content for m in ("application/x-www-form-urlencoded", "multipart/form-data"))


def test_every_write_operation_declares_its_body(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    checked = 0
    for route in api_routes(api.client.app):  # type: ignore[arg-type]
        if not route.include_in_schema or route.path.startswith("/console"):
            continue
        assert route.methods is not None
        for method in sorted(route.methods & {"POST", "PUT", "PATCH"}):
            op = doc["paths"][route.path_format][method.lower()]
            if (method, route.path_format) in BODYLESS or _is_form(op):
                continue
            body = op.get("requestBody")
            assert body, f"{method} {route.path_format} declares no requestBody"
            for media, spec in body["content"].items():
                schema = spec["schema"]
                ref = schema.get("$ref")
                if ref:
                    assert ref.split("/")[-1] in doc["components"]["schemas"], (method, route.path, ref)
                assert schema, (method, route.path_format, media)
            checked += 1
    assert checked >= 20
    # refs inside components resolve too (fuzzers and client generators follow them)
    text = str(doc)
    for chunk in text.split("'$ref': '")[1:]:
        target = chunk.split("'")[0]
        assert target.startswith("#/components/schemas/"), target
        assert target.rsplit("/", 1)[-1] in doc["components"]["schemas"], target


def test_patch_bodies_are_json_patch_arrays(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    op = doc["paths"][f"{FLOW}/flows/{{doc_id}}"]["patch"]
    ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    patch = doc["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert patch["type"] == "array"
    assert (
        "application/json-patch+json"
        in doc["paths"][f"{CAT}/dataSets/{{dataset_id}}"]["patch"]["requestBody"]["content"]
    )


def test_type_confusion_is_a_400_in_each_service_envelope(api: Api) -> None:
    r = api.post(f"{FLOW}/connections", json={"name": "c", "connectionSpec": "not-an-object"})
    assert r.status_code == 400, r.text
    body = r.json()
    assert (
        body["type"].startswith("https://ns.adobe.com/aep/errors/FLOW-")
        and "connectionSpec" in body["errorMessage"]
    )

    r = api.post(f"{FLOW}/flows", json={"name": "f", "sourceConnectionIds": "abc"})
    assert r.status_code == 400 and "sourceConnectionIds" in r.json()["errorMessage"], r.text

    r = api.patch(f"{FLOW}/flows/x", json={"op": "replace"}, headers={"If-Match": '"1"'})
    assert r.status_code == 400 and "FLOW-" in r.json()["type"], r.text

    r = api.post(f"{SR}/tenant/schemas", json={"title": 5, "type": "object"})
    assert r.status_code == 400, r.text
    assert "XDM-" in r.json()["type"] and "title" in r.json()["detail"]

    r = api.post(f"{CONV}/languages/el/validate", json={"expression": ["upper(a)"]})
    assert r.status_code == 400 and "expression" in r.json()["detail"], r.text

    r = api.post(f"{IMPORT}/batches", json={"datasetId": 7, "inputFormat": {"format": "json"}})
    assert r.status_code == 400 and "datasetId" in r.json()["detail"], r.text


def test_valid_extra_fields_are_kept(api: Api) -> None:
    r = api.post(
        "/data/foundation/sandbox-management/sandboxes",
        json={"name": "typed-sb", "title": "Typed", "type": "development", "somethingElse": {"a": 1}},
    )
    assert r.status_code == 202, r.text
    assert r.json()["name"] == "typed-sb"
