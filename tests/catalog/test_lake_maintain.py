"""Lake maintenance as an operator runs it: ``xdmflow lake maintain`` and the scheduler's job."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.catalog.cathelp import adhoc_schema, complete, create_batch, create_dataset, upload
from xdmflow.cli.lake import lake_app
from xdmflow.lake.lake import namespace_for
from xdmflow.scheduler.loop import SchedulerLoop
from xdmflow.services import queries
from xdmflow.services.lake_maintenance import maintain_lake


def _dataset_with_batches(api: Any, n: int) -> str:
    schema_id, _ = adhoc_schema(api, {"id": {"type": "string"}})
    ds = create_dataset(api, schema_id, name="maintained")
    for i in range(n):
        batch = create_batch(api, ds, "csv")
        upload(api, batch, ds, "r.csv", f"id\nr{i}\n".encode())
        assert complete(api, batch).json()["status"] == "success"
    return ds


def test_cli_lake_maintain_expires_beyond_the_retention(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = _dataset_with_batches(api, 12)
    monkeypatch.setenv("XDMFLOW_HOME", str(api.ctx.settings.home_path))
    monkeypatch.delenv("XDMFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("XDMFLOW_LAKE_URL", raising=False)
    monkeypatch.setenv("XDMFLOW_SNAPSHOT_RETENTION_HOURS", "0")
    monkeypatch.setenv("XDMFLOW_SNAPSHOT_KEEP_LAST", "3")
    r = CliRunner().invoke(lake_app, ["maintain", "--dataset", ds, "--no-compact", "--json"])
    assert r.exit_code == 0, r.output
    [report] = json.loads(r.stdout)
    assert (report["dataset_id"], report["expired_snapshots"], report["snapshots"]) == (ds, 9, 3)
    assert report["compacted_files"] == 0
    nsp = namespace_for(api.creds["org_id"], "prod")
    assert len(api.ctx.lake.snapshots(nsp, ds)) == 3
    assert api.ctx.lake.scan(nsp, ds).num_rows == 12  # data is never deleted
    r = CliRunner().invoke(lake_app, ["maintain", "--dataset", "f" * 24])
    assert r.exit_code == 1


def _query(api: Any, sql: str) -> list[dict[str, Any]]:
    with api.ctx.db.session() as s:
        principal = queries.principal_for(s, api.creds["org_id"], "prod", api.creds["client_id"])
    table, _, _ = queries.run_statement(api.ctx, principal, sql)
    assert table is not None
    return list(table.to_pylist())


def test_cli_lake_maintain_compacts_small_files_with_the_same_rows(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = _dataset_with_batches(api, 12)
    nsp = namespace_for(api.creds["org_id"], "prod")
    ns = api.ctx.lake.compiled_schema(nsp, ds).fields[0].name
    sql = f"SELECT {ns}.id AS id FROM maintained ORDER BY 1"
    before = _query(api, sql)
    assert len(before) == 12
    monkeypatch.setenv("XDMFLOW_HOME", str(api.ctx.settings.home_path))
    monkeypatch.delenv("XDMFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("XDMFLOW_LAKE_URL", raising=False)
    monkeypatch.setenv("XDMFLOW_SNAPSHOT_RETENTION_HOURS", "0")
    monkeypatch.setenv("XDMFLOW_SNAPSHOT_KEEP_LAST", "3")
    monkeypatch.setenv("XDMFLOW_COMPACT_MIN_FILES", "4")
    monkeypatch.setenv("COLUMNS", "200")  # the table on one line per dataset
    r = CliRunner().invoke(lake_app, ["maintain", "--dataset", ds])
    assert r.exit_code == 0, r.output
    assert ds in r.stdout and "9 → 1" in r.stdout  # the table: 9 small files became one
    assert _query(api, sql) == before  # the Query Service reads the compacted table
    assert api.ctx.lake.scan(nsp, ds).num_rows == 12
    table = api.ctx.lake.load(nsp, ds)
    assert len(list(table.scan().plan_files())) == 4
    monkeypatch.setenv("XDMFLOW_SNAPSHOT_KEEP_LAST", "1")
    r = CliRunner().invoke(lake_app, ["maintain", "--dataset", ds, "--json"])
    [report] = json.loads(r.stdout)
    assert report["deleted_data_files"] == 9 and report["data_files"] == 4
    assert _query(api, sql) == before


def test_scheduler_lease_holder_runs_maintenance_each_interval(api: Any) -> None:
    ds = _dataset_with_batches(api, 4)
    settings = api.ctx.settings.model_copy(update={"snapshot_retention_hours": 0, "snapshot_keep_last": 1})
    t = [1_000_000.0]
    reports: list[Any] = []

    def job() -> None:
        reports.extend(maintain_lake(settings, api.ctx.db, api.ctx.lake))

    holder = SchedulerLoop(api.ctx.db, 5, lambda: t[0], holder="a", maintenance=job, maintenance_interval=600)
    standby = SchedulerLoop(
        api.ctx.db, 5, lambda: t[0], holder="b", maintenance=job, maintenance_interval=600
    )
    for _ in range(3):  # 3 iterations within one interval: one maintenance, by the holder only
        holder.step()
        standby.step()
        t[0] += 10
    assert (holder.maintenance_runs, standby.maintenance_runs) == (1, 0)
    assert [(r.dataset_id, r.snapshots) for r in reports] == [(ds, 1)]
    t[0] += 600
    holder.step()
    assert holder.maintenance_runs == 2
    holder.stop()
