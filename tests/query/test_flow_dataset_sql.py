"""A dataset ingested by a file flow (the whole service with its scheduler and worker) read over psql:
exactly the rows the flow committed, the rejected row absent."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api, make_settings
from tests.flowservice.conftest import (
    CLOUD,
    FS,
    adhoc_schema,
    dataset,
    files_source,
    ok,
    target_connection,
    wait_runs,
)
from xdmflow.cli.demo import free_port
from xdmflow.lake.lake import namespace_for
from xdmflow.runtime import build_app

FIELDS = {"id": {"type": "string"}, "name": {"type": "string"}, "amount": {"type": "number"}}


@pytest.fixture
def whole_service(tmp_path: Path) -> Iterator[Api]:
    settings = make_settings(
        tmp_path / "home", scheduler_interval_seconds=0.2, workers=1, pg_port=free_port()
    )
    with TestClient(build_app(settings, role="all")) as client:
        yield Api(client)


def test_psql_reads_exactly_what_a_flow_committed(whole_service: Api, tmp_path: Path) -> None:
    api = whole_service
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("id,name,amount\n1,Ann,10.5\n2,Bø,20\n3,Cy,not-a-number\n4,Dee,40.25\n")
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"], name="Flow Orders")
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "csv flow",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [files_source(api, tmp_path, "data/*.csv")],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
                "options": {"partialIngestionPercent": 30},
            },
        )
    )
    [run] = wait_runs(api, flow["id"])
    assert run["state"] == "success", run["metrics"]
    guid = schema["meta:datasetNamespace"]
    committed = api.ctx.lake.scan(namespace_for(api.creds["org_id"], "prod"), ds).column(guid).to_pylist()
    expected = sorted(f"{r['id']}|{r['name']}|{r['amount']}" for r in committed)
    assert len(expected) == 3

    port = api.ctx.pg_port
    conninfo = f"host=127.0.0.1 port={port} user={api.creds['org_id']} dbname=prod:all sslmode=disable"
    r = subprocess.run(
        [
            "psql",
            conninfo,
            "-X",
            "-A",
            "-t",
            "-F",
            "|",
            "-c",
            f"SELECT {guid}.id, {guid}.name, {guid}.amount FROM flow_orders",
        ],
        env={**os.environ, "PGPASSWORD": api.token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == expected == ["1|Ann|10.5", "2|Bø|20.0", "4|Dee|40.25"]
