"""A real xdmflow service (API + scheduler + worker, uvicorn on loopback) and the HTTP calls
that build a flow: schema, dataset, target, mapping set, source connection, flow, run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import ADHOC_FIELDS, mappings

__all__ = ["BenchService", "FlowRun"]

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
CONV = "/data/foundation/conversion"
LOCAL = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"
LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CLOUD = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
CRM = "14518937-270c-4525-bdec-c2ba7cce3860"
POSTGRES = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
XED = "application/vnd.adobe.xed+json;version=1"
_FORMATS = {"csv": "delimited", "jsonl": "json", "parquet": "parquet"}
FAR_FUTURE = 4_000_000_000  # a `once` schedule that never fires: runs are started on demand


@dataclass
class FlowRun:
    run: dict[str, Any]
    wall: float  # POST /runs → the run's last update (success), from the run's own createdAt/updatedAt

    @property
    def state(self) -> str:
        return str(self.run["state"])

    @property
    def seconds(self) -> float:
        """Run start → commit, from the run's own metrics (durationSummary, in ms)."""
        d = self.run["metrics"]["durationSummary"]
        return (d["completedAtUTC"] - d["startedAtUTC"]) / 1000

    @property
    def records(self) -> dict[str, int]:
        return dict(self.run["metrics"]["recordSummary"])


class BenchService:
    """``with BenchService(home) as svc:`` — the whole service on a free loopback port."""

    def __init__(self, home: Path, *, database_url: str | None = None, role: str = "worker", **settings: Any):
        from xdmflow.cli.demo import ServiceThread, free_port
        from xdmflow.runtime import build_app
        from xdmflow.settings import Settings

        home.mkdir(parents=True, exist_ok=True)
        # the harness is its own operator: its data folders may be anywhere (the home's files stay
        # excluded) and its databases and emulators are on loopback
        settings.setdefault("local_roots", [Path("/")])
        settings.setdefault("allowed_hosts", ["127.0.0.0/8", "localhost", "::1"])
        self.settings = Settings(
            home=home,
            database_url=database_url,
            secret_key=None,
            scheduler_interval_seconds=settings.pop("scheduler_interval_seconds", 5.0),
            workers=settings.pop("workers", 1),
            **settings,
        )
        self.app = build_app(self.settings, role=role)
        self.thread = ServiceThread(self.app, free_port())
        self.http: httpx.Client | None = None

    def __enter__(self) -> BenchService:
        self.thread.start(timeout=120)
        # background loops start in the lifespan, after `started`; wait for the context
        deadline = time.monotonic() + 60
        while not hasattr(self.app.state, "ctx") and time.monotonic() < deadline:
            time.sleep(0.05)
        self.ctx = self.app.state.ctx
        creds = self.ctx.credentials
        self.http = httpx.Client(base_url=self.thread.url, timeout=600)
        tok = self.http.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        ).json()["access_token"]
        self.headers = {
            "Authorization": f"Bearer {tok}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": creds["org_id"],
            "x-sandbox-name": "prod",
        }
        self.http.headers.update(self.headers)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.http is not None:
            self.http.close()
        self.thread.stop()

    @property
    def url(self) -> str:
        return self.thread.url

    def call(self, method: str, path: str, **kw: Any) -> Any:
        assert self.http is not None
        r = self.http.request(method, path, **kw)
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {path} → {r.status_code}: {r.text[:2000]}")
        return r.json() if r.content else None

    # -- building a flow ------------------------------------------------------------------
    def target(self, title: str = "bench") -> tuple[str, str]:
        """An ad-hoc schema with the benchmark fields: ``(schema $id, dataset namespace)``."""
        cls = self.call(
            "POST",
            f"{SR}/tenant/classes",
            json={
                "title": f"{title} class",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                    {"properties": {"_adhoc": {"type": "object", "properties": ADHOC_FIELDS}}},
                ],
            },
        )
        schema = self.call(
            "POST",
            f"{SR}/tenant/schemas",
            json={"title": f"{title} schema", "type": "object", "allOf": [{"$ref": cls["$id"]}]},
        )
        return str(schema["$id"]), str(schema["meta:datasetNamespace"])

    def dataset(self, schema_id: str, name: str) -> str:
        out = self.call(
            "POST",
            f"{CAT}/dataSets",
            json={"name": name, "schemaRef": {"id": schema_id, "contentType": XED}},
        )
        return str(out[0].split("/")[-1])

    def files_source(self, root: Path, path: str) -> str:
        base = self.call(
            "POST",
            f"{FS}/connections",
            json={
                "name": "bench files",
                "auth": {"specName": "Local Folder", "params": {"rootPath": str(root)}},
                "connectionSpec": {"id": LOCAL, "version": "1.0"},
            },
        )["id"]
        return str(
            self.call(
                "POST",
                f"{FS}/sourceConnections",
                json={
                    "name": f"bench {path}",
                    "baseConnectionId": base,
                    "data": {"format": _FORMATS[path.rsplit(".", 1)[-1]]},
                    "params": {"path": path},
                    "connectionSpec": {"id": LOCAL, "version": "1.0"},
                },
            )["id"]
        )

    def postgres_source(self, url: str, table: str) -> str:
        base = self.call(
            "POST",
            f"{FS}/connections",
            json={
                "name": "bench postgres",
                "auth": {
                    "specName": "Connection String Based Authentication",
                    "params": {"connectionString": url},
                },
                "connectionSpec": {"id": POSTGRES, "version": "1.0"},
            },
        )["id"]
        return str(
            self.call(
                "POST",
                f"{FS}/sourceConnections",
                json={
                    "name": "bench table",
                    "baseConnectionId": base,
                    "data": {"format": "tabular"},
                    "params": {"tableName": table},
                    "connectionSpec": {"id": POSTGRES, "version": "1.0"},
                },
            )["id"]
        )

    def flow(
        self,
        source_id: str,
        schema_id: str,
        ns: str,
        name: str,
        *,
        delta: str | None = None,
        spec: str = CLOUD,
    ) -> tuple[str, str]:
        """A flow source → mapping → dataset with partial ingestion allowed; ``(flow id, dataset id)``."""
        ds = self.dataset(schema_id, name)
        tgt = self.call(
            "POST",
            f"{FS}/targetConnections",
            json={
                "name": f"{name} target",
                "data": {"format": "parquet_xdm"},
                "params": {"dataSetId": ds},
                "connectionSpec": {"id": LAKE, "version": "1.0"},
            },
        )["id"]
        ms = self.call(
            "POST",
            f"{CONV}/mappingSets",
            json={
                "outputSchema": {"schemaRef": {"id": schema_id, "contentType": XED}},
                "mappings": mappings(ns),
            },
        )
        transformations: list[dict[str, Any]] = []
        if delta:
            transformations.append(
                {
                    "name": "Copy",
                    "params": {
                        "deltaColumn": {"name": delta, "dateFormat": "yyyy-MM-dd HH:mm:ss", "timezone": "UTC"}
                    },
                }
            )
        transformations.append({"name": "Mapping", "params": {"mappingId": ms["id"], "mappingVersion": 0}})
        flow = self.call(
            "POST",
            f"{FS}/flows",
            json={
                "name": name,
                "flowSpec": {"id": spec, "version": "1.0"},
                "sourceConnectionIds": [source_id],
                "targetConnectionIds": [tgt],
                "transformations": transformations,
                "scheduleParams": {"startTime": FAR_FUTURE, "frequency": "once"},
                "options": {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 5},
            },
        )
        return str(flow["id"]), ds

    def run(self, flow_id: str, timeout: float = 3600) -> FlowRun:
        """Start a run on demand and wait for it; wall time from the POST to the success state."""
        now = int(time.time())
        t0 = time.perf_counter()
        run = self.call(
            "POST",
            f"{FS}/runs",
            json={
                "flowId": flow_id,
                "params": {"startTime": now, "windowStartTime": 0, "windowEndTime": now},
            },
        )
        run_id = run["id"] if "id" in run else run["items"][0]["id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.call("GET", f"{FS}/runs/{run_id}")["items"][0]
            if got["state"] in ("success", "failed"):
                # server-side: queued (createdAt, at the POST) → last update (the success);
                # the client polls every 100 ms, so its own clock would add up to that much
                if got.get("createdAt") and got.get("updatedAt"):
                    wall = (got["updatedAt"] - got["createdAt"]) / 1000
                else:
                    wall = time.perf_counter() - t0
                if got["state"] != "success":
                    raise RuntimeError(f"run {run_id} failed: {str(got['metrics'])[:3000]}")
                return FlowRun(got, wall)
            time.sleep(0.1)
        raise RuntimeError(f"run {run_id} did not finish in {timeout} s")
