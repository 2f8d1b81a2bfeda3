"""Resolution to the xed-full view."""

from __future__ import annotations

import pytest

from xdmflow.errors import NotFoundError, ValidationFailedError
from xdmflow.schema.builtins import ADDRESS, EXPERIENCE_EVENT, PERSONAL_DETAILS, PROFILE, global_resource
from xdmflow.schema.naming import alt_id, compat_name, compat_path, make_tenant_id
from xdmflow.schema.resolve import infer_xdm_type, resolve, resolve_body

TENANT_DT = "https://ns.adobe.com/acme/datatypes/" + "1" * 32


def test_naming_helpers() -> None:
    assert compat_path("xdm:timestamp") == ("timestamp",)
    assert compat_path("@id") == ("_id",)
    assert compat_name("repo:createDate") == "_repo.createDate"
    assert compat_name("schema:latitude") == "_schema.latitude"
    assert compat_path("firstName") == ("firstName",)
    assert compat_path("https://example.com/x") == ("https://example.com/x",)
    assert alt_id(PROFILE) == "_xdm.context.profile"
    assert alt_id(make_tenant_id("acme", "fieldgroups", "ab" * 16)) == "_acme.mixins." + "ab" * 16
    with pytest.raises(ValueError):
        make_tenant_id("acme", "schemas", "xyz")


def test_global_lookup_by_alt_id() -> None:
    res = global_resource("_xdm.context.profile")
    assert res is not None and res["$id"] == PROFILE
    assert global_resource("_nope") is None


def test_profile_class_resolved() -> None:
    r = resolve(PROFILE)
    props = r["properties"]
    assert list(props) == sorted(props)
    assert set(props) == {
        "_id",
        "_repo",
        "createdByBatchID",
        "modifiedByBatchID",
        "personID",
        "repositoryCreatedBy",
        "repositoryLastModifiedBy",
    }
    assert props["_repo"]["meta:xedConverted"] is True
    assert props["_repo"]["properties"]["createDate"]["meta:xdmType"] == "date-time"
    assert props["_repo"]["properties"]["createDate"]["meta:xdmField"] == "repo:createDate"
    assert props["_id"]["meta:xdmField"] == "@id"
    assert "allOf" not in r and "definitions" not in r


def test_experience_event_required_translated() -> None:
    r = resolve("_xdm.context.experienceevent")
    assert r["required"] == ["_id", "timestamp"]
    assert r["properties"]["identityMap"]["meta:xdmType"] == "map"
    item = r["properties"]["identityMap"]["additionalProperties"]["items"]
    assert item["meta:referencedFrom"] == "https://ns.adobe.com/xdm/context/identityitem"


def test_ref_sibling_title_wins_and_referenced_from() -> None:
    r = resolve(PERSONAL_DETAILS)
    home = r["properties"]["homeAddress"]
    assert home["title"] == "Home Address"
    assert home["meta:referencedFrom"] == ADDRESS
    assert home["meta:xdmType"] == "object"
    # address = address + geo + GeoCoordinates + auditable
    assert {"street1", "countryCode", "dmaID", "_schema", "_repo", "createdByBatchID"} <= set(
        home["properties"]
    )
    assert home["properties"]["_schema"]["properties"]["latitude"]["minimum"] == -90


def test_notext_drops_titles() -> None:
    r = resolve(PERSONAL_DETAILS, notext=True)

    def nodes(node: dict) -> list[dict]:
        out = [node]
        for sub in node.get("properties", {}).values():
            out += nodes(sub)
        return out

    everything = nodes(r)
    assert len(everything) > 100
    assert not [n for n in everything if "title" in n or "description" in n]
    assert "_schema" in r["properties"]["homeAddress"]["properties"]


def test_integer_types() -> None:
    person = resolve("https://ns.adobe.com/xdm/context/person")["properties"]
    assert person["birthYear"]["meta:xdmType"] == "short"
    assert person["birthDate"]["meta:xdmType"] == "date"
    geo = resolve("https://ns.adobe.com/xdm/common/geo")["properties"]
    assert geo["dmaID"]["meta:xdmType"] == "int"
    assert infer_xdm_type({"type": "integer", "minimum": 0, "maximum": 100}) == "byte"
    assert infer_xdm_type({"type": "integer", "minimum": 0, "maximum": 2**40}) == "long"
    assert infer_xdm_type({"type": "integer", "meta:xdmType": "long"}) == "long"
    with pytest.raises(ValidationFailedError, match="meta:xdmType"):
        infer_xdm_type({"type": "string", "meta:xdmType": "int"}, "x")


def test_unknown_resource_and_ref() -> None:
    with pytest.raises(NotFoundError):
        resolve("https://ns.adobe.com/acme/schemas/" + "0" * 32)
    body = {"$id": TENANT_DT, "properties": {"a": {"$ref": "https://ns.adobe.com/acme/datatypes/nope"}}}
    with pytest.raises(ValidationFailedError, match="acme/datatypes/nope"):
        resolve_body(body)


def test_tenant_resources_and_cycles() -> None:
    other = "https://ns.adobe.com/acme/datatypes/" + "2" * 32
    tenant = {
        TENANT_DT: {
            "$id": TENANT_DT,
            "meta:altId": alt_id(TENANT_DT),
            "type": "object",
            "properties": {"next": {"$ref": other}, "name": {"type": "string"}},
        },
        other: {"$id": other, "type": "object", "properties": {"back": {"$ref": TENANT_DT}}},
    }
    with pytest.raises(ValidationFailedError, match="cycle"):
        resolve(alt_id(TENANT_DT), tenant)
    tenant[other]["properties"] = {"home": {"$ref": ADDRESS}}
    r = resolve(TENANT_DT, lambda rid: tenant.get(rid))
    assert r["properties"]["next"]["properties"]["home"]["meta:referencedFrom"] == ADDRESS


def test_map_with_properties_rejected() -> None:
    body = {
        "$id": TENANT_DT,
        "properties": {
            "m": {
                "type": "object",
                "meta:xdmType": "map",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            }
        },
    }
    with pytest.raises(ValidationFailedError, match="map field 'm'"):
        resolve_body(body)


def test_resolve_class_uses_globals_even_with_tenant_mapping() -> None:
    assert resolve(EXPERIENCE_EVENT, {})["properties"]["timestamp"]["format"] == "date-time"
