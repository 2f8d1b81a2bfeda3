"""The payments tutorial as a sequence of real HTTP requests, with a progress display.

Used by ``xdmflow demo``: each step performs the platform's request and keeps what later
steps need (ids), so a failure names the step and the server's answer. Part one is the
tutorial itself (catalog products into a Profile dataset, frequency ``once``); part two
ingests ``PayPal.Transactions`` incrementally into an ExperienceEvent + Commerce dataset with
the payer's email as primary identity, adds transactions in the emulator, runs again and
shows that only the new rows arrived.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from xdmflow.errors import XdmflowError
from xdmflow.settings import Settings

__all__ = ["Tutorial", "StepFailed"]

console = Console()

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
CONV = "/data/foundation/conversion"
PAYPAL_SPEC = "221c7626-58f6-4eec-8ee2-042b0226f03b"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
PROFILE = "https://ns.adobe.com/xdm/context/profile"
EVENT = "https://ns.adobe.com/xdm/context/experienceevent"
XED = "application/vnd.adobe.xed+json"
XED_V1 = "application/vnd.adobe.xed+json; version=1"
PRODUCT_COLUMNS = ["Product_Id", "Product_Name", "Description", "Type", "Category", "Image_Url", "Home_Url"]


class StepFailed(XdmflowError):
    pass


class Tutorial:
    def __init__(
        self,
        http: httpx.Client,
        settings: Settings,
        *,
        emulator_url: str | None = None,
        emulator_client: tuple[str, str] = ("xdmflow-emulator-client", "xdmflow-emulator-secret"),
        run_timeout: float = 180.0,
    ) -> None:
        self.http = http
        self.settings = settings
        creds_path = Path(settings.home_path) / "credentials.json"
        self.credentials: dict[str, Any] = json.loads(creds_path.read_text())
        self.headers: dict[str, str] = {}
        self.ids: dict[str, Any] = {}
        self.emulator_url = emulator_url
        self.emulator_client = emulator_client
        self.run_timeout = run_timeout
        self.report: list[tuple[str, str]] = []

    # -- plumbing ----------------------------------------------------------------------
    def call(self, method: str, path: str, *, expect: tuple[int, ...] = (200, 201), **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        if "json" in kw:
            headers.setdefault("Content-Type", "application/json")
        r = self.http.request(method, path, headers=headers, **kw)
        if r.status_code not in expect:
            raise StepFailed(f"{method} {path} answered {r.status_code}: {r.text[:2000]}")
        return r.json() if r.content else None

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("Get an access token", self.get_token),
            ("Check the service", self.check_service),
        ]
        if self.emulator_url is None:
            return steps
        return steps + [
            ("Remove what an earlier demo run created", self.remove_previous),
            ("Create the PayPal base connection", self.base_connection),
            ("Test the connection and explore its tables", self.explore),
            ("Create an ad-hoc XDM class and schema for the raw data", self.adhoc_schema),
            ("Create the source connection", self.source_connection),
            ("Create the target XDM schema", self.target_schema),
            ("Create the dataset", self.dataset),
            ("Create the target connection to the data lake", self.target_connection),
            ("Create the mapping set", self.mapping_set),
            ("Look up the CRMToAEP flow spec", self.flow_spec),
            ("Create the dataflow (frequency once)", self.flow),
            ("Wait for the run and check the dataset", self.wait_first_run),
            ("Transactions: ExperienceEvent schema with the payer's email as identity", self.event_schema),
            ("Transactions: dataset, connections, mapping and flow", self.event_flow),
            ("Transactions: first run", self.wait_event_run),
            ("Transactions: add new transactions in PayPal and run again", self.incremental_run),
        ]

    def run(self) -> bool:
        steps = self.steps()
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
        ) as progress:
            task = progress.add_task("payments tutorial", total=len(steps))
            for label, step in steps:
                progress.update(task, description=label)
                try:
                    step()
                except StepFailed as exc:
                    progress.stop()
                    console.print(f"[red]Step failed: {label}[/]\n{exc}")
                    return False
                progress.console.print(f"[green]✓[/] {label}")
                progress.advance(task)
        for title, text in self.report:
            console.rule(title)
            console.print(text)
        return True

    # -- part one: the tutorial --------------------------------------------------------
    def get_token(self) -> None:
        r = self.http.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
                "scope": "openid,AdobeID,read_organizations",
            },
        )
        if r.status_code != 200:
            raise StepFailed(f"token request answered {r.status_code}: {r.text}")
        self.headers = {
            "Authorization": f"Bearer {r.json()['access_token']}",
            "x-api-key": self.credentials["client_id"],
            "x-gw-ims-org-id": self.credentials["org_id"],
            "x-sandbox-name": "prod",
        }

    def check_service(self) -> None:
        self.call("GET", "/health")
        self.call("GET", "/ready")
        self.ids["tenant"] = self.call("GET", f"{SR}/stats")["tenantId"]

    # the demo's own resources, by name: an earlier run's are replaced, never duplicated
    DEMO_FLOWS = ("Dataflow between payments Platform", "PayPal transactions")
    DEMO_CONNECTIONS = ("Paypal connection",)
    DEMO_DATASETS = ("PayPal products", "PayPal transactions")
    DEMO_REGISTRY = (
        ("schemas", ("PayPal catalog products (raw)", "Target schema for payments", "PayPal transactions")),
        ("fieldgroups", ("PayPal product details", "PayPal payer")),
        ("classes", ("PayPal catalog products (raw)",)),
    )

    def remove_previous(self) -> None:
        removed = 0
        for name in self.DEMO_FLOWS:
            q = quote(f'"{name}"', safe="")
            for flow in self.call("GET", f"{FS}/flows?property=name=={q}")["items"]:
                self.call("DELETE", f"{FS}/flows/{flow['id']}", expect=(204,))
                for key, kind in (
                    ("sourceConnectionIds", "sourceConnections"),
                    ("targetConnectionIds", "targetConnections"),
                ):
                    for cid in flow.get(key, []):
                        self.call("DELETE", f"{FS}/{kind}/{cid}", expect=(204, 404))
                removed += 1
        for name in self.DEMO_CONNECTIONS:
            q = quote(f'"{name}"', safe="")
            for conn in self.call("GET", f"{FS}/connections?property=name=={q}")["items"]:
                self.call("DELETE", f"{FS}/connections/{conn['id']}", expect=(204,))
                removed += 1
        for name in self.DEMO_DATASETS:
            found = self.call("GET", f"{CAT}/dataSets?property=name=={quote(name, safe='')}") or {}
            for ds_id in found:
                self.call("DELETE", f"{CAT}/dataSets/{ds_id}", expect=(200, 204))
                removed += 1
        for kind, titles in self.DEMO_REGISTRY:
            for title in titles:
                got = self.call(
                    "GET",
                    f"{SR}/tenant/{kind}?property=title=={quote(title, safe='')}",
                    headers={"Accept": "application/vnd.adobe.xed-id+json"},
                )
                for res in got.get("results", []):
                    if kind == "schemas":
                        self._remove_descriptors(res["$id"])
                    alt = quote(res.get("meta:altId") or res["$id"], safe="")
                    self.call("DELETE", f"{SR}/tenant/{kind}/{alt}", expect=(204,))
                    removed += 1
        if removed:
            self.report.append(("Earlier demo run", f"replaced {removed} resource(s) it had created"))

    def _remove_descriptors(self, schema_id: str) -> None:
        got = self.call(
            "GET", f"{SR}/tenant/descriptors", headers={"Accept": "application/vnd.adobe.xdm+json"}
        )
        for bodies in (got or {}).values():
            for d in bodies if isinstance(bodies, list) else []:
                if isinstance(d, dict) and d.get("xdm:sourceSchema") == schema_id:
                    self.call("DELETE", f"{SR}/tenant/descriptors/{d['@id']}", expect=(204,))

    def base_connection(self) -> None:
        client_id, secret = self.emulator_client
        out = self.call(
            "POST",
            f"{FS}/connections",
            json={
                "name": "Paypal connection",
                "description": "Paypal connection",
                "auth": {
                    "specName": "Client-Id-Secret Based Authentication",
                    "params": {"host": self.emulator_url, "clientId": client_id, "clientSecret": secret},
                },
                "connectionSpec": {"id": PAYPAL_SPEC, "version": "1.0"},
            },
        )
        self.ids["base"] = out["id"]

    def explore(self) -> None:
        base = self.ids["base"]
        if self.call("GET", f"{FS}/connections/{base}/test").get("result") is not True:
            raise StepFailed("the connection test did not succeed")
        tables = [t["name"] for t in self.call("GET", f"{FS}/connections/{base}/explore?objectType=root")]
        if "PayPal.Catalog_Products" not in tables:
            raise StepFailed(f"PayPal.Catalog_Products is not among the tables: {tables}")
        desc = self.call(
            "GET",
            f"{FS}/connections/{base}/explore?objectType=table&object=PayPal.Catalog_Products&preview=true",
        )
        self.ids["product_columns"] = desc["schema"]["columns"]
        self.report.append(("Tables of the PayPal connection", ", ".join(tables)))

    def adhoc_schema(self) -> None:
        props = {c: {"type": "string"} for c in PRODUCT_COLUMNS}
        props.update(
            {
                "Create_Time": {"type": "string", "format": "date-time"},
                "Update_Time": {"type": "string", "format": "date-time"},
            }
        )
        cls = self.call(
            "POST",
            f"{SR}/tenant/classes",
            json={
                "title": "PayPal catalog products (raw)",
                "description": "Ad-hoc class of the raw product rows",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                    {"properties": {"_adhoc": {"type": "object", "properties": props}}},
                ],
            },
        )
        schema = self.call(
            "POST",
            f"{SR}/tenant/schemas",
            json={
                "title": "PayPal catalog products (raw)",
                "description": "Ad-hoc schema of the raw product rows",
                "type": "object",
                "allOf": [{"$ref": cls["$id"]}],
            },
        )
        self.ids["adhoc_schema"] = schema["$id"]

    def source_connection(self) -> None:
        out = self.call(
            "POST",
            f"{FS}/sourceConnections",
            json={
                "name": "Paypal source connection",
                "baseConnectionId": self.ids["base"],
                "description": "Paypal",
                "data": {
                    "format": "tabular",
                    "schema": {
                        "id": self.ids["adhoc_schema"],
                        "version": "application/vnd.adobe.xed-full-notext+json; version=1",
                    },
                },
                "params": {"tableName": "PayPal.Catalog_Products", "columns": self.ids["product_columns"]},
                "connectionSpec": {"id": PAYPAL_SPEC, "version": "1.0"},
            },
        )
        self.ids["source"] = out["id"]

    def target_schema(self) -> None:
        tenant = f"_{self.ids['tenant']}"
        product = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "Product name"},
                "description": {"type": "string", "title": "Description"},
                "type": {"type": "string", "title": "Product type"},
                "category": {"type": "string", "title": "Category"},
                "updated": {"type": "string", "format": "date-time", "title": "Last update"},
            },
        }
        fg = self.call(
            "POST",
            f"{SR}/tenant/fieldgroups",
            json={
                "title": "PayPal product details",
                "description": "Product fields of the payments tutorial",
                "type": "object",
                "meta:intendedToExtend": [PROFILE],
                "definitions": {
                    "product": {
                        "properties": {tenant: {"type": "object", "properties": {"product": product}}}
                    }
                },
                "allOf": [{"$ref": "#/definitions/product"}],
            },
        )
        schema = self.call(
            "POST",
            f"{SR}/tenant/schemas",
            json={
                "type": "object",
                "title": "Target schema for payments",
                "description": "Target schema for payments",
                "allOf": [
                    {"$ref": PROFILE},
                    {"$ref": "https://ns.adobe.com/xdm/context/profile-person-details"},
                    {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
                    {"$ref": "https://ns.adobe.com/xdm/context/profile-personal-details"},
                    {"$ref": fg["$id"]},
                ],
                "meta:containerId": "tenant",
                "meta:resourceType": "schemas",
                "meta:xdmType": "object",
                "meta:class": PROFILE,
            },
        )
        self.ids["target_schema"] = schema["$id"]
        full = self.call(
            "GET",
            f"{SR}/tenant/schemas/{quote(schema['meta:altId'])}",
            headers={"Accept": "application/vnd.adobe.xed-full+json; version=1"},
        )
        if "person" not in full.get("properties", {}):
            raise StepFailed("the target schema's full view lacks person fields")

    def dataset(self) -> None:
        out = self.call(
            "POST",
            f"{CAT}/dataSets?requestDataSource=true",
            json={
                "name": "PayPal products",
                "description": "Catalog products ingested from PayPal",
                "schemaRef": {
                    "id": self.ids["target_schema"],
                    "contentType": "application/vnd.adobe.xed+json;version=1",
                },
                "enableErrorDiagnostics": True,
            },
        )
        self.ids["dataset"] = out[0].split("/")[-1]

    def target_connection(self) -> None:
        out = self.call(
            "POST",
            f"{FS}/targetConnections",
            json={
                "name": "Target Connection for payments",
                "description": "Target Connection for payments",
                "data": {
                    "format": "parquet_xdm",
                    "schema": {
                        "id": self.ids["target_schema"],
                        "version": "application/vnd.adobe.xed-full+json;version=1",
                    },
                },
                "params": {"dataSetId": self.ids["dataset"]},
                "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"},
            },
        )
        self.ids["target"] = out["id"]

    def mapping_set(self) -> None:
        t = f"_{self.ids['tenant']}"
        pairs = [
            ("_id", "Product_Id"),
            (f"{t}.product.name", "Product_Name"),
            (f"{t}.product.description", "Description"),
            (f"{t}.product.type", "Type"),
            (f"{t}.product.category", "Category"),
            (f"{t}.product.updated", "Update_Time"),
        ]
        out = self.call(
            "POST",
            f"{CONV}/mappingSets",
            json={
                "version": 0,
                "xdmSchema": self.ids["target_schema"],
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
            },
        )
        self.ids["mapping"] = out["id"]

    def flow_spec(self) -> None:
        out = self.call("GET", f"{FS}/flowSpecs?property=name==%22CRMToAEP%22")
        self.ids["flow_spec"] = out["items"][0]["id"]

    def flow(self) -> None:
        out = self.call(
            "POST",
            f"{FS}/flows",
            json={
                "name": "Dataflow between payments Platform",
                "description": "Inbound data to Platform",
                "flowSpec": {"id": self.ids["flow_spec"], "version": "1.0"},
                "sourceConnectionIds": [self.ids["source"]],
                "targetConnectionIds": [self.ids["target"]],
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
                    {"name": "Mapping", "params": {"mappingId": self.ids["mapping"], "mappingVersion": 0}},
                ],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
                "options": {"errorDiagnosticsEnabled": True},
            },
        )
        self.ids["flow"] = out["id"]

    def _wait_run(self, flow_id: str, *, count: int = 1) -> dict[str, Any]:
        deadline = time.monotonic() + self.run_timeout
        while time.monotonic() < deadline:
            runs = self.call("GET", f"{FS}/runs?property=flowId=={flow_id}&orderby=createdAt")["items"]
            done = [r for r in runs if r["metrics"]["statusSummary"]["status"] in ("success", "failed")]
            if len(done) >= count:
                return done[count - 1]
            time.sleep(0.5)
        raise StepFailed(f"no run of flow {flow_id} finished within {self.run_timeout:.0f} s")

    def _metrics(self, run: dict[str, Any]) -> str:
        m = run["metrics"]
        rec, dur = m["recordSummary"], m["durationSummary"]
        return (
            f"run {run['id']}: {m['statusSummary']['status']}, input {rec['inputRecordCount']}, "
            f"output {rec['outputRecordCount']}, failed {rec['failedRecordCount']}, "
            f"{(dur['completedAtUTC'] - dur['startedAtUTC']) / 1000:.2f} s"
        )

    def _rows(self, dataset_id: str, n: int = 5) -> Table:
        data = self.call("GET", f"/data/foundation/export/datasets/{dataset_id}/preview?limit={n}")
        rows = data.get("data", data) if isinstance(data, dict) else data
        table = Table(show_lines=False)
        if not rows:
            return table
        keys = list(rows[0].keys())[:6]
        for k in keys:
            table.add_column(k, overflow="fold", max_width=40)
        for row in rows[:n]:
            table.add_row(*[json.dumps(row.get(k), default=str)[:80] for k in keys])
        return table

    def wait_first_run(self) -> None:
        run = self._wait_run(self.ids["flow"])
        if run["metrics"]["statusSummary"]["status"] != "success":
            raise StepFailed(f"the run failed: {json.dumps(run['metrics']['statusSummary'])[:1500]}")
        self.report.append(("Products run", self._metrics(run)))
        console.print(self._rows(self.ids["dataset"]))

    # -- part two: incremental transactions --------------------------------------------
    def event_schema(self) -> None:
        tenant = f"_{self.ids['tenant']}"
        fg = self.call(
            "POST",
            f"{SR}/tenant/fieldgroups",
            json={
                "title": "PayPal payer",
                "description": "Who paid, as PayPal reports it",
                "type": "object",
                "meta:intendedToExtend": [EVENT],
                "definitions": {
                    "payer": {
                        "properties": {
                            tenant: {
                                "type": "object",
                                "properties": {
                                    "payer": {
                                        "type": "object",
                                        "properties": {
                                            "email": {"type": "string", "title": "Payer email"},
                                            "name": {"type": "string", "title": "Payer name"},
                                            "accountId": {"type": "string", "title": "PayPal account"},
                                        },
                                    },
                                    "transaction": {
                                        "type": "object",
                                        "properties": {
                                            "status": {"type": "string", "title": "Status"},
                                            "eventCode": {"type": "string", "title": "Event code"},
                                            "updated": {
                                                "type": "string",
                                                "format": "date-time",
                                                "title": "Updated",
                                            },
                                        },
                                    },
                                },
                            }
                        }
                    }
                },
                "allOf": [{"$ref": "#/definitions/payer"}],
            },
        )
        schema = self.call(
            "POST",
            f"{SR}/tenant/schemas",
            json={
                "type": "object",
                "title": "PayPal transactions",
                "description": "Transactions as commerce events",
                "allOf": [
                    {"$ref": EVENT},
                    {"$ref": "https://ns.adobe.com/xdm/context/experienceevent-commerce"},
                    {"$ref": fg["$id"]},
                ],
            },
        )
        self.ids["event_schema"] = schema["$id"]
        self.call(
            "POST",
            f"{SR}/tenant/descriptors",
            json={
                "@type": "xdm:descriptorIdentity",
                "xdm:sourceSchema": schema["$id"],
                "xdm:sourceVersion": 1,
                "xdm:sourceProperty": f"/{tenant}/payer/email",
                "xdm:namespace": "Email",
                "xdm:property": "xdm:code",
                "xdm:isPrimary": True,
            },
        )

    def event_flow(self) -> None:
        t = f"_{self.ids['tenant']}"
        ds = self.call(
            "POST",
            f"{CAT}/dataSets",
            json={
                "name": "PayPal transactions",
                "schemaRef": {"id": self.ids["event_schema"], "contentType": XED_V1},
                "enableErrorDiagnostics": True,
            },
        )
        self.ids["event_dataset"] = ds[0].split("/")[-1]
        src = self.call(
            "POST",
            f"{FS}/sourceConnections",
            json={
                "name": "PayPal transactions",
                "baseConnectionId": self.ids["base"],
                "data": {"format": "tabular"},
                "params": {"tableName": "PayPal.Transactions", "lookbackHours": 72},
                "connectionSpec": {"id": PAYPAL_SPEC, "version": "1.0"},
            },
        )
        tgt = self.call(
            "POST",
            f"{FS}/targetConnections",
            json={
                "name": "Transactions dataset",
                "data": {"format": "parquet_xdm"},
                "params": {"dataSetId": self.ids["event_dataset"]},
                "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"},
            },
        )
        mappings = [
            ("EXPRESSION", 'concat(Transaction_Id, "-", Transaction_Event_Code)', "_id"),
            ("ATTRIBUTE", "Transaction_Initiation_Date", "timestamp"),
            ("ATTRIBUTE", "Transaction_Amount_Value", "commerce.order.priceTotal"),
            ("ATTRIBUTE", "Transaction_Amount_Currency", "commerce.order.currencyCode"),
            ("EXPRESSION", "lower(Payer_Email)", f"{t}.payer.email"),
            ("EXPRESSION", 'concat(Payer_Given_Name, " ", Payer_Surname)', f"{t}.payer.name"),
            ("ATTRIBUTE", "Payer_Account_Id", f"{t}.payer.accountId"),
            ("ATTRIBUTE", "Transaction_Status", f"{t}.transaction.status"),
            ("ATTRIBUTE", "Transaction_Event_Code", f"{t}.transaction.eventCode"),
            ("ATTRIBUTE", "Transaction_Updated_Date", f"{t}.transaction.updated"),
        ]
        ms = self.call(
            "POST",
            f"{CONV}/mappingSets",
            json={
                "outputSchema": {"schemaRef": {"id": self.ids["event_schema"], "contentType": XED_V1}},
                "mappings": [{"sourceType": k, "source": s, "destination": d} for k, s, d in mappings],
            },
        )
        flow = self.call(
            "POST",
            f"{FS}/flows",
            json={
                "name": "PayPal transactions",
                "flowSpec": {"id": self.ids["flow_spec"], "version": "1.0"},
                "sourceConnectionIds": [src["id"]],
                "targetConnectionIds": [tgt["id"]],
                "transformations": [
                    {
                        "name": "Copy",
                        "params": {
                            "deltaColumn": {
                                "name": "Transaction_Updated_Date",
                                "dateFormat": "yyyy-MM-dd HH:mm:ss",
                                "timezone": "UTC",
                            }
                        },
                    },
                    {"name": "Mapping", "params": {"mappingId": ms["id"], "mappingVersion": 0}},
                ],
                "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
                "options": {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 5},
            },
        )
        self.ids["event_flow"] = flow["id"]

    def wait_event_run(self) -> None:
        run = self._wait_run(self.ids["event_flow"])
        if run["metrics"]["statusSummary"]["status"] != "success":
            raise StepFailed(f"the run failed: {json.dumps(run['metrics']['statusSummary'])[:1500]}")
        self.ids["event_first"] = run["metrics"]["recordSummary"]["outputRecordCount"]
        self.report.append(("Transactions, first run", self._metrics(run)))

    def incremental_run(self) -> None:
        assert self.emulator_url is not None
        now = int(time.time())
        new = [
            {
                "event_code": "T0006",
                "initiation": now - 600 - i,
                "updated": now - 600 - i,
                "amount": 1000 + i * 37,
                "currency": "USD",
                "status": "S",
                "subject": f"demo order {i}",
            }
            for i in range(25)
        ]
        with httpx.Client(base_url=self.emulator_url, timeout=30) as emu:
            emu.post("/_emulator/transactions", json={"transactions": new}).raise_for_status()
        self.call(
            "POST",
            f"{FS}/runs",
            json={
                "flowId": self.ids["event_flow"],
                "params": {
                    "startTime": str(now),
                    "windowStartTime": str(now - 3600),
                    "windowEndTime": str(now),
                },
            },
        )
        run = self._wait_run(self.ids["event_flow"], count=2)
        status = run["metrics"]["statusSummary"]["status"]
        output = run["metrics"]["recordSummary"]["outputRecordCount"]
        if status != "success" or output < len(new):
            raise StepFailed(
                f"the incremental run should have ingested exactly {len(new)} new rows: "
                f"{status}, {output} rows ({json.dumps(run['metrics'])[:1200]})"
            )
        self.report.append(
            (
                "Transactions, incremental run",
                self._metrics(run) + f"\nonly the {len(new)} new transactions arrived "
                f"(first run: {self.ids['event_first']} rows)",
            )
        )
        console.print(self._rows(self.ids["event_dataset"]))
