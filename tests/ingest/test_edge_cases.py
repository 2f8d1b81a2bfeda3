"""Edge cases: empty files, header-only CSV, CSV on a nested schema, bad paths and actions never 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ingest.ingesthelp import (
    CATALOG,
    EXPORT,
    IMPORT,
    adhoc_schema,
    complete,
    create_batch,
    create_dataset,
    profile_schema,
    scan,
    snapshots,
    upload,
)
from xdmflow.errors import BadRequestError
from xdmflow.services.ingest import Uploads


def test_empty_and_header_only_files(api: Any) -> None:
    schema_id, _ = adhoc_schema(api, {"id": {"type": "string"}})
    ds = create_dataset(api, schema_id, name="edge")
    b1 = create_batch(api, ds, "csv")
    upload(api, b1, ds, "empty.csv", b"")
    out = complete(api, b1).json()
    assert out["status"] == "failed" and "106" in out["errors"][0]["description"]
    b2 = create_batch(api, ds, "csv")
    upload(api, b2, ds, "header.csv", b"id\n")
    out = complete(api, b2).json()
    assert out["status"] == "success" and out["metrics"]["outputRecordCount"] == 0
    assert snapshots(api, ds) == [] and scan(api, ds) == []
    b3 = create_batch(api, ds, "csv")
    upload(api, b3, ds, "unknown.csv", b"id,whatever\na,b\n")
    out = complete(api, b3).json()
    assert out["status"] == "failed" and "'whatever'" in out["errors"][0]["description"]


def test_csv_needs_a_flat_schema(api: Any) -> None:
    ds = create_dataset(api, profile_schema(api))
    batch = create_batch(api, ds, "csv")
    upload(api, batch, ds, "p.csv", b"person.name.firstName,person.birthYear\nAnn,1990\n")
    out = complete(api, batch).json()
    assert out["status"] == "success"  # dotted headers reach nested leaves
    assert scan(api, ds)[0]["person"]["name"]["firstName"] == "Ann"
    batch = create_batch(api, ds, "csv")
    upload(api, batch, ds, "p.csv", b"person\nx\n")
    out = complete(api, batch).json()
    assert out["status"] == "failed" and "object" in out["errors"][0]["description"]


def test_bad_requests_are_4xx(api: Any) -> None:
    schema_id, _ = adhoc_schema(api, {"id": {"type": "string"}})
    ds = create_dataset(api, schema_id, name="edge")
    batch = create_batch(api, ds, "json")
    assert upload(api, batch, ds, "a//b.json", b"{}").status_code == 400
    uploads = Uploads(api.ctx.settings.home_path)
    for bad in ["a/../b.json", "../x", "", "a\x00b"]:
        with pytest.raises(BadRequestError):
            uploads.initialize(batch, bad)
    url = f"{IMPORT}/batches/{batch}/datasets/{ds}/files/big.json"
    assert api.post(f"{url}?action=EXPLODE").status_code == 400
    assert (
        api.patch(url, content=b"x", headers={"Content-Type": "application/octet-stream"}).status_code == 400
    )
    r = api.patch(
        url,
        content=b"x",
        headers={"Content-Type": "application/octet-stream", "Content-Range": "bytes 0-0/*"},
    )
    assert r.status_code == 404  # not initialized
    assert api.request("HEAD", url).status_code == 404
    assert api.post(f"{IMPORT}/batches", json={"datasetId": ds, "inputFormat": "json"}).status_code == 400
    assert api.get(f"{EXPORT}/batches/{batch}/meta?path=../../etc").status_code in (400, 404)
    assert api.get(f"{EXPORT}/batches/{batch}/files?limit=500").status_code == 400
    r = api.patch(
        f"{CATALOG}/dataSets/{ds}", json={"a": 1}, headers={"Content-Type": "application/json-patch+json"}
    )
    assert r.status_code == 400
    assert api.get(f"{CATALOG}/dataSetFiles?dataSetId=").json() == {}
    assert api.get(f"{CATALOG}/dataSets?orderBy=").status_code == 400


def test_csv_options_delimiter_quote_no_header(api: Any) -> None:
    schema_id, ns = adhoc_schema(api, {"a": {"type": "string"}, "b": {"type": "integer"}})
    ds = create_dataset(api, schema_id, name="opts")
    fmt = {"format": "csv", "delimiter": ";", "quote": "'", "header": False}
    batch = create_batch(api, ds, "csv", inputFormat=fmt)
    upload(api, batch, ds, "x.csv", b"'x;y';1\nz;2\n")
    assert complete(api, batch).json()["status"] == "success"
    assert sorted((r[ns]["a"], r[ns]["b"]) for r in scan(api, ds)) == [("x;y", 1), ("z", 2)]
