"""Helpers for Query Service tests: a dataset with committed CSV batches, a served instance."""

from __future__ import annotations

from typing import Any

from tests.ingest.ingesthelp import adhoc_schema, complete, create_batch, create_dataset, upload

FIELDS = {"name": {"type": "string"}, "amount": {"type": "number"}, "qty": {"type": "integer"}}


def csv_dataset(api: Any, name: str = "Orders 2024", batches: list[bytes] | None = None) -> tuple[str, str]:
    """A dataset with one committed batch per CSV body; returns (dataset id, ad-hoc namespace)."""
    schema_id, ns = adhoc_schema(api, FIELDS, title=f"{name} rows")
    ds = create_dataset(api, schema_id, name=name)
    for i, data in enumerate(batches or [b"name,amount,qty\nann,1.5,1\nbob,2.5,2\n"]):
        add_batch(api, ds, data, f"part{i}.csv")
    return ds, ns


def add_batch(api: Any, ds: str, data: bytes, fname: str = "part.csv") -> str:
    batch = create_batch(api, ds, "CSV")
    r = upload(api, batch, ds, f"in/{fname}", data)
    assert r.status_code == 201, r.text
    r = complete(api, batch, "complete")
    assert r.status_code == 200 and r.json()["status"] == "success", r.text
    return batch
