"""Batch ingestion over real HTTP into the real lake: CSV, JSON Lines, multi-line JSON, Parquet."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.ingest.ingesthelp import (
    CATALOG,
    IMPORT,
    REGISTRY,
    XED,
    adhoc_schema,
    catalog_batch,
    complete,
    create_batch,
    create_dataset,
    profile_schema,
    scan,
    upload,
)

FIELDS = {
    "name": {"type": "string"},
    "age": {"type": "integer"},
    "score": {"type": "number"},
    "vip": {"type": "boolean"},
    "joined": {"type": "string", "format": "date"},
    "seen": {"type": "string", "format": "date-time"},
}


def test_csv_adhoc_roundtrip(api_both: Any) -> None:
    api = api_both
    schema_id, ns = adhoc_schema(api, FIELDS)
    ds = create_dataset(api, schema_id, name="csv rows")
    batch = create_batch(api, ds, "CSV")
    data = (
        b"name,age,score,vip,joined,seen\n"
        b"Ann,31,1.5,true,2020-01-02,2021-03-04T05:06:07Z\n"
        b'"Lee, Bo",,2,false,,\n'
    )
    r = upload(api, batch, ds, "in/part1.csv", data)
    assert r.status_code == 201, r.text
    r = complete(api, batch, "complete")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "success"
    rows = sorted((row[ns] for row in scan(api, ds)), key=lambda x: x["name"])
    assert rows == [
        {
            "name": "Ann",
            "age": 31,
            "score": 1.5,
            "vip": True,
            "joined": dt.date(2020, 1, 2),
            "seen": dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.UTC),
        },
        {"name": "Lee, Bo", "age": None, "score": 2.0, "vip": False, "joined": None, "seen": None},
    ]
    b = catalog_batch(api, batch)
    assert b["status"] == "success" and "errors" not in b
    assert b["metrics"]["inputRecordCount"] == 2 and b["metrics"]["outputRecordCount"] == 2
    assert b["metrics"]["failedRecordCount"] == 0 and b["metrics"]["inputFileCount"] == 1
    assert b["relatedObjects"] == [{"type": "dataSet", "id": ds}]
    assert b["started"] <= b["completed"]
    d = api.get(f"{CATALOG}/dataSets/{ds}").json()[ds]
    assert (
        d["lastBatchId"] == batch and d["lastBatchStatus"] == "success" and d["lastSuccessfulBatch"] == batch
    )


def test_json_lines_nested_roundtrip(api_both: Any) -> None:
    api = api_both
    ds = create_dataset(api, profile_schema(api))
    batch = create_batch(api, ds, "JSON")
    records = [
        {
            "_id": "p1",
            "person": {
                "name": {"firstName": "Ann", "lastName": "Lee"},
                "birthDate": "1990-05-01",
                "birthYear": 1990,
            },
            "personalEmail": {"address": "ann@example.com"},
            "_repo": {"createDate": "2024-01-02T03:04:05Z"},
        },
        {"_id": "p2", "homeAddress": {"city": "Oslo", "primary": True, "_schema": {"latitude": 59.9}}},
    ]
    data = "\n".join(json.dumps(r) for r in records).encode() + b"\n"
    assert upload(api, batch, ds, "people.json", data).status_code == 201
    r = complete(api, batch)
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    rows = {row["_id"]: row for row in scan(api, ds)}
    assert rows["p1"]["person"]["name"]["firstName"] == "Ann"
    assert rows["p1"]["person"]["name"]["lastName"] == "Lee"
    assert rows["p1"]["person"]["birthDate"] == dt.date(1990, 5, 1)
    assert rows["p1"]["person"]["birthYear"] == 1990
    assert rows["p1"]["personalEmail"]["address"] == "ann@example.com"
    assert rows["p1"]["_repo"]["createDate"] == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert rows["p1"]["homeAddress"] is None
    assert rows["p2"]["homeAddress"]["city"] == "Oslo" and rows["p2"]["homeAddress"]["primary"] is True
    assert rows["p2"]["homeAddress"]["_schema"]["latitude"] == 59.9


def test_multiline_json_and_parquet(api: Any) -> None:
    schema_id, ns = adhoc_schema(api, FIELDS)
    ds = create_dataset(api, schema_id, name="multi")
    batch = create_batch(api, ds, "json", inputFormat={"format": "json", "isMultiLineJson": True})
    body = json.dumps(
        [{ns: {"name": "A", "age": 1}}, {ns: {"name": "B", "vip": True, "score": 0.25}}], indent=2
    )
    assert upload(api, batch, ds, "arr.json", body.encode()).status_code == 201
    assert complete(api, batch).json()["status"] == "success"

    batch2 = create_batch(api, ds, "Parquet")
    struct = pa.struct([("name", pa.string()), ("age", pa.int64()), ("seen", pa.timestamp("ms"))])
    table = pa.table(
        {ns: pa.array([{"name": "C", "age": 7, "seen": dt.datetime(2022, 2, 2, 2, 2, 2)}], type=struct)}
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    assert upload(api, batch2, ds, "c.parquet", buf.getvalue()).status_code == 201
    r = complete(api, batch2)
    assert r.json()["status"] == "success", r.text
    rows = {row[ns]["name"]: row[ns] for row in scan(api, ds)}
    assert rows["A"]["age"] == 1 and rows["A"]["vip"] is None
    assert rows["B"]["vip"] is True and rows["B"]["score"] == 0.25
    assert rows["C"]["age"] == 7 and rows["C"]["seen"] == dt.datetime(2022, 2, 2, 2, 2, 2, tzinfo=dt.UTC)
    only = scan(api, ds, batch_id=batch2)
    assert [r[ns]["name"] for r in only] == ["C"]


def test_large_file_in_chunks(api: Any) -> None:
    schema_id, ns = adhoc_schema(api, FIELDS)
    ds = create_dataset(api, schema_id, name="chunks")
    batch = create_batch(api, ds, "csv")
    data = b"name,age\n" + b"".join(f"n{i},{i}\n".encode() for i in range(1000))
    url = f"{IMPORT}/batches/{batch}/datasets/{ds}/files/big.csv"
    assert api.post(f"{url}?action=INITIALIZE").status_code == 201
    half = len(data) // 2
    binary = {"Content-Type": "application/octet-stream"}
    r = api.patch(
        url, content=data[half:], headers={**binary, "Content-Range": f"bytes {half}-{len(data) - 1}/*"}
    )
    assert r.status_code == 200, r.text
    assert api.request("HEAD", url).headers["Range"] == "bytes=0-0"
    r = api.patch(
        url, content=data[:10], headers={**binary, "Content-Range": f"bytes {half - 5}-{half + 4}/*"}
    )
    assert r.status_code == 400  # overlaps
    assert api.post(f"{url}?action=COMPLETE").status_code == 400  # gap at the start
    assert complete(api, batch).status_code == 400  # a large file is still open
    r = api.patch(url, content=data[:half], headers={**binary, "Content-Range": f"bytes 0-{half - 1}/*"})
    assert r.status_code == 200
    assert api.request("HEAD", url).headers["Range"] == f"bytes=0-{len(data) - 1}"
    r = api.post(f"{url}?action=COMPLETE")
    assert r.status_code == 201 and r.json() == {"name": "big.csv", "sizeInBytes": len(data)}
    assert complete(api, batch).json()["status"] == "success"
    rows = scan(api, ds)
    assert len(rows) == 1000 and sorted(r[ns]["age"] for r in rows) == list(range(1000))


def test_streamed_multi_megabyte_upload(api: Any) -> None:
    schema_id, ns = adhoc_schema(api, FIELDS)
    ds = create_dataset(api, schema_id, name="big")
    batch = create_batch(api, ds, "csv")
    line = b"somebody with a long name,42\n"
    count = (6 * 1024 * 1024) // len(line)

    def body() -> Any:
        yield b"name,age\n"
        for _ in range(count // 1000):
            yield line * 1000

    r = api.put(
        f"{IMPORT}/batches/{batch}/datasets/{ds}/files/big.csv",
        content=body(),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    stored = api.ctx.settings.home_path / "uploads" / batch / "files" / "big.csv"
    assert stored.stat().st_size == 9 + len(line) * 1000 * (count // 1000)
    assert complete(api, batch).json()["metrics"]["outputRecordCount"] == 1000 * (count // 1000)


def test_experience_events_with_identity_map_and_arrays(api: Any) -> None:
    from xdmflow.schema.builtins import COMMERCE_DETAILS, EXPERIENCE_EVENT

    r = api.post(
        f"{REGISTRY}/schemas",
        json={
            "title": "Commerce events",
            "type": "object",
            "allOf": [{"$ref": EXPERIENCE_EVENT}, {"$ref": COMMERCE_DETAILS}],
        },
        headers={"Accept": XED},
    )
    assert r.status_code in (200, 201), r.text
    ds = create_dataset(api, r.json()["$id"], name="events")
    batch = create_batch(api, ds, "json", enableErrorDiagnostics=True, partialIngestionPercent=50)
    events = [
        {
            "_id": "e1",
            "timestamp": "2024-05-06T07:08:09Z",
            "eventType": "commerce.purchases",
            "identityMap": {"ECID": [{"id": "111", "primary": True}], "Email": [{"id": "a@x.io"}]},
            "productListItems": [{"SKU": "s1", "priceTotal": 9.5}, {"SKU": "s2", "priceTotal": 1}],
            "commerce": {"order": {"priceTotal": 10.5}},
        },
        {"_id": "e2", "timestamp": "2024-05-06T08:00:00Z", "identityMap": {"ECID": [{"id": "222"}]}},
        {"_id": "e3", "productListItems": [{"SKU": "s3", "priceTotal": "free"}]},
    ]
    data = "".join(json.dumps(e) + "\n" for e in events).encode()
    upload(api, batch, ds, "events.json", data)
    b = complete(api, batch).json()
    assert b["status"] == "success" and b["metrics"]["failedRecordCount"] == 1, (b["errors"], b["metrics"])
    rows = {row["_id"]: row for row in scan(api, ds)}
    assert set(rows) == {"e1", "e2"}
    e1 = rows["e1"]
    assert (
        dict(e1["identityMap"])["ECID"][0]["id"] == "111"
        and dict(e1["identityMap"])["ECID"][0]["primary"] is True
    )
    assert dict(e1["identityMap"])["Email"][0]["id"] == "a@x.io"
    assert [p["SKU"] for p in e1["productListItems"]] == ["s1", "s2"]
    assert [p["priceTotal"] for p in e1["productListItems"]] == [9.5, 1.0]
    assert e1["commerce"]["order"]["priceTotal"] == 10.5
    assert dict(rows["e2"]["identityMap"]) == {
        "ECID": [{"authenticatedState": None, "id": "222", "primary": None}]
    }
    codes = {e["code"] for e in b["errors"]}
    assert codes == {"INGEST-1212-400", "INGEST-1401-400"}  # e3 fails conversion first
