"""The payments tutorial driven by a real client: ``aepp`` 0.6.0, unmodified.

``aepp`` (the community Python client of the platform's APIs) is pointed at xdmflow with
``aepp.configure(..., environment="support", endpoint=<our URL>, accesstoken=<token>)``; the token
comes from our ``/ims/token/v3`` (aepp's "support" environment keeps IMS at adobelogin.com).
Every request below is made by aepp's public classes - FlowService, Schema, Catalog, DataPrep,
DataAccess - with the URLs, headers, query parameters and bodies aepp builds itself.

One thing has to be supplied besides ``aepp.configure``: aepp 0.6.0's ``AdobeRequest`` reads
``config["connectionType"]`` when it is given a still-valid access token, a key ``configure``
never sets (a ``KeyError`` in aepp itself), so the classes get the configured dict plus
``connectionType="support"`` through their public ``config=`` argument.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aepp
import pyarrow.parquet as pq
import pytest
from aepp.catalog import Catalog
from aepp.dataaccess import DataAccess
from aepp.dataprep import DataPrep
from aepp.flowservice import FlowService
from aepp.schema import Schema

from tests.flowservice.conftest import CRM, LAKE, LiveService, PayPalEmulator

PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
TABLE = "PayPal.Catalog_Products"


@pytest.fixture
def aepp_config(live_service: LiveService) -> Iterator[dict[str, Any]]:
    """aepp configured for our service; aepp's module-level configuration is restored afterwards."""
    saved = (
        copy.deepcopy(aepp.config.config_object),
        copy.deepcopy(aepp.config.header),
        copy.deepcopy(aepp.config.endpoints),
    )
    creds = live_service.credentials
    aepp.configure(
        org_id=creds["org_id"],
        client_id=creds["client_id"],
        secret=creds["client_secret"],
        sandbox="prod",
        environment="support",
        endpoint=live_service.url,
        accesstoken=live_service.token(),
    )
    try:
        yield {**aepp.config.config_object, "connectionType": "support"}
    finally:
        for live, old in zip(
            (aepp.config.config_object, aepp.config.header, aepp.config.endpoints), saved, strict=True
        ):
            live.clear()
            live.update(old)


def ok(res: Any, *keys: str) -> Any:
    """aepp returns error bodies instead of raising: check the answer is the resource."""
    assert isinstance(res, dict) and all(k in res for k in keys), res
    return res


def test_payments_tutorial_through_aepp(aepp_config: dict[str, Any], paypal: PayPalEmulator) -> None:
    assert aepp.__version__ == "0.6.0", aepp.__version__
    flows = FlowService(config=aepp_config)
    schemas = Schema(config=aepp_config)
    catalog = Catalog(config=aepp_config)
    prep = DataPrep(config=aepp_config)
    access = DataAccess(config=aepp_config)
    tenant = "_" + schemas.getTenantId()

    # base connection, its test and the explore calls
    spec = ok(flows.getConnectionSpec(PAYPAL), "items")["items"][0]
    assert spec["id"] == PAYPAL
    base = ok(
        flows.createConnection(
            name="Paypal connection",
            auth={
                "specName": "Client-Id-Secret Based Authentication",
                "params": {
                    "host": paypal.url,
                    "clientId": paypal.client_id,
                    "clientSecret": paypal.client_secret,
                },
            },
            connectionSpec={"id": PAYPAL, "version": "1.0"},
        ),
        "id",
        "etag",
    )
    assert flows.getConnection(base["id"])["name"] == "Paypal connection"
    assert flows.connectionTest(base["id"])["result"] is True
    explore = f"{flows.endpoint}/connections/{base['id']}/explore"
    tables = flows.getResource(explore, params={"objectType": "root"})
    assert TABLE in [t["name"] for t in tables]
    preview = flows.getResource(explore, params={"objectType": "table", "object": TABLE, "preview": "true"})
    columns = preview["schema"]["columns"]
    assert len(preview["data"]) > 0

    # ad-hoc class and schema of the raw rows
    adhoc_class = ok(
        schemas.createClass(
            {
                "title": "PayPal products (raw)",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                    {
                        "properties": {
                            "_adhoc": {"type": "object", "properties": {c["name"]: c["xdm"] for c in columns}}
                        }
                    },
                ],
            }
        ),
        "$id",
    )
    adhoc_schema = ok(
        schemas.createSchema(
            {"title": "PayPal products (raw)", "type": "object", "allOf": [{"$ref": adhoc_class["$id"]}]}
        ),
        "$id",
    )

    # source connection (the tutorial's body)
    source = ok(
        flows.createSourceConnection(
            {
                "name": "Paypal source connection",
                "baseConnectionId": base["id"],
                "description": "Paypal",
                "data": {
                    "format": "tabular",
                    "schema": {
                        "id": adhoc_schema["$id"],
                        "version": "application/vnd.adobe.xed-full-notext+json; version=1",
                    },
                },
                "params": {"path": TABLE},
                "connectionSpec": {"id": PAYPAL, "version": "1.0"},
            }
        ),
        "id",
    )
    assert flows.getSourceConnection(source["id"])["params"]["path"] == TABLE

    # target schema: Individual Profile + the tutorial's field groups + the mapped fields
    product_fields = ok(
        schemas.createFieldGroup(
            {
                "title": "Payments product",
                "type": "object",
                "meta:intendedToExtend": [PROFILE],
                "definitions": {
                    "product": {
                        "properties": {
                            tenant: {
                                "type": "object",
                                "properties": {
                                    "product": {
                                        "type": "object",
                                        "properties": {
                                            "name": {"type": "string"},
                                            "description": {"type": "string"},
                                            "type": {"type": "string"},
                                        },
                                    }
                                },
                            }
                        }
                    }
                },
                "allOf": [{"$ref": "#/definitions/product"}],
            }
        ),
        "$id",
    )
    target_schema = ok(
        schemas.createProfileSchema(
            name="Target schema for payments",
            fieldGroupIds=[
                "https://ns.adobe.com/xdm/context/profile-person-details",
                "https://ns.adobe.com/xdm/context/profile-personal-details",
                product_fields["$id"],
            ],
            description="Target schema for payments",
        ),
        "$id",
        "meta:altId",
    )
    full = schemas.getSchema(target_schema["$id"], full=True)
    assert set(full["properties"][tenant]["properties"]["product"]["properties"]) == {
        "name",
        "description",
        "type",
    }
    assert "person" in full["properties"]

    # dataset, target connection to the data lake, mapping set
    created = catalog.createDataSet(name="Target dataset for payments", schemaId=target_schema["$id"])
    assert isinstance(created, list) and created[0].startswith("@/dataSets/"), created
    dataset_id = created[0].split("/")[-1]
    dataset = catalog.getDataSet(dataset_id)[dataset_id]
    assert dataset["schemaRef"]["id"] == target_schema["$id"]
    assert [d["id"] for d in catalog.getDataSets(output="list")] == [dataset_id]
    assert flows.getConnectionSpecIdFromName("Data Lake") == LAKE
    target = ok(
        flows.createTargetConnectionDataLake(
            name="Target Connection for payments",
            datasetId=dataset_id,
            schemaId=target_schema["$id"],
            format="parquet_xdm",
            spec_name="Data Lake",
        ),
        "id",
    )
    assert flows.getTargetConnection(target["id"])["params"] == {"dataSetId": dataset_id}
    mapping = ok(
        prep.createMappingSet(
            schemaId=target_schema["$id"],
            mappingList=[
                {"sourceType": "ATTRIBUTE", "source": "Product_Id", "destination": "_id"},
                {
                    "sourceType": "ATTRIBUTE",
                    "source": "Product_Name",
                    "destination": f"{tenant}.product.name",
                },
                {
                    "sourceType": "ATTRIBUTE",
                    "source": "Description",
                    "destination": f"{tenant}.product.description",
                },
                {"sourceType": "ATTRIBUTE", "source": "Type", "destination": f"{tenant}.product.type"},
            ],
        ),
        "id",
    )
    assert len(prep.getMappingSet(mapping["id"])["mappings"]) == 4

    # flow spec lookup, the dataflow (frequency once), its run
    flow_spec_id = flows.getFlowSpecIdFromNames("CRMToAEP")
    assert flow_spec_id == CRM
    assert [f["id"] for f in flows.getFlowSpecs('name=="CRMToAEP"')] == [CRM]
    flow = ok(
        flows.createFlow(
            flow_spec_id,
            obj={
                "name": "Dataflow between payments Platform",
                "description": "Inbound data to Platform",
                "flowSpec": {"id": flow_spec_id, "version": "1.0"},
                "sourceConnectionIds": [source["id"]],
                "targetConnectionIds": [target["id"]],
                "transformations": [
                    {
                        "name": "Copy",
                        "params": {
                            "deltaColumn": {
                                "name": "Update_Time",
                                "dateFormat": "YYYY-MM-DD",
                                "timezone": "UTC",
                            }
                        },
                    },
                    {"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": "0"}},
                ],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
            },
        ),
        "id",
    )
    assert flows.getFlow(flow["id"])["name"] == "Dataflow between payments Platform"
    assert [f["id"] for f in flows.getFlows()] == [flow["id"]]
    assert [m["id"] for m in prep.getMappingSets()] == [mapping["id"]]
    assert target_schema["$id"] in [s["$id"] for s in schemas.getSchemas()]
    assert schemas.getClass(adhoc_class["$id"])["meta:extends"] == ["https://ns.adobe.com/xdm/data/adhoc"]
    assert [c["$id"] for c in schemas.getClasses(excludeAdhoc=False)] == [adhoc_class["$id"]]
    assert [f["$id"] for f in schemas.getFieldGroups()] == [product_fields["$id"]]

    deadline = time.monotonic() + 45
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = flows.getRuns(prop=f"flowId=={flow['id']}")
        if runs and runs[0]["metrics"]["statusSummary"]["status"] in ("success", "failed"):
            break
        time.sleep(0.2)
    assert len(runs) == 1, runs
    run = flows.getRun(runs[0]["id"])
    run = run[0] if isinstance(run, list) else run
    products = paypal.state.data.products
    assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == len(products)

    # the rows in the lake: Catalog batches of the dataset, then the files through Data Access
    batches = catalog.getBatches(dataSet=dataset_id)
    assert len(batches) == 1, batches
    ((batch_id, batch),) = batches.items()
    assert batch["status"] == "success" and batch["metrics"]["outputRecordCount"] == len(products)
    ids: list[str] = []
    for dataset_file in access.getBatchFiles(batch_id):
        for part in access.getFiles(dataset_file["dataSetFileId"])["data"]:
            ids += (
                pq.read_table(access.getFiles(dataset_file["dataSetFileId"], path=part["name"]))
                .column("_id")
                .to_pylist()
            )
    assert sorted(ids) == sorted(p["id"] for p in products)
    last = catalog.getLastBatches(dataSetId=dataset_id)[dataset_id]
    assert last["lastBatchId"] == batch_id and last["lastBatchStatus"] == "success"
    rows = access.getPreview(dataset_id)
    assert len(rows) == len(products)
    assert {r[tenant]["product"]["name"] for r in rows} == {p["name"] for p in products}


# -- what aepp relies on, checked directly (the fixes made for it) -------------------------------

SR = "/data/foundation/schemaregistry"
CATALOG = "/data/foundation/catalog"


def test_a_trailing_slash_is_ignored(api: Any) -> None:
    """aepp posts to ``/tenant/classes/``, reads ``/stats/``: served as without the slash."""
    r = api.get(f"{SR}/stats/")
    assert r.status_code == 200 and not r.history, r.text
    created = api.post(
        f"{SR}/tenant/classes/",
        json={"title": "c", "type": "object", "allOf": [{"$ref": "https://ns.adobe.com/xdm/data/record"}]},
    )
    assert created.status_code == 201, created.text
    listed = api.get(f"{SR}/tenant/classes/", headers={"Accept": "application/vnd.adobe.xed-id+json"})
    assert [c["$id"] for c in listed.json()["results"]] == [created.json()["$id"]]
    specs = api.get("/data/foundation/flowservice/flowSpecs/?property=name==CRMToAEP")
    assert [s["id"] for s in specs.json()["items"]] == [CRM]
    assert api.get("/data/foundation/flowservice/flows/").json()["items"] == []


def test_xdm_accept_names_the_xed_views(api: Any) -> None:
    """aepp lists classes with ``application/vnd.adobe.xdm-id+json``, field groups with
    ``xdm+json``, and looks schemas up with ``xdm-full+json; version=1``."""
    schema = api.post(
        f"{SR}/tenant/schemas",
        json={"title": "s", "type": "object", "allOf": [{"$ref": PROFILE}]},
    ).json()
    path = f"{SR}/tenant/schemas/{quote(schema['$id'], safe='')}"
    for fmt in ("", "-full", "-notext", "-full-notext", "-full-desc"):
        xdm = api.get(path, headers={"Accept": f"application/vnd.adobe.xdm{fmt}+json; version=1"})
        xed = api.get(path, headers={"Accept": f"application/vnd.adobe.xed{fmt}+json; version=1"})
        assert xdm.status_code == 200, xdm.text
        assert xdm.json() == xed.json()
        assert ("properties" in xdm.json()) == ("full" in fmt)
    for fmt in ("-id", ""):
        xdm = api.get(f"{SR}/tenant/schemas", headers={"Accept": f"application/vnd.adobe.xdm{fmt}+json"})
        xed = api.get(f"{SR}/tenant/schemas", headers={"Accept": f"application/vnd.adobe.xed{fmt}+json"})
        assert xdm.status_code == 200, xdm.text
        assert xdm.json() == xed.json() and len(xdm.json()["results"]) == 1
    # the other rules stay: a lookup needs a version, a list takes none, xdm-id is no lookup view
    assert api.get(path, headers={"Accept": "application/vnd.adobe.xdm-full+json"}).status_code == 400
    assert (
        api.get(path, headers={"Accept": "application/vnd.adobe.xdm-id+json; version=1"}).status_code == 406
    )
    listed = api.get(
        f"{SR}/tenant/schemas", headers={"Accept": "application/vnd.adobe.xdm-id+json; version=1"}
    )
    assert listed.status_code == 400 and "XDM-1006" in listed.json()["type"]
    listed = api.get(f"{SR}/tenant/schemas", headers={"Accept": "application/vnd.adobe.xdm-full+json"})
    assert listed.status_code == 406


def test_last_batches_takes_the_catalog_list_parameters(api: Any) -> None:
    """aepp's ``getLastBatches`` always sends ``limit``."""
    schema = api.post(
        f"{SR}/tenant/schemas",
        json={"title": "s", "type": "object", "allOf": [{"$ref": PROFILE}]},
    ).json()
    ids = sorted(
        api.post(
            f"{CATALOG}/dataSets",
            json={
                "name": name,
                "schemaRef": {"id": schema["$id"], "contentType": "application/vnd.adobe.xed+json"},
            },
        )
        .json()[0]
        .split("/")[-1]
        for name in ("a", "b")
    )
    both = f"{CATALOG}/lastBatches?dataSetId={','.join(ids)}"
    assert sorted(api.get(f"{both}&limit=20").json()) == ids
    first = list(api.get(f"{both}&limit=1").json())
    second = list(api.get(f"{both}&limit=1&start=1").json())
    assert len(first) == len(second) == 1 and sorted(first + second) == ids
    assert api.get(f"{both}&properties=lastBatchId").json() == {i: {"lastBatchId": None} for i in ids}
    bad = api.get(f"{both}&limit=0")
    assert bad.status_code == 400, bad.text
    bad = api.get(f"{both}&bogus=1")
    assert bad.status_code == 400 and "bogus" in bad.text
    assert api.get(f"{CATALOG}/lastBatches?limit=5").status_code == 400
