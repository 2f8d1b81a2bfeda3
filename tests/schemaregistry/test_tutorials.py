"""The payments tutorial's target schema and the ad-hoc tutorial, over HTTP."""

from __future__ import annotations

import re
from typing import Any

from tests.schemaregistry.srhelp import (
    ADHOC,
    FULL,
    PAYMENTS,
    PERSON,
    PERSONAL,
    PROFILE,
    RECORD,
    SR,
    XED,
    enc,
    schema_body,
    tenant_of,
)

AUDITABLE = "https://ns.adobe.com/xdm/common/auditable"


def _paths(props: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name, node in props.items():
        path = f"{prefix}.{name}" if prefix else name
        out.add(path)
        out |= _paths(node.get("properties", {}), path)
    return out


def test_payments_target_schema(api: Any) -> None:
    tenant = tenant_of(api)
    r = api.post(f"{SR}/tenant/schemas", json=PAYMENTS)
    assert r.status_code == 201, r.text
    body = r.json()
    assert re.fullmatch(rf"https://ns\.adobe\.com/{tenant}/schemas/[0-9a-f]{{32}}", body["$id"])
    assert body["meta:altId"] == f"_{tenant}.schemas.{body['$id'].rsplit('/', 1)[1]}"
    assert body["meta:resourceType"] == "schemas"
    assert body["version"] == "1.0"
    assert body["title"] == "Target schema for payments"
    assert body["meta:class"] == PROFILE
    assert body["meta:abstract"] is False and body["meta:extensible"] is False
    assert set(body["meta:extends"]) == {PERSON, PERSONAL, AUDITABLE, RECORD, PROFILE}
    assert len(body["meta:extends"]) == 5
    assert sorted(body["refs"]) == sorted([PROFILE, PERSON, PERSONAL])
    assert len(body["allOf"]) == 4
    assert all(p["type"] == "object" and p["meta:xdmType"] == "object" for p in body["allOf"])
    assert body["meta:containerId"] == "tenant"
    assert body["meta:tenantNamespace"] == f"_{tenant}"
    assert body["imsOrg"] == api.creds["org_id"]
    assert body["meta:sandboxType"] == "production" and body["meta:sandboxId"]
    meta = body["meta:registryMetadata"]
    for key in (
        "repo:createdDate",
        "repo:lastModifiedDate",
        "xdm:createdClientId",
        "xdm:lastModifiedClientId",
        "xdm:createdUserId",
        "xdm:lastModifiedUserId",
        "eTag",
    ):
        assert meta[key], key

    # lookup by URL-encoded $id and by altId, raw and full
    raw = api.get(f"{SR}/tenant/schemas/{enc(body['$id'])}", headers=XED)
    assert raw.status_code == 200 and raw.json() == body
    full = api.get(f"{SR}/tenant/schemas/{body['meta:altId']}", headers=FULL)
    assert full.status_code == 200, full.text
    doc = full.json()
    assert "allOf" not in doc and doc["$id"] == body["$id"]
    paths = _paths(doc["properties"])
    for p in (
        "person.name.firstName",
        "person.name.lastName",
        "person.birthDate",
        "person.gender",
        "personalEmail.address",
        "homeAddress.city",
        "mobilePhone.number",
        "billingAddress.postalCode",
        "_id",
        "_repo.createDate",
        "personID",
        "createdByBatchID",
    ):
        assert p in paths, p
    assert doc["properties"]["person"]["meta:referencedFrom"] == "https://ns.adobe.com/xdm/context/person"
    notext = api.get(
        f"{SR}/tenant/schemas/{enc(body['$id'])}",
        headers={"Accept": "application/vnd.adobe.xed-full-notext+json; version=1"},
    ).json()
    assert "title" not in notext and "title" not in notext["properties"]["person"]
    raw_notext = api.get(
        f"{SR}/tenant/schemas/{enc(body['$id'])}",
        headers={"Accept": "application/vnd.adobe.xed-notext+json; version=1"},
    ).json()
    assert "title" not in raw_notext and raw_notext["allOf"] == body["allOf"]


def test_adhoc_class_and_schema(api: Any) -> None:
    cls_req = {
        "title": "New ad-hoc class",
        "description": "New ad-hoc class description",
        "type": "object",
        "allOf": [
            {"$ref": ADHOC},
            {
                "properties": {
                    "_adhoc": {
                        "type": "object",
                        "properties": {"field1": {"type": "string"}, "field2": {"type": "string"}},
                    }
                }
            },
        ],
    }
    r = api.post(f"{SR}/tenant/classes", json=cls_req)
    assert r.status_code == 201, r.text
    cls = r.json()
    guid = cls["$id"].rsplit("/", 1)[1]
    ns = f"_{guid}"
    assert cls["meta:datasetNamespace"] == ns
    assert cls["meta:extends"] == [ADHOC]
    assert cls["meta:abstract"] is True and cls["meta:extensible"] is True
    assert ns in cls["allOf"][1]["properties"] and "_adhoc" not in cls["allOf"][1]["properties"]
    assert "/classes/" in cls["$id"]

    r = api.post(f"{SR}/tenant/schemas", json=schema_body("New Schema", cls["$id"]))
    assert r.status_code == 201, r.text
    sch = r.json()
    assert sch["meta:datasetNamespace"] == ns
    assert set(sch["meta:extends"]) == {cls["$id"], ADHOC}
    full = api.get(f"{SR}/tenant/schemas/{sch['meta:altId']}", headers=FULL)
    assert full.status_code == 200, full.text
    props = full.json()["properties"][ns]["properties"]
    assert set(props) == {"field1", "field2"}
    assert props["field1"]["meta:xdmType"] == "string"
