"""Schema inference from a sample (xdmflow.schema.infer): types, date patterns, tolerance, nesting."""

from __future__ import annotations

import pyarrow as pa
import pytest

from xdmflow.schema.infer import adhoc_properties, field_name, infer_fields, leaf_fields


def _by_source(table: pa.Table, **kw: float) -> dict[str, object]:
    return {f.source: f for f in infer_fields(table, **kw)}


def test_string_columns_get_typed_with_detected_formats() -> None:
    n = 20
    table = pa.table(
        {
            "id": [str(i) for i in range(n)],
            "price": [f"{i}.5" for i in range(n)],
            "flag": ["true" if i % 2 else "FALSE" for i in range(n)],
            "day": [f"{i % 28 + 1:02d}/03/2026" for i in range(n)],
            "us day": [f"03/{i % 28 + 1:02d}/2026" for i in range(n)],
            "at": [f"2026-01-{i % 28 + 1:02d}T10:00:00Z" for i in range(n)],
            "at2": [f"{i % 28 + 1:02d}/01/2026 10:00:00" for i in range(n)],
            "zip": [f"0{i:04d}" for i in range(n)],
            "text": [f"x{i}" for i in range(n)],
        }
    )
    got = {f.source: (f.type_label, f.mismatches) for f in infer_fields(table)}
    assert got == {
        "id": ("long", 0),
        "price": ("number", 0),
        "flag": ("boolean", 0),
        "day": ("date (dd/MM/yyyy)", 0),
        "us day": ("date (MM/dd/yyyy)", 0),
        "at": ("date-time", 0),
        "at2": ("date-time (dd/MM/yyyy HH:mm:ss)", 0),
        "zip": ("string", 0),
        "text": ("string", 0),
    }
    assert [f.name for f in infer_fields(table)][4] == "us_day"


def test_a_few_bad_values_are_counted_not_turned_into_strings() -> None:
    values = [str(i) for i in range(38)] + ["n/a", "twelve"]
    [strict] = infer_fields(pa.table({"n": values}), tolerance=0)
    [lenient] = infer_fields(pa.table({"n": values}), tolerance=0.1)
    assert strict.type_label == "string"
    assert (lenient.type_label, lenient.mismatches, lenient.sampled) == ("long", 2, 40)
    # empty cells and nulls do not count
    [f] = infer_fields(pa.table({"n": ["1", "", None, " 2 "]}), tolerance=0)
    assert (f.type_label, f.sampled) == ("long", 2)


def test_arrow_types_and_nested_objects() -> None:
    table = pa.table(
        {
            "n": pa.array([1, 2], pa.int32()),
            "x": pa.array([1.0, None]),
            "customer": pa.array(
                [{"email": "a@b.c", "since": "2026-01-01"}, {"email": None, "since": "2026-02-01"}]
            ),
            "tags": pa.array([["a"], []]),
            "ts": pa.array([0, 1], pa.timestamp("us")),
        }
    )
    fields = infer_fields(table)
    props = adhoc_properties(fields)
    assert props["n"]["meta:xdmType"] == "long" and props["x"]["type"] == "number"
    assert props["customer"]["type"] == "object"
    assert props["customer"]["properties"]["since"]["format"] == "date"
    assert props["tags"] == {"type": "array", "title": "tags", "items": {"type": "string"}}
    assert props["ts"]["format"] == "date-time"
    leaves = [(src, dst) for src, dst, _ in leaf_fields(fields)]
    assert ("customer.email", "customer.email") in leaves and ("customer.since", "customer.since") in leaves


def test_field_names_are_valid_and_unique() -> None:
    assert field_name("order id") == "order_id"
    assert field_name("2nd") == "f_2nd"
    assert field_name("_private") == "f_private"
    fields = infer_fields(pa.table({"a b": ["1"], "a-b": ["2"]}))
    assert [f.name for f in fields] == ["a_b", "a_b_2"]
    with pytest.raises(ValueError):
        infer_fields(pa.table({"a": ["1"]}), tolerance=1)
