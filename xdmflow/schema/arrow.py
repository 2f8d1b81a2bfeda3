"""CompiledSchema -> Arrow schema: the only place XDM types become Arrow types.

Conventions (everything downstream relies on them):

=============  =====================================
XDM type       Arrow type
=============  =====================================
string         ``pa.string()``
number         ``pa.float64()``
long           ``pa.int64()``
int            ``pa.int32()``
short          ``pa.int16()``
byte           ``pa.int8()``
boolean        ``pa.bool_()``
date           ``pa.date32()``
date-time      ``pa.timestamp("us", tz="UTC")``
object         ``pa.struct`` of the children, in schema order
array          ``pa.list_`` of the items' type
map            ``pa.map_(pa.string(), values' type)``
=============  =====================================

Every Arrow field is nullable: XDM ``required`` is conditional on the parent object being
present, so it is enforced by ``xdmflow.schema.validation``, not by Arrow nullability.
"""

from __future__ import annotations

import pyarrow as pa

from xdmflow.errors import InvalidValueError
from xdmflow.schema.compiled import CompiledSchema, XdmField

__all__ = ["PRIMITIVE_ARROW_TYPES", "arrow_type", "arrow_field", "to_arrow_schema"]

PRIMITIVE_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "number": pa.float64(),
    "long": pa.int64(),
    "int": pa.int32(),
    "short": pa.int16(),
    "byte": pa.int8(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "date-time": pa.timestamp("us", tz="UTC"),
}


def arrow_type(f: XdmField) -> pa.DataType:
    """The Arrow type of one compiled field."""
    if f.xdm_type in PRIMITIVE_ARROW_TYPES:
        return PRIMITIVE_ARROW_TYPES[f.xdm_type]
    if f.xdm_type == "object":
        return pa.struct([arrow_field(c) for c in f.children])
    if f.xdm_type == "array":
        if f.items is None:
            raise InvalidValueError(f"array field {f.path!r} has no items")
        return pa.list_(arrow_field(f.items).with_name("element"))
    if f.xdm_type == "map":
        if f.values is None:
            raise InvalidValueError(f"map field {f.path!r} has no value type")
        return pa.map_(pa.string(), arrow_type(f.values))
    raise InvalidValueError(f"unknown XDM type {f.xdm_type!r} at {f.path!r}")


def arrow_field(f: XdmField) -> pa.Field:
    return pa.field(f.name, arrow_type(f), nullable=True)


def to_arrow_schema(schema: CompiledSchema) -> pa.Schema:
    """The Arrow schema of records of ``schema`` (compatibility-mode names)."""
    return pa.schema([arrow_field(f) for f in schema.fields])
