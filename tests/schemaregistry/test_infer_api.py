"""``POST /xdmflow/v1/infer``: a proposal for a file of a connection; mappings onto a chosen schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import Api
from tests.flowservice.conftest import FS, LOCAL, SR, ok

INFER = "/xdmflow/v1/infer"


def _connection(api: Api, root: Path) -> str:
    body = {
        "name": "files",
        "auth": {"specName": "Local Folder", "params": {"rootPath": str(root)}},
        "connectionSpec": {"id": LOCAL, "version": "1.0"},
    }
    return str(ok(api.post(f"{FS}/connections", json=body))["id"])


def test_proposal_and_mapping_onto_a_standard_class(api: Api, tmp_path: Path) -> None:
    data = tmp_path / "people.csv"
    rows = [f"{i},p{i}@example.com,Ann{i},2026-01-{i % 28 + 1:02d} 10:00:00,x{i}" for i in range(30)]
    data.write_text("id,email,firstName,seen,extra\n" + "\n".join(rows) + "\n")
    conn = _connection(api, tmp_path)
    prop = ok(api.post(INFER, json={"connectionId": conn, "object": "people.csv", "title": "people"}))
    types = {f["source"]: f["type"] for f in prop["fields"]}
    assert types == {
        "id": "long",
        "email": "string",
        "firstName": "string",
        "seen": "date-time",
        "extra": "string",
    }
    assert prop["adhoc"]["class"]["allOf"][0] == {"$ref": "https://ns.adobe.com/xdm/data/adhoc"}
    assert "mappings" not in prop

    # a standard class with field groups: columns land on fields with the same last name
    schema = ok(
        api.post(
            f"{SR}/tenant/schemas",
            json={
                "title": "people profile",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/context/profile"},
                    {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                ],
            },
        )
    )
    got: dict[str, Any] = ok(
        api.post(INFER, json={"connectionId": conn, "object": "people.csv", "schemaId": schema["$id"]})
    )
    dest = {m["source"]: m["destination"] for m in got["mappings"]}
    assert dest["firstName"] == "person.name.firstName"
    assert "extra" in got["unmapped"]


def test_bad_requests_are_4xx_in_the_error_format(api: Api, tmp_path: Path) -> None:
    r = api.post(INFER, json={"connectionId": "x", "object": "a.csv", "surprise": 1})
    assert r.status_code == 400, r.text
    r = api.post(INFER, json={"connectionId": "0" * 32, "object": "a.csv"})
    assert r.status_code == 404 and r.json()["status"] == 404, r.text
    conn = _connection(api, tmp_path)
    r = api.post(INFER, json={"connectionId": conn, "object": "missing.csv"})
    assert 400 <= r.status_code < 500, r.text
    r = api.post(INFER, json={"connectionId": conn, "object": "a.csv", "tolerance": 1.5})
    assert r.status_code == 400, r.text
    r = api.post(INFER, json={"connectionId": conn, "object": "a.csv"}, headers={"Authorization": ""})
    assert r.status_code in (401, 403)
