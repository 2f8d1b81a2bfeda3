"""Catalog batches, dataSetFiles and lastBatches; Data Access files, downloads and previews."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pyarrow.parquet as pq

from tests.catalog.cathelp import (
    CATALOG,
    EXPORT,
    IMPORT,
    adhoc_schema,
    complete,
    create_batch,
    create_dataset,
    upload,
)

FIELDS = {"id": {"type": "string"}, "n": {"type": "integer"}}


def _ingest(api: Any, ds: str, ns: str, ids: list[str], **extra: Any) -> str:
    batch = create_batch(api, ds, "json", **extra)
    data = "".join(json.dumps({ns: {"id": i, "n": k}}) + "\n" for k, i in enumerate(ids)).encode()
    assert upload(api, batch, ds, "rows.json", data).status_code == 201
    r = complete(api, batch)
    assert r.status_code == 200, r.text
    return batch


def test_batch_listing_filters_files_and_last_batches(api_both: Any) -> None:
    api = api_both
    schema_id, ns = adhoc_schema(api, FIELDS)
    ds1 = create_dataset(api, schema_id, name="one")
    ds2 = create_dataset(api, schema_id, name="two")
    b1 = _ingest(api, ds1, ns, ["a", "b"], externalId="ext-1")
    time.sleep(0.005)
    mark = int(time.time() * 1000)
    time.sleep(0.005)
    b2 = _ingest(api, ds1, ns, ["c", "c2"])
    bad = create_batch(api, ds2, "json")
    upload(api, bad, ds2, "x.json", b'{"nope": 1}\n')
    assert complete(api, bad).json()["status"] == "failed"
    loading = create_batch(api, ds2, "json")

    all_batches = api.get(f"{CATALOG}/batches").json()
    assert set(all_batches) == {b1, b2, bad, loading}
    one = api.get(f"{CATALOG}/batches/{b1}").json()
    assert list(one) == [b1] and one[b1]["externalId"] == "ext-1" and one[b1]["id"] == b1
    assert one[b1]["version"] != "1.0.0" and one[b1]["imsOrg"] == api.creds["org_id"]
    assert set(api.get(f"{CATALOG}/batches?dataSet={ds1}").json()) == {b1, b2}
    assert set(api.get(f"{CATALOG}/batches?status=failed").json()) == {bad}
    assert set(api.get(f"{CATALOG}/batches?status=!success").json()) == {bad, loading}
    assert set(api.get(f"{CATALOG}/batches?createdAfter={mark}").json()) == {b2, bad, loading}
    assert set(api.get(f"{CATALOG}/batches?createdBefore={mark}").json()) == {b1}
    assert set(api.get(f"{CATALOG}/batches?externalId=ext-1").json()) == {b1}
    assert list(api.get(f"{CATALOG}/batches?orderBy=desc:created&limit=1").json()) == [loading]
    assert api.get(f"{CATALOG}/batches?properties=status").json()[b2] == {"status": "success"}
    assert api.get(f"{CATALOG}/batches?createdAfter=soon").status_code == 400
    assert api.get(f"{CATALOG}/batches/01NOPE").status_code == 404

    files = api.get(f"{CATALOG}/dataSetFiles?dataSetId={ds1}").json()
    assert set(files) == {f"{b1}-1", f"{b2}-1"}
    f1 = files[f"{b1}-1"]
    assert f1["batchId"] == b1 and f1["records"] == 2 and f1["size"] > 0 and f1["version"] == "1.0.0"
    assert set(api.get(f"{CATALOG}/dataSetFiles?batchId={b2}").json()) == {f"{b2}-1"}
    assert api.get(f"{CATALOG}/dataSetFiles?dataSetId={ds2}").json() == {}
    assert api.get(f"{CATALOG}/dataSetFiles/{b1}-1").json()[f"{b1}-1"]["batchId"] == b1
    assert api.get(f"{CATALOG}/dataSetFiles/{b1}-9").status_code == 404

    last = api.get(f"{CATALOG}/lastBatches?dataSetId={ds1},{ds2}").json()
    assert last[ds1]["lastBatchId"] == b2 and last[ds1]["lastSuccessfulBatchId"] == b2
    assert last[ds2]["lastBatchStatus"] == "failed" and last[ds2]["lastFailedBatchId"] == bad
    assert api.get(f"{CATALOG}/lastBatches").status_code == 400

    api.delete(f"{CATALOG}/dataSets/{ds1}")
    assert api.get(f"{CATALOG}/batches/{b1}").json()[b1]["status"] == "deleted"
    assert api.get(f"{CATALOG}/dataSetFiles?dataSetId={ds1}").json() == {}


def test_export_files_download_and_previews(api: Any) -> None:
    schema_id, ns = adhoc_schema(api, FIELDS)
    ds = create_dataset(api, schema_id, name="exported")
    batch = _ingest(api, ds, ns, ["x", "y", "z"])
    listing = api.get(f"{EXPORT}/batches/{batch}/files").json()
    assert listing["_page"]["count"] == 1
    item = listing["data"][0]
    assert item["dataSetFileId"] == f"{batch}-1" and item["records"] == "3"
    assert item["_links"]["self"]["href"].endswith(f"/export/files/{batch}-1")

    files = api.get(f"{EXPORT}/files/{batch}-1").json()
    entry = files["data"][0]
    assert entry["name"].endswith(".parquet") and int(entry["length"]) == int(item["size"])
    whole = api.get(f"{EXPORT}/files/{batch}-1?path={entry['name']}")
    assert whole.status_code == 200 and len(whole.content) == int(entry["length"])
    table = pq.read_table(io.BytesIO(whole.content))
    assert sorted(r["id"] for r in table.column(ns).to_pylist()) == ["x", "y", "z"]
    part = api.get(f"{EXPORT}/files/{batch}-1", headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"PAR1"
    assert part.headers["Content-Range"] == f"bytes 0-3/{entry['length']}"
    head = api.request("HEAD", f"{EXPORT}/files/{batch}-1")
    assert head.status_code == 200 and head.headers["Content-Length"] == entry["length"]
    assert api.get(f"{EXPORT}/files/{batch}-1", headers={"Range": "bytes=999999-"}).status_code == 416
    assert api.get(f"{EXPORT}/files/{batch}-1?path=other.parquet").status_code == 404
    assert api.get(f"{EXPORT}/files/nope-1").status_code == 404

    preview = api.get(f"{EXPORT}/datasets/{ds}/preview?limit=2").json()
    assert preview["columns"] == [ns] and len(preview["data"]) == 2
    assert api.get(f"{EXPORT}/datasets/{ds}/preview?limit=0").status_code == 400

    loading = create_batch(api, ds, "csv")
    upload(api, loading, ds, "p.csv", b"id,n\nq,1\nr,2\n")
    pv = api.get(f"{IMPORT}/batches/{loading}/datasets/{ds}/preview?nrow=1").json()
    assert pv["formatParams"]["format"] == "csv" and pv["formatParams"]["delimiter"] == ","
    assert pv["preview"]["columns"] == [{"cid": "0", "name": ns}]
    assert pv["preview"]["rows"] == [{"0": {"id": "q", "n": "1"}}]
