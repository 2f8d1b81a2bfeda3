"""Flows: validation against the flow spec, fit of the pieces, lifecycle."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api
from tests.flowservice.conftest import (
    CLOUD,
    CONV,
    CRM,
    FS,
    adhoc_schema,
    dataset,
    files_source,
    ok,
    target_connection,
)

FIELDS = {"id": {"type": "string"}, "name": {"type": "string"}}


@pytest.fixture
def pieces(api: Api, tmp_path: Path) -> dict[str, Any]:
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"])
    (tmp_path / "f.csv").write_text("id,name\n1,a\n")
    return {
        "schema": schema,
        "dataset": ds,
        "source": files_source(api, tmp_path, "f.csv"),
        "target": target_connection(api, ds),
    }


def flow_body(p: dict[str, Any], **over: Any) -> dict[str, Any]:
    body = {
        "name": "f",
        "flowSpec": {"id": CLOUD, "version": "1.0"},
        "sourceConnectionIds": [p["source"]],
        "targetConnectionIds": [p["target"]],
        "scheduleParams": {
            "startTime": str(int(time.time()) + 3600),
            "frequency": "minute",
            "interval": "15",
        },
    }
    body.update(over)
    return body


def test_create_get_list_and_echo(api: Api, pieces: dict[str, Any]) -> None:
    out = ok(api.post(f"{FS}/flows", json=flow_body(pieces)), 201)
    flow = ok(api.get(f"{FS}/flows/{out['id']}"))["items"][0]
    assert flow["state"] == "enabled" and flow["etag"] == out["etag"]
    assert flow["scheduleParams"]["interval"] == "15" and flow["scheduleParams"]["frequency"] == "minute"
    assert flow["runs"] == f"/runs?property=flowId=={out['id']}"
    assert flow["inheritedAttributes"]["targetConnections"][0]["connectionSpec"]["id"].startswith("c604ff05")
    assert flow["inheritedAttributes"]["sourceConnections"][0]["baseConnection"]["id"]
    listed = ok(api.get(f"{FS}/flows?property=state==enabled"))["items"]
    assert [f["id"] for f in listed] == [out["id"]]
    assert ok(api.get(f"{FS}/flows?property=sourceConnectionIds=={pieces['source']}&count=true")) == {
        "count": 1
    }


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"state": "enabled"}, "1410"),
        ({"flowSpec": {"id": "00000000-0000-0000-0000-000000000000"}}, None),
        ({"flowSpec": {"id": CRM}}, "1413"),  # a file source is not a CRMToAEP source
        ({"scheduleParams": {"startTime": "1", "frequency": "minute", "interval": "5"}}, None),
        ({"scheduleParams": {"startTime": "1", "frequency": "once", "interval": "5"}}, None),
        ({"scheduleParams": {"startTime": "x", "frequency": "day", "interval": "1"}}, None),
        ({"options": {"partialIngestionPercent": 0}}, None),
        ({"transformations": [{"name": "Frobnicate", "params": {}}]}, None),
        ({"sourceConnectionIds": []}, None),
        ({"sourceConnectionIds": ["nope"]}, "1101"),
    ],
)
def test_bad_flows(api: Api, pieces: dict[str, Any], change: dict[str, Any], code: str | None) -> None:
    r = api.post(f"{FS}/flows", json=flow_body(pieces, **change))
    assert r.status_code in (400, 404), r.text
    if code:
        assert r.json()["type"].endswith(f"FLOW-{code}-400"), r.json()


def test_target_with_a_source_spec_names_the_data_lake(api: Api, pieces: dict[str, Any]) -> None:
    r = api.post(
        f"{FS}/targetConnections",
        json={
            "name": "wrong",
            "params": {"dataSetId": pieces["dataset"]},
            "connectionSpec": {"id": "221c7626-58f6-4eec-8ee2-042b0226f03b", "version": "1.0"},
        },
    )
    assert r.status_code == 400
    assert "c604ff05-7f1a-43c0-8e18-33bf874cb11c" in r.text


def test_mapping_for_another_schema_is_1425(api: Api, pieces: dict[str, Any]) -> None:
    other = adhoc_schema(api, {"x": {"type": "string"}}, title="other")
    ms = ok(
        api.post(
            f"{CONV}/mappingSets",
            json={
                "outputSchema": {"schemaRef": {"id": other["$id"]}},
                "mappings": [
                    {
                        "sourceType": "ATTRIBUTE",
                        "source": "id",
                        "destination": f"{other['meta:datasetNamespace']}.x",
                    }
                ],
            },
        )
    )
    body = flow_body(
        pieces, transformations=[{"name": "Mapping", "params": {"mappingId": ms["id"], "mappingVersion": 0}}]
    )
    r = api.post(f"{FS}/flows", json=body)
    assert r.json()["type"].endswith("FLOW-1425-400"), r.text
    body["transformations"][0]["params"]["mappingVersion"] = 7
    assert api.post(f"{FS}/flows", json=body).json()["type"].endswith("FLOW-1412-400")


def test_patch_enable_disable_delete(api: Api, pieces: dict[str, Any]) -> None:
    out = ok(api.post(f"{FS}/flows", json=flow_body(pieces)), 201)
    fid, etag = out["id"], out["etag"]
    ops = [
        {"op": "replace", "path": "/scheduleParams/frequency", "value": "day"},
        {"op": "replace", "path": "/scheduleParams/interval", "value": "1"},
        {"op": "replace", "path": "/name", "value": "renamed"},
    ]
    assert api.patch(f"{FS}/flows/{fid}", json=ops).json()["type"].endswith("FLOW-1403-400")
    assert api.patch(f"{FS}/flows/{fid}", json=ops, headers={"If-Match": '"x"'}).status_code == 412
    new = ok(api.patch(f"{FS}/flows/{fid}", json=ops, headers={"If-Match": etag}))
    flow = ok(api.get(f"{FS}/flows/{fid}"))["items"][0]
    assert flow["name"] == "renamed" and flow["scheduleParams"]["frequency"] == "day"
    assert flow["lastOperation"]["operation"] == "update" and new["etag"] == flow["etag"]
    bad = [{"op": "replace", "path": "/scheduleParams/interval", "value": "0"}]
    assert api.patch(f"{FS}/flows/{fid}", json=bad, headers={"If-Match": new["etag"]}).status_code == 400
    assert ok(api.post(f"{FS}/flows/{fid}/action?op=disable"))["id"] == fid
    assert ok(api.get(f"{FS}/flows/{fid}"))["items"][0]["state"] == "disabled"
    assert api.post(f"{FS}/flows/{fid}/action?op=DISABLE").json()["type"].endswith("FLOW-1422-400")
    ok(api.post(f"{FS}/flows/{fid}/action?op=ENABLE"))
    # a base connection used by a flow cannot be deleted
    base = ok(api.get(f"{FS}/sourceConnections/{pieces['source']}"))["items"][0]["baseConnectionId"]
    assert api.delete(f"{FS}/connections/{base}").json()["type"].endswith("FLOW-1418-400")
    assert api.delete(f"{FS}/flows/{fid}").status_code == 204
    assert api.get(f"{FS}/flows/{fid}").status_code == 404
    assert api.delete(f"{FS}/connections/{base}").status_code == 204


def test_flow_specs(api: Api) -> None:
    for q in ('name=="CRMToAEP"', "name==CRMToAEP"):
        items = ok(api.get(f"{FS}/flowSpecs?property={q}"))["items"]
        assert [i["id"] for i in items] == [CRM]
    spec = ok(api.get(f"{FS}/flowSpecs/{CLOUD}"))["items"][0]
    assert spec["name"] == "CloudStorageToAEP" and "scheduleSpec" in spec and "runSpec" in spec
    assert (
        "221c7626-58f6-4eec-8ee2-042b0226f03b"
        in ok(api.get(f"{FS}/flowSpecs/{CRM}"))["items"][0]["sourceConnectionSpecIds"]
    )


def test_delta_column_must_be_a_declared_source_column(api: Api, pieces: dict[str, Any]) -> None:
    pg = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
    base = ok(
        api.post(
            f"{FS}/connections",
            json={
                "name": "pg",
                "auth": {
                    "specName": "Connection String Based Authentication",
                    "params": {"connectionString": "postgresql://root@127.0.0.1:5432/test"},
                },
                "connectionSpec": {"id": pg, "version": "1.0"},
            },
        )
    )["id"]
    declared = ok(
        api.post(
            f"{FS}/sourceConnections",
            json={
                "name": "declared columns",
                "baseConnectionId": base,
                "data": {"format": "tabular"},
                "params": {
                    "tableName": "public.t",
                    "columns": [{"name": "id", "type": "string"}, {"name": "name"}],
                },
                "connectionSpec": {"id": pg, "version": "1.0"},
            },
        )
    )["id"]

    def body(name: str) -> dict[str, Any]:
        return flow_body(
            pieces,
            flowSpec={"id": CRM, "version": "1.0"},
            sourceConnectionIds=[declared],
            transformations=[{"name": "Copy", "params": {"deltaColumn": {"name": name}}}],
        )

    r = api.post(f"{FS}/flows", json=body("updatedAt"))
    assert r.status_code == 400 and r.json()["type"].endswith("FLOW-1419-400"), r.text
    assert "updatedAt" in r.text and "columns: id, name" in r.text
    ok(api.post(f"{FS}/flows", json=body("id")), 201)
