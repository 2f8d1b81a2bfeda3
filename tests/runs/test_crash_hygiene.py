"""Crash hygiene: a run killed while writing leaves no file, its restarted sole worker recovers it
at once, and a recovered run's timestamps are real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import CLOUD, FS, adhoc_schema, dataset, files_source, ok, target_connection
from tests.flowservice.test_crash import Client
from xdmflow.cli.demo import free_port
from xdmflow.connectors.registry import get_connector
from xdmflow.pipeline.run import execute
from xdmflow.runs import execute as run_execute
from xdmflow.runs.claim import (
    claim_next,
    dead_holder_runs,
    holder_gone,
    register_holder,
    stale_runs,
    unregister_holder,
    worker_holder_id,
)
from xdmflow.runtime import build_app
from xdmflow.store.db import Database
from xdmflow.store.tables import RunQueue

ROWS = 3_000_000


# -- a dead holder is recognised --------------------------------------------------------------


def _holder_with_pid(pid: int) -> str:
    host, _pid, rand, machine = worker_holder_id().split(":")
    return f"{host}:{pid}:{rand}:{machine}"


def test_runs_of_a_gone_process_are_taken_over_at_once_live_ones_are_not(db: Database) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    mine = worker_holder_id()  # a live worker of this process
    register_holder(mine)
    previous = worker_holder_id()  # this pid's previous incarnation (never registered here)
    try:
        holders = {
            "r-dead": _holder_with_pid(dead.pid),
            "r-alive": _holder_with_pid(alive.pid),
            "r-mine": mine,
            "r-previous": previous,
            "r-elsewhere": f"another-host:{dead.pid}:abcd1234:ffffffffffff",
        }
        assert holder_gone(holders["r-dead"]) and holder_gone(previous)
        assert not holder_gone(holders["r-alive"]) and not holder_gone(mine)
        assert not holder_gone(holders["r-elsewhere"]) and not holder_gone("dead-worker")
        with db.session() as s:
            for i, (run_id, holder) in enumerate(holders.items()):
                s.add(
                    RunQueue(
                        run_id=run_id,
                        flow_id=f"f{i}",
                        status="running",
                        claimed_by=holder,
                        heartbeat_at=int(time.time() * 1000),  # fresh: the stale limit would not fire
                        attempts=1,
                        not_before=0,
                        created_at=i,
                    )
                )
        taken = dead_holder_runs(db, "recoverer")
        assert sorted(c.run_id for c in taken) == ["r-dead", "r-previous"]
        assert all(c.held() for c in taken)
        assert dead_holder_runs(db, "other") == []  # taken over once
    finally:
        unregister_holder(mine)
        alive.kill()
        alive.wait()


# -- a recovered run's timestamps ---------------------------------------------------------------


@pytest.fixture
def api_only(tmp_path: Path, db_url: str) -> Iterator[Api]:
    """The API without background loops: this test plays the worker itself."""
    settings = make_settings(tmp_path / "home", db_url)
    with TestClient(build_app(settings, role="api")) as client:
        yield Api(client)


def test_a_run_recovered_as_success_has_real_timestamps(api_only: Api, tmp_path: Path) -> None:
    api = api_only
    ctx = api.ctx
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id\n1\n2\n", encoding="utf-8")
    schema = adhoc_schema(api, {"id": {"type": "string"}})
    ds = dataset(api, schema["$id"])
    src = files_source(api, tmp_path, "data/a.csv")
    tgt = target_connection(api, ds)
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "f",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [tgt],
                "scheduleParams": {"startTime": str(int(time.time()) + 86_400), "frequency": "once"},
            },
        )
    )["id"]
    run_id = ok(api.post(f"{FS}/runs", json={"flowId": flow}))["id"]
    claim = claim_next(ctx.db, "worker-that-dies")
    assert claim is not None and claim.run_id == run_id
    # The worker gets as far as the lake commit (intent recorded, snapshot committed) and dies
    # before its bookkeeping transaction.
    run = run_execute._mark_started(ctx, run_id)
    assert run is not None
    with ctx.db.session() as s:
        spec, _facts = run_execute.build_spec(s, ctx, run)
    execute(
        spec,
        get_connector(spec.connector_spec_id),
        ctx.lake,
        before_commit=lambda r: run_execute._save_intent(ctx, claim, spec, r),
    )
    with ctx.db.session() as s:
        s.execute(update(RunQueue).where(RunQueue.run_id == run_id).values(heartbeat_at=0))
    (recovery,) = stale_runs(ctx.db, 1000, "recoverer")
    run_execute.recover_run(ctx, recovery)

    got = ok(api.get(f"{FS}/runs/{run_id}"))["items"][0]
    assert got["state"] == "success", got
    summary = got["metrics"]["durationSummary"]
    assert summary["startedAtUTC"] > 0 and summary["completedAtUTC"] >= summary["startedAtUTC"]
    promotion = got["activities"][1]
    assert promotion["durationSummary"]["completedAtUTC"] > 0 and promotion["updatedAtUTC"] > 0
    last = ok(api.get(f"{FS}/flows/{flow}"))["items"][0]["lastRunDetails"]
    assert last["id"] == run_id and last["startedAtUTC"] > 0 and last["completedAtUTC"] > 0


# -- kill -9 while writing, restart: no leftover file, recovered at once -------------------------


def start(home: Path, port: int, data: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "XDMFLOW_HOME": str(home),
        "XDMFLOW_WORKERS": "1",
        "XDMFLOW_SCHEDULER_INTERVAL_SECONDS": "0.2",
        "XDMFLOW_RUN_STALE_SECONDS": "600",  # recovery must not wait for this
        "XDMFLOW_HEARTBEAT_SECONDS": "0.5",
        "XDMFLOW_SECRET_KEY": "crash-test-key",
        "XDMFLOW_LOCAL_ROOTS": str(data),
        "XDMFLOW_PG_PORT": "0",
    }
    env.pop("XDMFLOW_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "xdmflow.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AssertionError("server did not start")


def batch_files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and "/data/batch=" in p.as_posix()]


def test_kill_9_while_writing_leaves_no_file_and_is_recovered_at_once(tmp_path: Path) -> None:
    home, data = tmp_path / "home", tmp_path / "data"
    data.mkdir()
    ids = pa.array([f"id-{i:08d}" for i in range(ROWS)])
    pcsv.write_csv(pa.table({"id": ids, "n": pa.array(range(ROWS), pa.int64())}), data / "big.csv")
    port = free_port()
    proc = start(home, port, data)
    c: Client | None = None
    try:
        c = Client(home, port)
        api: Any = _HttpApi(c)
        schema = adhoc_schema(api, {"id": {"type": "string"}, "n": {"type": "integer"}})
        ds = dataset(api, schema["$id"])
        src = files_source(api, data, "big.csv")
        tgt = target_connection(api, ds)
        flow = c.call(
            "POST",
            f"{FS}/flows",
            json={
                "name": "big",
                "flowSpec": {"id": CLOUD},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [tgt],
                "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
            },
        )["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not batch_files(home):  # the run is writing files
            time.sleep(0.02)
        runs = c.call("GET", f"{FS}/runs?property=flowId=={flow}")["items"]
        assert runs and runs[0]["state"] == "inProgress" and batch_files(home), runs
        run_id = runs[0]["id"]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        c.close()
        assert batch_files(home), "the killed run left its files"

        restarted = time.monotonic()
        proc = start(home, port, data)
        c = Client(home, port)
        while time.monotonic() - restarted < 60:
            run = c.call("GET", f"{FS}/runs/{run_id}")["items"][0]
            if run["state"] in ("success", "failed"):
                break
            time.sleep(0.2)
        assert run["state"] == "failed", run  # nothing was committed
        assert time.monotonic() - restarted < 60  # not XDMFLOW_RUN_STALE_SECONDS (600 s)
        summary = run["metrics"]["durationSummary"]
        assert summary["startedAtUTC"] > 0 and summary["completedAtUTC"] >= summary["startedAtUTC"]
        last = c.call("GET", f"{FS}/flows/{flow}")["items"][0]["lastRunDetails"]
        assert last["id"] == run_id and last["completedAtUTC"] > 0
        assert batch_files(home) == []  # the footer-less Parquet files of the dead run are gone
    finally:
        if c is not None:
            c.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


class _HttpApi:
    """The helpers of tests.flowservice.conftest over a :class:`Client` (they call ``api.post``)."""

    def __init__(self, c: Client) -> None:
        self.c = c

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.c.http.request("POST", path, headers=self.c.h, **kw)
