"""CompiledSchema -> Iceberg schema, and Iceberg schema -> Arrow for the lake's Parquet files.

Conventions (consistent with :mod:`xdmflow.schema.arrow`):

=============  ======================  =========================================
XDM type       Iceberg type            Parquet/Arrow file type
=============  ======================  =========================================
string         ``string``              ``pa.string()``
number         ``double``              ``pa.float64()``
long           ``long``                ``pa.int64()``
int/short/byte ``int``                 ``pa.int32()`` (Iceberg has no 8/16-bit ints)
boolean        ``boolean``             ``pa.bool_()``
date           ``date``                ``pa.date32()``
date-time      ``timestamptz``         ``pa.timestamp("us", tz="UTC")``
object         ``struct``              ``pa.struct``
array          ``list`` (optional el.) ``pa.list_`` (element ``element``)
map            ``map<string, V>``      ``pa.map_`` (``key`` / ``value``)
=============  ======================  =========================================

Every field is optional (XDM ``required`` is enforced by validation, not storage).

Field ids are assigned deterministically, the way Iceberg assigns fresh ids when a table is
created: within a struct, all of its fields first (in schema order), then the nested types of
each field, depth first; a list takes one id for its element, a map two (key, value). The ids
of ``to_iceberg_schema(s)`` are therefore exactly the ids a new table created from it gets.
Existing tables keep their ids across evolution (new fields get ids above ``last-column-id``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pyarrow as pa
from pyiceberg.schema import Schema
from pyiceberg.types import (
    BooleanType,
    DateType,
    DoubleType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    MapType,
    NestedField,
    PrimitiveType,
    StringType,
    StructType,
    TimestamptzType,
)

from xdmflow.errors import InvalidValueError
from xdmflow.schema.compiled import CompiledSchema, XdmField

__all__ = ["PRIMITIVE_ICEBERG_TYPES", "to_iceberg_schema", "iceberg_to_arrow_schema", "FIELD_ID_KEY"]

#: Arrow field-metadata key Parquet writers read the Iceberg field id from.
FIELD_ID_KEY = b"PARQUET:field_id"

PRIMITIVE_ICEBERG_TYPES: dict[str, PrimitiveType] = {
    "string": StringType(),
    "number": DoubleType(),
    "long": LongType(),
    "int": IntegerType(),
    "short": IntegerType(),
    "byte": IntegerType(),
    "boolean": BooleanType(),
    "date": DateType(),
    "date-time": TimestamptzType(),
}


def to_iceberg_schema(schema: CompiledSchema) -> Schema:
    """The Iceberg schema of records of ``schema``, with deterministic field ids (from 1)."""
    counter = itertools.count(1)
    return Schema(*_struct_fields(schema.fields, lambda: next(counter)))


def _struct_fields(fields: tuple[XdmField, ...], next_id: Callable[[], int]) -> list[NestedField]:
    ids = [next_id() for _ in fields]
    return [
        NestedField(
            field_id=fid,
            name=f.name,
            field_type=_iceberg_type(f, next_id),
            required=False,
            doc=f.description or f.title or None,
        )
        for fid, f in zip(ids, fields, strict=True)
    ]


def _iceberg_type(f: XdmField, next_id: Callable[[], int]) -> IcebergType:
    if f.xdm_type in PRIMITIVE_ICEBERG_TYPES:
        return PRIMITIVE_ICEBERG_TYPES[f.xdm_type]
    if f.xdm_type == "object":
        return StructType(*_struct_fields(f.children, next_id))
    if f.xdm_type == "array":
        if f.items is None:
            raise InvalidValueError(f"array field {f.path!r} has no items")
        element_id = next_id()
        return ListType(
            element_id=element_id, element=_iceberg_type(f.items, next_id), element_required=False
        )
    if f.xdm_type == "map":
        if f.values is None:
            raise InvalidValueError(f"map field {f.path!r} has no value type")
        key_id, value_id = next_id(), next_id()
        return MapType(
            key_id=key_id,
            key_type=StringType(),
            value_id=value_id,
            value_type=_iceberg_type(f.values, next_id),
            value_required=False,
        )
    raise InvalidValueError(f"unknown XDM type {f.xdm_type!r} at {f.path!r}")


_PRIMITIVE_ARROW: dict[type[PrimitiveType], pa.DataType] = {
    StringType: pa.string(),
    DoubleType: pa.float64(),
    LongType: pa.int64(),
    IntegerType: pa.int32(),
    BooleanType: pa.bool_(),
    DateType: pa.date32(),
    TimestamptzType: pa.timestamp("us", tz="UTC"),
}


def iceberg_to_arrow_schema(schema: Schema, *, field_ids: bool = True) -> pa.Schema:
    """The Arrow schema the lake writes Parquet files with (Iceberg field ids in the field metadata).

    Unlike ``pyiceberg.io.pyarrow.schema_to_pyarrow`` this uses regular (not ``large_``) strings
    and lists, so files match the shapes of :func:`xdmflow.schema.arrow.to_arrow_schema`.
    """
    return pa.schema([_arrow_field(f, field_ids) for f in schema.fields])


def _meta(field_id: int, field_ids: bool) -> dict[bytes, bytes] | None:
    return {FIELD_ID_KEY: str(field_id).encode()} if field_ids else None


def _arrow_field(f: NestedField, field_ids: bool) -> pa.Field:
    return pa.field(
        f.name,
        _arrow_type(f.field_type, field_ids),
        nullable=not f.required,
        metadata=_meta(f.field_id, field_ids),
    )


def _arrow_type(t: IcebergType, field_ids: bool) -> pa.DataType:
    if isinstance(t, StructType):
        return pa.struct([_arrow_field(f, field_ids) for f in t.fields])
    if isinstance(t, ListType):
        element = pa.field(
            "element",
            _arrow_type(t.element_type, field_ids),
            nullable=not t.element_required,
            metadata=_meta(t.element_id, field_ids),
        )
        return pa.list_(element)
    if isinstance(t, MapType):
        key = pa.field(
            "key", _arrow_type(t.key_type, field_ids), nullable=False, metadata=_meta(t.key_id, field_ids)
        )
        value = pa.field(
            "value",
            _arrow_type(t.value_type, field_ids),
            nullable=not t.value_required,
            metadata=_meta(t.value_id, field_ids),
        )
        return pa.map_(key, value)
    for cls, arrow in _PRIMITIVE_ARROW.items():
        if isinstance(t, cls):
            return arrow
    raise InvalidValueError(f"Iceberg type {t} is not used by xdmflow datasets")
