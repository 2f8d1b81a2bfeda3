"""The payments tutorial (``sources/tutorials/api/collect/payments.md``), request by request.

Each request of the tutorial is sent, in the tutorial's order and with its body as written, to
the whole service (API + scheduler + worker) over real HTTP; the PayPal emulator stands in for
PayPal. Where the tutorial cannot be taken literally the deviation is named next to the request:

* the target connection uses the data-lake spec id, as the tutorial's own table says: its example
  request carries the PayPal spec id by mistake, which is refused with FLOW-1413-400 naming the
  data-lake spec id;
* custom fields live under the tenant namespace ``_{TENANT_ID}`` (a Schema Registry rule), so the
  tutorial's ``product.name`` ... destinations are ``_{TENANT_ID}.product.name`` ...;
* the Copy transformation's ``deltaColumn`` names a column the PayPal table has (``Update_Time``)
  instead of the tutorial's placeholder ``updatedAt``; the schedule is ``once`` instead of every
  30 minutes, so the run happens now.

Where the tutorial and the API reference spell a request differently, the second test sends the
reference's spelling and checks that both ingest the same rows.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pyarrow.parquet as pq
import pytest

from tests.flowservice.conftest import CAT, CONV, CRM, FS, LAKE, SR, LiveService, PayPalEmulator

PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
TABLE = "PayPal.Catalog_Products"


class Platform:
    """The tutorial's requests: platform headers on every call, and the status each must answer."""

    def __init__(self, service: LiveService) -> None:
        self.http = httpx.Client(base_url=service.url, timeout=60)
        creds = service.credentials
        # "Gather values for required headers" (authentication tutorial: a token from IMS)
        self.headers = {
            "Authorization": f"Bearer {service.token()}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": creds["org_id"],
            "x-sandbox-name": "prod",
        }

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        if "json" in kw:
            headers["Content-Type"] = "application/json"
        r = self.http.request(method, path, headers=headers, **kw)
        assert r.status_code == status, f"{method} {path} -> {r.status_code}: {r.text[:2000]}"
        return r.json() if r.content else None

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any, status: int = 201, **kw: Any) -> Any:
        return self.call("POST", path, status, json=body, **kw)


@pytest.fixture
def platform(live_service: LiveService) -> Iterator[Platform]:
    client = Platform(live_service)
    yield client
    client.close()


def wait_run(platform: Platform, flow_id: str, timeout: float = 60) -> dict[str, Any]:
    """Monitor the dataflow: ``GET /runs?property=flowId==...`` until its run is done."""
    deadline = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = platform.get(f"{FS}/runs?property=flowId=={flow_id}")["items"]
        done = [r for r in runs if r["metrics"]["statusSummary"]["status"] in ("success", "failed")]
        if done:
            assert len(runs) == 1, runs
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"the run of flow {flow_id} did not finish in {timeout} s: {runs}")


def lake_rows(platform: Platform, run: dict[str, Any]) -> tuple[list[str], int]:
    """The ``_id``s of the rows the run's batch committed, read back through Data Access."""
    promotion = [a for a in run["activities"] if a.get("targetInfo")]
    (batch_id,) = promotion[0]["targetInfo"][0]["reference"]["ids"]
    batch = platform.get(f"{CAT}/batches/{batch_id}")[batch_id]
    assert batch["status"] == "success", batch
    ids: list[str] = []
    for f in platform.get(f"/data/foundation/export/batches/{batch_id}/files")["data"]:
        file_id = f["dataSetFileId"]
        for part in platform.get(f"/data/foundation/export/files/{file_id}")["data"]:
            r = platform.http.get(part["_links"]["self"]["href"], headers=platform.headers)
            assert r.status_code == 200, r.text
            ids += pq.read_table(io.BytesIO(r.content)).column("_id").to_pylist()
    return ids, int(batch["metrics"]["outputRecordCount"])


def test_payments_tutorial_in_order(platform: Platform, paypal: PayPalEmulator) -> None:
    tenant = "_" + platform.get(f"{SR}/stats")["tenantId"]

    # -- prerequisite (explore tutorial): the PayPal base connection ------------------------
    base = platform.post(
        f"{FS}/connections",
        {
            "name": "Paypal connection",
            "description": "Paypal connection",
            "auth": {
                "specName": "Client-Id-Secret Based Authentication",
                "params": {
                    "host": paypal.url,
                    "clientId": paypal.client_id,
                    "clientSecret": paypal.client_secret,
                },
            },
            "connectionSpec": {"id": PAYPAL, "version": "1.0"},
        },
    )
    assert set(base) == {"id", "etag"}

    # -- explore: the tables, then the structure and a preview of the products table ----------
    tables = platform.get(f"{FS}/connections/{base['id']}/explore?objectType=root")
    assert {
        "type": "table",
        "name": TABLE,
        "path": TABLE,
        "canPreview": True,
        "canFetchSchema": True,
    } in tables
    described = platform.get(f"{FS}/connections/{base['id']}/explore?objectType=table&object={TABLE}")
    assert described["format"] == "flat" and "data" not in described
    preview = platform.get(
        f"{FS}/connections/{base['id']}/explore?objectType=table&object={TABLE}&preview=true"
    )
    columns = preview["schema"]["columns"]
    assert columns == described["schema"]["columns"]
    assert [c["name"] for c in columns][:4] == ["Product_Id", "Product_Name", "Description", "Type"]
    assert preview["data"] and set(preview["data"][0]) == {c["name"] for c in columns}

    # -- "Create an ad-hoc XDM class and schema": every field found in the source data --------
    adhoc_class = platform.post(
        f"{SR}/tenant/classes",
        {
            "title": "Paypal products ad-hoc class",
            "description": "Ad-hoc class of the PayPal catalog products",
            "type": "object",
            "allOf": [
                {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                {
                    "properties": {
                        "_adhoc": {"type": "object", "properties": {c["name"]: c["xdm"] for c in columns}}
                    }
                },
            ],
        },
    )
    adhoc_schema = platform.post(
        f"{SR}/tenant/schemas",
        {
            "type": "object",
            "title": "Paypal products ad-hoc schema",
            "description": "Ad-hoc schema of the PayPal catalog products",
            "allOf": [{"$ref": adhoc_class["$id"]}],
        },
    )

    # -- "Create a source connection" (the tutorial's body; ``params.path`` names the table) --
    source = platform.post(
        f"{FS}/sourceConnections",
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
        },
    )
    assert set(source) == {"id", "etag"}

    # -- "Create a target XDM schema": the tutorial's body plus a field group with the mapped
    #    fields (custom fields live under the tenant namespace) ---------------------------------
    product_fields = platform.post(
        f"{SR}/tenant/fieldgroups",
        {
            "type": "object",
            "title": "Payments product",
            "description": "The product fields the payments tutorial maps",
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
                                        "name": {"type": "string", "title": "Name"},
                                        "description": {"type": "string", "title": "Description"},
                                        "type": {"type": "string", "title": "Type"},
                                    },
                                }
                            },
                        }
                    }
                }
            },
            "allOf": [{"$ref": "#/definitions/product"}],
        },
    )
    target_schema = platform.post(
        f"{SR}/tenant/schemas",
        {
            "type": "object",
            "title": "Target schema for payments",
            "description": "Target schema for payments",
            "allOf": [
                {"$ref": "https://ns.adobe.com/xdm/context/profile"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
                {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
                {"$ref": product_fields["$id"]},
            ],
            "meta:containerId": "tenant",
            "meta:resourceType": "schemas",
            "meta:xdmType": "object",
            "meta:class": "https://ns.adobe.com/xdm/context/profile",
        },
    )
    assert target_schema["meta:class"] == PROFILE and target_schema["version"] == "1.0"
    full = platform.get(
        f"{SR}/tenant/schemas/{quote(target_schema['meta:altId'])}",
        headers={"Accept": "application/vnd.adobe.xed-full+json; version=1"},
    )
    assert set(full["properties"][tenant]["properties"]["product"]["properties"]) == {
        "name",
        "description",
        "type",
    }

    # -- "Create a target dataset" --------------------------------------------------------------
    created = platform.post(
        f"{CAT}/dataSets?requestDataSource=true",
        {
            "name": "Target dataset for payments",
            "schemaRef": {
                "id": target_schema["$id"],
                "contentType": "application/vnd.adobe.xed-full-notext+json; version=1",
            },
        },
    )
    assert len(created) == 1 and created[0].startswith("@/dataSets/")
    dataset_id = created[0].split("/")[-1]

    # -- "Create a target connection": the example's PayPal spec id is refused with a pointer to
    #    the data-lake spec id (the one the tutorial's table names), which is then used ---------
    body = {
        "name": "Target Connection for payments",
        "description": "Target Connection for payments",
        "data": {"schema": {"id": target_schema["$id"]}},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": PAYPAL, "version": "1.0"},
    }
    refused = platform.post(f"{FS}/targetConnections", body, status=400)
    assert refused["type"].endswith("FLOW-1413-400") and LAKE in refused["report"]["detailed-message"]
    target = platform.post(
        f"{FS}/targetConnections",
        {
            "name": "Target Connection for payments",
            "description": "Target Connection for payments",
            "data": {"schema": {"id": target_schema["$id"]}},
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": LAKE, "version": "1.0"},
        },
    )
    assert set(target) == {"id", "etag"}

    # -- "Create a mapping" (the sources-tutorial dialect) --------------------------------------
    mapping = platform.post(
        f"{CONV}/mappingSets",
        {
            "version": 0,
            "xdmSchema": target_schema["$id"],
            "xdmVersion": "1.0",
            "id": None,
            "mappings": [
                {
                    "destinationXdmPath": destination,
                    "sourceAttribute": source_attribute,
                    "identity": False,
                    "identityGroup": None,
                    "namespaceCode": None,
                    "version": 0,
                }
                for destination, source_attribute in [
                    ("_id", "Product_Id"),
                    (f"{tenant}.product.name", "Product_Name"),
                    (f"{tenant}.product.description", "Description"),
                    (f"{tenant}.product.type", "Type"),
                ]
            ],
        },
        status=200,
    )
    assert mapping["version"] == 0 and {"createdDate", "modifiedDate", "createdBy", "modifiedBy"} <= set(
        mapping
    )

    # -- "Look up dataflow specifications" ------------------------------------------------------
    specs = platform.get(f'{FS}/flowSpecs?property=name=="CRMToAEP"')["items"]
    assert [s["id"] for s in specs] == [CRM]
    assert PAYPAL in specs[0]["sourceConnectionSpecIds"] and specs[0]["targetConnectionSpecIds"] == [LAKE]

    # -- "Create a dataflow" (startTime as a string, as in the tutorial; frequency once) --------
    flow = platform.post(
        f"{FS}/flows",
        {
            "name": "Dataflow between payments Platform",
            "description": "Inbound data to Platform",
            "flowSpec": {"id": specs[0]["id"], "version": "1.0"},
            "sourceConnectionIds": [source["id"]],
            "targetConnectionIds": [target["id"]],
            "transformations": [
                {
                    "name": "Copy",
                    "params": {
                        "deltaColumn": {"name": "Update_Time", "dateFormat": "YYYY-MM-DD", "timezone": "UTC"}
                    },
                },
                {"name": "Mapping", "params": {"mappingId": mapping["id"], "mappingVersion": "0"}},
            ],
            "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
        },
    )
    assert set(flow) == {"id", "etag"}

    # -- "Monitor the dataflow" -----------------------------------------------------------------
    run = wait_run(platform, flow["id"])
    metrics = run["metrics"]
    products = paypal.state.data.products
    assert httpx.get(f"{paypal.url}/_emulator/state").json()["products"] == len(products) > 0
    assert metrics["statusSummary"]["status"] == "success", metrics
    assert metrics["recordSummary"]["inputRecordCount"] == len(products)
    assert metrics["recordSummary"]["outputRecordCount"] == len(products)
    assert metrics["recordSummary"]["failedRecordCount"] == 0

    ids, batch_rows = lake_rows(platform, run)
    assert batch_rows == len(products)
    assert sorted(ids) == sorted(p["id"] for p in products)
    rows = platform.get(f"/data/foundation/export/datasets/{dataset_id}/preview?limit=100")["data"]
    assert len(rows) == len(products)
    by_id = {p["id"]: p for p in products}
    for row in rows:
        product = by_id[row["_id"]]
        assert row[tenant]["product"] == {
            "name": product["name"],
            "description": product["description"],
            "type": product["type"],
        }


def test_reference_spellings_ingest_the_same_rows(platform: Platform, paypal: PayPalEmulator) -> None:
    """The API reference's spellings of the tutorial's requests: ``objectType=TABLE`` (the spec's
    enum case), ``params.tableName`` + ``columns``, the dataset's ``xed+json`` schema reference, an
    explicit ``data.format`` and schema version on the target, the API-reference mapping dialect,
    ``mappingVersion`` and ``startTime`` as integers, an unquoted flow-spec filter."""
    tenant = "_" + platform.get(f"{SR}/stats")["tenantId"]
    base = platform.post(
        f"{FS}/connections",
        {
            "name": "PayPal",
            "auth": {
                "specName": "Client-Id-Secret Based Authentication",
                "params": {
                    "host": paypal.url,
                    "clientId": paypal.client_id,
                    "clientSecret": paypal.client_secret,
                },
            },
            "connectionSpec": {"id": PAYPAL, "version": "1.0"},
        },
    )["id"]
    columns = platform.get(f"{FS}/connections/{base}/explore?objectType=TABLE&object={TABLE}")["schema"][
        "columns"
    ]
    source = platform.post(
        f"{FS}/sourceConnections",
        {
            "name": "PayPal source connection",
            "baseConnectionId": base,
            "data": {"format": "tabular"},
            "params": {"tableName": TABLE, "columns": columns},
            "connectionSpec": {"id": PAYPAL, "version": "1.0"},
        },
    )["id"]
    fg = platform.post(
        f"{SR}/tenant/fieldgroups",
        {
            "type": "object",
            "title": "Product",
            "meta:intendedToExtend": [PROFILE],
            "definitions": {
                "p": {
                    "properties": {
                        tenant: {
                            "type": "object",
                            "properties": {
                                "product": {
                                    "type": "object",
                                    "properties": {"name": {"type": "string"}, "type": {"type": "string"}},
                                }
                            },
                        }
                    }
                }
            },
            "allOf": [{"$ref": "#/definitions/p"}],
        },
    )
    schema = platform.post(
        f"{SR}/tenant/schemas",
        {"type": "object", "title": "Products", "allOf": [{"$ref": PROFILE}, {"$ref": fg["$id"]}]},
    )
    dataset_id = platform.post(
        f"{CAT}/dataSets",
        {
            "name": "Products",
            "schemaRef": {"id": schema["$id"], "contentType": "application/vnd.adobe.xed+json;version=1"},
        },
    )[0].split("/")[-1]
    target = platform.post(
        f"{FS}/targetConnections",
        {
            "name": "Products dataset",
            "data": {
                "format": "parquet_xdm",
                "schema": {"id": schema["$id"], "version": "application/vnd.adobe.xed-full+json;version=1"},
            },
            "params": {"dataSetId": dataset_id},
            "connectionSpec": {"id": LAKE, "version": "1.0"},
        },
    )["id"]
    mapping = platform.post(
        f"{CONV}/mappingSets",
        {
            "outputSchema": {
                "schemaRef": {
                    "id": schema["$id"],
                    "contentType": "application/vnd.adobe.xed-full+json;version=1",
                }
            },
            "mappings": [
                {"sourceType": "ATTRIBUTE", "source": "Product_Id", "destination": "_id"},
                {
                    "sourceType": "EXPRESSION",
                    "source": "upper(Product_Name)",
                    "destination": f"{tenant}.product.name",
                },
                {"sourceType": "ATTRIBUTE", "source": "Type", "destination": f"{tenant}.product.type"},
            ],
        },
        status=200,
    )["id"]
    (spec,) = platform.get(f"{FS}/flowSpecs?property=name==CRMToAEP")["items"]
    flow = platform.post(
        f"{FS}/flows",
        {
            "name": "Products",
            "flowSpec": {"id": spec["id"], "version": "1.0"},
            "sourceConnectionIds": [source],
            "targetConnectionIds": [target],
            "transformations": [
                {"name": "Copy", "params": {"deltaColumn": {"name": "Update_Time"}}},
                {"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": 0}},
            ],
            "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
        },
    )["id"]
    echoed = platform.get(f"{FS}/flows/{flow}")["items"][0]
    assert echoed["scheduleParams"]["frequency"] == "once"

    run = wait_run(platform, flow)
    products = paypal.state.data.products
    assert run["metrics"]["statusSummary"]["status"] == "success", run["metrics"]
    assert run["metrics"]["recordSummary"]["outputRecordCount"] == len(products)
    ids, batch_rows = lake_rows(platform, run)
    assert batch_rows == len(products) and sorted(ids) == sorted(p["id"] for p in products)
    rows = platform.get(f"/data/foundation/export/datasets/{dataset_id}/preview?limit=100")["data"]
    assert sorted(r[tenant]["product"]["name"] for r in rows) == sorted(p["name"].upper() for p in products)
