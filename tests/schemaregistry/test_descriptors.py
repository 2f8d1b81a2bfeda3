"""Descriptors, Profile enablement, unions and the service functions other layers use."""

from __future__ import annotations

from typing import Any

import pytest

from tests.schemaregistry.srhelp import (
    EE,
    FULL,
    ID_LIST,
    IDMAP,
    PAYMENTS,
    PROFILE,
    SR,
    XED,
    enc,
    schema_body,
    xdm_error,
)
from xdmflow.errors import NotFoundError
from xdmflow.services import schemas
from xdmflow.store.documents import Scope

D = f"{SR}/tenant/descriptors"


def identity(schema_id: str, path: str, ns: str = "Email", primary: bool = False) -> dict[str, Any]:
    return {
        "@type": "xdm:descriptorIdentity",
        "xdm:sourceSchema": schema_id,
        "xdm:sourceVersion": 1,
        "xdm:sourceProperty": path,
        "xdm:namespace": ns,
        "xdm:property": "xdm:code",
        "xdm:isPrimary": primary,
    }


@pytest.fixture
def sid(api: Any) -> str:
    r = api.post(f"{SR}/tenant/schemas", json=PAYMENTS)
    assert r.status_code == 201, r.text
    return str(r.json()["$id"])


def test_identity_descriptor_lifecycle(api: Any, sid: str) -> None:
    r = api.post(D, json=identity(sid, "/personalEmail/address", "email", True))
    assert r.status_code == 201, r.text
    d = r.json()
    assert len(d["@id"]) == 40 and d["meta:containerId"] == "tenant"
    assert d["xdm:namespace"] == "Email"  # standard codes in canonical spelling
    assert d["imsOrg"] == api.creds["org_id"] and d["createdUser"] and d["created"]
    got = api.get(f"{D}/{d['@id']}")
    assert got.status_code == 200 and got.json() == d
    assert api.get(f"{D}/{d['@id']}", headers={"Accept": "application/vnd.adobe.xdm+json"}).status_code == 200

    # a second primary is refused; a non-primary in standard notation is fine
    r = api.post(D, json=identity(sid, "/mobilePhone/number", "Phone", True))
    assert r.status_code == 400 and "primary" in r.json()["detail"]
    r = api.post(D, json=identity(sid, "/xdm:mobilePhone/xdm:number", "Phone"))
    assert r.status_code == 201, r.text
    assert r.json()["xdm:sourceProperty"] == "/mobilePhone/number"
    # same field twice
    assert api.post(D, json=identity(sid, "/personalEmail/address", "CRMID")).status_code == 400

    with api.ctx.db.session() as s:
        compiled = schemas.compiled_schema(s, Scope(api.creds["org_id"], "prod"), sid)
    prim = compiled.primary_identity
    assert prim is not None and prim.path == "personalEmail.address" and prim.required
    email = compiled.field("personalEmail")
    assert email is not None and email.required
    assert {f.path for f in compiled.identities} == {"personalEmail.address", "mobilePhone.number"}

    # xed-full-desc embeds them
    desc = api.get(
        f"{SR}/tenant/schemas/{enc(sid)}",
        headers={"Accept": "application/vnd.adobe.xed-full-desc+json; version=1"},
    ).json()
    assert {x["@id"] for x in desc["meta:descriptors"]} >= {d["@id"]}

    # PUT then DELETE
    upd = api.put(f"{D}/{d['@id']}", json={**identity(sid, "/personalEmail/address", "ECID", True)})
    assert upd.status_code == 200 and upd.json()["xdm:namespace"] == "ECID"
    assert upd.json()["created"] == d["created"]
    assert api.delete(f"{D}/{d['@id']}").status_code == 204
    xdm_error(api.get(f"{D}/{d['@id']}"), "1012", 404)


def test_identity_descriptor_errors(api: Any, sid: str) -> None:
    r = api.post(D, json=identity(sid, "/person/birthYear", "CRMID"))
    assert r.status_code == 400 and "string" in r.json()["detail"]
    r = api.post(D, json=identity(sid, "/person/nothing", "CRMID"))
    assert r.status_code == 400 and "not a field" in r.json()["detail"]
    tenant = sid.split("/")[3]
    missing = f"https://ns.adobe.com/{tenant}/schemas/{'1' * 32}"
    r = api.post(D, json=identity(missing, "/personalEmail/address"))
    assert r.status_code == 400 and "does not exist" in r.json()["detail"]
    assert (
        api.post(D, json={**identity(sid, "/personalEmail/address"), "xdm:namespace": ""}).status_code == 400
    )
    assert (
        api.post(D, json={**identity(sid, "/personalEmail/address"), "@type": "xdm:nope"}).status_code == 400
    )
    assert (
        api.post(D, json={**identity(sid, "/personalEmail/address"), "xdm:isPrimary": "yes"}).status_code
        == 400
    )
    assert api.post(D, json={**identity(sid, "personalEmail.address")}).status_code == 400
    # custom namespaces are accepted and listed
    r = api.post(D, json=identity(sid, "/personID", "loyaltyCRM"))
    assert r.status_code == 201 and r.json()["xdm:namespace"] == "loyaltyCRM"
    ns = api.get("/data/foundation/identity/idnamespace/namespaces").json()
    codes = {n["code"]: n["custom"] for n in ns}
    assert codes["ECID"] is False and codes["loyaltyCRM"] is True


def test_descriptor_lists(api: Any, sid: str) -> None:
    one = api.post(D, json=identity(sid, "/personalEmail/address", "Email", True)).json()
    alt = api.post(
        D,
        json={
            "@type": "xdm:alternateDisplayInfo",
            "xdm:sourceSchema": sid,
            "xdm:sourceVersion": 1,
            "xdm:sourceProperty": "/person/name/firstName",
            "xdm:title": {"en_us": "Given name"},
        },
    )
    assert alt.status_code == 201, alt.text
    two = alt.json()
    ids = api.get(D, headers={"Accept": "application/vnd.adobe.xdm-id+json"}).json()
    assert ids == {"xdm:descriptorIdentity": [one["@id"]], "xdm:alternateDisplayInfo": [two["@id"]]}
    links = api.get(D, headers={"Accept": "application/vnd.adobe.xdm-link+json"}).json()
    assert links["xdm:descriptorIdentity"] == [f"/tenant/descriptors/{one['@id']}"]
    objs = api.get(D, headers={"Accept": "application/vnd.adobe.xdm+json"}).json()
    assert objs["xdm:alternateDisplayInfo"][0]["xdm:title"] == {"en_us": "Given name"}
    v2 = api.get(
        f"{D}?limit=1&orderby=@id", headers={"Accept": "application/vnd.adobe.xdm-v2-id+json"}
    ).json()
    assert v2["_page"]["count"] == 1 and v2["_links"]["next"] is not None
    filt = api.get(
        f"{D}?property=@type==xdm:alternateDisplayInfo",
        headers={"Accept": "application/vnd.adobe.xdm-id+json"},
    ).json()
    assert filt == {"xdm:alternateDisplayInfo": [two["@id"]]}
    bad = {"@type": "xdm:alternateDisplayInfo", "xdm:sourceSchema": sid, "xdm:sourceProperty": "/personID"}
    assert api.post(D, json=bad).status_code == 400
    assert api.get(D, headers={"Accept": "application/vnd.adobe.xdm-bogus+json"}).status_code == 406
    # deleting the schema deletes its descriptors
    assert api.delete(f"{SR}/tenant/schemas/{enc(sid)}").status_code == 204
    assert api.get(D, headers={"Accept": "application/vnd.adobe.xdm-id+json"}).json() == {}


def test_profile_enablement(api: Any, sid: str) -> None:
    path = f"{SR}/tenant/schemas/{enc(sid)}"
    tag = [{"op": "add", "path": "/meta:immutableTags", "value": ["union"]}]
    r = api.patch(path, json=tag)
    assert r.status_code == 400 and "primary identity" in r.json()["detail"]
    prim = api.post(D, json=identity(sid, "/personalEmail/address", "Email", True)).json()
    r = api.patch(path, json=tag)
    assert r.status_code == 200 and r.json()["meta:immutableTags"] == ["union"]
    # cannot be removed, the primary identity cannot go, the schema cannot be deleted
    r = api.patch(path, json=[{"op": "remove", "path": "/meta:immutableTags"}])
    assert r.status_code == 400 and "cannot be removed" in r.json()["detail"]
    assert api.delete(f"{D}/{prim['@id']}").status_code == 400
    assert api.delete(path).status_code == 409
    # the union of the class
    u = api.get(f"{SR}/tenant/unions", headers=ID_LIST).json()["results"]
    assert u == [
        {
            "$id": PROFILE + "__union",
            "meta:altId": "_xdm.context.profile__union",
            "version": u[0]["version"],
            "title": "XDM Individual Profile",
        }
    ]
    full = api.get(f"{SR}/tenant/unions/_xdm.context.profile__union", headers=FULL)
    assert full.status_code == 200 and "personalEmail" in full.json()["properties"]
    via_schemas = api.get(f"{SR}/tenant/schemas/{enc(PROFILE + '__union')}", headers=FULL)
    assert via_schemas.status_code == 200 and via_schemas.json()["meta:resourceType"] == "unions"
    assert api.get(f"{SR}/stats").json()["counts"]["unions"] == 1
    # an ExperienceEvent schema has identityMap built in: enabling at creation is fine
    ee = api.post(f"{SR}/tenant/schemas", json=schema_body("Events", EE, **{"meta:immutableTags": ["union"]}))
    assert ee.status_code == 201, ee.text
    # a profile schema with the IdentityMap field group too
    pm = api.post(
        f"{SR}/tenant/schemas", json=schema_body("PM", PROFILE, IDMAP, **{"meta:immutableTags": ["union"]})
    )
    assert pm.status_code == 201, pm.text
    bad = api.post(
        f"{SR}/tenant/schemas", json=schema_body("P2", PROFILE, **{"meta:immutableTags": ["nope"]})
    )
    assert bad.status_code == 400
    members = api.get(
        f"{SR}/tenant/schemas?property=meta:immutableTags==union&property=meta:class=={PROFILE}",
        headers=ID_LIST,
    ).json()["results"]
    assert {m["title"] for m in members} == {PAYMENTS["title"], "PM"}


def test_service_functions(api: Any, sid: str) -> None:
    scope = Scope(api.creds["org_id"], "prod")
    with api.ctx.db.session() as s:
        alt = api.get(f"{SR}/tenant/schemas/{enc(sid)}", headers=XED).json()["meta:altId"]
        assert schemas.schema_exists(s, scope, sid) and schemas.schema_exists(s, scope, alt)
        assert not schemas.schema_exists(s, scope, PROFILE)
        assert not schemas.schema_exists(s, Scope(api.creds["org_id"], "dev"), sid)
        full = schemas.resolved_schema(s, scope, alt)
        assert "person" in full["properties"] and full["properties"]["person"]["title"]
        notext = schemas.resolved_schema(s, scope, sid, notext=True)
        assert "title" not in notext["properties"]["person"]
        compiled = schemas.compiled_schema(s, scope, sid)
        assert compiled.id == sid and compiled.version == "1.0" and compiled.class_id == PROFILE
        assert compiled.field("person.name.firstName") is not None
        assert compiled.tenant_namespace == "_" + schemas.tenant_id(scope)
        with pytest.raises(NotFoundError) as err:
            schemas.compiled_schema(s, scope, sid.rsplit("/", 1)[0] + "/" + "0" * 32)
        assert err.value.code == "1012"


def test_field_group_change_breaking_a_descriptor_is_refused(api: Any) -> None:
    tenant = api.get(f"{SR}/stats").json()["tenantId"]
    fg = api.post(
        f"{SR}/tenant/fieldgroups",
        json={
            "title": "Ids",
            "type": "object",
            "meta:intendedToExtend": [PROFILE],
            "definitions": {
                "d": {
                    "properties": {
                        f"_{tenant}": {"type": "object", "properties": {"crm": {"type": "string"}}}
                    }
                }
            },
            "allOf": [{"$ref": "#/definitions/d"}],
        },
    ).json()
    sid = api.post(f"{SR}/tenant/schemas", json=schema_body("With ids", PROFILE, fg["$id"])).json()["$id"]
    assert api.post(D, json=identity(sid, f"/_{tenant}/crm", "CRMID", True)).status_code == 201
    r = api.patch(
        f"{SR}/tenant/fieldgroups/{enc(fg['$id'])}",
        json=[
            {
                "op": "replace",
                "path": f"/definitions/d/properties/_{tenant}/properties/crm",
                "value": {"type": "integer"},
            }
        ],
    )
    body = xdm_error(r, "1000", 400)
    assert "identity" in body["detail"] and "With ids" in body["detail"]
