"""Two API processes, one scheduler and two workers on one PostgreSQL, started with the commands of
docs/deploy.md: every run is executed exactly once, both API processes show the same state, and a
worker killed with SIGKILL mid-run has its run recovered by the other worker."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from tests.flowservice.conftest import CLOUD, FS, adhoc_schema, dataset, files_source, ok, target_connection
from tests.runtime.runtimehelp import Deployment, HttpApi, command_family, documented_commands
from xdmflow.lake.lake import Lake, namespace_for
from xdmflow.settings import Settings
from xdmflow.store.db import Database
from xdmflow.store.tables import Lease, RunQueue

pytestmark = pytest.mark.postgres

ORG = "SCALEOUT00000000000000000@AdobeOrg"
FIELDS = {"id": {"type": "string"}, "n": {"type": "integer"}}
ROWS = 40  # rows per small file
FLOWS = 8  # small flows, one run each
BIG = 600_000  # rows of the file the killed worker was reading
DEPLOY_DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"


def write_csv(path: Path, prefix: str, rows: int) -> None:
    ids = pa.array([f"{prefix}-{i:07d}" for i in range(rows)])
    pcsv.write_csv(pa.table({"id": ids, "n": pa.array(range(rows), pa.int64())}), path)
    past = time.time() - 120  # before every run's window end
    os.utime(path, (past, past))


def make_flow(api: HttpApi, root: Path, path: str, ds: str, start: int, **options: Any) -> str:
    src = files_source(api, root, path)  # type: ignore[arg-type]
    tgt = target_connection(api, ds)  # type: ignore[arg-type]
    body: dict[str, Any] = {
        "name": f"flow {path}",
        "flowSpec": {"id": CLOUD, "version": "1.0"},
        "sourceConnectionIds": [src],
        "targetConnectionIds": [tgt],
        "scheduleParams": {"startTime": start, "frequency": "once"},
    }
    if options:
        body["options"] = options
    return str(ok(api.post(f"{FS}/flows", json=body))["id"])


def runs_of(api: HttpApi, flow_id: str) -> list[dict[str, Any]]:
    return list(ok(api.get(f"{FS}/runs?property=flowId=={flow_id}&orderby=createdAt"))["items"])


def wait_finished(api: HttpApi, flow_ids: list[str], timeout: float = 60) -> dict[str, list[dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    while True:
        runs = {f: runs_of(api, f) for f in flow_ids}
        if all(rs and all(r["state"] in ("success", "failed") for r in rs) for rs in runs.values()):
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(f"runs did not finish: {runs}")
        time.sleep(0.2)


def queue_rows(db: Database) -> dict[str, RunQueue]:
    with db.session() as s:
        return {r.run_id: r for r in s.scalars(select(RunQueue))}


def pid_of(worker_id: str | None) -> int:
    assert worker_id is not None
    return int(worker_id.split(":")[1])


def lake_rows(dep: Deployment, api: HttpApi, ds: str) -> list[str]:
    """The dataset's ids, read back with ``xdmflow datasets head`` against a running API (as an
    operator would, with the org's token)."""
    h = api.headers
    out = dep.cli(
        "datasets",
        "head",
        ds,
        "-n",
        "1000",
        "--json",
        "--url",
        str(api.http.base_url).rstrip("/"),
        "--token",
        h["Authorization"].removeprefix("Bearer "),
        "--org",
        h["x-gw-ims-org-id"],
        "--api-key",
        h["x-api-key"],
    )
    return [json.loads(line)["id"] for line in out.splitlines() if line.strip()]


def test_two_apis_one_scheduler_two_workers(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(FLOWS):
        write_csv(data / f"f{i}.csv", f"f{i}", ROWS)
    lake_dir = tmp_path / "shared-lake"
    dep = Deployment(
        tmp_path,
        {
            "XDMFLOW_DATABASE_URL": pg_url,
            "XDMFLOW_LAKE_URL": str(lake_dir),
            # the operator opens the test's folder (the homes and the lake inside stay excluded)
            "XDMFLOW_LOCAL_ROOTS": str(tmp_path),
            "XDMFLOW_ALLOWED_HOSTS": "127.0.0.0/8,localhost",
            "XDMFLOW_PG_PORT": "0",  # several API processes on one machine: no PostgreSQL port
            "XDMFLOW_SECRET_KEY": Fernet.generate_key().decode(),
            "XDMFLOW_SCHEDULER_INTERVAL_SECONDS": "0.2",
            "XDMFLOW_SCHEDULER_LEASE_SECONDS": "3",
            "XDMFLOW_WORKERS": "2",
            "XDMFLOW_HEARTBEAT_SECONDS": "0.3",
            "XDMFLOW_RUN_STALE_SECONDS": "2",
        },
    )
    db = Database(pg_url)
    t0 = time.monotonic()
    try:
        dep.cli("db", "upgrade")
        for name, role in (
            ("api1", "api"),
            ("api2", "api"),
            ("scheduler", "scheduler"),
            ("worker1", "worker"),
            ("worker2", "worker"),
        ):
            dep.serve(name, role)
        creds = dep.create_client(ORG)  # while the processes start
        dep.wait_ready()
        print(f"ready after {time.monotonic() - t0:.1f}s")
        api1, api2 = dep.client("api1", creds), dep.client("api2", creds)
        workers = {dep.procs[n].pid: n for n in ("worker1", "worker2")}

        # -- phase 1: half the flows fire through the scheduler, half run on demand ----------
        schema = adhoc_schema(api1, FIELDS)  # type: ignore[arg-type]
        ds = dataset(api1, schema["$id"])  # type: ignore[arg-type]
        now = int(time.time())
        flows = []
        for i in range(FLOWS):
            scheduled = i % 2 == 0
            flows.append(make_flow(api1, tmp_path, f"data/f{i}.csv", ds, now if scheduled else now + 3600))
        for i, flow_id in enumerate(flows):
            if i % 2 == 1:  # on demand, through either API process
                ok(([api1, api2][i // 2 % 2]).post(f"{FS}/runs", json={"flowId": flow_id}))
        runs = wait_finished(api2, flows)

        every = [r for rs in runs.values() for r in rs]
        assert all(len(rs) == 1 for rs in runs.values()), runs
        assert all(r["state"] == "success" for r in every), [r["metrics"] for r in every]
        assert all(r["metrics"]["recordSummary"]["outputRecordCount"] == ROWS for r in every)
        assert {r["trigger"] for r in every} == {"scheduled", "ondemand"}
        # a worker marks its queue row done just after the run's final state is visible
        deadline = time.monotonic() + 10
        while any(q.status != "done" for q in queue_rows(db).values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        queue = queue_rows(db)
        for r in every:
            row = queue[r["id"]]
            assert (row.status, row.attempts) == ("done", 1)
            assert pid_of(row.claimed_by) in workers  # only worker processes execute runs
        assert {pid_of(queue[r["id"]].claimed_by) for r in every} == set(workers)  # both did work
        with db.session() as s:
            lease = s.get(Lease, "scheduler")
        assert lease is not None and pid_of(lease.holder) == dep.procs["scheduler"].pid

        ids = lake_rows(dep, api1, ds)
        assert len(ids) == FLOWS * ROWS == len(set(ids))  # each run's rows exactly once
        h = api1.headers
        listed = json.loads(
            dep.cli(
                "datasets",
                "list",
                "--json",
                "--url",
                str(api1.http.base_url).rstrip("/"),
                "--token",
                h["Authorization"].removeprefix("Bearer "),
                "--org",
                h["x-gw-ims-org-id"],
                "--api-key",
                h["x-api-key"],
            )
        )
        assert ds in {d["id"] for d in listed}
        settings = Settings(database_url=pg_url, lake_url=str(lake_dir), home=tmp_path / "home-check")
        lake = Lake.from_settings(settings)
        ns = namespace_for(ORG, "prod")
        batches = [snap.batch_id for snap in lake.snapshots(ns, ds)]
        assert len(batches) == FLOWS == len(set(batches))

        # both API processes serve the same state
        for flow_id in flows:
            assert ok(api1.get(f"{FS}/flows/{flow_id}")) == ok(api2.get(f"{FS}/flows/{flow_id}"))
            assert runs_of(api1, flow_id) == runs_of(api2, flow_id)
        for r in every:
            assert ok(api1.get(f"{FS}/runs/{r['id']}")) == ok(api2.get(f"{FS}/runs/{r['id']}"))
        cat = f"/data/foundation/catalog/dataSets/{ds}"
        assert ok(api1.get(cat)) == ok(api2.get(cat))

        print(f"phase 1 done after {time.monotonic() - t0:.1f}s")
        # -- phase 2: SIGKILL the worker executing a run; the other one recovers it ---------
        big_dir = tmp_path / "big"
        big_dir.mkdir()
        write_csv(big_dir / "big.csv", "big", BIG)
        big_ds = dataset(api1, schema["$id"], name="big")  # type: ignore[arg-type]
        big_flow = make_flow(api1, tmp_path, "big/big.csv", big_ds, now + 3600, maxRetries=1)
        run_id = ok(api2.post(f"{FS}/runs", json={"flowId": big_flow}))["id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            run = ok(api1.get(f"{FS}/runs/{run_id}"))["items"][0]
            if run["state"] != "scheduled":
                break
            time.sleep(0.05)
        assert run["state"] == "inProgress", run
        victim_pid = pid_of(queue_rows(db)[run_id].claimed_by)
        victim = workers[victim_pid]
        survivor_pid = next(p for p in workers if p != victim_pid)
        dep.kill(victim)

        # the recovery is over when the killed run's queue row is done (its retry, if any, is
        # queued before that); only then are all of the flow's runs known
        deadline = time.monotonic() + 60
        while queue_rows(db)[run_id].status != "done" and time.monotonic() < deadline:
            time.sleep(0.1)
        runs2 = wait_finished(api1, [big_flow], timeout=60)[big_flow]
        killed = next(r for r in runs2 if r["id"] == run_id)
        print(f"run killed mid-way ended {killed['state']}; runs of the flow: {len(runs2)}")
        queue = queue_rows(db)
        assert pid_of(queue[run_id].claimed_by) == survivor_pid  # recovered by the other worker
        assert queue[run_id].status == "done"
        if killed["state"] == "failed":  # killed before its commit: failed, then retried once
            assert "stopped before the batch was committed" in json.dumps(killed["metrics"])
            [retry] = [r for r in runs2 if r["id"] != run_id]
            assert retry["retryOf"] == run_id and retry["trigger"] == "retry"
            assert retry["state"] == "success", retry["metrics"]
            assert pid_of(queue[retry["id"]].claimed_by) == survivor_pid
            assert queue[retry["id"]].attempts == 1
        else:  # killed after its commit: the recovery finalised it from its recorded intent
            assert killed["state"] == "success" and len(runs2) == 1
        assert queue[run_id].attempts == 1  # the killed run was never executed a second time
        assert lake.scan(ns, big_ds).num_rows == BIG
        big_ids = lake.scan(ns, big_ds).column(schema["meta:datasetNamespace"]).combine_chunks().field("id")
        assert len(set(big_ids.to_pylist())) == BIG
        assert ok(api1.get(f"{FS}/runs/{run_id}")) == ok(api2.get(f"{FS}/runs/{run_id}"))
        lake.close()
        api1.close()
        api2.close()

        print(f"phase 2 done after {time.monotonic() - t0:.1f}s")
        # the deploy guide's xdmflow commands are the ones this test ran
        documented = {command_family(c) for c in documented_commands(DEPLOY_DOC)}
        ran = {command_family(c) for c in dep.commands}
        assert documented and documented <= ran, documented - ran
    except BaseException:
        for name in dep.procs:
            print(f"--- {name} ---\n{dep.log(name)}")
        raise
    finally:
        dep.stop()
        db.dispose()
