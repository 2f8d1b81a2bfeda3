"""Schema composition and tenant resource rules."""

from __future__ import annotations

from typing import Any

import pytest

from xdmflow.errors import ValidationFailedError
from xdmflow.schema.builtins import (
    COMMERCE_DETAILS,
    EXPERIENCE_EVENT,
    IDENTITY_MAP,
    PERSON_DETAILS,
    PERSONAL_DETAILS,
    PROFILE,
)
from xdmflow.schema.naming import BEHAVIOR_ADHOC, BEHAVIOR_RECORD, BEHAVIOR_TIME_SERIES
from xdmflow.schema.registry_model import (
    compose_schema,
    prepare_class,
    prepare_data_type,
    prepare_field_group,
)
from xdmflow.schema.resolve import resolve_body

T = "acme"
FG1 = "https://ns.adobe.com/acme/mixins/" + "a" * 32
FG2 = "https://ns.adobe.com/acme/mixins/" + "b" * 32
CLS = "https://ns.adobe.com/acme/classes/" + "c" * 32
GUID = "6395cbd58812a6d64c4e5344f7b9120f"


def schema(*refs: str) -> dict[str, Any]:
    return {"title": "S", "type": "object", "allOf": [{"$ref": r} for r in refs]}


def fg_body(fields: dict[str, Any], intended: list[str] | None = None) -> dict[str, Any]:
    return {
        "title": "FG",
        "type": "object",
        "meta:intendedToExtend": intended if intended is not None else [PROFILE],
        "definitions": {"d": {"properties": {"_acme": {"type": "object", "properties": fields}}}},
        "allOf": [{"$ref": "#/definitions/d"}],
    }


def stored(rid: str, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "$id": rid, "meta:containerId": "tenant"}


def test_payments_schema_duplicate_field_group() -> None:
    out = compose_schema(schema(PROFILE, PERSON_DETAILS, PERSONAL_DETAILS, PERSONAL_DETAILS), None, T)
    assert out["meta:class"] == PROFILE
    assert set(out["meta:extends"]) == {
        PROFILE,
        BEHAVIOR_RECORD,
        "https://ns.adobe.com/xdm/common/auditable",
        PERSON_DETAILS,
        PERSONAL_DETAILS,
    }
    assert len(out["meta:extends"]) == 5
    assert out["refs"] == [PROFILE, PERSON_DETAILS, PERSONAL_DETAILS]
    assert out["meta:abstract"] is False and out["meta:extensible"] is False
    assert len(out["allOf"]) == 4 and out["allOf"][0]["meta:xdmType"] == "object"


def test_event_schema_extends_identitymap() -> None:
    out = compose_schema(schema(EXPERIENCE_EVENT, COMMERCE_DETAILS), None, T)
    assert set(out["meta:extends"]) == {
        EXPERIENCE_EVENT,
        BEHAVIOR_TIME_SERIES,
        IDENTITY_MAP,
        COMMERCE_DETAILS,
    }


def test_client_sent_read_only_keys_are_recomputed() -> None:
    body = schema(PROFILE) | {"meta:class": EXPERIENCE_EVENT, "meta:extends": ["x"], "meta:abstract": True}
    out = compose_schema(body, None, T)
    assert out["meta:class"] == PROFILE and "x" not in out["meta:extends"] and out["meta:abstract"] is False


@pytest.mark.parametrize(
    ("refs", "match"),
    [
        ((PERSON_DETAILS,), "exactly one class"),
        ((PROFILE, EXPERIENCE_EVENT), "exactly one class"),
        ((PROFILE, "https://ns.adobe.com/acme/mixins/missing"), "acme/mixins/missing"),
        ((PROFILE, COMMERCE_DETAILS), "experienceevent-commerce.*not compatible.*context/profile"),
        ((PROFILE, "https://ns.adobe.com/xdm/context/person"), "datatypes"),
    ],
)
def test_schema_errors(refs: tuple[str, ...], match: str) -> None:
    with pytest.raises(ValidationFailedError, match=match):
        compose_schema(schema(*refs), None, T)


def test_identitymap_empty_intended_means_any_class() -> None:
    out = compose_schema(schema(PROFILE, IDENTITY_MAP), None, T)
    assert "identityMap" in resolve_body(out)["properties"]


def test_conflicting_field_groups_name_path_and_sources() -> None:
    fg1 = prepare_field_group(fg_body({"level": {"type": "string"}}), None, T)
    fg2 = prepare_field_group(fg_body({"level": {"type": "integer"}}), None, T)
    tenant = {FG1: stored(FG1, fg1), FG2: stored(FG2, fg2)}
    with pytest.raises(ValidationFailedError) as err:
        compose_schema(schema(PROFILE, FG1, FG2), tenant, T)
    msg = str(err.value)
    assert "_acme.level" in msg and FG1 in msg and FG2 in msg
    # same type in both: merged
    tenant[FG2] = stored(
        FG2, prepare_field_group(fg_body({"level": {"type": "string"}, "x": {"type": "number"}}), None, T)
    )
    out = resolve_body(compose_schema(schema(PROFILE, FG1, FG2), tenant, T), tenant)
    assert set(out["properties"]["_acme"]["properties"]) == {"level", "x"}


def test_field_group_rules() -> None:
    with pytest.raises(ValidationFailedError, match="intendedToExtend"):
        prepare_field_group({k: v for k, v in fg_body({}).items() if k != "meta:intendedToExtend"}, None, T)
    bad = fg_body({})
    bad["definitions"]["d"]["properties"] = {"loyalty": {"type": "string"}}
    with pytest.raises(ValidationFailedError, match="top level field named _acme"):
        prepare_field_group(bad, None, T)
    with pytest.raises(ValidationFailedError, match="must not start with '_'"):
        prepare_field_group(fg_body({"_secret": {"type": "string"}}), None, T)
    with pytest.raises(ValidationFailedError, match="not a known class"):
        prepare_field_group(fg_body({}, ["https://ns.adobe.com/acme/classes/none"]), None, T)
    out = prepare_field_group(
        fg_body(
            {
                "tier": {"type": "integer", "minimum": 0, "maximum": 10},
                "home": {"$ref": "https://ns.adobe.com/xdm/common/address"},
            }
        ),
        None,
        T,
    )
    assert out["meta:abstract"] is True and out["meta:resourceType"] == "mixins"
    assert out["refs"] == ["https://ns.adobe.com/xdm/common/address"]
    tier = out["definitions"]["d"]["properties"]["_acme"]["properties"]["tier"]
    assert tier["meta:xdmType"] == "byte"


def test_class_rules_and_custom_class_schema() -> None:
    body = {
        "title": "Loyalty",
        "type": "object",
        "definitions": {
            "x": {"properties": {"_acme": {"type": "object", "properties": {"points": {"type": "integer"}}}}}
        },
        "allOf": [{"$ref": BEHAVIOR_RECORD}, {"$ref": "#/definitions/x"}],
    }
    cls = prepare_class(body, None, T)
    assert cls["meta:extends"] == [BEHAVIOR_RECORD] and cls["meta:abstract"] is True
    with pytest.raises(ValidationFailedError, match="exactly one behavior"):
        prepare_class({**body, "allOf": [{"$ref": "#/definitions/x"}]}, None, T)
    with pytest.raises(ValidationFailedError, match="exactly one behavior"):
        prepare_class({**body, "allOf": [{"$ref": PROFILE}, {"$ref": "#/definitions/x"}]}, None, T)
    tenant = {CLS: stored(CLS, cls)}
    out = compose_schema(schema(CLS), tenant, T)
    assert set(out["meta:extends"]) == {CLS, BEHAVIOR_RECORD}
    with pytest.raises(ValidationFailedError, match="not compatible"):
        compose_schema(schema(CLS, PERSON_DETAILS), tenant, T)


def test_adhoc_class_and_schema() -> None:
    body = {
        "title": "CSV",
        "type": "object",
        "allOf": [
            {"$ref": BEHAVIOR_ADHOC},
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
    cls = prepare_class(body, None, T, adhoc_guid=GUID)
    assert cls["meta:datasetNamespace"] == "_" + GUID
    assert "_" + GUID in cls["allOf"][1]["properties"] and "_adhoc" not in cls["allOf"][1]["properties"]
    tenant = {CLS: stored(CLS, cls)}
    out = compose_schema(schema(CLS), tenant, T)
    assert out["meta:datasetNamespace"] == "_" + GUID
    assert set(out["meta:extends"]) == {CLS, BEHAVIOR_ADHOC}
    full = resolve_body(out, tenant)
    assert set(full["properties"]["_" + GUID]["properties"]) == {"field1", "field2"}
    with pytest.raises(ValidationFailedError, match="guid"):
        prepare_class(body, None, T)


def test_data_type_rules() -> None:
    body = {
        "title": "Tier",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "addr": {"$ref": "https://ns.adobe.com/xdm/common/address"},
        },
    }
    out = prepare_data_type(body, None, T)
    assert out["meta:resourceType"] == "datatypes" and out["refs"] == [
        "https://ns.adobe.com/xdm/common/address"
    ]
    with pytest.raises(ValidationFailedError, match="must not start with '_'"):
        prepare_data_type({"type": "object", "properties": {"_x": {"type": "string"}}}, None, T)
    with pytest.raises(ValidationFailedError, match="intendedToExtend"):
        prepare_data_type({**body, "meta:intendedToExtend": [PROFILE]}, None, T)


def test_inline_schema_fields_must_use_namespace() -> None:
    body = schema(PROFILE)
    body["allOf"].append({"properties": {"_other": {"type": "string"}}})
    with pytest.raises(ValidationFailedError, match="_other"):
        compose_schema(body, None, T)


def test_refs_of_tenant_resources() -> None:
    addr = "https://ns.adobe.com/xdm/common/address"
    dt_body = {"title": "Geo+", "type": "object", "allOf": [{"$ref": addr}],
               "properties": {"floor": {"type": "integer", "maximum": 200, "minimum": 0}}}  # fmt: skip
    out = prepare_data_type(dt_body, None, T)
    assert out["refs"] == [addr]
    assert out["properties"]["floor"]["meta:xdmType"] == "short"
    full = resolve_body(out)
    assert {"floor", "street1", "_schema"} <= set(full["properties"])
    cls_body = {"title": "C", "type": "object",
                "definitions": {"x": {"properties": {"_acme": {"type": "object",
                                                               "properties": {"where": {"$ref": addr}}}}}},
                "allOf": [{"$ref": BEHAVIOR_TIME_SERIES}, {"$ref": "#/definitions/x"}]}  # fmt: skip
    cls = prepare_class(cls_body, None, T)
    assert cls["refs"] == [addr] and cls["meta:extends"] == [BEHAVIOR_TIME_SERIES]
