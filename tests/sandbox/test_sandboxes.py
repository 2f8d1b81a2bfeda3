from __future__ import annotations

from tests.conftest import Api

SANDBOXES = "/data/foundation/sandbox-management/sandboxes"


def test_sandbox_lifecycle(api_both: Api) -> None:
    api = api_both
    r = api.post(SANDBOXES, json={"name": "dev", "title": "Development", "type": "development"})
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "active"
    names = [s["name"] for s in api.get(SANDBOXES).json()["sandboxes"]]
    assert names == ["dev", "prod"]
    assert api.get(SANDBOXES + "/dev").json()["title"] == "Development"
    # requests may now target the sandbox
    assert api.get(SANDBOXES, headers={"x-sandbox-name": "dev"}).status_code == 200
    assert api.post(SANDBOXES, json={"name": "dev"}).status_code == 409
    assert api.delete(SANDBOXES + "/dev").json()["state"] == "deleted"
    assert api.get(SANDBOXES, headers={"x-sandbox-name": "dev"}).status_code == 404
    assert api.delete(SANDBOXES + "/prod").status_code == 400


def test_bad_sandbox_names_are_rejected(api: Api) -> None:
    for bad in ["", "Has Space", "UPPER", "x" * 70, None]:
        r = api.post(SANDBOXES, json={"name": bad})
        assert r.status_code == 400, bad


def test_sandboxes_are_per_org(api: Api) -> None:
    api.post(SANDBOXES, json={"name": "secret-dev"})
    other = api.as_other("OTHERORG000000000000000@AdobeOrg")
    names = [s["name"] for s in other.get(SANDBOXES).json()["sandboxes"]]
    assert names == ["prod"]
    assert other.get(SANDBOXES + "/secret-dev").status_code == 404
    assert other.get(SANDBOXES, headers={"x-sandbox-name": "secret-dev"}).status_code == 404


def test_sandbox_paging(api: Api) -> None:
    for i in range(5):
        api.post(SANDBOXES, json={"name": f"sb{i}"})
    first = api.get(SANDBOXES + "?limit=4").json()
    assert len(first["sandboxes"]) == 4
    nxt = first["_links"]["next"]["href"]
    second = api.get(nxt).json()
    assert len(second["sandboxes"]) == 2
