"""File flows through the whole service with ``XDMFLOW_EXECUTOR=dask`` (a LocalCluster, 2 worker
processes): one batch with the exact row count; a worker killed mid-run never leaves a partial
batch. The same flows on the in-process executor are in ``test_file_flow.py`` and
``tests/pipeline/test_partitioned.py`` runs the pipeline on both executors.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import (
    CAT,
    CLOUD,
    FS,
    adhoc_schema,
    dataset,
    files_source,
    ok,
    target_connection,
    wait_runs,
)
from tests.pipeline.daskhelp import kill_busy_worker, start_dask
from xdmflow.executors.dask import DaskExecutor
from xdmflow.lake.files import batch_data_dir
from xdmflow.lake.lake import namespace_for
from xdmflow.runtime import build_app

FIELDS = {"id": {"type": "string"}, "name": {"type": "string"}, "amount": {"type": "number"}}


@pytest.fixture(scope="module")
def cluster() -> Iterator[DaskExecutor]:
    ex = start_dask(2)
    try:
        yield ex
    finally:
        ex.close()


def scheduler_address(ex: DaskExecutor) -> str:
    """The address of the executor's scheduler, for the service's own client."""
    scheduler = ex.client.scheduler
    assert scheduler is not None and scheduler.address is not None
    return str(scheduler.address)


def dask_service(home: Path, db_url: str, address: str) -> TestClient:
    settings = make_settings(
        home, db_url, scheduler_interval_seconds=0.2, workers=1, executor="dask", dask_address=address
    )
    return TestClient(build_app(settings, role="all"))


def write_files(folder: Path, files: int, per_file: int) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        ids = np.arange(i * per_file, (i + 1) * per_file)
        table = pa.table(
            {
                "id": pa.array(ids).cast(pa.string()),
                "name": pa.array(np.char.add("name-", ids.astype(str))),
                "amount": pa.array(ids * 0.25).cast(pa.string()),
            }
        )
        pacsv.write_csv(table, folder / f"f{i:02d}.csv")
    return files * per_file


def make_flow(api: Api, root: Path, pattern: str) -> tuple[dict[str, Any], str, str]:
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"])
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "dask flow",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [files_source(api, root, pattern)],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
            },
        )
    )
    return flow, ds, str(schema["meta:datasetNamespace"])


def batch_of(run: dict[str, Any]) -> str:
    return str(run["activities"][1]["targetInfo"][0]["reference"]["ids"][0])


def test_file_flow_on_dask_commits_one_batch(cluster: DaskExecutor, tmp_path: Path, db_url: str) -> None:
    total = write_files(tmp_path / "in", files=6, per_file=50_000)
    with dask_service(tmp_path / "home", db_url, scheduler_address(cluster)) as client:
        api = Api(client)
        assert api.ctx.executor.name == "dask"
        flow, ds, guid = make_flow(api, tmp_path, "in/*.csv")
        [run] = wait_runs(api, flow["id"], timeout=180)
        assert run["state"] == "success", run["metrics"]
        rec = run["metrics"]["recordSummary"]
        assert (rec["inputRecordCount"], rec["outputRecordCount"], rec["failedRecordCount"]) == (
            total,
            total,
            0,
        )
        ns = namespace_for(api.creds["org_id"], "prod")
        lake = api.ctx.lake
        batch_id = batch_of(run)
        assert [s.batch_id for s in lake.snapshots(ns, ds)] == [batch_id]
        data = lake.scan(ns, ds)
        ids = [r["id"] for r in data.column(guid).to_pylist()]
        assert len(ids) == len(set(ids)) == total
        batch = ok(api.get(f"{CAT}/batches/{batch_id}"))[batch_id]
        assert batch["status"] == "success"
        assert batch["metrics"]["outputRecordCount"] == total
        assert batch["metrics"]["partitionCount"] > 1  # the files were split across the workers
        # the watermark moved only after the commit: a second run finds nothing new
        ok(
            api.post(
                f"{FS}/runs", json={"flowId": flow["id"], "params": {"startTime": str(int(time.time()))}}
            )
        )
        second = wait_runs(api, flow["id"], count=2, timeout=180)[1]
        assert second["state"] == "success", second["metrics"]
        assert second["metrics"]["recordSummary"]["outputRecordCount"] == 0
        assert lake.scan(ns, ds).num_rows == total


def test_worker_killed_mid_run_never_leaves_a_partial_batch(cluster: DaskExecutor, tmp_path: Path) -> None:
    total = write_files(tmp_path / "in", files=8, per_file=100_000)
    db_url = f"sqlite:///{tmp_path / 'meta.db'}"
    with dask_service(tmp_path / "home", db_url, scheduler_address(cluster)) as client:
        api = Api(client)
        flow, ds, _ = make_flow(api, tmp_path, "in/*.csv")
        kill_busy_worker(cluster, timeout=120)  # the nanny starts a new worker process
        killed_at = time.time() * 1000
        [run] = wait_runs(api, flow["id"], timeout=300)
        assert run["metrics"]["durationSummary"]["completedAtUTC"] > killed_at  # killed mid-run
        ns = namespace_for(api.creds["org_id"], "prod")
        lake = api.ctx.lake
        rows = lake.scan(ns, ds).num_rows
        if run["state"] == "success":  # the killed worker's partition was retried
            assert run["metrics"]["recordSummary"]["outputRecordCount"] == total
            assert rows == total
            assert len(lake.snapshots(ns, ds)) == 1
            # the files the killed attempt wrote were deleted, only the committed ones remain
            batch_id = batch_of(run)
            fs, root = fsspec.core.url_to_fs(batch_data_dir(lake.table_location(ns, ds), batch_id))
            on_disk = {p.rsplit("/", 1)[1] for p in fs.find(root)}
            assert on_disk == {p.rsplit("/", 1)[1] for p in lake.batch_files(ns, ds, batch_id)}
        else:  # or the run failed with nothing committed
            assert run["state"] == "failed", run
            assert rows == 0 and lake.snapshots(ns, ds) == []
