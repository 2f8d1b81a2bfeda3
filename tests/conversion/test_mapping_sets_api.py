"""Conversion API: the tutorial's mapping request, unknown paths, versions, validate, preview."""

from __future__ import annotations

from tests.conftest import Api

SR = "/data/foundation/schemaregistry"
CONV = "/data/foundation/conversion"
PROFILE_SCHEMA = {
    "type": "object",
    "title": "Target schema for payments",
    "allOf": [
        {"$ref": "https://ns.adobe.com/xdm/context/profile"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
        {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
    ],
}


def tutorial_body(schema_id: str, pairs: list[tuple[str, str]]) -> dict:
    return {
        "version": 0,
        "xdmSchema": schema_id,
        "xdmVersion": "1.0",
        "id": None,
        "mappings": [
            {
                "destinationXdmPath": d,
                "sourceAttribute": s,
                "identity": False,
                "identityGroup": None,
                "namespaceCode": None,
                "version": 0,
            }
            for d, s in pairs
        ],
    }


def test_tutorial_mapping_request(api: Api) -> None:
    schema = api.post(f"{SR}/tenant/schemas", json=PROFILE_SCHEMA).json()
    r = api.post(
        f"{CONV}/mappingSets",
        json=tutorial_body(
            schema["$id"],
            [
                ("_id", "Product_Id"),
                ("product.name", "Product_Name"),
                ("product.description", "Description"),
                ("product.type", "Type"),
            ],
        ),
    )
    assert r.status_code == 400
    for path in ("product.name", "product.description", "product.type"):
        assert path in r.text
    ok = api.post(
        f"{CONV}/mappingSets",
        json=tutorial_body(
            schema["$id"],
            [("_id", "Product_Id"), ("person.name.firstName", "First"), ("personalEmail.address", "Email")],
        ),
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert set(body) == {"id", "version", "createdDate", "modifiedDate", "createdBy", "modifiedBy"}
    assert body["version"] == 0 and len(body["id"]) == 32
    got = api.get(f"{CONV}/mappingSets/{body['id']}").json()
    assert got["mappings"][0]["sourceType"] == "text/x.schema-path"
    assert got["mappings"][1]["destinationXdmPath"] == "person.name.firstName"
    # PUT bumps the version and the old one stays readable
    new = api.put(
        f"{CONV}/mappingSets/{body['id']}", json=tutorial_body(schema["$id"], [("_id", "Product_Id")])
    )
    assert new.json()["version"] == 1
    assert len(api.get(f"{CONV}/mappingSets/{body['id']}?version=0").json()["mappings"]) == 3
    # preview on sample rows
    prev = api.post(
        f"{CONV}/mappingSets/preview",
        json={
            "mappingSetId": body["id"],
            "mappingSetVersion": 0,
            "sampleData": [{"Product_Id": "p1", "First": "Ann", "Email": "ann@example.com"}],
        },
    ).json()
    assert prev[0]["data"]["person"]["name"]["firstName"] == "Ann" and prev[0]["errors"] is None
    val = api.post(
        f"{CONV}/mappingSets/validate",
        json=tutorial_body(schema["$id"], [("_id", "Product_Id"), ("product.name", "Product_Name")]),
    ).json()["validationResponse"]
    assert [v["status"] for v in val] == ["SUCCESS", "FAILED"]
    assert api.get(f"{CONV}/languages/el/functions").json()
    assert (
        api.post(f"{CONV}/languages/el/validate", json={"expression": 'concat("Hi", "there")'}).json() is True
    )
    assert api.post(f"{CONV}/languages/el/validate", json={"expression": "concat("}).status_code == 400
