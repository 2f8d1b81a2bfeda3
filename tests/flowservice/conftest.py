"""A running service (API + scheduler + worker) on a temp home, and helpers to build flows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api, make_settings
from xdmflow.cli.demo import ServiceThread, free_port
from xdmflow.emulators.paypal import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorConfig
from xdmflow.emulators.paypal import create_app as paypal_app
from xdmflow.emulators.paypal.state import EmulatorState
from xdmflow.runtime import build_app

FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"
CONV = "/data/foundation/conversion"
LOCAL = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"
LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CLOUD = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
CRM = "14518937-270c-4525-bdec-c2ba7cce3860"


@pytest.fixture
def service(tmp_path: Path, db_url: str) -> Iterator[Api]:
    """The whole service with background loops, on SQLite and PostgreSQL."""
    settings = make_settings(tmp_path / "home", db_url, scheduler_interval_seconds=0.2, workers=1)
    with TestClient(build_app(settings, role="all")) as client:
        yield Api(client)


def ok(r: Any, *codes: int) -> Any:
    assert r.status_code in (codes or (200, 201)), r.text
    return r.json() if r.content else None


def adhoc_schema(api: Api, fields: dict[str, dict[str, Any]], title: str = "raw") -> dict[str, Any]:
    cls = ok(
        api.post(
            f"{SR}/tenant/classes",
            json={
                "title": f"{title} class",
                "type": "object",
                "allOf": [
                    {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                    {"properties": {"_adhoc": {"type": "object", "properties": fields}}},
                ],
            },
        )
    )
    return ok(
        api.post(
            f"{SR}/tenant/schemas",
            json={"title": f"{title} schema", "type": "object", "allOf": [{"$ref": cls["$id"]}]},
        )
    )


def dataset(api: Api, schema_id: str, name: str = "ds") -> str:
    out = ok(
        api.post(
            f"{CAT}/dataSets",
            json={
                "name": name,
                "schemaRef": {"id": schema_id, "contentType": "application/vnd.adobe.xed+json;version=1"},
            },
        )
    )
    return str(out[0].split("/")[-1])


def target_connection(api: Api, dataset_id: str) -> str:
    return str(
        ok(
            api.post(
                f"{FS}/targetConnections",
                json={
                    "name": "lake",
                    "data": {"format": "parquet_xdm"},
                    "params": {"dataSetId": dataset_id},
                    "connectionSpec": {"id": LAKE, "version": "1.0"},
                },
            )
        )["id"]
    )


def files_source(api: Api, root: Path, path: str, fmt: str = "delimited") -> str:
    base = ok(
        api.post(
            f"{FS}/connections",
            json={
                "name": "files",
                "auth": {"specName": "Local Folder", "params": {"rootPath": str(root)}},
                "connectionSpec": {"id": LOCAL, "version": "1.0"},
            },
        )
    )["id"]
    return str(
        ok(
            api.post(
                f"{FS}/sourceConnections",
                json={
                    "name": "files source",
                    "baseConnectionId": base,
                    "data": {"format": fmt},
                    "params": {"path": path},
                    "connectionSpec": {"id": LOCAL, "version": "1.0"},
                },
            )
        )["id"]
    )


def wait_runs(api: Api, flow_id: str, count: int = 1, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = ok(api.get(f"{FS}/runs?property=flowId=={flow_id}&orderby=createdAt"))["items"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        if len(done) >= count:
            return done
        time.sleep(0.2)
    raise AssertionError(f"runs of {flow_id} did not finish: {runs}")


# -- the service and the PayPal emulator over real HTTP (payments tutorial, aepp) ----------------


@dataclass
class LiveService:
    """The whole service (API + scheduler + worker) served by uvicorn on a loopback port."""

    url: str
    app: Any
    credentials: dict[str, str]

    def token(self) -> str:
        """An access token from our ``/ims/token/v3`` for the default client."""
        r = httpx.post(
            f"{self.url}/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": self.credentials["client_id"],
                "client_secret": self.credentials["client_secret"],
                "scope": "openid,AdobeID,read_organizations",
            },
        )
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])


@pytest.fixture
def live_service(tmp_path: Path, db_url: str) -> Iterator[LiveService]:
    """The service on a free port, on SQLite and PostgreSQL; stopped (loops and server) afterwards."""
    settings = make_settings(tmp_path / "home", db_url, scheduler_interval_seconds=0.2, workers=1)
    port = free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    app = build_app(settings, role="all")
    before = set(threading.enumerate())
    server = ServiceThread(app, port).start()
    try:
        yield LiveService(server.url, app, dict(app.state.ctx.credentials))
    finally:
        server.stop()
        assert not server.thread.is_alive(), "the service thread did not stop"
        loops = [t for t in threading.enumerate() if t not in before and t.name.startswith("xdmflow-")]
        assert not loops, f"background loops still running: {loops}"


@dataclass
class PayPalEmulator:
    url: str
    state: EmulatorState
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET


PAYPAL_SMALL = EmulatorConfig(n_transactions=500, days=30, n_products=37, latency_seconds=0.0)


@pytest.fixture
def paypal() -> Iterator[PayPalEmulator]:
    """The PayPal emulator (a small deterministic dataset) on a free loopback port."""
    app = paypal_app(7, config=PAYPAL_SMALL)
    server = ServiceThread(app, free_port()).start()
    try:
        yield PayPalEmulator(server.url, app.state.emulator)
    finally:
        server.stop()
        assert not server.thread.is_alive(), "the emulator thread did not stop"
