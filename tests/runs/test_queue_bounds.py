"""Queue bounds: POST /runs beyond a bound is a 429 in the Flow Service's error format; scheduled
fires beyond it are recorded as skipped runs, never queued."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import CLOUD, FS, adhoc_schema, dataset, files_source, ok, target_connection
from xdmflow.runs.queue import QueueLimits
from xdmflow.runtime import build_app
from xdmflow.scheduler.loop import tick
from xdmflow.store.tables import RunQueue


def _api(tmp_path: Path, db_url: str, **kw: Any) -> Iterator[Api]:
    # the API alone: no worker drains the queue while the test fills it
    settings = make_settings(tmp_path / "home", db_url, **kw)
    with TestClient(build_app(settings, role="api")) as client:
        yield Api(client)


@pytest.fixture
def api_per_flow(tmp_path: Path, db_url: str) -> Iterator[Api]:
    yield from _api(tmp_path, db_url, max_queued_runs_per_flow=2, max_queued_runs=0)


@pytest.fixture
def api_total(tmp_path: Path, db_url: str) -> Iterator[Api]:
    yield from _api(tmp_path, db_url, max_queued_runs_per_flow=0, max_queued_runs=3)


def make_flow(api: Api, tmp_path: Path, name: str, schedule: dict[str, Any] | None = None) -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "a.csv").write_text("id\n1\n", encoding="utf-8")
    schema = adhoc_schema(api, {"id": {"type": "string"}}, title=name)
    ds = dataset(api, schema["$id"], name)
    src = files_source(api, tmp_path, "data/a.csv")
    tgt = target_connection(api, ds)
    sched = schedule or {"startTime": str(int(time.time()) + 86_400), "frequency": "once"}
    return str(
        ok(
            api.post(
                f"{FS}/flows",
                json={
                    "name": name,
                    "flowSpec": {"id": CLOUD, "version": "1.0"},
                    "sourceConnectionIds": [src],
                    "targetConnectionIds": [tgt],
                    "scheduleParams": sched,
                },
            )
        )["id"]
    )


def assert_queue_full(r: Any, setting: str) -> None:
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["type"].endswith("FLOW-1429-429") and body["status"] == 429
    assert setting in body["report"]["detailed-message"]


def test_on_demand_runs_beyond_the_per_flow_bound_are_429(api_per_flow: Api, tmp_path: Path) -> None:
    api = api_per_flow
    flow = make_flow(api, tmp_path, "a")
    other = make_flow(api, tmp_path, "b")
    for _ in range(2):
        ok(api.post(f"{FS}/runs", json={"flowId": flow}))
    assert_queue_full(api.post(f"{FS}/runs", json={"flowId": flow}), "XDMFLOW_MAX_QUEUED_RUNS_PER_FLOW")
    ok(api.post(f"{FS}/runs", json={"flowId": other}))  # the bound is per flow
    runs = ok(api.get(f"{FS}/runs?property=flowId=={flow}"))["items"]
    assert len(runs) == 2  # the refused request left nothing behind


def test_on_demand_runs_beyond_the_global_bound_are_429(api_total: Api, tmp_path: Path) -> None:
    api = api_total
    flows = [make_flow(api, tmp_path, n) for n in ("a", "b")]
    for flow in (flows[0], flows[1], flows[0]):
        ok(api.post(f"{FS}/runs", json={"flowId": flow}))
    assert_queue_full(api.post(f"{FS}/runs", json={"flowId": flows[1]}), "XDMFLOW_MAX_QUEUED_RUNS")
    with api.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RunQueue)) == 3


def test_scheduled_fires_beyond_the_bound_are_recorded_as_skipped(api_per_flow: Api, tmp_path: Path) -> None:
    api = api_per_flow
    now = int(time.time())
    flow = make_flow(
        api,
        tmp_path,
        "sched",
        {"startTime": str(now - 3600 - 60), "frequency": "minute", "interval": "15", "backfill": True},
    )
    made = tick(api.ctx.db, now, limits=QueueLimits(per_flow=2))
    assert len(made) == 2
    runs = ok(api.get(f"{FS}/runs?property=flowId=={flow}&orderby=createdAt"))["items"]
    assert len(runs) == 5  # every fire time is accounted for
    assert [r["state"] for r in runs].count("scheduled") == 2
    skipped = [r for r in runs if r.get("skipped")]
    assert len(skipped) == 3 and all(r["state"] == "failed" for r in skipped)
    err = skipped[0]["metrics"]["statusSummary"]["errors"][0]
    assert err["code"] == "FLOW-1429-429" and "XDMFLOW_MAX_QUEUED_RUNS_PER_FLOW" in err["message"]
    assert skipped[0]["metrics"]["durationSummary"]["completedAtUTC"] > 0
    with api.ctx.db.session() as s:
        queued = s.scalar(select(func.count()).select_from(RunQueue).where(RunQueue.flow_id == flow))
    assert queued == 2
    assert tick(api.ctx.db, now, limits=QueueLimits(per_flow=2)) == []  # no fire is retried
