"""A file flow end to end: local CSV files → ad-hoc schema dataset, partial ingestion, incremental."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.conftest import Api
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
from xdmflow.lake.lake import namespace_for

FIELDS = {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "amount": {"type": "number"},
    "updatedAt": {"type": "string", "format": "date-time"},
}


def write_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    lines = ["id,name,amount,updatedAt"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_file_flow_partial_ingestion_and_incremental(service: Api, tmp_path: Path) -> None:
    api = service
    data = tmp_path / "data"
    data.mkdir()
    write_csv(
        data / "a.csv",
        [
            ("1", "Ann", "10.5", "2026-01-01 10:00:00"),
            ("2", "Bø", "20", "2026-01-02T10:00:00Z"),
            ("3", "Cy", "not-a-number", "2026-01-03 10:00:00"),
            ("4", "Dee", "40.25", "2026-01-04 10:00:00"),
        ],
    )
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"])
    src = files_source(api, tmp_path, "data/*.csv")
    tgt = target_connection(api, ds)
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "csv flow",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [tgt],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
                "options": {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 30},
            },
        )
    )
    [run] = wait_runs(api, flow["id"])
    rec = run["metrics"]["recordSummary"]
    assert run["state"] == "success", run["metrics"]
    assert (rec["inputRecordCount"], rec["outputRecordCount"], rec["failedRecordCount"]) == (4, 3, 1)
    codes = [e["code"] for e in run["metrics"]["statusSummary"]["errors"]]
    assert "INGEST-1212-400" in codes
    batch_id = run["activities"][1]["targetInfo"][0]["reference"]["ids"][0]

    lake = api.ctx.lake
    ns = namespace_for(api.creds["org_id"], "prod")
    table = lake.scan(ns, ds)
    guid = schema["meta:datasetNamespace"]
    rows = sorted(table.column(guid).to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == ["1", "2", "4"]
    assert [r["amount"] for r in rows] == [10.5, 20.0, 40.25]
    assert rows[1]["name"] == "Bø"

    # the rejected row can be found with its row number and reason
    errs = ok(api.get(f"/data/foundation/export/batches/{batch_id}/meta?path=row_errors"))
    assert errs["data"], errs

    # flow shows its last run
    got = ok(api.get(f"{FS}/flows/{flow['id']}"))["items"][0]
    assert got["lastRunDetails"]["id"] == run["id"] and got["lastRunDetails"]["state"] == "success"

    # a new file arrives: an on-demand run reads only it
    time.sleep(1.1)
    write_csv(data / "b.csv", [("5", "Eve", "50", "2026-01-05 10:00:00")])
    os.utime(data / "b.csv")
    ok(
        api.post(
            f"{FS}/runs",
            json={
                "flowId": flow["id"],
                "params": {
                    "startTime": str(int(time.time())),
                    "windowStartTime": "0",
                    "windowEndTime": str(int(time.time())),
                },
            },
        )
    )
    runs = wait_runs(api, flow["id"], count=2)
    second = runs[1]
    assert second["state"] == "success", second["metrics"]
    assert second["metrics"]["recordSummary"]["outputRecordCount"] == 1
    assert lake.scan(ns, ds).num_rows == 4


def test_threshold_exceeded_writes_nothing(service: Api, tmp_path: Path) -> None:
    api = service
    data = tmp_path / "d"
    data.mkdir()
    write_csv(
        data / "x.csv", [("1", "A", "bad", "2026-01-01 10:00:00"), ("2", "B", "2", "2026-01-01 10:00:00")]
    )
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"])
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "strict",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [files_source(api, tmp_path, "d/x.csv")],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {"startTime": int(time.time()), "frequency": "once"},
                "options": {"errorDiagnosticsEnabled": True},
            },
        )
    )
    [run] = wait_runs(api, flow["id"])
    assert run["state"] == "failed"
    assert run["metrics"]["recordSummary"]["failedRecordCount"] == 1
    assert api.ctx.lake.scan(namespace_for(api.creds["org_id"], "prod"), ds).num_rows == 0
