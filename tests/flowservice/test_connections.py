"""Base connections: validation, secrets at rest, If-Match, isolation, explore."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Api

FS = "/data/foundation/flowservice"
LOCAL = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"
PG = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
SECRET = "postgresql://postgres:VerySecretPassw0rd@127.0.0.1:5432/test"


def local_conn(api: Api, root: Path, name: str = "files") -> str:
    r = api.post(
        f"{FS}/connections",
        json={
            "name": name,
            "auth": {"specName": "Local Folder", "params": {"rootPath": str(root)}},
            "connectionSpec": {"id": LOCAL, "version": "1.0"},
        },
    )
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith(r.json()["id"])
    return str(r.json()["id"])


def pg_conn(api: Api) -> dict:
    r = api.post(
        f"{FS}/connections",
        json={
            "name": "pg",
            "auth": {
                "specName": "Connection String Based Authentication",
                "params": {"connectionString": SECRET},
            },
            "connectionSpec": {"id": PG, "version": "1.0"},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_create_get_and_list(api: Api, tmp_path: Path) -> None:
    cid = local_conn(api, tmp_path)
    got = api.get(f"{FS}/connections/{cid}").json()["items"][0]
    assert got["id"] == cid and got["state"] == "enabled"
    assert got["connectionSpec"] == {"id": LOCAL, "version": "1.0"}
    assert got["auth"] == {"specName": "Local Folder", "params": {"rootPath": str(tmp_path)}}
    assert got["imsOrgId"] == api.creds["org_id"] and got["sandboxName"] == "prod"
    assert isinstance(got["createdAt"], int) and got["etag"].startswith('"')
    listed = api.get(f"{FS}/connections?property=connectionSpec.id=={LOCAL}").json()
    assert [c["id"] for c in listed["items"]] == [cid]


def test_secrets_are_encrypted_and_never_returned(api: Api) -> None:
    out = pg_conn(api)
    cid = out["id"]
    for r in (api.get(f"{FS}/connections/{cid}"), api.get(f"{FS}/connections")):
        assert "VerySecretPassw0rd" not in r.text
    got = api.get(f"{FS}/connections/{cid}").json()["items"][0]
    assert "connectionString" not in got["auth"]["params"]
    # at rest: the database file holds no clear-text secret
    from sqlalchemy import text

    with api.ctx.db.engine.connect() as conn:
        rows = conn.execute(text("select body, secret from documents where kind='connection'")).all()
    for body, secret in rows:
        assert "VerySecretPassw0rd" not in str(body) and "VerySecretPassw0rd" not in str(secret)
    # a validation error on a secret field does not echo it
    r = api.post(
        f"{FS}/connections",
        json={
            "name": "x",
            "auth": {
                "specName": "Connection String Based Authentication",
                "params": {"connectionString": 12345678},
            },
            "connectionSpec": {"id": PG},
        },
    )
    assert r.status_code == 400 and "12345678" not in r.text


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "connectionSpec": {"id": "00000000-0000-0000-0000-000000000000"}}, "1413"),
        ({"name": "x", "auth": {"specName": "Nope", "params": {}}, "connectionSpec": {"id": LOCAL}}, "1415"),
        (
            {
                "name": "x",
                "auth": {"specName": "Local Folder", "params": {}},
                "connectionSpec": {"id": LOCAL},
            },
            None,
        ),
        (
            {
                "name": "x",
                "state": "enabled",
                "auth": {"specName": "Local Folder", "params": {"rootPath": "/"}},
                "connectionSpec": {"id": LOCAL},
            },
            "1410",
        ),
        (
            {
                "auth": {"specName": "Local Folder", "params": {"rootPath": "/"}},
                "connectionSpec": {"id": LOCAL},
            },
            None,
        ),
    ],
)
def test_bad_connection_bodies(api: Api, body: dict, code: str | None) -> None:
    r = api.post(f"{FS}/connections", json=body)
    assert r.status_code == 400, r.text
    if code:
        assert r.json()["type"].endswith(f"FLOW-{code}-400")


def test_missing_root_path_names_the_field(api: Api) -> None:
    r = api.post(
        f"{FS}/connections",
        json={
            "name": "x",
            "auth": {"specName": "Local Folder", "params": {}},
            "connectionSpec": {"id": LOCAL},
        },
    )
    assert "auth.params.rootPath" in r.json()["report"]["detailed-message"]


def test_patch_needs_if_match_and_checks_it(api: Api, tmp_path: Path) -> None:
    cid = local_conn(api, tmp_path)
    etag = api.get(f"{FS}/connections/{cid}").json()["items"][0]["etag"]
    ops = [{"op": "replace", "path": "/name", "value": "renamed"}]
    r = api.patch(f"{FS}/connections/{cid}", json=ops)
    assert r.status_code == 400 and r.json()["type"].endswith("FLOW-1403-400")
    r = api.patch(f"{FS}/connections/{cid}", json=ops, headers={"If-Match": '"stale"'})
    assert r.status_code == 412 and r.json()["type"].endswith("FLOW-1404-412")
    r = api.patch(f"{FS}/connections/{cid}", json=ops, headers={"If-Match": etag})
    assert r.status_code == 200, r.text
    new_etag = r.json()["etag"]
    assert new_etag != etag
    assert api.get(f"{FS}/connections/{cid}").json()["items"][0]["name"] == "renamed"
    # the old etag is now stale
    r = api.patch(f"{FS}/connections/{cid}", json=ops, headers={"If-Match": etag})
    assert r.status_code == 412
    # the spec cannot change
    r = api.patch(
        f"{FS}/connections/{cid}",
        json=[{"op": "replace", "path": "/connectionSpec/id", "value": PG}],
        headers={"If-Match": new_etag},
    )
    assert r.json()["type"].endswith("FLOW-1414-400")
    r = api.patch(
        f"{FS}/connections/{cid}",
        json=[{"op": "move", "from": "/name", "path": "/n"}],
        headers={"If-Match": new_etag},
    )
    assert r.json()["type"].endswith("FLOW-1434-400")


def test_patching_secret_keeps_it_encrypted(api: Api) -> None:
    cid = pg_conn(api)["id"]
    etag = api.get(f"{FS}/connections/{cid}").json()["items"][0]["etag"]
    new = SECRET.replace("VerySecretPassw0rd", "AnotherSecret99")
    r = api.patch(
        f"{FS}/connections/{cid}",
        json=[{"op": "replace", "path": "/auth/params", "value": {"connectionString": new}}],
        headers={"If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert "AnotherSecret99" not in api.get(f"{FS}/connections/{cid}").text
    from xdmflow.services.connections import auth_params
    from xdmflow.services.document_stores import CONNECTIONS
    from xdmflow.store.documents import Scope

    with api.ctx.db.session() as s:
        doc = CONNECTIONS.get(s, Scope(api.creds["org_id"], "prod"), cid)
        assert auth_params(doc, api.ctx.keys)["connectionString"] == new


def test_isolation_between_orgs_and_sandboxes(api_both: Api, tmp_path: Path) -> None:
    api = api_both
    cid = local_conn(api, tmp_path)
    etag = api.get(f"{FS}/connections/{cid}").json()["items"][0]["etag"]
    other = api.as_other("OTHERORG000000000000000@AdobeOrg")
    api.post("/data/foundation/sandbox-management/sandboxes", json={"name": "dev"})
    dev = {"x-sandbox-name": "dev"}
    ops = [{"op": "replace", "path": "/name", "value": "hijacked"}]
    for caller, extra in ((other, {}), (api, dev)):
        assert caller.get(f"{FS}/connections/{cid}", headers=extra).status_code == 404
        assert caller.get(f"{FS}/connections", headers=extra).json()["items"] == []
        assert caller.get(f"{FS}/connections?property=id=={cid}", headers=extra).json()["items"] == []
        r = caller.patch(f"{FS}/connections/{cid}", json=ops, headers={**extra, "If-Match": etag})
        assert r.status_code == 404
        assert caller.delete(f"{FS}/connections/{cid}", headers=extra).status_code == 404
        assert caller.get(f"{FS}/connections/{cid}/explore?objectType=root", headers=extra).status_code == 404
    assert api.get(f"{FS}/connections/{cid}").json()["items"][0]["name"] == "files"


def test_delete_connection(api: Api, tmp_path: Path) -> None:
    cid = local_conn(api, tmp_path)
    assert api.delete(f"{FS}/connections/{cid}").status_code == 204
    r = api.get(f"{FS}/connections/{cid}")
    assert r.status_code == 404 and r.json()["type"].endswith("-404")


def test_list_paging_and_count(api: Api, tmp_path: Path) -> None:
    ids = [local_conn(api, tmp_path, name=f"c{i}") for i in range(5)]
    page = api.get(f"{FS}/connections?limit=2&orderby=name").json()
    seen = [c["id"] for c in page["items"]]
    while "next" in page["_links"]:
        page = api.get(page["_links"]["next"]["href"]).json()
        seen += [c["id"] for c in page["items"]]
    assert seen == ids
    assert api.get(f"{FS}/connections?count=true").json() == {"count": 5}
    r = api.get(f"{FS}/connections?count=true&limit=2")
    assert r.json()["type"].endswith("FLOW-1401-400")
    r = api.get(f"{FS}/connections?property=name~c")
    assert r.json()["type"].endswith("FLOW-1440-400")
    r = api.get(f"{FS}/connections?colour=red")
    assert r.json()["type"].endswith("FLOW-1451-400")


def test_connection_specs(api: Api) -> None:
    specs = api.get(f"{FS}/connectionSpecs").json()["items"]
    ids = {s["id"] for s in specs}
    assert {LOCAL, PG, "c604ff05-7f1a-43c0-8e18-33bf874cb11c"} <= ids
    one = api.get(f"{FS}/connectionSpecs?property=name==PostgreSQL").json()["items"]
    assert [s["id"] for s in one] == [PG]
    assert api.get(f"{FS}/connectionSpecs/{PG}").json()["items"][0]["authSpec"]
    assert api.get(f"{FS}/connectionSpecs/nope").status_code == 404


def test_explore_local_files(api: Api, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "people.csv").write_text("id,name\n1,Ann\n2,Bo\n")
    cid = local_conn(api, tmp_path)
    root = api.get(f"{FS}/connections/{cid}/explore?objectType=root").json()
    assert isinstance(root, list) and any(i["name"] == "sub" and i["type"] == "folder" for i in root)
    folder = api.get(f"{FS}/connections/{cid}/explore?objectType=folder&object=sub").json()
    assert [i["name"] for i in folder] == ["people.csv"]
    desc = api.get(
        f"{FS}/connections/{cid}/explore?objectType=FILE&object=sub/people.csv&fileType=delimited&preview=true"
    ).json()
    assert [c["name"] for c in desc["schema"]["columns"]] == ["id", "name"]
    assert len(desc["data"]) == 2
    bad = api.get(f"{FS}/connections/{cid}/explore?objectType=galaxy")
    assert bad.status_code == 400
