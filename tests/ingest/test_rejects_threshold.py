"""Rejected rows, partial ingestion thresholds, diagnostics through the export API, ABORT, failures."""

from __future__ import annotations

import json
from typing import Any

from tests.ingest.ingesthelp import (
    CATALOG,
    EXPORT,
    IMPORT,
    adhoc_schema,
    catalog_batch,
    complete,
    create_batch,
    create_dataset,
    meta_lines,
    scan,
    snapshots,
    upload,
)

FIELDS = {
    "id": {"type": "string"},
    "age": {"type": "integer"},
    "email": {"type": "string", "format": "email"},
}


def _dataset(api: Any, **extra: Any) -> tuple[str, str]:
    schema_id, ns = adhoc_schema(api, FIELDS, required=["id"])
    return create_dataset(api, schema_id, name="people", **extra), ns


def _lines(ns: str, rows: list[Any]) -> bytes:
    out = []
    for r in rows:
        out.append(r if isinstance(r, str) else json.dumps({ns: r}))
    return ("\n".join(out) + "\n").encode()


def test_partial_ingestion_below_threshold_reports_rows(api_both: Any) -> None:
    api = api_both
    ds, ns = _dataset(api)
    batch = create_batch(api, ds, "json", enableErrorDiagnostics=True, partialIngestionPercent=50)
    rows: list[Any] = [{"id": f"r{i}", "age": i} for i in range(1, 9)]
    rows[2] = {"age": 3}  # line 3: required id missing
    rows[4] = {"id": "r5", "age": "five"}  # line 5: not an integer
    rows[6] = "{broken json"  # line 7: cannot be parsed
    assert upload(api, batch, ds, "people.json", _lines(ns, rows)).status_code == 201
    r = complete(api, batch)
    assert r.status_code == 200, r.text
    b = catalog_batch(api, batch)
    assert b["status"] == "success"
    assert b["metrics"]["inputRecordCount"] == 8
    assert b["metrics"]["outputRecordCount"] == 5 and b["metrics"]["failedRecordCount"] == 3
    assert b["tags"]["acp_enableErrorDiagnostics"] is True and b["tags"]["acp_partialIngestionPercent"] == 50
    codes = {e["code"]: e for e in b["errors"]}
    assert set(codes) == {"INGEST-1212-400", "INGEST-1401-400", "INGEST-1555-400"}
    assert "Encountered 3 errors" in codes["INGEST-1212-400"]["description"]
    assert codes["INGEST-1555-400"]["recordCount"] == 1 and codes["INGEST-1555-400"]["rows"] == ["3"]
    assert codes["INGEST-1401-400"]["recordCount"] == 2 and codes["INGEST-1401-400"]["rows"] == ["5", "7"]
    assert sorted(x[ns]["id"] for x in scan(api, ds)) == ["r1", "r2", "r4", "r6", "r8"]

    listing = api.get(f"{EXPORT}/batches/{batch}/meta?path=row_errors").json()
    assert listing["_page"]["count"] == 2
    names = sorted(d["name"] for d in listing["data"])
    assert names == ["conversion_errors_0.json", "parsing_errors_0.json"]
    for d in listing["data"]:
        assert d["_links"]["self"]["href"].endswith(
            f"/export/batches/{batch}/meta?path=row_errors/{d['name']}"
        )
        assert int(d["length"]) > 0
    conv = meta_lines(api, batch, "row_errors/conversion_errors_0.json")
    by_row = {c["_row"]: c for c in conv}
    assert set(by_row) == {3, 5}
    assert by_row[3]["_errors"][0]["code"] == "1555" and "required" in by_row[3]["_errors"][0]["message"]
    assert by_row[3]["_errors"][0]["path"] == f"{ns}.id"
    assert "'five'" in by_row[5]["_errors"][0]["message"] and by_row[5][ns]["age"] == "five"
    assert all(c["_filename"] == "people.json" for c in conv)
    parsing = meta_lines(api, batch, "row_errors/parsing_errors_0.json")
    assert len(parsing) == 1 and parsing[0]["_row"] == 7 and parsing[0]["_corrupt_record"] == "{broken json"
    assert parsing[0]["_errors"][0]["code"] == "1401"
    inputs = meta_lines(api, batch, "input_files/fileMetaData1.json")
    assert inputs == [{"path": "people.json"}]
    root = api.get(f"{EXPORT}/batches/{batch}/meta").json()
    assert {d["name"] for d in root["data"]} >= {"input_files", "row_errors", "row_error_samples.json"}
    assert len(meta_lines(api, batch, "row_error_samples.json")) == 3


def test_above_threshold_fails_and_writes_nothing(api: Any) -> None:
    ds, ns = _dataset(api)
    batch = create_batch(api, ds, "json", enableErrorDiagnostics=True, partialIngestionPercent=10)
    rows: list[Any] = [{"id": "a"}, {"id": "b", "age": "x"}, {"id": "c"}, {"age": 1}]
    upload(api, batch, ds, "p.json", _lines(ns, rows))
    b = complete(api, batch).json()
    assert b["status"] == "failed"
    assert b["metrics"]["failedRecordCount"] == 2 and b["metrics"]["outputRecordCount"] == 0
    assert scan(api, ds) == [] and snapshots(api, ds) == []
    assert len(meta_lines(api, batch, "row_errors/conversion_errors_0.json")) == 2
    d = api.get(f"{CATALOG}/dataSets/{ds}").json()[ds]
    assert (
        d["lastBatchStatus"] == "failed" and d["lastFailedBatch"] == batch and "lastSuccessfulBatch" not in d
    )
    assert api.get(f"{EXPORT}/batches/{batch}/files").json()["data"] == []
    failed = api.get(f"{EXPORT}/batches/{batch}/failed").json()
    assert [x["name"] for x in failed["data"]] == ["p.json"]
    assert api.get(f"{EXPORT}/batches/{batch}/failed?path=p.json").content == _lines(ns, rows)


def test_without_partial_ingestion_any_bad_row_fails(api: Any) -> None:
    ds, ns = _dataset(api)
    batch = create_batch(api, ds, "json")
    upload(api, batch, ds, "p.json", _lines(ns, [{"id": "a"}, {"id": "b", "age": 1.5}]))
    b = complete(api, batch).json()
    assert b["status"] == "failed"
    assert [e["code"] for e in b["errors"]] == ["INGEST-1211-400"]
    assert "recordCount" not in b["errors"][0] and b["metrics"]["failedRecordCount"] == 1
    assert scan(api, ds) == []
    assert api.get(f"{EXPORT}/batches/{batch}/meta?path=row_errors").status_code == 404


def test_dataset_level_diagnostics_and_csv_rows(api: Any) -> None:
    ds, ns = _dataset(api, enableErrorDiagnostics=True)
    batch = create_batch(api, ds, "csv", partialIngestionPercent=70)
    upload(api, batch, ds, "p.csv", b"id,age,email\na,1,a@x.io\nb,zz,b@x.io\nc,3,not-an-email\n")
    b = complete(api, batch).json()
    assert b["status"] == "success" and b["metrics"]["failedRecordCount"] == 2
    conv = {c["_row"]: c for c in meta_lines(api, batch, "row_errors/conversion_errors_0.json")}
    assert set(conv) == {2, 3}
    assert "'zz'" in conv[2]["_errors"][0]["message"]
    assert conv[3]["_errors"][0]["path"] == f"{ns}.email"
    assert [r[ns]["id"] for r in scan(api, ds)] == ["a"]


def test_abort_and_actions(api: Any) -> None:
    ds, ns = _dataset(api)
    batch = create_batch(api, ds, "json")
    upload(api, batch, ds, "p.json", _lines(ns, [{"id": "a"}]))
    r = complete(api, batch, "abort")
    assert r.status_code == 200 and r.json()["status"] == "aborted"
    assert catalog_batch(api, batch)["status"] == "aborted"
    assert complete(api, batch).status_code == 400  # no longer loading
    assert upload(api, batch, ds, "q.json", b"{}\n").status_code == 400
    assert scan(api, ds) == []
    empty = create_batch(api, ds, "json")
    assert complete(api, empty).status_code == 400  # no files
    assert complete(api, empty, "explode").status_code == 400
    assert api.post(f"{IMPORT}/batches/{empty}").status_code == 400
    assert complete(api, "01NOSUCHBATCH0000000000000").status_code == 404


def test_unreadable_second_file_leaves_table_unchanged(api: Any) -> None:
    ds, ns = _dataset(api)
    first = create_batch(api, ds, "parquet")
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({ns: pa.array([{"id": "keep"}])}), buf)
    upload(api, first, ds, "a.parquet", buf.getvalue())
    assert complete(api, first).json()["status"] == "success"
    before = snapshots(api, ds)

    batch = create_batch(api, ds, "parquet", partialIngestionPercent=100)
    buf2 = io.BytesIO()
    pq.write_table(pa.table({ns: pa.array([{"id": f"n{i}"} for i in range(1000)])}), buf2)
    upload(api, batch, ds, "1-good.parquet", buf2.getvalue())
    upload(api, batch, ds, "2-bad.parquet", b"PAR1 this is not parquet")
    b = complete(api, batch).json()
    assert b["status"] == "failed"
    assert "2-bad.parquet" in b["errors"][0]["description"]
    assert snapshots(api, ds) == before
    assert [r[ns]["id"] for r in scan(api, ds)] == ["keep"]
    table_dir = api.ctx.lake.table_location(*_ident(api, ds))
    import fsspec

    fs, root = fsspec.core.url_to_fs(f"{table_dir}/data/batch={batch}")
    assert not fs.exists(root) or fs.find(root) == []


def _ident(api: Any, ds: str) -> tuple[str, str]:
    from xdmflow.lake.lake import namespace_for

    return namespace_for(api.creds["org_id"], "prod"), ds


def test_bad_batch_requests(api: Any) -> None:
    ds, _ = _dataset(api)
    for body, word in [
        ({"inputFormat": {"format": "json"}}, "datasetId"),
        ({"datasetId": ds}, "inputFormat"),
        ({"datasetId": ds, "inputFormat": {"format": "xml"}}, "format"),
        ({"datasetId": "a" * 24, "inputFormat": {"format": "json"}}, "not found"),
        (
            {"datasetId": ds, "inputFormat": {"format": "json"}, "partialIngestionPercent": 120},
            "partialIngestionPercent",
        ),
        ({"datasetId": ds, "inputFormat": {"format": "csv", "delimiter": ";;"}}, "delimiter"),
    ]:
        r = api.post(f"{IMPORT}/batches", json=body)
        assert r.status_code == 400, (body, r.text)
        assert word in r.json()["detail"]
    batch = create_batch(api, ds, "json")
    r = api.put(
        f"{IMPORT}/batches/{batch}/datasets/{ds}/files/x.json",
        content=b"{}",
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 415
    r = upload(api, batch, "b" * 24, "x.json", b"{}")
    assert r.status_code == 404
    r = upload(api, batch, ds, "../escape.json", b"{}")
    assert r.status_code in (400, 404)
    other = api.as_other("OTHERORG0000000000000000@AdobeOrg")
    assert upload(other, batch, ds, "x.json", b"{}").status_code == 404
    assert other.get(f"{CATALOG}/batches/{batch}").status_code == 404
    assert other.get(f"{EXPORT}/batches/{batch}/meta").status_code == 404
