"""XDM -> Iceberg schema conversion."""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.types import (
    DateType,
    DoubleType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    StringType,
    StructType,
    TimestamptzType,
)

from tests.lake.lakehelp import f, person_schema
from xdmflow.schema.arrow import to_arrow_schema
from xdmflow.schema.compiled import CompiledSchema
from xdmflow.schema.iceberg import iceberg_to_arrow_schema, to_iceberg_schema


def test_types_and_ids_are_deterministic() -> None:
    schema = to_iceberg_schema(person_schema())
    assert schema == to_iceberg_schema(person_schema())
    by_name = {fld.name: fld for fld in schema.fields}
    # root fields take 1..8, then nested types depth first
    assert [fld.field_id for fld in schema.fields] == list(range(1, 9))
    assert isinstance(by_name["attrs"].field_type, MapType)
    assert by_name["attrs"].field_type.key_type == StringType()
    assert by_name["level"].field_type == IntegerType()
    assert by_name["loyaltyPoints"].field_type == LongType()
    assert by_name["timestamp"].field_type == TimestamptzType()
    person = by_name["person"].field_type
    assert isinstance(person, StructType)
    assert [fld.field_type for fld in person.fields][:2] == [IntegerType(), DateType()]
    items = by_name["productListItems"].field_type
    assert isinstance(items, ListType) and not items.element_required
    element = items.element_type
    assert isinstance(element, StructType)
    assert element.fields[2].field_type == DoubleType()
    assert all(not fld.required for fld in schema.fields)
    # ids are dense: 1..highest all resolve (list/map ids included)
    assert schema.highest_field_id == 21
    assert all(schema.find_field(i) for i in range(1, 22))


def test_ids_match_what_a_new_table_gets(lake) -> None:  # type: ignore[no-untyped-def]
    ns = "org_x__prod"
    table = lake.create_table(ns, "ids", person_schema())
    assert table.schema().as_struct() == to_iceberg_schema(person_schema()).as_struct()


def test_file_schema_is_consistent_with_xdm_arrow_shape() -> None:
    compiled = person_schema()
    files = iceberg_to_arrow_schema(to_iceberg_schema(compiled), field_ids=False)
    xdm = to_arrow_schema(compiled)
    assert files.names == xdm.names
    for a, b in zip(files, xdm, strict=True):
        # identical except that 8/16-bit ints are stored as Iceberg int (int32)
        if a.name in ("level", "person"):
            continue
        assert a.type == b.type, a.name
    assert files.field("level").type == pa.int32()
    with_ids = iceberg_to_arrow_schema(to_iceberg_schema(compiled))
    assert with_ids.field("_id").metadata == {b"PARQUET:field_id": b"1"}


def test_map_of_arrays_and_array_of_arrays() -> None:
    compiled = CompiledSchema(
        id="s",
        version="1",
        title="t",
        class_id="c",
        fields=(
            f("m", "m", "map", values=f("values", "m", "array", items=f("items", "m", "long"))),
            f("aa", "aa", "array", items=f("items", "aa", "array", items=f("items", "aa", "date-time"))),
        ),
    )
    schema = to_iceberg_schema(compiled)
    m = schema.find_field("m").field_type
    assert isinstance(m, MapType) and (m.key_id, m.value_id) == (3, 4)
    assert isinstance(m.value_type, ListType) and m.value_type.element_id == 5
    aa = schema.find_field("aa").field_type
    assert isinstance(aa, ListType) and isinstance(aa.element_type, ListType)
    assert aa.element_type.element_type == TimestamptzType()
