"""Object and map functions (platform-api.md §4.3 "Objects").

``is_empty``, ``to_object`` and ``contains_key`` are vectorised; the map/object utilities use
:func:`rowwise` (rare, small values).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import InvalidTypeError, InvalidValueError
from xdmflow.mapping.functions._base import (
    EvalContext,
    Value,
    as_str,
    broadcast,
    const,
    register,
    rowwise,
)
from xdmflow.mapping.functions.logic import common

OBJ, ARR = "Objects", "Arrays"


def _items(m: Any) -> list[tuple[str, Any]]:
    if m is None:
        return []
    if isinstance(m, dict):
        return list(m.items())
    if isinstance(m, list):
        return [(k, v) for k, v in m]
    raise InvalidTypeError("not a map")


def _as_dict(m: Any) -> dict[str, Any] | None:
    return None if m is None else dict(_items(m))


@register(
    "is_empty",
    OBJ,
    [("value", "any")],
    "boolean",
    description="True when the value is null or an empty string, array or map.",
    example="is_empty([1, null, 2, 3])",
    result="false",
)
def is_empty(ctx: EvalContext, args: list[Value]) -> Value:
    v = args[0]
    t = v.type
    if pa.types.is_null(t):
        return pa.scalar(True)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pc.fill_null(pc.equal(pc.utf8_length(v), 0), True)
    if pa.types.is_list(t) or pa.types.is_map(t):
        return pc.fill_null(pc.equal(pc.list_value_length(v), 0), True)
    if pa.types.is_struct(t):
        return pc.is_null(v)
    return pc.is_null(v)


@register(
    "to_object",
    OBJ,
    [("key", "string"), ("value", "any")],
    "object",
    min_args=2,
    max_args=None,
    description="Builds an object from literal keys and values: to_object(k1, v1, k2, v2...).",
    example='to_object("firstName", "John", "lastName", "Doe")',
    result='{"firstName": "John", "lastName": "Doe"}',
)
def to_object(ctx: EvalContext, args: list[Value]) -> Value:
    if len(args) % 2:
        raise InvalidValueError("to_object needs key/value pairs")
    names = [const(args[i]) for i in range(0, len(args), 2)]
    if any(
        not isinstance(args[i], pa.Scalar) or n is None
        for i, n in zip(range(0, len(args), 2), names, strict=True)
    ):
        raise InvalidValueError("to_object keys must be string literals")
    vals = [broadcast(ctx, args[i]) for i in range(1, len(args), 2)]
    vals = [v if not pa.types.is_null(v.type) else v.cast(pa.string()) for v in vals]
    return pa.StructArray.from_arrays(vals, names=[str(n) for n in names])


def _split_pairs(s: str, vd: str, fd: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for part in s.split(fd):
        if not part:
            continue
        k, sep, v = part.partition(vd)
        out.append((k.strip(), v.strip() if sep else ""))
    return out


@register(
    "str_to_object",
    OBJ,
    [("string", "string"), ("value_delimiter", "string"), ("field_delimiter", "string")],
    "map",
    min_args=1,
    description="Parses 'k1:v1,k2:v2' into a map (delimiters default ':' and ',').",
    example='str_to_object("firstName=John;lastName=Doe", "=", ";")',
    result='{"firstName": "John", "lastName": "Doe"}',
)
def str_to_object(ctx: EvalContext, args: list[Value]) -> Value:
    s = as_str(ctx, args[0])
    vd = as_str(ctx, args[1]) if len(args) > 1 else pa.scalar(":")
    fd = as_str(ctx, args[2]) if len(args) > 2 else pa.scalar(",")
    return rowwise(
        ctx,
        lambda v, a, b: None if v is None else _split_pairs(v, a or ":", b or ","),
        [s, vd, fd],
        pa.map_(pa.string(), pa.string()),
    )


@register(
    "get_values",
    OBJ,
    [("string", "string"), ("key", "string"), ("value_delimiter", "string"), ("field_delimiter", "string")],
    "string",
    min_args=3,
    description="The value of KEY in a 'k=v;k2=v2' string.",
    example='get_values("firstName=John;lastName=Doe", "firstName", "=", ";")',
    result='"John"',
)
def get_values(ctx: EvalContext, args: list[Value]) -> Value:
    vals = [as_str(ctx, a) for a in args]
    if len(vals) == 3:
        vals.append(pa.scalar(","))

    def py(v: str | None, key: str | None, a: str | None, b: str | None) -> str | None:
        if v is None or key is None:
            return None
        return dict(_split_pairs(v, a or ":", b or ",")).get(key)

    return rowwise(ctx, py, vals, pa.string())


@register(
    "get_keys",
    OBJ,
    [("object", "map")],
    "array",
    description="The keys of a map or object.",
    example='get_keys(str_to_object("a:1,b:2"))',
    result='["a", "b"]',
)
def get_keys(ctx: EvalContext, args: list[Value]) -> Value:
    v = args[0]
    if pa.types.is_map(v.type):
        return (
            pc.map_keys(v)
            if hasattr(pc, "map_keys")
            else rowwise(ctx, lambda m: [k for k, _ in _items(m)], [v])
        )
    if pa.types.is_struct(v.type):
        names = [v.type.field(i).name for i in range(v.type.num_fields)]
        return rowwise(ctx, lambda o: None if o is None else list(names), [v], pa.list_(pa.string()))
    raise InvalidTypeError("get_keys needs a map or an object")


@register(
    "map_get_values",
    OBJ,
    [("map", "map"), ("keys", "any")],
    "any",
    description="The value of KEY, or the map restricted to KEYS when given an array.",
    example='map_get_values(m, "a")',
    result='"1"',
)
def map_get_values(ctx: EvalContext, args: list[Value]) -> Value:
    def py(m: Any, keys: Any) -> Any:
        d = _as_dict(m)
        if d is None or keys is None:
            return None
        if isinstance(keys, list):
            return [(k, d[k]) for k in keys if k in d]
        return d.get(keys)

    if isinstance(args[1], pa.Scalar) and isinstance(args[1].as_py(), str) and pa.types.is_map(args[0].type):
        key = args[1].as_py()
        return pc.map_lookup(args[0], pa.scalar(key), "first")
    return rowwise(ctx, py, args)


@register(
    "map_has_keys",
    OBJ,
    [("map", "map"), ("keys", "any")],
    "boolean",
    description="True when the map has KEY (or every key of KEYS).",
    example='map_has_keys(m, "a")',
    result="true",
)
def map_has_keys(ctx: EvalContext, args: list[Value]) -> Value:
    def py(m: Any, keys: Any) -> bool | None:
        d = _as_dict(m)
        if d is None or keys is None:
            return False
        ks = keys if isinstance(keys, list) else [keys]
        return all(k in d for k in ks)

    return rowwise(ctx, py, args, pa.bool_())


@register(
    "add_to_map",
    OBJ,
    [("map", "map")],
    "map",
    min_args=1,
    max_args=None,
    description="Merges maps; the first map holding a key wins.",
    example="add_to_map(m1, m2)",
)
def add_to_map(ctx: EvalContext, args: list[Value]) -> Value:
    def py(*maps: Any) -> list[tuple[str, Any]] | None:
        out: dict[str, Any] = {}
        for m in maps:
            for k, v in _items(m):
                out.setdefault(k, v)
        return list(out.items())

    return rowwise(ctx, py, args, as_map=True)


def _objects_to_map(objs: Any, key: str) -> list[tuple[str, Any]] | None:
    if objs is None:
        return None
    out: dict[str, Any] = {}
    for o in objs:
        if isinstance(o, dict) and o.get(key) is not None:
            out.setdefault(str(o[key]), o)
    return list(out.items())


@register(
    "object_to_map",
    OBJ,
    [("key_or_object", "any"), ("value_or_key", "any")],
    "map",
    min_args=1,
    max_args=None,
    description="object_to_map(K, V, ...), object_to_map(OBJECT) or "
    "object_to_map(OBJECT_ARRAY, KEY_ATTRIBUTE).",
    example='object_to_map("a", 1, "b", 2)',
)
def object_to_map(ctx: EvalContext, args: list[Value]) -> Value:
    if len(args) == 1:
        return rowwise(ctx, lambda o: None if o is None else list(dict(o).items()), args, as_map=True)
    if len(args) == 2 and pa.types.is_list(args[0].type):
        return array_to_map(ctx, args)
    return to_map(ctx, args)


@register(
    "array_to_map",
    OBJ,
    [("objects", "array"), ("key", "string")],
    "map",
    description="A map from each object's KEY attribute to the object (first wins).",
    example='array_to_map(items, "sku")',
)
def array_to_map(ctx: EvalContext, args: list[Value]) -> Value:
    return rowwise(ctx, _objects_to_map, [args[0], as_str(ctx, args[1])], as_map=True)


@register(
    "to_map",
    OBJ,
    [("key", "string"), ("value", "any")],
    "map",
    min_args=2,
    max_args=None,
    description="A map from key/value pairs: to_map(k1, v1, k2, v2...).",
    example='to_map("a", "1", "b", "2")',
    result='{"a": "1", "b": "2"}',
)
def to_map(ctx: EvalContext, args: list[Value]) -> Value:
    if len(args) % 2:
        raise InvalidValueError("to_map needs key/value pairs")
    keys = [as_str(ctx, args[i]) for i in range(0, len(args), 2)]
    vals = common(ctx, [args[i] for i in range(1, len(args), 2)])
    pairs = [x for kv in zip(keys, vals, strict=True) for x in kv]

    def py(*kv: Any) -> list[tuple[str, Any]]:
        out: dict[str, Any] = {}
        for i in range(0, len(kv), 2):
            if kv[i] is not None and kv[i + 1] is not None:
                out.setdefault(kv[i], kv[i + 1])
        return list(out.items())

    vt = next((v.type for v in vals if not pa.types.is_null(v.type)), pa.string())
    return rowwise(ctx, py, pairs, pa.map_(pa.string(), vt))


@register(
    "arrays_to_object",
    OBJ,
    [("key", "string"), ("array", "array")],
    "array",
    min_args=2,
    max_args=None,
    description="Zips arrays into a list of objects: arrays_to_object(k1, A1, k2, A2...).",
    example='arrays_to_object("sku", skus, "price", prices)',
)
def arrays_to_object(ctx: EvalContext, args: list[Value]) -> Value:
    if len(args) % 2:
        raise InvalidValueError("arrays_to_object needs key/array pairs")

    def py(*kv: Any) -> list[dict[str, Any]] | None:
        keys, arrays = kv[0::2], kv[1::2]
        if all(a is None for a in arrays):
            return None
        n = max(len(a) for a in arrays if a is not None)
        return [
            {k: (a[i] if a is not None and i < len(a) else None) for k, a in zip(keys, arrays, strict=True)}
            for i in range(n)
        ]

    return rowwise(ctx, py, args)


@register(
    "contains_key",
    OBJ,
    [("path", "any")],
    "boolean",
    description="True when the source field exists and is not null.",
    example="contains_key(person.name)",
    result="true",
)
def contains_key(ctx: EvalContext, args: list[Value]) -> Value:
    return pc.is_valid(args[0])
