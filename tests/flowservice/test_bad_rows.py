"""One bad-row policy: a record that cannot be parsed is the same row error through a Local Files
flow and through Batch Ingestion (counts, code, file, 1-based record number, message)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.catalog.cathelp import EXPORT, catalog_batch, complete, create_batch, upload
from tests.conftest import Api
from tests.flowservice.conftest import (
    CLOUD,
    FS,
    LOCAL,
    adhoc_schema,
    dataset,
    files_source,
    ok,
    target_connection,
    wait_runs,
)

FIELDS = {"id": {"type": "string"}, "name": {"type": "string"}, "amount": {"type": "number"}}

#: 8 data records: record 3 has too many columns, record 5 too few, record 7 a byte that is not UTF-8.
MALFORMED_CSV = (
    b"id,name,amount\n"
    b"1,Ann,10\n"
    b"2,Bo,20\n"
    b"3,Cy,30,extra,more\n"
    b"4,Dee,40\n"
    b"5\n"
    b'6,"Quoted, name",60\n'
    b"7,N\xffX,70\n"
    b"8,Hal,80\n"
)

#: 6 lines: line 2 is not JSON, line 5 is cut short.
MALFORMED_JSONL = (
    b'{"id": "1", "amount": 1}\n'
    b"{broken json\n"
    b'{"id": "3", "amount": 3}\n'
    b'{"id": "4", "amount": 4}\n'
    b'{"id": "5", "amo\n'
    b'{"id": "6", "amount": 6}\n'
)


def _meta_lines(api: Api, batch_id: str, prefix: str) -> list[dict[str, Any]]:
    listing = ok(api.get(f"{EXPORT}/batches/{batch_id}/meta?path=row_errors"))
    out: list[dict[str, Any]] = []
    for d in listing["data"]:
        if d["name"].startswith(prefix):
            r = api.get(f"{EXPORT}/batches/{batch_id}/meta?path=row_errors/{d['name']}")
            assert r.status_code == 200, r.text
            out += [json.loads(line) for line in r.text.splitlines() if line.strip()]
    return out


def _errors(records: list[dict[str, Any]]) -> list[tuple[str, str, int, str, str]]:
    return sorted(
        (e["code"], Path(r["_filename"]).name, r["_row"], e["message"], r["_corrupt_record"])
        for r in records
        for e in r["_errors"]
    )


def _flow_run(api: Api, root: Path, pattern: str, fmt: str, ds: str) -> dict[str, Any]:
    src = files_source(api, root, pattern, fmt)
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": f"bad rows {fmt}",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
                "options": {"errorDiagnosticsEnabled": True, "partialIngestionPercent": 50},
            },
        )
    )
    [run] = wait_runs(api, flow["id"])
    return run


def _batch(api: Api, ds: str, fmt: str, name: str, data: bytes) -> str:
    batch = create_batch(api, ds, fmt, enableErrorDiagnostics=True, partialIngestionPercent=50)
    assert upload(api, batch, ds, name, data).status_code == 201
    r = complete(api, batch)
    assert r.status_code == 200, r.text
    return batch


def _same_through_both(
    api: Api, tmp_path: Path, name: str, data: bytes, fmt: str, bi_fmt: str
) -> list[tuple[str, str, int, str, str]]:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / name).write_bytes(data)
    schema = adhoc_schema(api, FIELDS)
    flow_ds = dataset(api, schema["$id"], name="via flow")
    batch_ds = dataset(api, schema["$id"], name="via batch")

    run = _flow_run(api, tmp_path, f"inbox/{name}", fmt, flow_ds)
    batch_id = _batch(api, batch_ds, bi_fmt, name, data)

    assert run["state"] == "success", run["metrics"]
    rec = run["metrics"]["recordSummary"]
    metrics = catalog_batch(api, batch_id)["metrics"]
    assert catalog_batch(api, batch_id)["status"] == "success"
    flow_counts = (rec["inputRecordCount"], rec["outputRecordCount"], rec["failedRecordCount"])
    batch_counts = (
        metrics["inputRecordCount"],
        metrics["outputRecordCount"],
        metrics["failedRecordCount"],
    )
    assert flow_counts == batch_counts

    run_batch = run["activities"][1]["targetInfo"][0]["reference"]["ids"][0]
    via_flow = _errors(_meta_lines(api, run_batch, "parsing_errors"))
    via_batch = _errors(_meta_lines(api, batch_id, "parsing_errors"))
    assert via_flow == via_batch
    assert via_flow, "the malformed records are reported"
    codes = {e["code"] for e in run["metrics"]["statusSummary"]["errors"]}
    assert "INGEST-1401-400" in codes
    return via_batch


def test_malformed_csv_same_row_errors_through_flow_and_batch(service: Api, tmp_path: Path) -> None:
    via = _same_through_both(service, tmp_path, "people.csv", MALFORMED_CSV, "delimited", "csv")
    assert [(code, file, row, msg) for code, file, row, msg, _ in via] == [
        ("1401", "people.csv", 3, "Row is corrupted and cannot be read: expected 3 columns, found 5"),
        ("1401", "people.csv", 5, "Row is corrupted and cannot be read: expected 3 columns, found 1"),
        ("1401", "people.csv", 7, "Row is corrupted and cannot be read: a value is not valid UTF-8"),
    ]


def test_flow_json_lines_bad_lines_are_row_errors(service: Api, tmp_path: Path) -> None:
    api = service
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "people.json").write_bytes(MALFORMED_JSONL)
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"])
    run = _flow_run(api, tmp_path, "inbox/people.json", "json", ds)
    assert run["state"] == "success", run["metrics"]
    rec = run["metrics"]["recordSummary"]
    assert (rec["inputRecordCount"], rec["outputRecordCount"], rec["failedRecordCount"]) == (6, 4, 2)
    run_batch = run["activities"][1]["targetInfo"][0]["reference"]["ids"][0]
    via = _errors(_meta_lines(api, run_batch, "parsing_errors"))
    assert [(code, file, row, text) for code, file, row, _, text in via] == [
        ("1401", "people.json", 2, "{broken json"),
        ("1401", "people.json", 5, '{"id": "5", "amo'),
    ]


def test_flow_without_partial_ingestion_fails_on_a_malformed_row(service: Api, tmp_path: Path) -> None:
    api = service
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.csv").write_bytes(b"id,name,amount\n1,A,1\n2,B,2,3\n")
    schema = adhoc_schema(api, FIELDS)
    ds = dataset(api, schema["$id"])
    src = files_source(api, tmp_path, "in/x.csv")
    flow = ok(
        api.post(
            f"{FS}/flows",
            json={
                "name": "strict",
                "flowSpec": {"id": CLOUD, "version": "1.0"},
                "sourceConnectionIds": [src],
                "targetConnectionIds": [target_connection(api, ds)],
                "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
            },
        )
    )
    [run] = wait_runs(api, flow["id"])
    assert run["state"] == "failed"
    rec = run["metrics"]["recordSummary"]
    assert (rec["inputRecordCount"], rec["failedRecordCount"], rec["outputRecordCount"]) == (2, 1, 0)


def _base_connection(api: Api, root: Path) -> str:
    return str(
        ok(
            api.post(
                f"{FS}/connections",
                json={
                    "name": "files",
                    "auth": {"specName": "Local Folder", "params": {"rootPath": str(root)}},
                    "connectionSpec": {"id": LOCAL, "version": "1.0"},
                },
            )
        )["id"]
    )


def test_explore_preview_shows_good_rows_and_flags_bad_ones(service: Api, tmp_path: Path) -> None:
    api = service
    (tmp_path / "people.csv").write_bytes(MALFORMED_CSV.replace(b"\xff", b"y"))
    conn = _base_connection(api, tmp_path)
    r = api.get(f"{FS}/connections/{conn}/explore?objectType=file&object=/people.csv&preview=true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [row["id"] for row in body["data"]] == [1, 2, 4, 6, 7, 8]
    flagged = [(x["row"], x["message"], x["record"]) for x in body["rejectedRows"]]
    assert flagged == [
        (3, "Row is corrupted and cannot be read: expected 3 columns, found 5", "3,Cy,30,extra,more"),
        (5, "Row is corrupted and cannot be read: expected 3 columns, found 1", "5"),
    ]


def test_explore_filters_are_refused_not_ignored(service: Api, tmp_path: Path) -> None:
    api = service
    (tmp_path / "a.csv").write_bytes(b"id\n1\n2\n")
    conn = _base_connection(api, tmp_path)
    r = api.get(
        f"{FS}/connections/{conn}/explore?objectType=file&object=/a.csv&preview=true&filters=id%3D%3D1"
    )
    assert r.status_code == 400, r.text
    assert "filters" in r.text


#: 5 records that parse and convert: record 2's name is too long, record 4's amount is negative.
INVALID_CSV = b"id,name,amount\n1,Ann,10\n2,Bartholomew,20\n3,Cy,30\n4,Dee,-5\n5,Eve,50\n"
CHECKED_FIELDS: dict[str, dict[str, Any]] = {
    "id": {"type": "string"},
    "name": {"type": "string", "maxLength": 5},
    "amount": {"type": "number", "minimum": 0},
}


def test_invalid_values_same_row_errors_through_flow_and_batch(service: Api, tmp_path: Path) -> None:
    """A row that parses but breaks the schema: the same conversion row error (code, file,
    1-based record number, message, path) and the same run-level code through both paths."""
    api = service
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "people.csv").write_bytes(INVALID_CSV)
    schema = adhoc_schema(api, CHECKED_FIELDS)
    flow_ds = dataset(api, schema["$id"], name="checked via flow")
    batch_ds = dataset(api, schema["$id"], name="checked via batch")
    run = _flow_run(api, tmp_path, "inbox/people.csv", "delimited", flow_ds)
    batch_id = _batch(api, batch_ds, "csv", "people.csv", INVALID_CSV)
    assert run["state"] == "success", run["metrics"]
    rec = run["metrics"]["recordSummary"]
    assert (rec["inputRecordCount"], rec["outputRecordCount"], rec["failedRecordCount"]) == (5, 3, 2)

    def conversion(batch: str) -> list[tuple[str, str, int, str, str]]:
        return sorted(
            (e["code"], Path(r["_filename"]).name, r["_row"], e["message"], e["path"])
            for r in _meta_lines(api, batch, "conversion_errors")
            for e in r["_errors"]
        )

    run_batch = run["activities"][1]["targetInfo"][0]["reference"]["ids"][0]
    via_flow, via_batch = conversion(run_batch), conversion(batch_id)
    assert via_flow == via_batch
    assert [(code, file, row) for code, file, row, _, _ in via_flow] == [
        ("1401", "people.csv", 2),
        ("1401", "people.csv", 4),
    ]
    assert "Bartholomew" in via_flow[0][3] and via_flow[0][4].endswith(".name")
    flow_codes = {e["code"] for e in run["metrics"]["statusSummary"]["errors"]}
    batch_codes = {e["code"] for e in catalog_batch(api, batch_id)["errors"]}
    assert "INGEST-1401-400" in flow_codes and "INGEST-1401-400" in batch_codes
