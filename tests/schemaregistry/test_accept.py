"""The Accept header matrix and the registry's error envelopes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.schemaregistry.srhelp import FULL, ID_LIST, PAYMENTS, PROFILE, SR, XED, XED_LIST, enc, xdm_error

LOOKUP_FORMATS = ("xed", "xed-notext", "xed-full", "xed-full-notext", "xed-full-desc", "xed-deprecatefield")


@pytest.fixture
def schema_id(api: Any) -> str:
    r = api.post(f"{SR}/tenant/schemas", json=PAYMENTS)
    assert r.status_code == 201, r.text
    return str(r.json()["$id"])


def test_list_formats(api: Any, schema_id: str) -> None:
    ids = api.get(f"{SR}/tenant/schemas", headers=ID_LIST).json()
    assert ids["results"] == [
        {
            "$id": schema_id,
            "meta:altId": ids["results"][0]["meta:altId"],
            "version": "1.0",
            "title": PAYMENTS["title"],
        }
    ]
    full = api.get(f"{SR}/tenant/schemas", headers=XED_LIST).json()
    assert full["results"][0]["allOf"][0]["$ref"] == PROFILE
    glob = api.get(f"{SR}/global/classes", headers=ID_LIST).json()
    assert PROFILE in {r["$id"] for r in glob["results"]}
    fgs = api.get(f"{SR}/global/fieldgroups", headers=ID_LIST).json()["results"]
    assert fgs == api.get(f"{SR}/global/mixins", headers=ID_LIST).json()["results"]
    assert "https://ns.adobe.com/xdm/context/profile-person-details" in {r["$id"] for r in fgs}


@pytest.mark.parametrize("fmt", LOOKUP_FORMATS)
def test_lookup_formats(api: Any, schema_id: str, fmt: str) -> None:
    r = api.get(
        f"{SR}/tenant/schemas/{enc(schema_id)}",
        headers={"Accept": f"application/vnd.adobe.{fmt}+json; version=1"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["$id"] == schema_id
    assert ("properties" in body) == ("full" in fmt or fmt == "xed-deprecatefield")
    if fmt == "xed-full-desc":
        assert body["meta:descriptors"] == []


def test_list_with_version_is_1006(api: Any) -> None:
    body = xdm_error(api.get(f"{SR}/tenant/schemas", headers=XED), "1006", 400)
    assert body["title"] == "Accept header invalid"
    assert "version" in body["detail"]


def test_lookup_without_version_is_1007(api: Any, schema_id: str) -> None:
    r = api.get(
        f"{SR}/tenant/schemas/{enc(schema_id)}", headers={"Accept": "application/vnd.adobe.xed-full+json"}
    )
    body = xdm_error(r, "1007", 400)
    assert "Version should be specified" in body["report"]["detailed-message"]
    assert body["report"]["sub-errors"] == []


def test_descriptor_endpoints_reject_xed(api: Any) -> None:
    xdm_error(api.get(f"{SR}/tenant/descriptors", headers=ID_LIST), "1008", 400)
    xdm_error(api.get(f"{SR}/tenant/descriptors/abc", headers=XED), "1009", 400)


@pytest.mark.parametrize(
    "accept",
    [
        "application/vnd.adobe.xed-bogus+json; version=1",
        "text/html",
        "application/vnd.adobe.xed-id+json; version=1",
    ],
)
def test_unknown_lookup_format_is_406(api: Any, schema_id: str, accept: str) -> None:
    r = api.get(f"{SR}/tenant/schemas/{enc(schema_id)}", headers={"Accept": accept})
    assert r.status_code == 406, r.text
    assert "XDM-" in r.json()["type"]


def test_missing_accept_is_406(api: Any, schema_id: str) -> None:
    for path in (f"{SR}/tenant/schemas", f"{SR}/tenant/schemas/{enc(schema_id)}"):
        r = api.get(path, headers={"Accept": "*/*"})
        assert r.status_code == 406, r.text
        assert "Accept header parameter is required" in r.json()["detail"]
    r = api.get(f"{SR}/tenant/schemas", headers={"Accept": "application/vnd.adobe.xed-full+json"})
    assert r.status_code == 406


def test_version_other_than_1_is_404(api: Any, schema_id: str) -> None:
    r = api.get(
        f"{SR}/tenant/schemas/{enc(schema_id)}",
        headers={"Accept": "application/vnd.adobe.xed+json; version=2"},
    )
    xdm_error(r, "1012", 404)


def test_unknown_resource_is_1012(api: Any) -> None:
    tenant = api.get(f"{SR}/stats").json()["tenantId"]
    missing = f"https://ns.adobe.com/{tenant}/schemas/{'0' * 32}"
    body = xdm_error(api.get(f"{SR}/tenant/schemas/{enc(missing)}", headers=FULL), "1012", 404)
    assert body["title"] == "Resource Not Found"
    assert missing in body["detail"] and "version 1" in body["detail"]
    xdm_error(api.get(f"{SR}/global/classes/_xdm.context.nothing", headers=XED), "1012", 404)
    # a profile class is not a field group
    xdm_error(api.get(f"{SR}/global/fieldgroups/{enc(PROFILE)}", headers=XED), "1012", 404)
    xdm_error(api.delete(f"{SR}/tenant/schemas/{enc(missing)}"), "1012", 404)
    xdm_error(api.get(f"{SR}/tenant/widgets", headers=ID_LIST), "1012", 404)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_global_is_read_only(api: Any, method: str) -> None:
    path = f"{SR}/global/classes" if method == "POST" else f"{SR}/global/classes/{enc(PROFILE)}"
    kw: dict[str, Any] = {} if method == "DELETE" else {"json": PAYMENTS if method != "PATCH" else []}
    r = api.request(method, path, **kw)
    body = xdm_error(r, "1000", 405)
    assert "read-only" in body["detail"]


def test_global_lookups_and_behaviors(api: Any) -> None:
    r = api.get(f"{SR}/global/classes/_xdm.context.profile", headers=FULL)
    assert r.status_code == 200 and "personID" in r.json()["properties"]
    beh = api.get(f"{SR}/global/behaviors", headers=ID_LIST).json()["results"]
    assert {b["$id"].rsplit("/", 1)[1] for b in beh} == {"record", "time-series", "adhoc"}
    one = api.get(f"{SR}/global/behaviors/_xdm.data.time-series", headers=FULL)
    assert one.status_code == 200 and "timestamp" in one.json()["properties"]


def test_post_without_accept_and_bad_bodies(api: Any) -> None:
    r = api.post(f"{SR}/tenant/schemas", json=[1, 2])
    assert r.status_code == 400 and "XDM-" in r.json()["type"]
    r = api.post(f"{SR}/tenant/schemas", json={"allOf": [{"$ref": PROFILE}]})
    assert r.status_code == 400 and "title" in r.json()["detail"]
    r = api.post(f"{SR}/tenant/schemas", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.get(f"{SR}/tenant/schemas?bogus=1", headers=ID_LIST)
    assert r.status_code == 400 and "bogus" in r.json()["detail"]
