"""Catalog datasets over real HTTP: create (with the table), read, list, update, delete, isolation."""

from __future__ import annotations

from typing import Any

from tests.catalog.cathelp import CATALOG, XED, adhoc_schema, create_dataset, profile_schema
from xdmflow.lake.lake import namespace_for


def _ns(api: Any) -> str:
    return namespace_for(api.creds["org_id"], "prod")


def test_tutorial_create_request_and_response(api_both: Any) -> None:
    api = api_both
    schema_id = profile_schema(api)
    r = api.post(
        f"{CATALOG}/dataSets?requestDataSource=true",
        json={
            "name": "Target dataset for payments",
            "schemaRef": {
                "id": schema_id,
                "contentType": "application/vnd.adobe.xed-full-notext+json; version=1",
            },
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body, list) and len(body) == 1 and body[0].startswith("@/dataSets/")
    ds_id = body[0].split("/")[-1]
    assert len(ds_id) == 24 and int(ds_id, 16) >= 0
    assert r.headers["Location"].endswith(f"/data/foundation/catalog/dataSets/{ds_id}")
    # the table exists, in the XDM shape of the schema
    assert api.ctx.lake.table_exists(_ns(api), ds_id)
    assert "person" in api.ctx.lake.write_schema(_ns(api), ds_id).names

    got = api.get(f"{CATALOG}/dataSets/{ds_id}").json()
    assert list(got) == [ds_id]
    ds = got[ds_id]
    assert ds["name"] == "Target dataset for payments"
    assert ds["schemaRef"]["id"] == schema_id
    assert ds["version"] == "1.0.0"
    assert ds["files"] == f"@/dataSetFiles?dataSetId={ds_id}"
    assert ds["imsOrg"] == api.creds["org_id"]
    assert ds["createdClient"] == api.creds["client_id"]
    assert ds["createdUser"].endswith("@AdobeID") and ds["updatedUser"] == ds["createdUser"]
    assert ds["created"] == ds["updated"] and isinstance(ds["created"], int)
    assert len(ds["viewId"]) == 24 and "dataSourceId" in ds
    assert "_xdmflow" not in ds


def test_create_rejects_bad_bodies(api: Any) -> None:
    schema_id = profile_schema(api)
    missing = "https://ns.adobe.com/nobody/schemas/" + "0" * 32
    r = api.post(f"{CATALOG}/dataSets", json={"name": "x", "schemaRef": {"id": missing, "contentType": XED}})
    assert r.status_code == 400 and missing in r.json()["detail"]
    assert r.headers["content-type"].startswith("application/problem+json")
    for body, word in [
        ({"schemaRef": {"id": schema_id}}, "name"),
        ({"name": "x"}, "schemaRef"),
        ({"name": "x", "schemaRef": "nope"}, "schemaRef"),
        ({"name": "x", "schemaRef": {"id": schema_id}, "tags": {"a": "b"}}, "tags"),
        ({"name": "x", "schemaRef": {"id": schema_id}, "version": "9.9.9"}, "version"),
        ([1, 2], "object"),
    ]:
        r = api.post(f"{CATALOG}/dataSets", json=body)
        assert r.status_code == 400, (body, r.text)
        assert word in r.json()["detail"], r.text
    r = api.post(f"{CATALOG}/dataSets?bogus=1", json={"name": "x", "schemaRef": {"id": schema_id}})
    assert r.status_code == 400 and "bogus" in r.json()["detail"]
    assert api.get(f"{CATALOG}/dataSets").json() == {}


def test_list_properties_paging_order_filters(api: Any) -> None:
    schema_id, _ = adhoc_schema(api, {"a": {"type": "string"}})
    ids = {}
    for name in ["delta", "alpha", "charlie", "bravo", "echo"]:
        ids[name] = create_dataset(
            api,
            schema_id,
            name=name,
            description=f"about {name}",
            tags={"team": [name[0]]},
            enableErrorDiagnostics=name in ("alpha", "echo"),
        )
    out = api.get(f"{CATALOG}/dataSets?properties=name,description").json()
    assert set(out) == set(ids.values())
    assert out[ids["alpha"]] == {"name": "alpha", "description": "about alpha"}

    names = lambda r: [v["name"] for v in r.json().values()]  # noqa: E731
    assert names(api.get(f"{CATALOG}/dataSets?orderBy=asc:name")) == [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
    ]
    assert names(api.get(f"{CATALOG}/dataSets?orderBy=desc:name&limit=2")) == ["echo", "delta"]
    assert names(api.get(f"{CATALOG}/dataSets?orderBy=name&start=1&limit=2")) == ["bravo", "charlie"]
    assert names(api.get(f"{CATALOG}/dataSets?orderBy=desc:created&limit=1")) == ["echo"]
    assert len(api.get(f"{CATALOG}/dataSets?limit=3").json()) == 3
    assert len(api.get(f"{CATALOG}/dataSets").json()) == 5  # default 20

    assert sorted(names(api.get(f"{CATALOG}/dataSets?name=alpha,echo"))) == ["alpha", "echo"]
    assert sorted(names(api.get(f"{CATALOG}/dataSets?name=!alpha,echo"))) == ["bravo", "charlie", "delta"]
    assert sorted(names(api.get(f"{CATALOG}/dataSets?enableErrorDiagnostics=true"))) == ["alpha", "echo"]
    assert names(api.get(f"{CATALOG}/dataSets?tags=team:c")) == ["charlie"]
    assert sorted(names(api.get(f"{CATALOG}/dataSets?property=name~^[ab]"))) == ["alpha", "bravo"]
    assert names(api.get(f"{CATALOG}/dataSets?property=name==ch*")) == ["charlie"]
    assert len(api.get(f"{CATALOG}/dataSets?property=lastBatchId").json()) == 0
    assert len(api.get(f"{CATALOG}/dataSets?property=!lastBatchId").json()) == 5
    assert len(api.get(f"{CATALOG}/dataSets?property=version>=1.0.0&property=name!=echo").json()) == 4

    for bad in ["limit=0", "limit=101", "limit=x", "start=-1", "orderBy=up:name", "property=", "nope=1"]:
        r = api.get(f"{CATALOG}/dataSets?{bad}")
        assert r.status_code == 400, (bad, r.text)


def test_get_with_properties_and_not_found(api: Any) -> None:
    ds_id = create_dataset(api, profile_schema(api), tags={"adobe/pqs/table": ["sample_dataset"]})
    out = api.get(f"{CATALOG}/dataSets/{ds_id}?properties=name,description,tags,files").json()
    assert out == {
        ds_id: {
            "name": "Target dataset for payments",
            "description": "",
            "tags": {"adobe/pqs/table": ["sample_dataset"]},
            "files": f"@/dataSetFiles?dataSetId={ds_id}",
        }
    }
    r = api.get(f"{CATALOG}/dataSets/{'a' * 24}")
    assert r.status_code == 404 and r.json()["status"] == 404


def test_put_patch_version_and_if_match(api_both: Any) -> None:
    api = api_both
    ds_id = create_dataset(api, profile_schema(api))
    url = f"{CATALOG}/dataSets/{ds_id}"

    def current() -> dict[str, Any]:
        got: dict[str, Any] = api.get(url).json()[ds_id]
        return got

    r = api.patch(url, json={"description": "patched"})
    assert r.status_code == 200 and r.json() == [f"@/dataSets/{ds_id}"]
    assert current()["description"] == "patched" and current()["version"] == "1.0.1"

    r = api.patch(
        url,
        json=[{"op": "add", "path": "/tags/unifiedProfile", "value": ["enabled:true"]}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert current()["tags"] == {"unifiedProfile": ["enabled:true"]} and current()["version"] == "1.0.2"

    full = current()
    full["name"] = "renamed"
    r = api.put(url, json=full, headers={"If-Match": "1.0.2"})
    assert r.status_code == 200, r.text
    after = current()
    assert after["name"] == "renamed" and after["version"] == "1.0.3" and after["created"] == full["created"]
    assert after["updated"] >= full["updated"]

    r = api.patch(url, json={"description": "late"}, headers={"If-Match": "1.0.2"})
    assert r.status_code == 412
    assert current()["description"] == "patched"

    for body in [
        {"version": "5.0.0"},
        {"schemaRef": {"id": "https://ns.adobe.com/x/schemas/1"}},
        {"name": ""},
    ]:
        r = api.patch(url, json=body)
        assert r.status_code == 400, (body, r.text)
    r = api.patch(
        url,
        json=[{"op": "remove", "path": "/imsOrg"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert r.status_code == 400
    assert current()["version"] == "1.0.3"
    assert api.patch(f"{CATALOG}/dataSets/{'b' * 24}", json={"description": "x"}).status_code == 404


def test_delete_drops_table(api_both: Any) -> None:
    api = api_both
    ds_id = create_dataset(api, profile_schema(api))
    assert api.ctx.lake.table_exists(_ns(api), ds_id)
    r = api.delete(f"{CATALOG}/dataSets/{ds_id}")
    assert r.status_code == 200 and r.json() == [f"@/dataSets/{ds_id}"]
    assert not api.ctx.lake.table_exists(_ns(api), ds_id)
    assert api.get(f"{CATALOG}/dataSets/{ds_id}").status_code == 404
    assert api.delete(f"{CATALOG}/dataSets/{ds_id}").status_code == 404


def test_org_and_sandbox_isolation(api: Any) -> None:
    ds_id = create_dataset(api, profile_schema(api))
    other = api.as_other("OTHERORG0000000000000000@AdobeOrg")
    assert other.get(f"{CATALOG}/dataSets").json() == {}
    assert other.get(f"{CATALOG}/dataSets/{ds_id}").status_code == 404
    assert other.patch(f"{CATALOG}/dataSets/{ds_id}", json={"description": "x"}).status_code == 404
    assert other.delete(f"{CATALOG}/dataSets/{ds_id}").status_code == 404
    # the other org cannot use this org's schema either
    schema_id = api.get(f"{CATALOG}/dataSets/{ds_id}").json()[ds_id]["schemaRef"]["id"]
    r = other.post(f"{CATALOG}/dataSets", json={"name": "steal", "schemaRef": {"id": schema_id}})
    assert r.status_code == 400
    assert api.get(f"{CATALOG}/dataSets/{ds_id}").status_code == 200
