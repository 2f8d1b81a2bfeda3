"""List paging, ordering and property filters; stats; isolation across orgs and sandboxes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.schemaregistry.srhelp import (
    EE,
    ID_LIST,
    PAYMENTS,
    PROFILE,
    SR,
    XED,
    XED_LIST,
    enc,
    fg_body,
    schema_body,
    tenant_of,
)


def test_paging_over_pages(api: Any) -> None:
    titles = [f"Schema {c}" for c in "GBEAFCD"]
    for t in titles:
        assert api.post(f"{SR}/tenant/schemas", json=schema_body(t, PROFILE)).status_code == 201
    seen: list[str] = []
    url = f"{SR}/tenant/schemas?orderby=title&limit=3"
    pages = 0
    while url:
        r = api.get(url, headers=ID_LIST)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        assert body["_page"]["count"] == len(body["results"]) <= 3
        seen += [x["title"] for x in body["results"]]
        nxt = body["_links"]["next"]
        if nxt is None:
            assert body["_page"]["next"] is None
            break
        assert body["_page"]["next"] == body["results"][-1]["title"]
        parts = urlsplit(nxt["href"])
        url = f"{parts.path}?{parts.query}"
    assert pages == 3 and seen == sorted(titles)
    desc = api.get(f"{SR}/tenant/schemas?orderby=-title&limit=2", headers=ID_LIST).json()
    assert [x["title"] for x in desc["results"]] == ["Schema G", "Schema F"]
    after = api.get(f"{SR}/tenant/schemas?orderby=-title&start=Schema%20C", headers=ID_LIST).json()
    assert [x["title"] for x in after["results"]] == ["Schema B", "Schema A"]
    assert api.get(f"{SR}/tenant/schemas?limit=x", headers=ID_LIST).status_code == 400


def test_property_filters(api: Any) -> None:
    tenant = tenant_of(api)
    api.post(f"{SR}/tenant/fieldgroups", json=fg_body("For profiles", tenant, {"a": {"type": "string"}}))
    api.post(f"{SR}/tenant/fieldgroups", json=fg_body("For events", tenant, {"b": {"type": "string"}}, [EE]))

    def titles(query: str, container: str = "tenant") -> list[str]:
        r = api.get(f"{SR}/{container}/fieldgroups?{query}", headers=ID_LIST)
        assert r.status_code == 200, r.text
        return [x["title"] for x in r.json()["results"]]

    assert titles(f"property=meta:intendedToExtend=={PROFILE}") == ["For profiles"]
    assert titles(f"property=meta:intendedToExtend!={PROFILE}") == ["For events"]
    assert titles("property=title~^For%20e") == ["For events"]
    assert titles("property=title~events$&property=meta:intendedToExtend") == ["For events"]
    assert titles("property=nothing") == []
    assert titles("property=version>=1.0") == ["For events", "For profiles"]
    assert "Commerce Details" in titles(f"property=meta:intendedToExtend=={EE}", "global")
    r = api.get(f"{SR}/tenant/fieldgroups?property=title~(", headers=ID_LIST)
    assert r.status_code == 400 and "regular expression" in r.json()["detail"]
    assert api.get(f"{SR}/tenant/fieldgroups?property===x", headers=ID_LIST).status_code == 400


def test_stats(api: Any) -> None:
    tenant = tenant_of(api)
    r = api.post(f"{SR}/tenant/schemas", json=PAYMENTS)
    st = api.get(f"{SR}/stats").json()
    assert st["tenantId"] == tenant and st["imsOrg"] == api.creds["org_id"]
    assert st["counts"] == {"schemas": 1, "mixins": 0, "datatypes": 0, "classes": 0, "unions": 0}
    assert st["recentlyCreatedResources"][0]["$id"] == r.json()["$id"]
    assert st["classUsage"][PROFILE][0]["title"] == PAYMENTS["title"]


def test_isolation_across_orgs_and_sandboxes(api_both: Any) -> None:
    api = api_both
    r = api.post(f"{SR}/tenant/schemas", json=PAYMENTS)
    assert r.status_code == 201, r.text
    sch = r.json()
    d = api.post(
        f"{SR}/tenant/descriptors",
        json={
            "@type": "xdm:descriptorIdentity",
            "xdm:sourceSchema": sch["$id"],
            "xdm:sourceProperty": "/personalEmail/address",
            "xdm:namespace": "Email",
            "xdm:isPrimary": True,
        },
    )
    assert d.status_code == 201, d.text
    did = d.json()["@id"]
    assert api.post(
        "/data/foundation/sandbox-management/sandboxes",
        json={"name": "dev", "title": "Dev", "type": "development"},
    ).status_code in (200, 201, 202)
    dev = api.as_other(api.creds["org_id"], "dev")
    other = api.as_other("0123456789ABCDEF01234567@AdobeOrg")
    for who in (dev, other):
        for ident in (sch["$id"], sch["meta:altId"]):
            r = who.get(f"{SR}/tenant/schemas/{enc(ident)}", headers=XED)
            assert r.status_code == 404 and r.json()["type"].endswith("XDM-1012-404"), r.text
        assert who.get(f"{SR}/tenant/schemas", headers=ID_LIST).json()["results"] == []
        assert who.get(f"{SR}/tenant/schemas", headers=XED_LIST).json()["results"] == []
        assert who.delete(f"{SR}/tenant/schemas/{enc(sch['$id'])}").status_code == 404
        assert who.patch(f"{SR}/tenant/schemas/{enc(sch['$id'])}", json=[]).status_code in (400, 404)
        assert who.get(f"{SR}/tenant/descriptors/{did}").status_code == 404
        assert (
            who.get(
                f"{SR}/tenant/descriptors", headers={"Accept": "application/vnd.adobe.xdm-id+json"}
            ).json()
            == {}
        )
        assert who.get(f"{SR}/stats").json()["counts"]["schemas"] == 0
        # the same title is free in another sandbox / org
        assert who.post(f"{SR}/tenant/schemas", json=PAYMENTS).status_code == 201
    assert other.get(f"{SR}/stats").json()["tenantId"] != api.get(f"{SR}/stats").json()["tenantId"]
    assert len(api.get(f"{SR}/tenant/schemas", headers=ID_LIST).json()["results"]) == 1
