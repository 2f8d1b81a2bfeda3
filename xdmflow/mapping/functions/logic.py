"""Logical, aggregation, type-conversion, JSON and special (uuid, nullify) functions, and the
broadcasting helper the other function modules share (``common``)."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.mapping import casts
from xdmflow.mapping.functions._base import (
    EvalContext,
    Value,
    as_bool,
    as_num,
    as_str,
    broadcast,
    const,
    register,
    rowwise,
)

# -- logical -------------------------------------------------------------------------------

L = "Logical operators"


def common(ctx: EvalContext, vals: list[Value]) -> list[Value]:
    """Bring values to one Arrow type (nulls adopt it; numbers widen; otherwise strings)."""
    types = {v.type for v in vals if not pa.types.is_null(v.type)}
    if not types:
        return vals
    if len(types) == 1:
        t = next(iter(types))
    elif all(casts.el_type(t) == "number" for t in types):
        t = (
            pa.float64()
            if any(pa.types.is_floating(x) or pa.types.is_decimal(x) for x in types)
            else pa.int64()
        )
    elif all(pa.types.is_timestamp(x) for x in types):
        t = casts.TS_TYPE
    else:
        return [
            as_str(ctx, v) if casts.el_type(v.type) != "string" or not pa.types.is_string(v.type) else v
            for v in vals
        ]
    out: list[Value] = []
    for v in vals:
        out.append(v if v.type == t else v.cast(t))
    return out


@register(
    "iif",
    L,
    [("condition", "boolean"), ("true_value", "any"), ("false_value", "any")],
    "any",
    description="TRUE_VALUE when CONDITION is true, else FALSE_VALUE (null condition = false).",
    example='iif("s".equalsIgnoreCase("S"), "True", "False")',
    result='"True"',
)
def iif(ctx: EvalContext, args: list[Value]) -> Value:
    cond = pc.fill_null(as_bool(ctx, args[0]), False)
    a, b = common(ctx, [args[1], args[2]])
    if pa.types.is_null(a.type) and pa.types.is_null(b.type):
        return pa.scalar(None)
    if isinstance(cond, pa.Scalar):
        return a if cond.as_py() else b
    return pc.if_else(cond, a, b)


@register(
    "decode",
    L,
    [("key", "any"), ("case_value", "any")],
    "any",
    min_args=3,
    max_args=None,
    description="decode(KEY, K1, V1, K2, V2, ..., DEFAULT?): the V of the first K equal to KEY.",
    example='decode(stateCode, "ca", "California", "pa", "Pennsylvania", "N/A")',
    result='"California"',
)
def decode(ctx: EvalContext, args: list[Value]) -> Value:
    key, rest = args[0], args[1:]
    default: Value = pa.scalar(None)
    if len(rest) % 2 == 1:
        default = rest[-1]
        rest = rest[:-1]
    cases = [rest[i] for i in range(0, len(rest), 2)]
    values = common(ctx, [rest[i] for i in range(1, len(rest), 2)] + [default])
    keys = common(ctx, [key, *cases])
    k = keys[0]
    out = values[-1]
    for c, v in zip(reversed(keys[1:]), reversed(values[:-1]), strict=True):
        m = pc.fill_null(pc.equal(k, c), False)
        out = pc.if_else(m, v, out)
    return out


# -- aggregation ---------------------------------------------------------------------------


@register(
    "min",
    "Aggregation",
    [("options", "any")],
    "any",
    min_args=1,
    max_args=None,
    description="The smallest argument (nulls ignored).",
    example="min(3, 1, 4)",
    result="1",
)
def min_(ctx: EvalContext, args: list[Value]) -> Value:
    vals = common(ctx, args)
    return pc.min_element_wise(*vals, skip_nulls=True) if len(vals) > 1 else vals[0]


@register(
    "max",
    "Aggregation",
    [("options", "any")],
    "any",
    min_args=1,
    max_args=None,
    description="The largest argument (nulls ignored).",
    example="max(3, 1, 4)",
    result="4",
)
def max_(ctx: EvalContext, args: list[Value]) -> Value:
    vals = common(ctx, args)
    return pc.max_element_wise(*vals, skip_nulls=True) if len(vals) > 1 else vals[0]


# -- type conversion -----------------------------------------------------------------------

T = "Type conversions"


def _conv(name: str, target: pa.DataType, desc: str, example: str, result: str) -> None:
    @register(name, T, [("string", "any")], "number", description=desc, example=example, result=result)
    def impl(ctx: EvalContext, args: list[Value]) -> Value:
        v = args[0]
        if pa.types.is_floating(v.type) and pa.types.is_integer(target):
            v = pc.trunc(v)
        return as_num(ctx, v, target)


_conv("to_bigint", pa.int64(), "Converts to a 64-bit integer.", 'to_bigint("1000000.34")', "1000000")
_conv("to_decimal", pa.float64(), "Converts to a double.", 'to_decimal("20.5")', "20.5")
_conv("to_float", pa.float64(), "Converts to a float.", 'to_float("12.3456")', "12.3456")
_conv("to_integer", pa.int32(), "Converts to a 32-bit integer.", 'to_integer("12")', "12")


@register(
    "json_to_object",
    "JSON",
    [("string", "string")],
    "object",
    description="Parses a JSON string into an object.",
    example='json_to_object("{\\"a\\": 1}")',
    result='{"a": 1}',
)
def json_to_object(ctx: EvalContext, args: list[Value]) -> Value:
    s = as_str(ctx, args[0])
    return rowwise(ctx, lambda v: None if v is None else json.loads(v), [s], reason="invalid JSON")


# -- special -------------------------------------------------------------------------------


def uuid_array(n: int) -> pa.Array:
    """``n`` random version-4 UUID strings, built without a per-row Python loop."""
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    nib = np.empty((n, 32), dtype=np.uint8)
    nib[:, 0::2] = hexdigits[raw >> 4]
    nib[:, 1::2] = hexdigits[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    for dst, src in ((0, 0), (9, 8), (14, 12), (19, 16), (24, 20)):
        width = {0: 8, 9: 4, 14: 4, 19: 4, 24: 12}[dst]
        out[:, dst : dst + width] = nib[:, src : src + width]
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(out.tobytes()))


@register(
    "uuid",
    "Special operations",
    [],
    "string",
    aliases=["guid"],
    description="A random UUID per row.",
    example="uuid()",
    result='"7d2a7b7e-0b5c-4f0e-9c39-9f4c1d2e3a4b"',
)
def uuid_(ctx: EvalContext, args: list[Value]) -> Value:
    return uuid_array(ctx.n)


@register(
    "nullify",
    "Objects",
    [],
    "any",
    description="A null value (drops the destination field).",
    example="nullify()",
    result="null",
)
def nullify(ctx: EvalContext, args: list[Value]) -> Value:
    return pa.scalar(None)


def broadcast_all(ctx: EvalContext, vals: list[Value]) -> list[pa.Array]:
    return [broadcast(ctx, v) for v in vals]


__all__ = ["common", "uuid_array", "broadcast_all", "const"]
