"""SQL column types -> Arrow types, and Python values -> Arrow arrays for one chunk of rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

__all__ = ["arrow_type_of", "chunk_max", "to_array", "watermark_value", "watermark_out"]


def arrow_type_of(t: sa.types.TypeEngine[Any]) -> pa.DataType:
    """The Arrow type a reflected column is read as (anything unknown becomes a string)."""
    if isinstance(t, sa.Boolean):
        return pa.bool_()
    if isinstance(t, sa.Integer):
        if getattr(t, "unsigned", False) and isinstance(t, sa.BigInteger):
            return pa.uint64()
        if isinstance(t, sa.SmallInteger):
            return pa.int16()
        if isinstance(t, sa.BigInteger):
            return pa.int64()
        return pa.int64() if getattr(t, "unsigned", False) else pa.int32()
    if isinstance(t, sa.Float | sa.Double):
        return pa.float64()
    if isinstance(t, sa.Numeric):
        p, s = t.precision, t.scale
        if p is not None and 0 < p <= 38 and s is not None and 0 <= s <= p:
            return pa.decimal128(p, s)
        return pa.float64()
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us", tz="UTC") if getattr(t, "timezone", False) else pa.timestamp("us")
    if isinstance(t, sa.Date):
        return pa.date32()
    if isinstance(t, sa.LargeBinary | sa.types._Binary):
        return pa.binary()
    return pa.string()


_STR_OR_NONE = frozenset({str, type(None)})


def _stringify(v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, dict | list):
        return json.dumps(v, default=str, ensure_ascii=False)
    if isinstance(v, bytes | bytearray | memoryview):
        return bytes(v).hex()
    if isinstance(v, time | timedelta | date):
        return v.isoformat() if not isinstance(v, timedelta) else str(v)
    return str(v)


def to_array(values: Sequence[Any], t: pa.DataType) -> pa.Array:
    """Build one Arrow column from a chunk's Python values."""
    if pa.types.is_string(t):
        # text columns hold only str and None: hand them to Arrow as they are (one C-level
        # pass over the types) instead of one Python call per value
        if set(map(type, values)) <= _STR_OR_NONE:
            return pa.array(values, type=t)
        return pa.array([_stringify(v) for v in values], type=t)
    if pa.types.is_binary(t):
        return pa.array([bytes(v) if isinstance(v, memoryview | bytearray) else v for v in values], type=t)
    if pa.types.is_timestamp(t) and t.tz is not None:
        return pa.array(values, type=t)
    if pa.types.is_floating(t):
        if Decimal not in set(map(type, values)):
            return pa.array(values, type=t)
        return pa.array([float(v) if isinstance(v, Decimal) else v for v in values], type=t)
    return pa.array(values, type=t)


def watermark_value(raw: Any, t: sa.types.TypeEngine[Any]) -> Any:
    """A stored watermark as the Python value to bind against a column of type ``t``."""
    if raw is None:
        return None
    if isinstance(t, sa.DateTime):
        ts = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        if getattr(t, "timezone", False):
            return ts
        if ts.tzinfo is not None:  # naive columns hold UTC by convention
            ts = ts.astimezone(UTC).replace(tzinfo=None)
        return ts
    if isinstance(t, sa.Date):
        return raw if isinstance(raw, date) else date.fromisoformat(str(raw))
    if isinstance(t, sa.Integer):
        return int(raw)
    if isinstance(t, sa.Float | sa.Double):
        return float(raw)
    if isinstance(t, sa.Numeric):
        return Decimal(str(raw))
    return str(raw) if not isinstance(raw, str) else raw


def watermark_out(value: Any) -> Any:
    """A delta value as stored: ISO-8601 for dates/timestamps (``Z`` for UTC), natural type otherwise."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return value.isoformat() + "Z"  # naive columns hold UTC by convention
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


def chunk_max(values: Sequence[Any], key: Callable[[Any], Any] | None = None) -> Any:
    """max() over one chunk's delta values, ignoring nulls (``None`` when all are null)."""
    present = [v for v in values if v is not None]
    return max(present, key=key) if present else None
