"""Upsert commits: the batch's keys replaced and its files added in one snapshot.

A top-level key and a nested one (``_tenant.stripe.id``, as XDM datasets nest source fields),
a two-column key, re-runs of a committed batch (idempotent), and a null key refused.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from tests.lake.lakehelp import f
from xdmflow.errors import BadRequestError
from xdmflow.lake.lake import Lake
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema

NS = "org_0123456789ab__prod"

FLAT = CompiledSchema(
    id="https://ns.adobe.com/tenant/schemas/flat",
    version="1.0",
    title="Flat",
    class_id="https://ns.adobe.com/xdm/data/record",
    fields=(f("id", "id", "string"), f("line", "line", "string"), f("status", "status", "string")),
)
NESTED = CompiledSchema(
    id="https://ns.adobe.com/tenant/schemas/nested",
    version="1.0",
    title="Nested",
    class_id="https://ns.adobe.com/xdm/data/record",
    fields=(
        f(
            "_tenant",
            "_tenant",
            "object",
            children=(
                f(
                    "stripe",
                    "_tenant.stripe",
                    "object",
                    children=(
                        f("id", "_tenant.stripe.id", "string"),
                        f("status", "_tenant.stripe.status", "string"),
                    ),
                ),
            ),
        ),
    ),
)


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    lk = Lake(f"sqlite:///{tmp_path / 'meta.db'}", str(tmp_path / "lake"))
    lk.create_table(NS, "flat", FLAT)
    lk.create_table(NS, "nested", NESTED)
    return lk


def _flat(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"id": i, "line": ln, "status": s} for i, ln, s in rows], schema=to_arrow_schema(FLAT)
    )


def _write(lake: Lake, ds: str, batch: str, data: pa.Table, keys: tuple[str, ...]) -> int:
    with lake.begin_batch(NS, ds, batch) as w:
        w.write(data)
        return w.commit(replace_keys=keys).snapshot_id


def _state(lake: Lake, ds: str = "flat") -> list[tuple[str, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in lake.scan(NS, ds).to_pylist())


def test_upsert_keeps_one_row_per_key_in_latest_state(lake: Lake) -> None:
    _write(lake, "flat", "b1", _flat([("ch_1", "a", "pending"), ("ch_2", "a", "succeeded")]), ("id",))
    before = len(lake.load(NS, "flat").metadata.snapshots)
    _write(lake, "flat", "b2", _flat([("ch_1", "a", "refunded"), ("ch_3", "a", "succeeded")]), ("id",))
    assert _state(lake) == [("ch_1", "a", "refunded"), ("ch_2", "a", "succeeded"), ("ch_3", "a", "succeeded")]
    table = lake.load(NS, "flat")
    # one snapshot: the replaced file out, its other row rewritten, the batch in
    [snap] = table.metadata.snapshots[before:]
    summary = snap.summary
    assert summary is not None
    assert summary["xdmflow.batch-id"] == "b2" and summary.operation.value == "overwrite"
    assert summary["xdmflow.upsert-replaced-rows"] == "1"
    # append mode still keeps history
    _write(lake, "flat", "b3", _flat([("ch_1", "a", "disputed")]), ())
    assert [r for r in _state(lake) if r[0] == "ch_1"] == [
        ("ch_1", "a", "disputed"),
        ("ch_1", "a", "refunded"),
    ]


def test_upsert_is_idempotent_per_batch(lake: Lake) -> None:
    _write(lake, "flat", "b1", _flat([("ch_1", "a", "pending")]), ("id",))
    _write(lake, "flat", "b2", _flat([("ch_1", "a", "paid")]), ("id",))
    with lake.begin_batch(NS, "flat", "b2") as w:  # the same batch again (a retried commit)
        w.write(_flat([("ch_1", "a", "paid")]))
        assert w.commit(replace_keys=("id",)).already_committed
    assert _state(lake) == [("ch_1", "a", "paid")]


def test_two_column_key(lake: Lake) -> None:
    _write(
        lake,
        "flat",
        "b1",
        _flat([("in_1", "l1", "draft"), ("in_1", "l2", "draft"), ("in_2", "l1", "draft")]),
        ("id", "line"),
    )
    _write(lake, "flat", "b2", _flat([("in_1", "l2", "paid"), ("in_2", "l1", "paid")]), ("id", "line"))
    assert _state(lake) == [("in_1", "l1", "draft"), ("in_1", "l2", "paid"), ("in_2", "l1", "paid")]


def test_nested_key(lake: Lake) -> None:
    schema = to_arrow_schema(NESTED)

    def rows(pairs: list[tuple[str, str]]) -> pa.Table:
        return pa.Table.from_pylist(
            [{"_tenant": {"stripe": {"id": i, "status": s}}} for i, s in pairs], schema=schema
        )

    _write(lake, "nested", "b1", rows([("in_1", "draft"), ("in_2", "open")]), ("_tenant.stripe.id",))
    _write(lake, "nested", "b2", rows([("in_1", "paid")]), ("_tenant.stripe.id",))
    got = sorted(
        (r["_tenant"]["stripe"]["id"], r["_tenant"]["stripe"]["status"])
        for r in lake.scan(NS, "nested").to_pylist()
    )
    assert got == [("in_1", "paid"), ("in_2", "open")]


def test_null_or_unknown_key_is_refused_and_nothing_changes(lake: Lake) -> None:
    _write(lake, "flat", "b1", _flat([("ch_1", "a", "pending")]), ("id",))
    with pytest.raises(BadRequestError, match="null"), lake.begin_batch(NS, "flat", "b2") as w:
        w.write(_flat([(None, "a", "x")]))  # type: ignore[list-item]
        w.commit(replace_keys=("id",))
    with pytest.raises(BadRequestError, match="not a field"), lake.begin_batch(NS, "flat", "b3") as w:
        w.write(_flat([("ch_1", "a", "x")]))
        w.commit(replace_keys=("nope",))
    assert _state(lake) == [("ch_1", "a", "pending")]
