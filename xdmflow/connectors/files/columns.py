"""Arrow type -> explore column (source ``type`` name + XDM type), shared by the file and SQL sources."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from xdmflow.connectors.base import Column

__all__ = ["arrow_column", "xdm_of"]


def xdm_of(t: pa.DataType) -> tuple[str, dict[str, Any], str]:
    """``(type name, xdm, meta:xdmType)`` of an Arrow type, following ``xdmflow.schema.arrow``."""
    if pa.types.is_boolean(t):
        return "boolean", {"type": "boolean"}, "boolean"
    if pa.types.is_integer(t):
        width = t.bit_width
        meta = {8: "byte", 16: "short", 32: "int"}.get(width, "long")
        return "integer", {"type": "integer"}, meta
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "double" if not pa.types.is_decimal(t) else "decimal", {"type": "number"}, "number"
    if pa.types.is_date(t):
        return "date", {"type": "string", "format": "date"}, "date"
    if pa.types.is_timestamp(t):
        return "date-time", {"type": "string", "format": "date-time"}, "date-time"
    if pa.types.is_struct(t) or pa.types.is_map(t):
        return "object", {"type": "object"}, "object"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "array", {"type": "array"}, "array"
    return "string", {"type": "string"}, "string"


def arrow_column(name: str, t: pa.DataType) -> Column:
    """The explore ``Column`` of an Arrow field."""
    type_name, xdm, meta = xdm_of(t)
    return Column(name=name, type=type_name, xdm=xdm, meta_xdm_type=meta)
