"""Tenant CRUD: versions, PATCH, title uniqueness, composition errors, referential integrity."""

from __future__ import annotations

from typing import Any

from tests.schemaregistry.srhelp import (
    EE,
    FULL,
    ID_LIST,
    PAYMENTS,
    PERSON,
    PERSONAL,
    PROFILE,
    RECORD,
    SR,
    XED,
    enc,
    fg_body,
    schema_body,
    tenant_of,
    xdm_error,
)
from xdmflow.services.document_stores import DATASETS
from xdmflow.store.documents import Scope


def _post(api: Any, rtype: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(f"{SR}/tenant/{rtype}", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_field_group_and_schema_patch_and_put(api: Any) -> None:
    tenant = tenant_of(api)
    fg = _post(
        api,
        "fieldgroups",
        fg_body("Loyalty", tenant, {"loyaltyId": {"type": "string", "title": "Loyalty ID"}}),
    )
    assert "/mixins/" in fg["$id"] and fg["meta:resourceType"] == "mixins"
    assert fg["meta:altId"].startswith(f"_{tenant}.mixins.")
    assert fg["meta:abstract"] is True and fg["meta:intendedToExtend"] == [PROFILE]
    assert (
        fg["definitions"]["d"]["properties"][f"_{tenant}"]["properties"]["loyaltyId"]["meta:xdmType"]
        == "string"
    )
    assert api.get(f"{SR}/tenant/mixins/{enc(fg['$id'])}", headers=XED).json() == fg

    sch = _post(api, "schemas", schema_body("Loyalty Members", PROFILE, PERSON))
    ops = [
        {"op": "add", "path": "/allOf/-", "value": {"$ref": fg["$id"]}},
        {"op": "add", "path": "/meta:extends/-", "value": fg["$id"]},
    ]
    r = api.patch(f"{SR}/tenant/schemas/{enc(sch['$id'])}", json=ops)
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["version"] == "1.1"
    assert fg["$id"] in patched["meta:extends"] and patched["meta:extends"].count(fg["$id"]) == 1
    full = api.get(f"{SR}/tenant/schemas/{enc(sch['$id'])}", headers=FULL).json()
    assert "loyaltyId" in full["properties"][f"_{tenant}"]["properties"]

    # the older PATCH style: only /meta:extends/- adds the field group too
    r = api.patch(
        f"{SR}/tenant/schemas/{enc(sch['$id'])}",
        json=[{"op": "add", "path": "/meta:extends/-", "value": PERSONAL}],
    )
    assert r.status_code == 200 and r.json()["version"] == "1.2"
    assert {"$ref": PERSONAL, "type": "object", "meta:xdmType": "object"} in r.json()["allOf"]

    put = api.put(f"{SR}/tenant/schemas/{sch['meta:altId']}", json=schema_body("Loyalty Members v2", PROFILE))
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["version"] == "1.3" and body["$id"] == sch["$id"] and body["title"] == "Loyalty Members v2"
    assert (
        body["meta:registryMetadata"]["repo:createdDate"] == sch["meta:registryMetadata"]["repo:createdDate"]
    )
    assert api.get(f"{SR}/tenant/schemas/{enc(sch['$id'])}", headers=XED).json()["version"] == "1.3"

    # changing the field group bumps its version
    r = api.patch(
        f"{SR}/tenant/fieldgroups/{enc(fg['$id'])}", json=[{"op": "replace", "path": "/title", "value": "L2"}]
    )
    assert r.status_code == 200 and r.json()["version"] == "1.1" and r.json()["title"] == "L2"


def test_class_and_data_type(api: Any) -> None:
    tenant = tenant_of(api)
    dt = _post(
        api,
        "datatypes",
        {
            "title": "Tier",
            "type": "object",
            "properties": {"level": {"type": "integer", "minimum": 0, "maximum": 10}},
        },
    )
    assert "/datatypes/" in dt["$id"]
    cls = _post(
        api,
        "classes",
        {
            "title": "Property",
            "type": "object",
            "definitions": {
                "p": {
                    "type": "object",
                    "properties": {
                        f"_{tenant}": {"type": "object", "properties": {"tier": {"$ref": dt["$id"]}}}
                    },
                }
            },
            "allOf": [{"$ref": RECORD}, {"$ref": "#/definitions/p"}],
        },
    )
    assert cls["meta:extends"] == [RECORD] and cls["refs"] == [dt["$id"]]
    sch = _post(api, "schemas", schema_body("Properties", cls["$id"]))
    full = api.get(f"{SR}/tenant/schemas/{enc(sch['$id'])}", headers=FULL).json()
    tier = full["properties"][f"_{tenant}"]["properties"]["tier"]
    assert tier["properties"]["level"]["meta:xdmType"] == "byte"
    assert tier["meta:referencedFrom"] == dt["$id"]

    # a class cannot be deleted while a schema uses it; nor a data type used by a class
    r = api.delete(f"{SR}/tenant/classes/{enc(cls['$id'])}")
    assert r.status_code == 409 and "Properties" in r.json()["detail"]
    assert api.delete(f"{SR}/tenant/datatypes/{enc(dt['$id'])}").status_code == 409
    # a change to the data type that breaks nothing is fine; one that breaks the schema is refused
    ok = api.patch(
        f"{SR}/tenant/datatypes/{enc(dt['$id'])}", json=[{"op": "add", "path": "/description", "value": "x"}]
    )
    assert ok.status_code == 200 and ok.json()["version"] == "1.1"
    assert api.delete(f"{SR}/tenant/schemas/{enc(sch['$id'])}").status_code == 204
    assert api.delete(f"{SR}/tenant/classes/{enc(cls['$id'])}").status_code == 204
    assert api.delete(f"{SR}/tenant/datatypes/{enc(dt['$id'])}").status_code == 204
    xdm_error(api.get(f"{SR}/tenant/datatypes/{enc(dt['$id'])}", headers=XED), "1012", 404)


def test_title_unique_per_type(api: Any) -> None:
    _post(api, "schemas", PAYMENTS)
    body = xdm_error(api.post(f"{SR}/tenant/schemas", json=PAYMENTS), "3005", 400)
    assert "Title must be unique" in body["detail"]
    # another type may reuse the title
    _post(
        api,
        "datatypes",
        {"title": PAYMENTS["title"], "type": "object", "properties": {"a": {"type": "string"}}},
    )


def test_composition_errors(api: Any) -> None:
    tenant = tenant_of(api)
    unknown = "https://ns.adobe.com/xdm/context/nothing"
    body = xdm_error(api.post(f"{SR}/tenant/schemas", json=schema_body("U", PROFILE, unknown)), "1000", 400)
    assert unknown in body["detail"] and body["report"]["sub-errors"]
    # field group not intended for the class
    commerce = "https://ns.adobe.com/xdm/context/experienceevent-commerce"
    body = xdm_error(api.post(f"{SR}/tenant/schemas", json=schema_body("C", PROFILE, commerce)), "1000", 400)
    assert commerce in body["detail"] and PROFILE in body["detail"]
    # two classes
    body = xdm_error(api.post(f"{SR}/tenant/schemas", json=schema_body("2C", PROFILE, EE)), "1000", 400)
    assert "exactly one class" in body["detail"]
    # conflicting paths: two field groups define the same field with different types
    a = _post(api, "fieldgroups", fg_body("A", tenant, {"code": {"type": "string"}}))
    b = _post(api, "fieldgroups", fg_body("B", tenant, {"code": {"type": "integer"}}))
    body = xdm_error(
        api.post(f"{SR}/tenant/schemas", json=schema_body("AB", PROFILE, a["$id"], b["$id"])), "1000", 400
    )
    assert f"_{tenant}.code" in body["detail"] and body["report"]["sub-errors"]
    # custom fields outside the tenant namespace
    bad = {**fg_body("Bad", tenant, {}), "definitions": {"d": {"properties": {"loose": {"type": "string"}}}}}
    body = xdm_error(api.post(f"{SR}/tenant/fieldgroups", json=bad), "1000", 400)
    assert f"_{tenant}" in body["detail"]
    # a field group missing meta:intendedToExtend
    nofor = fg_body("NoFor", tenant, {"x": {"type": "string"}})
    del nofor["meta:intendedToExtend"]
    assert api.post(f"{SR}/tenant/fieldgroups", json=nofor).status_code == 400


def test_cycle_between_data_types(api: Any) -> None:
    a = _post(api, "datatypes", {"title": "DA", "type": "object", "properties": {"x": {"type": "string"}}})
    b = _post(api, "datatypes", {"title": "DB", "type": "object", "properties": {"a": {"$ref": a["$id"]}}})
    r = api.put(
        f"{SR}/tenant/datatypes/{enc(a['$id'])}",
        json={"title": "DA", "type": "object", "properties": {"b": {"$ref": b["$id"]}}},
    )
    body = xdm_error(r, "1000", 400)
    assert "cycle" in body["detail"]
    # unchanged
    assert api.get(f"{SR}/tenant/datatypes/{enc(a['$id'])}", headers=XED).json()["version"] == "1.0"


def test_breaking_field_group_change_refused(api: Any) -> None:
    tenant = tenant_of(api)
    fg = _post(api, "fieldgroups", fg_body("F1", tenant, {"v": {"type": "string"}}))
    _post(api, "schemas", schema_body("S1", PROFILE, fg["$id"]))
    r = api.patch(
        f"{SR}/tenant/fieldgroups/{enc(fg['$id'])}",
        json=[{"op": "replace", "path": "/meta:intendedToExtend", "value": [EE]}],
    )
    body = xdm_error(r, "1000", 400)
    assert "S1" in body["detail"]


def test_delete_refused_while_dataset_uses_schema(api: Any) -> None:
    sch = _post(api, "schemas", PAYMENTS)
    scope = Scope(api.creds["org_id"], "prod")
    with api.ctx.db.session() as s:
        DATASETS.insert(
            s,
            scope,
            "5c8c3c555033b814b69f947f",
            {
                "name": "ds",
                "schemaRef": {
                    "id": sch["$id"],
                    "contentType": "application/vnd.adobe.xed-full+json;version=1",
                },
            },
        )
    r = api.delete(f"{SR}/tenant/schemas/{enc(sch['$id'])}")
    assert r.status_code == 409, r.text
    assert "5c8c3c555033b814b69f947f" in r.json()["detail"] and "XDM-" in r.json()["type"]
    with api.ctx.db.session() as s:
        DATASETS.remove(s, DATASETS.get(s, scope, "5c8c3c555033b814b69f947f"))
    assert api.delete(f"{SR}/tenant/schemas/{sch['meta:altId']}").status_code == 204
    assert api.get(f"{SR}/tenant/schemas", headers=ID_LIST).json()["results"] == []


def test_bad_patches(api: Any) -> None:
    sch = _post(api, "schemas", PAYMENTS)
    path = f"{SR}/tenant/schemas/{enc(sch['$id'])}"
    assert api.patch(path, json={"op": "add"}).status_code == 400
    assert api.patch(path, json=[{"op": "remove", "path": "/nope"}]).status_code == 400
    r = api.patch(path, json=[{"op": "remove", "path": "/allOf/0"}])
    assert r.status_code == 400 and "class" in r.json()["detail"]
    r = api.patch(path, json=[{"op": "replace", "path": "/title", "value": 5}])
    assert r.status_code == 400
    assert api.get(path, headers=XED).json()["version"] == "1.0"


def test_only_additive_changes_once_in_use(api: Any) -> None:
    tenant = tenant_of(api)
    fg = _post(api, "fieldgroups", fg_body("Evo", tenant, {"code": {"type": "string"}}))
    sch = _post(api, "schemas", schema_body("Evolving", PROFILE, PERSON, fg["$id"]))
    scope = Scope(api.creds["org_id"], "prod")
    with api.ctx.db.session() as s:
        DATASETS.insert(s, scope, "5c8c3c555033b814b69f9400", {"schemaRef": {"id": sch["meta:altId"]}})
    path = f"{SR}/tenant/schemas/{enc(sch['$id'])}"
    r = api.patch(path, json=[{"op": "remove", "path": "/allOf/1"}])
    body = xdm_error(r, "1000", 400)
    assert "Only additive" in body["detail"] and "person" in body["detail"] and body["report"]["sub-errors"]
    assert (
        api.patch(path, json=[{"op": "add", "path": "/allOf/-", "value": {"$ref": PERSONAL}}]).status_code
        == 200
    )
    # retyping a field of a field group the schema uses is refused; adding one is fine
    fg_path = f"{SR}/tenant/fieldgroups/{enc(fg['$id'])}"
    retype = fg_body("Evo", tenant, {"code": {"type": "integer"}})
    body = xdm_error(api.put(fg_path, json=retype), "1000", 400)
    assert f"_{tenant}.code" in body["detail"]
    grow = fg_body("Evo", tenant, {"code": {"type": "string"}, "extra": {"type": "boolean"}})
    assert api.put(fg_path, json=grow).status_code == 200
