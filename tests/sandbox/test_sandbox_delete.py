"""Sandbox delete and reset remove everything; flow delete stops its runs (issue 13, defect 3)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import (
    CAT,
    CLOUD,
    FS,
    SR,
    adhoc_schema,
    dataset,
    files_source,
    ok,
    target_connection,
)
from xdmflow.api.app import create_app
from xdmflow.lake.lake import namespace_for
from xdmflow.runs.execute import ContextRuns
from xdmflow.runs.worker import Worker
from xdmflow.runtime import build_context
from xdmflow.scheduler.loop import tick
from xdmflow.store.tables import Document, FlowSchedule, RunQueue, Watermark

SBX = "/data/foundation/sandbox-management/sandboxes"
PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"
FIELDS = {"id": {"type": "string"}, "name": {"type": "string"}}


def in_sandbox(api: Api, name: str) -> Api:
    other = object.__new__(Api)
    other.__dict__.update(api.__dict__)
    other.headers = {**api.headers, "x-sandbox-name": name}
    return other


def populate(api: Api, data: Path, *, frequency: str = "minute", start: int = -7200) -> dict[str, Any]:
    """A connection with a secret, a file flow with a schedule, a dataset with a lake table, a run."""
    conn = api.post(
        f"{FS}/connections",
        json={
            "name": "pp",
            "auth": {
                "params": {"host": "http://127.0.0.1:1", "clientId": "id", "clientSecret": "s3cr3t-value"}
            },
            "connectionSpec": {"id": PAYPAL},
        },
    )
    assert conn.status_code == 201, conn.text
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"])
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "f",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [files_source(api, data, "*.csv")],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {
                    "startTime": str(int(time.time()) + start),
                    "frequency": frequency,
                    **({"interval": "15"} if frequency == "minute" else {}),
                },
            },
        )
    )
    return {"dataset": ds, "flow": flow["id"], "schema": schema["$id"]}


def count_docs(api: Api, sandbox: str) -> int:
    with api.ctx.db.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Document)
                .where(Document.org_id == api.creds["org_id"], Document.sandbox_name == sandbox)
            )
            or 0
        )


def assert_empty_sandbox(dev: Api) -> None:
    for path in ("connections", "sourceConnections", "targetConnections", "flows", "runs"):
        r = dev.get(f"{FS}/{path}")
        assert r.status_code == 200, r.text
        assert r.json()["items"] == [], (path, r.json())
    r = dev.get(f"{CAT}/dataSets")
    assert r.status_code == 200, r.text
    assert r.json() == {}, r.json()
    r = dev.get(f"{CAT}/batches")
    assert r.status_code == 200 and r.json() == {}, r.text
    r = dev.get(f"{SR}/tenant/schemas", headers={"Accept": "application/vnd.adobe.xed-id+json"})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [], r.json()


@pytest.fixture
def api_db(tmp_path: Path, db_url: str) -> Iterator[Api]:
    with TestClient(create_app(make_settings(tmp_path / "home", db_url), context=build_context)) as client:
        yield Api(client)


def test_delete_dev_then_recreate_starts_empty(api_db: Api, tmp_path: Path) -> None:
    api = api_db
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,name\n1,a\n")
    assert api.post(SBX, json={"name": "dev", "title": "Dev", "type": "development"}).status_code == 202
    dev = in_sandbox(api, "dev")
    made = populate(dev, data)
    prod = populate(api, data)  # the same org's prod sandbox must stay untouched
    run = ok(dev.post(f"{FS}/runs", json={"flowId": made["flow"]}))
    lake = api.ctx.lake
    ns = namespace_for(api.creds["org_id"], "dev")
    assert lake.table_exists(ns, made["dataset"])
    location = lake.table_location(ns, made["dataset"]).removeprefix("file://")
    assert Path(location).exists()
    with api.ctx.db.session() as s:
        assert s.scalar(
            select(func.count()).select_from(FlowSchedule).where(FlowSchedule.flow_id == made["flow"])
        )
        assert s.get(RunQueue, run["id"]) is not None

    r = api.delete(f"{SBX}/dev")
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "deleted"

    # every record and file of dev is gone; prod is untouched
    assert count_docs(api, "dev") == 0
    with api.ctx.db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(FlowSchedule).where(FlowSchedule.sandbox_name == "dev"))
            == 0
        )
        assert s.get(RunQueue, run["id"]) is None
        assert (
            s.scalar(select(func.count()).select_from(Watermark).where(Watermark.flow_id == made["flow"]))
            == 0
        )
    assert not lake.table_exists(ns, made["dataset"])
    assert not lake.catalog.namespace_exists(ns)
    assert not Path(location).exists()
    assert lake.table_exists(namespace_for(api.creds["org_id"], "prod"), prod["dataset"])
    assert count_docs(api, "prod") > 0

    # the deleted sandbox answers nothing; its schedule fires nothing (prod's still does)
    assert dev.get(f"{FS}/connections").status_code == 404
    fired = tick(api.ctx.db, time.time() + 3600)
    with api.ctx.db.session() as s:
        sandboxes = {d.sandbox_name for d in s.scalars(select(Document).where(Document.id.in_(fired)))}
    assert fired and sandboxes == {"prod"}

    # a new dev starts empty, secrets included
    assert api.post(SBX, json={"name": "dev", "title": "Dev again", "type": "development"}).status_code == 202
    assert_empty_sandbox(dev)
    assert dev.get(f"{FS}/flows/{made['flow']}").status_code == 404
    with api.ctx.db.session() as s:
        secrets = s.scalars(select(Document.secret).where(Document.sandbox_name == "dev")).all()
    assert secrets == []


def test_reset_empties_the_sandbox_and_keeps_it(api_db: Api, tmp_path: Path) -> None:
    api = api_db
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,name\n1,a\n")
    assert api.post(SBX, json={"name": "dev", "title": "Dev", "type": "development"}).status_code == 202
    dev = in_sandbox(api, "dev")
    made = populate(dev, data)
    assert api.put(f"{SBX}/dev", json={"action": "nope"}).status_code == 400
    r = api.put(f"{SBX}/dev", json={"action": "reset"})
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "active"
    assert_empty_sandbox(dev)
    assert not api.ctx.lake.table_exists(namespace_for(api.creds["org_id"], "dev"), made["dataset"])
    assert tick(api.ctx.db, time.time() + 3600) == []
    # the reset sandbox is usable at once
    populate(dev, data)


def test_delete_flow_stops_its_schedule_and_queued_runs(api_db: Api, tmp_path: Path) -> None:
    api = api_db
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,name\n1,a\n")
    made = populate(api, data)
    run = ok(api.post(f"{FS}/runs", json={"flowId": made["flow"]}))
    assert api.delete(f"{FS}/flows/{made['flow']}").status_code == 204
    with api.ctx.db.session() as s:
        assert s.get(RunQueue, run["id"]) is None
        assert s.get(FlowSchedule, made["flow"]) is None
    got = ok(api.get(f"{FS}/runs/{run['id']}"))["items"][0]
    assert got["state"] == "failed", got
    assert "was deleted" in str(got), got
    assert tick(api.ctx.db, time.time() + 3600) == []


def test_delete_sandbox_while_its_run_is_in_progress(tmp_path: Path, db_url: str) -> None:
    """A run in progress when its sandbox is deleted commits nothing and leaves no file behind."""
    data = tmp_path / "data"
    data.mkdir()
    n = 600_000
    ids = pa.array([str(i) for i in range(n)])
    pacsv.write_csv(pa.table({"id": ids, "name": ids}), data / "big.csv")
    with TestClient(create_app(make_settings(tmp_path / "home", db_url), context=build_context)) as client:
        api = Api(client)
        ctx = api.ctx
        assert api.post(SBX, json={"name": "dev", "title": "Dev", "type": "development"}).status_code == 202
        dev = in_sandbox(api, "dev")
        made = populate(dev, data, frequency="once", start=3600)
        ns = namespace_for(api.creds["org_id"], "dev")
        location = Path(ctx.lake.table_location(ns, made["dataset"]).removeprefix("file://"))
        run = ok(dev.post(f"{FS}/runs", json={"flowId": made["flow"]}))
        worker = Worker(ctx.db, ContextRuns(ctx), slots=1)
        thread = threading.Thread(target=worker.run_once)
        thread.start()
        deadline = time.monotonic() + 60
        state = "scheduled"
        while time.monotonic() < deadline and state == "scheduled":
            state = dev.get(f"{FS}/runs/{run['id']}").json()["items"][0]["state"]
            time.sleep(0.02)
        assert state == "inProgress"
        assert api.delete(f"{SBX}/dev").status_code == 202
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert count_docs(api, "dev") == 0
        assert not ctx.lake.catalog.namespace_exists(ns)
        leftovers = [p for p in location.rglob("*") if p.is_file()] if location.exists() else []
        assert leftovers == []
        assert api.post(SBX, json={"name": "dev", "title": "Dev", "type": "development"}).status_code == 202
        assert_empty_sandbox(dev)


def test_delete_dataset_drops_its_table_files_and_diagnostics(api_db: Api, tmp_path: Path) -> None:
    api = api_db
    ctx = api.ctx
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,n\n1,1\n2,x\n3,3\n")
    schema = adhoc_schema(api, {"id": {"type": "string"}, "n": {"type": "integer"}})
    ds = dataset(api, schema["$id"])
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "diag",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [files_source(api, data, "a.csv")],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {"startTime": str(int(time.time()) + 3600), "frequency": "once"},
                "options": {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 50},
            },
        )
    )
    ok(api.post(f"{FS}/runs", json={"flowId": flow["id"]}))
    worker = Worker(ctx.db, ContextRuns(ctx), slots=1)
    assert worker.run_once()
    [batch_id] = list(ok(api.get(f"{CAT}/batches")))
    assert ctx.diagnostics.exists(batch_id), "the run should have kept its rejected row"
    ns = namespace_for(api.creds["org_id"], "prod")
    location = Path(ctx.lake.table_location(ns, ds).removeprefix("file://"))
    assert any(p.is_file() for p in location.rglob("*.parquet"))
    assert api.delete(f"{CAT}/dataSets/{ds}").status_code == 200
    assert not ctx.lake.table_exists(ns, ds)
    assert not location.exists()
    assert not ctx.diagnostics.exists(batch_id)
