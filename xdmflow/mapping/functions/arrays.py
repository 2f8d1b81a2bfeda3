"""Array functions (platform-api.md §4.3 "Arrays").

``coalesce``, ``first``/``last`` and ``size_of`` are vectorised; building new arrays from
several values (``add_to_array``, ``join_arrays``, ``to_array``) uses :func:`rowwise`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import InvalidTypeError
from xdmflow.mapping.functions._base import EvalContext, Value, as_bool, broadcast, register, rowwise
from xdmflow.mapping.functions.logic import common

ARR = "Arrays"

# -- arrays --------------------------------------------------------------------------------


@register(
    "coalesce",
    ARR,
    [("values", "any")],
    "any",
    min_args=1,
    max_args=None,
    description="The first non-null argument.",
    example='coalesce(null, "b", "c")',
    result='"b"',
)
def coalesce(ctx: EvalContext, args: list[Value]) -> Value:
    vals = common(ctx, args)
    if all(pa.types.is_null(v.type) for v in vals):
        return pa.scalar(None)
    vals = [
        v
        if not pa.types.is_null(v.type)
        else v.cast(next(x.type for x in vals if not pa.types.is_null(x.type)))
        for v in vals
    ]
    return pc.coalesce(*vals) if len(vals) > 1 else vals[0]


def _list_end(ctx: EvalContext, v: Value, last: bool) -> Value:
    arr = broadcast(ctx, v)
    if isinstance(arr, pa.LargeListArray):
        arr = arr.cast(pa.list_(arr.type.value_type))
    lengths = pc.fill_null(pc.list_value_length(arr), 0)
    flat_idx = pc.subtract(pc.add(arr.offsets[:-1], lengths), 1) if last else arr.offsets[:-1]
    ok = pc.and_(pc.is_valid(arr), pc.greater(lengths, 0))
    idx = pc.if_else(ok, flat_idx, pa.scalar(None, pa.int32()))
    return pc.take(arr.values, idx)


@register(
    "first",
    ARR,
    [("values", "any")],
    "any",
    min_args=1,
    max_args=None,
    description="The first element of an array, or the first argument.",
    example='first("1", "2", "3")',
    result='"1"',
)
def first(ctx: EvalContext, args: list[Value]) -> Value:
    if len(args) == 1 and pa.types.is_list(args[0].type):
        return _list_end(ctx, args[0], last=False)
    return args[0]


@register(
    "last",
    ARR,
    [("values", "any")],
    "any",
    min_args=1,
    max_args=None,
    description="The last element of an array, or the last argument.",
    example='last("1", "2", "3")',
    result='"3"',
)
def last(ctx: EvalContext, args: list[Value]) -> Value:
    if len(args) == 1 and pa.types.is_list(args[0].type):
        return _list_end(ctx, args[0], last=True)
    return args[-1]


def _flat(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


@register(
    "add_to_array",
    ARR,
    [("array", "array"), ("values", "any")],
    "array",
    min_args=1,
    max_args=None,
    description="The array with the values appended.",
    example='add_to_array(["a", "b"], "c", "d")',
    result='["a", "b", "c", "d"]',
)
def add_to_array(ctx: EvalContext, args: list[Value]) -> Value:
    return rowwise(ctx, lambda a, *vs: [*(a or []), *vs], args)


@register(
    "join_arrays",
    ARR,
    [("arrays", "array")],
    "array",
    min_args=1,
    max_args=None,
    description="Concatenates arrays.",
    example='join_arrays(["a"], ["b", "c"])',
    result='["a", "b", "c"]',
)
def join_arrays(ctx: EvalContext, args: list[Value]) -> Value:
    return rowwise(ctx, lambda *arrs: [x for a in arrs if a is not None for x in _flat(a)], args)


@register(
    "to_array",
    ARR,
    [("include_nulls", "boolean"), ("values", "any")],
    "array",
    min_args=1,
    max_args=None,
    description="The values as an array; nulls kept only when INCLUDE_NULLS.",
    example='to_array(false, "1", null, "2")',
    result='["1", "2"]',
)
def to_array(ctx: EvalContext, args: list[Value]) -> Value:
    inc = as_bool(ctx, args[0])
    vals = common(ctx, args[1:]) if len(args) > 1 else []
    return rowwise(ctx, lambda keep, *vs: [v for v in vs if keep or v is not None], [inc, *vals])


@register(
    "size_of",
    ARR,
    [("value", "any")],
    "number",
    description="The number of elements of an array or map (length of a string).",
    example="size_of([1, 2, 3, 4])",
    result="4",
)
def size_of(ctx: EvalContext, args: list[Value]) -> Value:
    v = args[0]
    if pa.types.is_list(v.type) or pa.types.is_map(v.type) or pa.types.is_large_list(v.type):
        return pc.cast(pc.list_value_length(v), pa.int64())
    if pa.types.is_string(v.type):
        return pc.cast(pc.utf8_length(v), pa.int64())
    if pa.types.is_null(v.type):
        return pa.scalar(None, pa.int64())
    raise InvalidTypeError("size_of needs an array, a map or a string")


@register(
    "upsert_array_append",
    ARR,
    [("array", "array")],
    "array",
    description="Marks an array to be appended to the stored one on upsert (value unchanged here).",
    example="upsert_array_append([123, 456])",
    result="[123, 456]",
)
def upsert_array_append(ctx: EvalContext, args: list[Value]) -> Value:
    return args[0]


@register(
    "upsert_array_replace",
    ARR,
    [("array", "array")],
    "array",
    description="Marks an array to replace the stored one on upsert (value unchanged here).",
    example="upsert_array_replace([123, 456])",
    result="[123, 456]",
)
def upsert_array_replace(ctx: EvalContext, args: list[Value]) -> Value:
    return args[0]
