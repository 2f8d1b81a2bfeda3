from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from tests.mapping.maphelp import experience_event_schema
from xdmflow.mapping import apply, compile_mapping
from xdmflow.mapping.model import Mapping
from xdmflow.schema.arrow import to_arrow_schema


def attr(src: str, dst: str, **kw: object) -> Mapping:
    return Mapping("ATTRIBUTE", src, dst, **kw)  # type: ignore[arg-type]


def expr(src: str, dst: str) -> Mapping:
    return Mapping("EXPRESSION", src, dst)


SOURCE = pa.table(
    {
        "id": ["t1", "t2", "t3", "t4"],
        "first": ["Ann", "Bob", None, "Zoë"],
        "last": ["Lee", None, "X", "Ärm"],
        "email": ["A@X.COM", None, "c@x.com", "d@x.com"],
        "amount": ["12.50", "7", "abc", "0.5"],
        "updatedAt": [
            "2024-01-02 03:04:05",
            "2024-01-02T03:04:05+01:00",
            "2024-05-06 00:00:00",
            "not a date",
        ],
        "active": ["yes", "FALSE", "1", "maybe"],
        "year": ["1980", "70000", "1990", None],
    }
)


def plan_for(ms: list[Mapping], **kw: bool):  # type: ignore[no-untyped-def]
    return compile_mapping(ms, experience_event_schema(), SOURCE.schema, **kw)


def test_nested_output_has_exact_target_schema() -> None:
    plan = plan_for(
        [
            attr("id", "_id"),
            attr("first", "person.name.firstName"),
            expr('concat(first, " ", last)', "person.name.fullName"),
            expr("lower(email)", "commerce.order.purchaseID"),
            attr("updatedAt", "timestamp"),
        ]
    )
    out = apply(plan, SOURCE.slice(0, 2))
    assert out.good.schema == to_arrow_schema(experience_event_schema())
    rows = out.good.to_pylist()
    assert rows[0]["person"] == {"name": {"firstName": "Ann", "fullName": "Ann Lee"}, "birthYear": None}
    assert rows[0]["commerce"] == {
        "order": {"currencyCode": None, "priceTotal": None, "purchaseID": "a@x.com"}
    }
    assert rows[1]["commerce"] is None  # all children null -> the object is absent
    assert rows[0]["timestamp"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rows[1]["timestamp"] == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert (
        rows[0]["_tenant"] is None and rows[0]["identityMap"] is None and rows[0]["productListItems"] is None
    )
    assert out.rejects == []


def test_cast_failures_reject_rows_with_row_numbers() -> None:
    plan = plan_for(
        [
            attr("id", "_id"),
            attr("amount", "commerce.order.priceTotal"),
            attr("updatedAt", "timestamp"),
            attr("active", "_tenant.active"),
            attr("year", "person.birthYear"),
        ]
    )
    out = apply(plan, SOURCE)
    assert out.good.column("_id").to_pylist() == ["t1"]
    got = {(r.row, r.destination, r.value) for r in out.rejects}
    assert got == {
        (1, "person.birthYear", "70000"),
        (2, "commerce.order.priceTotal", "abc"),
        (3, "timestamp", "not a date"),
        (3, "_tenant.active", "maybe"),
    }
    assert out.rejected_rows == [1, 2, 3]
    r = next(r for r in out.rejects if r.row == 2)
    assert r.source == "amount" and "number" in r.reason
    good = out.good.to_pylist()[0]
    assert good["commerce"]["order"]["priceTotal"] == 12.5
    assert good["_tenant"]["active"] is True and good["person"]["birthYear"] == 1980


def test_allow_null_on_error_keeps_rows() -> None:
    plan = plan_for(
        [attr("id", "_id"), attr("amount", "commerce.order.priceTotal")], allow_null_on_error=True
    )
    out = apply(plan, SOURCE)
    assert out.good.num_rows == 4
    assert [
        r["commerce"]["order"]["priceTotal"] if r["commerce"] else None for r in out.good.to_pylist()
    ] == [
        12.5,
        7.0,
        None,
        0.5,
    ]
    assert [r.row for r in out.rejects] == [2]  # still reported


def test_expression_failures_reject_and_show_inputs() -> None:
    plan = plan_for([attr("id", "_id"), expr('date(updatedAt, "yyyy-MM-dd HH:mm:ss")', "timestamp")])
    out = apply(plan, SOURCE)
    assert out.good.column("_id").to_pylist() == ["t1", "t3"]
    assert {r.row for r in out.rejects} == {1, 3}
    assert next(r for r in out.rejects if r.row == 3).value == "updatedAt=not a date"


def test_identity_map_built_from_identity_mappings() -> None:
    ms = [
        attr("id", "_id"),
        attr("email", "commerce.order.purchaseID", identity=True, namespace_code="Email", primary=True),
        attr("first", "person.name.firstName", identity=True, namespace_code="CRMID"),
        attr("last", "person.name.fullName", identity=True, namespace_code="CRMID"),
    ]
    out = apply(plan_for(ms), SOURCE)
    maps = out.good.column("identityMap").to_pylist()
    item = {"authenticatedState": "ambiguous", "primary": False}
    assert maps[0] == [
        ("Email", [{"authenticatedState": "ambiguous", "id": "A@X.COM", "primary": True}]),
        ("CRMID", [{**item, "id": "Ann"}, {**item, "id": "Lee"}]),
    ]
    assert maps[1] == [("CRMID", [{**item, "id": "Bob"}])]
    assert maps[2][1] == ("CRMID", [{**item, "id": "X"}])


def test_identity_map_null_when_no_identity_value() -> None:
    t = pa.table({"id": ["a"], "email": pa.array([None], pa.string())})
    plan = compile_mapping(
        [
            attr("id", "_id"),
            attr("email", "commerce.order.purchaseID", identity=True, namespace_code="Email"),
        ],
        experience_event_schema(),
    )
    assert apply(plan, t).good.column("identityMap").to_pylist() == [None]


def test_struct_source_copied_by_name_and_arrays_maps() -> None:
    t = pa.table(
        {
            "p": pa.array([{"name": {"firstName": "A", "extra": 1}, "birthYear": "1999"}, None]),
            "items": pa.array([[{"SKU": "s1", "quantity": "2"}], None]),
            "tags": pa.array([["a", "b"], []]),
            "attrs": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
            "signup": ["2024-02-29", "2024-02-30"],
            "count": pa.array([2**40, 3], pa.int64()),
            "small": pa.array([5, 300], pa.int64()),
        }
    )
    ms = [
        attr("p", "person"),
        attr("items", "productListItems"),
        attr("tags", "tags"),
        attr("attrs", "_tenant.attrs"),
        attr("signup", "_tenant.signup"),
        attr("count", "_tenant.count"),
        attr("small", "_tenant.small"),
    ]
    plan = compile_mapping(ms, experience_event_schema(), t.schema, allow_null_on_error=True)
    out = apply(plan, t)
    rows = out.good.to_pylist()
    assert rows[0]["person"] == {"name": {"firstName": "A", "fullName": None}, "birthYear": 1999}
    assert rows[0]["productListItems"] == [{"SKU": "s1", "quantity": 2}]
    assert rows[0]["tags"] == ["a", "b"] and rows[1]["tags"] == []
    assert rows[0]["_tenant"]["attrs"] == [("k", "1")]
    assert rows[0]["_tenant"]["signup"] == date(2024, 2, 29)
    assert rows[1]["_tenant"]["signup"] is None  # 2024-02-30 is not a date
    assert rows[0]["_tenant"]["count"] == 2**40
    assert rows[1]["_tenant"]["small"] is None  # 300 does not fit a byte
    assert {(r.row, r.destination) for r in out.rejects} == {(1, "_tenant.signup"), (1, "_tenant.small")}


def test_numbers_and_timestamps_to_strings_and_epoch_millis() -> None:
    t = pa.table(
        {
            "n": pa.array([1.5, 2.0]),
            "ts": pa.array([datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), None], pa.timestamp("ms", tz="UTC")),
            "ms": pa.array([1571829875000, None], pa.int64()),
        }
    )
    ms = [attr("n", "_id"), attr("ts", "eventType"), attr("ms", "timestamp")]
    out = apply(compile_mapping(ms, experience_event_schema(), t.schema), t)
    rows = out.good.to_pylist()
    assert [r["_id"] for r in rows] == ["1.5", "2"]
    assert rows[0]["eventType"] == "2024-01-02T03:04:05Z"
    assert rows[0]["timestamp"] == datetime(2019, 10, 23, 11, 24, 35, tzinfo=UTC)


def test_static_and_record_batch_input() -> None:
    batch = pa.record_batch({"id": ["a", "b"]})
    ms = [
        attr("id", "_id"),
        Mapping("STATIC", "commerce.purchases", "eventType"),
        Mapping("STATIC", "7", "_tenant.count"),
    ]
    out = apply(compile_mapping(ms, experience_event_schema()), batch)
    assert out.good.column("eventType").to_pylist() == ["commerce.purchases"] * 2
    assert [r["_tenant"]["count"] for r in out.good.to_pylist()] == [7, 7]


def test_chunked_table_and_empty_input() -> None:
    t = pa.concat_tables([SOURCE.slice(0, 2), SOURCE.slice(2, 2)])
    plan = plan_for([attr("id", "_id"), expr("upper(first)", "person.name.firstName")])
    assert apply(plan, t).good.column("_id").to_pylist() == ["t1", "t2", "t3", "t4"]
    empty = apply(plan, SOURCE.slice(0, 0))
    assert empty.good.num_rows == 0 and empty.good.schema == to_arrow_schema(experience_event_schema())


def test_constant_failure_rejects_every_row() -> None:
    plan = compile_mapping(
        [attr("id", "_id"), expr('to_integer("x")', "_tenant.count")], experience_event_schema()
    )
    out = apply(plan, pa.table({"id": ["a", "b"]}))
    assert out.good.num_rows == 0 and [r.row for r in out.rejects] == [0, 1]


@pytest.mark.parametrize("n", [100_000])
def test_vectorised_100k_rows(n: int) -> None:
    t = pa.table(
        {
            "id": [f"id{i}" for i in range(n)],
            "name": [f"Näme {i}" for i in range(n)],
            "amount": [f"{i}.25" if i % 1000 else "bad" for i in range(n)],
            "ts": [f"2024-01-{1 + i % 28:02d} 10:00:00" for i in range(n)],
            "email": [f"U{i}@X.COM" for i in range(n)],
        }
    )
    ms = [
        attr("id", "_id"),
        expr(
            "lower(email)",
            "commerce.order.purchaseID",
        ),
        expr('concat(upper(name), " / ", trim(id))', "person.name.fullName"),
        expr('date(ts, "yyyy-MM-dd HH:mm:ss")', "timestamp"),
        attr("amount", "commerce.order.priceTotal"),
        expr('iif(substr(id, 0, 2) == "id", coalesce(name, "x"), "y")', "person.name.firstName"),
        attr("email", "commerce.order.currencyCode", identity=True, namespace_code="Email"),
    ]
    plan = compile_mapping(ms, experience_event_schema(), t.schema)
    start = time.perf_counter()
    out = apply(plan, t)
    elapsed = time.perf_counter() - start
    assert out.good.num_rows == n - n // 1000
    assert len(out.rejects) == n // 1000
    assert elapsed < 30  # generous: only guards against a per-row Python path


def test_array_element_destinations() -> None:
    t = pa.table({"sku": ["a", None, None], "q": ["2", "3", None], "tag": ["x", None, "z"]})
    ms = [
        attr("sku", "productListItems.SKU"),
        attr("q", "productListItems[1].quantity"),
        attr("tag", "tags[1]"),
    ]
    out = apply(compile_mapping(ms, experience_event_schema(), t.schema), t)
    assert out.good.schema == to_arrow_schema(experience_event_schema())
    rows = out.good.to_pylist()
    assert rows[0]["productListItems"] == [{"SKU": "a", "quantity": None}, {"SKU": None, "quantity": 2}]
    assert rows[1]["productListItems"] == [None, {"SKU": None, "quantity": 3}]
    assert rows[2]["productListItems"] is None
    assert [r["tags"] for r in rows] == [[None, "x"], None, [None, "z"]]


def test_nested_and_spaced_source_fields() -> None:
    t = pa.table(
        {"cust": pa.array([{"first": "A", "id": 1}, None]), "First Name": ["x", "y"], "a.b": ["flat", "f2"]}
    )
    ms = [
        attr("cust.first", "person.name.firstName"),
        expr('concat(${First Name}, "-", cust.id)', "person.name.fullName"),
        attr("a.b", "_id"),
    ]
    plan = compile_mapping(ms, experience_event_schema(), t.schema)
    rows = apply(plan, t).good.to_pylist()
    assert rows[0]["person"]["name"] == {"firstName": "A", "fullName": "x-1"}
    assert rows[1]["person"]["name"] == {"firstName": None, "fullName": "y-"}
    assert [r["_id"] for r in rows] == ["flat", "f2"]  # a flat column named "a.b" wins


def test_serial_and_threaded_results_match() -> None:
    t = pa.table(
        {"id": [f"i{i}" for i in range(30_000)], "n": [str(i) if i % 7 else "x" for i in range(30_000)]}
    )
    ms = [attr("id", "_id"), attr("n", "_tenant.count"), expr("upper(id)", "eventType")]
    plan = compile_mapping(ms, experience_event_schema(), t.schema)
    a, b = apply(plan, t, threads=1), apply(plan, t, threads=4)
    assert a.good.equals(b.good) and a.rejects == b.rejects
