"""Record validation (example-based; property-based rules in test_validation_properties.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from xdmflow.errors import BadRequestError
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema, XdmField
from xdmflow.schema.fixtures import commerce_event_schema, payments_profile_schema
from xdmflow.schema.validation import RowError, ValidationResult, validate

TS = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
EVENTS = commerce_event_schema()
PROFILES = payments_profile_schema()


def run(schema: CompiledSchema, rows: list[dict[str, Any]]) -> ValidationResult:
    return validate(schema, pa.Table.from_pylist(rows, schema=to_arrow_schema(schema)))


def errs(result: ValidationResult) -> set[tuple[int, str]]:
    return {(e.row, e.path) for e in result.errors}


def event(**kw: Any) -> dict[str, Any]:
    return {"_id": "e1", "timestamp": TS, **kw}


def test_valid_rows_have_no_errors() -> None:
    r = run(
        EVENTS, [event(), event(productListItems=[{"SKU": "a", "quantity": 2, "product": "https://x/p"}])]
    )
    assert r.valid.to_pylist() == [True, True] and r.errors == [] and r.ok


def test_top_level_required_and_empty_string() -> None:
    r = run(EVENTS, [event(), {"_id": "", "timestamp": TS}, {"_id": "x"}])
    assert r.valid.to_pylist() == [True, False, False]
    assert r.errors == [
        RowError(1, "_id", "required field is missing", None),
        RowError(2, "timestamp", "required field is missing", None),
    ]
    assert r.invalid_rows == [1, 2]


def test_nested_required_only_when_parent_present() -> None:
    rows = [
        event(),
        event(commerce={"checkouts": None}),
        event(commerce={"checkouts": {"id": "c"}}),
        event(commerce={"checkouts": {"value": 1.0}}),
    ]
    assert errs(run(EVENTS, rows)) == {(2, "commerce.checkouts.value")}


def test_required_inside_array_items_per_element() -> None:
    rows = [
        event(productListItems=[]),
        event(productListItems=None),
        event(productListItems=[{"SKU": "a"}, {"name": "no sku"}, {"SKU": ""}]),
        event(
            productListItems=[
                {"SKU": "a", "selectedOptions": [{"attribute": "size", "value": "M"}, {"attribute": "color"}]}
            ]
        ),
    ]
    r = run(EVENTS, rows)
    assert errs(r) == {(2, "productListItems.SKU"), (3, "productListItems.selectedOptions.value")}
    assert len(r.errors) == 2  # one entry per row/field even with two failing elements


def test_hard_enum_vs_meta_enum() -> None:
    rows = [
        event(producedBy="anything", eventType="custom.event"),
        event(commerce={"order": {"orderType": "bogus", "payments": [{"paymentType": "barter"}]}}),
        event(identityMap={"Email": [{"id": "a@b.c", "authenticatedState": "maybe"}], "ECID": [{"id": "1"}]}),
    ]
    r = run(EVENTS, rows)
    assert errs(r) == {(1, "commerce.order.orderType"), (2, "identityMap.authenticatedState")}
    assert next(e for e in r.errors if e.row == 1).value == "bogus"


def test_pattern_is_a_search() -> None:
    rows = [
        {"person": {"birthDayAndMonth": "x12-31y"}},
        {"person": {"birthDayAndMonth": "1-1"}},
        {"homeAddress": {"stateProvince": "anything at all"}},
        {"homeAddress": {"countryCode": "USA"}},
        {"homeAddress": {"countryCode": "US"}},
    ]
    assert errs(run(PROFILES, rows)) == {(1, "person.birthDayAndMonth"), (3, "homeAddress.countryCode")}


def test_formats() -> None:
    rows: list[dict[str, Any]] = [
        {
            "personalEmail": {"address": "jane@example.com"},
            "_id": "urn:uuid:1234",
            "createdByBatchID": "01EQ1C",
        },
        {"personalEmail": {"address": "not-an-email"}},
        {"personalEmail": {"address": "two@@at.com"}},
        {"_id": "has space"},
    ]
    assert errs(run(PROFILES, rows)) == {
        (1, "personalEmail.address"),
        (2, "personalEmail.address"),
        (3, "_id"),
    }
    r = run(
        EVENTS,
        [
            event(productListItems=[{"SKU": "a", "product": "no scheme"}]),
            event(productListItems=[{"SKU": "a", "product": "https://ex.com/p/1"}]),
        ],
    )
    assert errs(r) == {(0, "productListItems.product")}


def test_integer_ranges_and_lengths() -> None:
    rows: list[dict[str, Any]] = [
        {"person": {"birthYear": 0}},
        {"person": {"birthYear": 32767}},
        {"homeAddress": {"postOfficeBox": "x" * 21}},
        {"homeAddress": {"postOfficeBox": "x" * 20}},
        {"mobilePhone": {"countryCode": ""}},
        {"mobilePhone": {"countryCode": "44"}},
        {"homeAddress": {"_schema": {"latitude": 91.0}}},
        {"homeAddress": {"_schema": {"longitude": -180.0}}},
    ]
    r = run(PROFILES, rows)
    assert errs(r) == {
        (0, "person.birthYear"),
        (2, "homeAddress.postOfficeBox"),
        (4, "mobilePhone.countryCode"),
        (6, "homeAddress._schema.latitude"),
    }
    assert next(e for e in r.errors if e.row == 0).value == "0"


def _one(field: XdmField) -> CompiledSchema:
    return CompiledSchema(id="urn:t", version="1.0", title="t", class_id="urn:c", fields=(field,))


def test_long_range_and_non_finite_numbers() -> None:
    s = _one(XdmField(name="n", path="n", xdm_type="long"))
    r = validate(s, pa.table({"n": pa.array([2**53 - 1, 2**53, -(2**53), None], pa.int64())}))
    assert r.valid.to_pylist() == [True, False, False, True]
    d = _one(XdmField(name="d", path="d", xdm_type="number"))
    r = validate(d, pa.table({"d": pa.array([1.5, float("nan"), float("inf")])}))
    assert r.valid.to_pylist() == [True, False, False]


def test_timestamps_out_of_range() -> None:
    s = _one(XdmField(name="t", path="t", xdm_type="date-time"))
    far = pa.array([0, 10**17, None], pa.int64()).cast(pa.timestamp("us", tz="UTC"))  # 10**17 us ~ year 5138
    huge = pa.array([400_000_000_000_000_000], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    assert validate(s, pa.table({"t": far})).ok
    assert not validate(s, pa.table({"t": huge})).ok


def test_chunked_tables_record_batches_and_missing_columns() -> None:
    schema = to_arrow_schema(EVENTS)
    a = pa.Table.from_pylist([event(), {"_id": "x"}], schema=schema)
    b = pa.Table.from_pylist([event(productListItems=[{"name": "n"}]), event()], schema=schema)
    table = pa.concat_tables([a, b])
    assert table.column("_id").num_chunks == 2
    r = validate(EVENTS, table)
    assert errs(r) == {(1, "timestamp"), (2, "productListItems.SKU")}
    assert errs(validate(EVENTS, table.to_batches()[1])) == {(0, "productListItems.SKU")}
    only_id = pa.table({"_id": ["a", "b"]})
    assert errs(validate(EVENTS, only_id)) == {(0, "timestamp"), (1, "timestamp")}


def test_sliced_input_keeps_row_numbers_of_the_slice() -> None:
    t = pa.Table.from_pylist(
        [event(productListItems=[{"name": "a"}]), event(), event(productListItems=[{"name": "b"}])],
        schema=to_arrow_schema(EVENTS),
    )
    assert errs(validate(EVENTS, t.slice(1))) == {(1, "productListItems.SKU")}


def test_wrong_arrow_type_is_a_bad_request() -> None:
    with pytest.raises(BadRequestError, match="commerce"):
        validate(EVENTS, pa.table({"commerce": ["not a struct"]}))


def test_large_batch_is_fast() -> None:
    import time

    rows = [event(_id=f"id{i}", productListItems=[{"SKU": "s" if i % 7 else ""}]) for i in range(20_000)]
    table = pa.Table.from_pylist(rows, schema=to_arrow_schema(EVENTS))
    start = time.perf_counter()
    r = validate(EVENTS, table)
    assert time.perf_counter() - start < 5
    assert r.invalid_rows == list(range(0, 20_000, 7))
