"""``xdmflow datasets list|head`` over the API of the home's service, ``sql`` on the store and lake."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.catalog.cathelp import adhoc_schema, complete, create_batch, create_dataset, upload
from xdmflow.cli.datasets import datasets_app


def test_list_head_and_sql(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDMFLOW_HOME", str(api.ctx.settings.home_path))
    monkeypatch.delenv("XDMFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("XDMFLOW_LAKE_URL", raising=False)
    schema_id, ns = adhoc_schema(api, {"id": {"type": "string"}, "n": {"type": "integer"}})
    ds = create_dataset(api, schema_id, name="cli rows")
    batch = create_batch(api, ds, "csv")
    upload(api, batch, ds, "r.csv", b"id,n\n" + b"".join(f"r{i},{i}\n".encode() for i in range(30)))
    assert complete(api, batch).json()["status"] == "success"

    runner = CliRunner()
    r = runner.invoke(datasets_app, ["list", "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(r.stdout)
    assert [x["id"] for x in listed] == [ds] and listed[0]["lastBatchStatus"] == "success"
    assert listed[0]["rows"] == 30 and listed[0]["bytes"] > 0 and listed[0]["lastBatchAt"]
    r = runner.invoke(datasets_app, ["list"])
    assert r.exit_code == 0 and "cli rows" in r.stdout

    r = runner.invoke(datasets_app, ["head", ds, "-n", "5", "--json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    # the ad-hoc namespace is unwrapped: the columns are the source's
    assert len(rows) == 5 and all(set(row) == {"id", "n"} for row in rows), rows
    assert ns not in r.stdout
    r = runner.invoke(datasets_app, ["head", ds])
    assert r.exit_code == 0 and "first 20 row(s)" in r.stdout
    r = runner.invoke(datasets_app, ["head", "f" * 24])
    assert r.exit_code == 3, r.output

    r = runner.invoke(datasets_app, ["sql", ds])
    assert r.exit_code == 0 and "xdmflow sql" in r.stdout and "psql" in r.stdout


def test_docs_examples_read_the_table(api: Any) -> None:
    """The DuckDB read_parquet and pyiceberg examples of docs/datasets.md work."""
    import duckdb
    from pyiceberg.catalog.sql import SqlCatalog

    from xdmflow.lake.lake import namespace_for

    schema_id, ns = adhoc_schema(api, {"id": {"type": "string"}})
    ds = create_dataset(api, schema_id, name="docs")
    for rows in (b"id\na\nb\n", b"id\nc\n"):
        batch = create_batch(api, ds, "csv")
        upload(api, batch, ds, "r.csv", rows)
        assert complete(api, batch).json()["status"] == "success"
    lake = api.ctx.lake
    nsp = namespace_for(api.creds["org_id"], "prod")
    files = [f for s in lake.snapshots(nsp, ds) if s.batch_id for f in lake.batch_files(nsp, ds, s.batch_id)]
    paths = [f.removeprefix("file://") for f in files]
    counted = duckdb.sql(f"SELECT count(*) FROM read_parquet({paths!r})")
    assert counted is not None and counted.fetchall() == [(3,)]
    settings = api.ctx.settings
    catalog = SqlCatalog("xdmflow", uri=settings.resolved_database_url, warehouse=settings.resolved_lake_url)
    table = catalog.load_table((nsp, ds))
    assert table.scan().to_arrow().num_rows == 3
    assert (
        len([s for s in table.metadata.snapshots if s.summary is not None and s.summary["xdmflow.batch-id"]])
        == 2
    )
