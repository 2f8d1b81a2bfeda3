"""Malformed bodies are 4xx in the XDM envelope, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.schemaregistry.srhelp import PAYMENTS, PROFILE, RECORD, SR, enc

BAD_BODIES: list[Any] = [
    {},
    {"title": ""},
    {"title": "x" * 600},
    {"title": "a\x00b"},
    {"title": "T", "type": "string"},
    {"title": "T", "allOf": "nope"},
    {"title": "T", "allOf": [1, 2]},
    {"title": "T", "allOf": [{"$ref": 5}]},
    {"title": "T", "allOf": [{"$ref": "#/definitions/missing"}]},
    {"title": "T", "properties": "abc"},
    {"title": "T", "properties": {"a": "abc"}},
    {"title": "T", "properties": {"a": {"type": "weird"}}},
    {"title": "T", "properties": {"a": {"type": "object", "properties": []}}},
    {"title": "T", "definitions": {"d": 5}, "allOf": [{"$ref": "#/definitions/d"}]},
    {
        "title": "T",
        "definitions": {"d": {"properties": {"_x": {"properties": 7}}}},
        "allOf": [{"$ref": RECORD}],
    },
    {"title": "T", "meta:intendedToExtend": "x"},
    {"title": "T", "meta:intendedToExtend": [PROFILE], "allOf": [{"$ref": RECORD}, {"properties": None}]},
    {"title": "T", "meta:immutableTags": "union"},
    {"title": "T", "description": 5},
    {"title": "T", "allOf": [{"$ref": RECORD}, {"$ref": PROFILE}]},
    {
        "title": "T",
        "properties": {
            "a": {"type": "object", "meta:xdmType": "map", "properties": {"b": {"type": "string"}}}
        },
    },
]


@pytest.mark.parametrize("rtype", ["schemas", "classes", "fieldgroups", "datatypes"])
def test_bad_create_bodies(api: Any, rtype: str) -> None:
    for body in BAD_BODIES:
        r = api.post(f"{SR}/tenant/{rtype}", json=body)
        assert 400 <= r.status_code < 500, (body, r.text)
        assert "/XDM-" in r.json()["type"], r.text


def test_bad_patch_shapes(api: Any) -> None:
    sid = api.post(f"{SR}/tenant/schemas", json=PAYMENTS).json()["$id"]
    path = f"{SR}/tenant/schemas/{enc(sid)}"
    for ops in (
        [{"op": "replace", "path": "/allOf", "value": {"a": 1}}],
        [{"op": "add", "path": "/allOf/-", "value": "x"}],
        [{"op": "add", "path": "/properties", "value": {"x": {"type": "string"}}}],
        [{"op": "replace", "path": "", "value": []}],
        [{"op": "move", "from": "/allOf", "path": "/title"}],
    ):
        r = api.patch(path, json=ops)
        assert 400 <= r.status_code < 500, (ops, r.text)
    # computed keys are recomputed, whatever a patch writes into them
    r = api.patch(path, json=[{"op": "replace", "path": "/meta:extends", "value": "x"}])
    assert r.status_code == 200 and PROFILE in r.json()["meta:extends"]


def test_bad_descriptor_bodies(api: Any) -> None:
    sid = api.post(f"{SR}/tenant/schemas", json=PAYMENTS).json()["$id"]
    base = {"@type": "xdm:descriptorIdentity", "xdm:sourceSchema": sid, "xdm:namespace": "Email"}
    body: Any
    for body in (
        [],
        {"@type": "xdm:descriptorIdentity"},
        {**base, "xdm:sourceSchema": {"a": 1}},
        {**base, "xdm:sourceProperty": 5},
        {**base, "xdm:sourceProperty": "/"},
        {**base, "xdm:sourceProperty": "/personalEmail/address", "xdm:sourceVersion": 2},
        {**base, "xdm:sourceProperty": "/personalEmail/address", "xdm:property": "x"},
        {**base, "@type": "xdm:descriptorOneToOne", "xdm:destinationSchema": "nope"},
        {**base, "@type": "xdm:descriptorPrimaryKey", "xdm:sourceProperty": [5]},
        {**base, "@type": "xdm:alternateDisplayInfo", "xdm:sourceProperty": "/personID", "xdm:title": "x"},
        {**base, "@type": "xdm:descriptorReferenceIdentity", "xdm:sourceProperty": "/personID"},
    ):
        r = api.post(f"{SR}/tenant/descriptors", json=body)
        assert 400 <= r.status_code < 500, (body, r.text)
    assert api.put(f"{SR}/tenant/descriptors/nope", json=base).status_code == 404
    assert api.delete(f"{SR}/tenant/descriptors/nope").status_code == 404
