"""Vectorised evaluation of an expression AST over an Arrow batch.

The tree is interpreted once per *batch* (never per row): every node yields a whole
``pa.Array`` (or a ``pa.Scalar`` for constants) computed with ``pyarrow.compute``.
Per-row problems (a value that cannot be converted, division by zero) are recorded in
``EvalContext.failures`` and become rejects; they never abort the batch.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import InvalidTypeError, InvalidValueError, XdmflowError
from xdmflow.mapping import casts
from xdmflow.mapping.ast import (
    ArrayLit,
    Binary,
    Call,
    FieldRef,
    Index,
    Literal,
    MethodCall,
    Node,
    Ternary,
    Unary,
)
from xdmflow.mapping.functions import EvalContext, lookup
from xdmflow.mapping.functions._base import Value, as_bool, as_num, as_str, as_ts, broadcast, null_of
from xdmflow.mapping.functions.logic import common

__all__ = ["evaluate", "resolve_column", "ColumnNotFound", "literal_scalar"]


class ColumnNotFound(XdmflowError, KeyError):
    """A field reference that the batch does not have."""


def literal_scalar(value: object) -> pa.Scalar:
    if value is None:
        return pa.scalar(None)
    if isinstance(value, bool):
        return pa.scalar(value, pa.bool_())
    if isinstance(value, int):
        return pa.scalar(value, pa.int64())
    if isinstance(value, float):
        return pa.scalar(value, pa.float64())
    return pa.scalar(str(value), pa.string())


def resolve_column(columns: dict[str, pa.Array], path: tuple[str, ...]) -> pa.Array:
    """The column for a dotted path: a flat column named ``a.b`` wins, else struct navigation."""
    dotted = ".".join(path)
    if dotted in columns:
        return columns[dotted]
    for cut in range(len(path) - 1, 0, -1):
        head = ".".join(path[:cut])
        if head in columns:
            arr = columns[head]
            for part in path[cut:]:
                if not pa.types.is_struct(arr.type) or arr.type.get_field_index(part) < 0:
                    raise ColumnNotFound(dotted)
                arr = pc.struct_field(arr, part)
            return arr
    raise ColumnNotFound(dotted)


def _rem(ctx: EvalContext, a: Value, b: Value) -> Value:
    if pa.types.is_floating(a.type) or pa.types.is_floating(b.type):
        a, b = a.cast(pa.float64()), b.cast(pa.float64())
        return pc.subtract(a, pc.multiply(pc.trunc(pc.divide(a, b)), b))
    return pc.subtract(a, pc.multiply(pc.divide(a, b), b))


def _safe_divisor(ctx: EvalContext, b: Value) -> Value:
    if pa.types.is_floating(b.type):
        return b
    zero = pc.equal(b, pa.scalar(0, b.type))
    if isinstance(zero, pa.Scalar):
        if zero.as_py():
            raise InvalidValueError("division by zero")
        return b
    ctx.fail(pc.fill_null(zero, False), "division by zero")
    return pc.if_else(zero, pa.scalar(None, b.type), b)


def _is_stringish(v: Value) -> bool:
    return casts.el_type(v.type) == "string"


def _compare(ctx: EvalContext, op: str, a: Value, b: Value) -> Value:
    ta, tb = casts.el_type(a.type), casts.el_type(b.type)
    if ta != tb and "null" not in (ta, tb):
        if "number" in (ta, tb) and "string" in (ta, tb):
            a, b = as_num(ctx, a), as_num(ctx, b)
        elif "datetime" in (ta, tb):
            a, b = as_ts(ctx, a), as_ts(ctx, b)
        elif "boolean" in (ta, tb):
            a, b = as_bool(ctx, a), as_bool(ctx, b)
        else:
            a, b = as_str(ctx, a), as_str(ctx, b)
    else:
        a, b = common(ctx, [a, b])
    if pa.types.is_null(a.type) or pa.types.is_null(b.type):
        if op in ("==", "!="):
            eq = pc.and_(pc.is_null(a), pc.is_null(b))
            return eq if op == "==" else pc.invert(eq)
        return null_of(pa.bool_())
    fn = {
        "==": pc.equal,
        "!=": pc.not_equal,
        "<": pc.less,
        ">": pc.greater,
        "<=": pc.less_equal,
        ">=": pc.greater_equal,
    }[op]
    out = fn(a, b)
    if op == "==":  # null == null is true, like Java's Objects.equals
        return pc.fill_null(out, pc.and_(pc.is_null(a), pc.is_null(b)))
    if op == "!=":
        return pc.fill_null(out, pc.invert(pc.and_(pc.is_null(a), pc.is_null(b))))
    return out


def _binary(ctx: EvalContext, node: Binary) -> Value:
    a = evaluate(node.left, ctx)
    b = evaluate(node.right, ctx)
    op = node.op
    if op == "&&":
        return pc.and_kleene(as_bool(ctx, a), as_bool(ctx, b))
    if op == "||":
        return pc.or_kleene(as_bool(ctx, a), as_bool(ctx, b))
    if op in ("==", "!=", "<", ">", "<=", ">="):
        return _compare(ctx, op, a, b)
    if op == "+" and (_is_stringish(a) or _is_stringish(b)):
        return pc.binary_join_element_wise(as_str(ctx, a), as_str(ctx, b), "")
    if op == "+" and pa.types.is_timestamp(a.type) and casts.el_type(b.type) == "number":
        return pc.add(a, pc.multiply(as_num(ctx, b, pa.int64()), 1000).cast(pa.duration("us")))
    a, b = as_num(ctx, a), as_num(ctx, b)
    if pa.types.is_null(a.type) or pa.types.is_null(b.type):
        return null_of(pa.float64())
    if op == "+":
        return pc.add(a, b)
    if op == "-":
        return pc.subtract(a, b)
    if op == "*":
        return pc.multiply(a, b)
    if op == "/":
        return pc.divide(a, _safe_divisor(ctx, b))
    if op == "%":
        return _rem(ctx, a, _safe_divisor(ctx, b))
    raise InvalidValueError(f"unknown operator {op!r}")


def _index(ctx: EvalContext, node: Index) -> Value:
    target = evaluate(node.target, ctx)
    key = evaluate(node.index, ctx)
    t = target.type
    if pa.types.is_struct(t) and isinstance(key, pa.Scalar):
        name = str(key.as_py())
        if t.get_field_index(name) < 0:
            return pa.scalar(None)
        return pc.struct_field(target, name)
    if pa.types.is_map(t) and isinstance(key, pa.Scalar):
        return pc.map_lookup(target, as_str(ctx, key), "first")
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        if isinstance(key, pa.Scalar) and key.is_valid:
            idx = int(key.as_py())
            lengths = pc.list_value_length(target)
            ok = pc.fill_null(pc.greater(lengths, idx), False)
            safe = pc.if_else(ok, target, pa.scalar(None, t))
            return pc.list_element(safe, idx)
    raise InvalidTypeError(f"cannot index a value of type {t}")


def _method(ctx: EvalContext, node: MethodCall) -> Value:
    target = evaluate(node.target, ctx)
    args = [evaluate(a, ctx) for a in node.args]
    m = node.method
    if m in ("equals", "equalsIgnoreCase"):
        spec = lookup(m)
        assert spec is not None
        return spec.impl(ctx, [target, *args])
    if m == "get":
        return _index(ctx, Index(node.pos, _Const(node.pos, target), _Const(node.pos, args[0])))
    spec = lookup(m)
    if spec is not None:  # s.lower() style: the target becomes the first argument
        return spec.impl(ctx, [target, *args])
    raise InvalidValueError(f"unknown method {m!r}")


class _Const(Node):
    """An already evaluated value wrapped as a node (method-call plumbing)."""

    def __init__(self, pos: int, value: Value) -> None:
        object.__setattr__(self, "pos", pos)
        object.__setattr__(self, "value", value)


def _array_literal(ctx: EvalContext, node: ArrayLit) -> Value:
    items = common(ctx, [evaluate(i, ctx) for i in node.items])
    if not items:
        return pa.scalar([], pa.list_(pa.string()))
    t = next((i.type for i in items if not pa.types.is_null(i.type)), pa.string())
    if all(isinstance(i, pa.Scalar) for i in items):
        return pa.scalar([i.as_py() for i in items], pa.list_(t))
    k, n = len(items), ctx.n
    flat = pa.concat_arrays([broadcast(ctx, i).cast(t) for i in items])
    order = np.tile(np.arange(k, dtype=np.int64), n) * n + np.repeat(np.arange(n, dtype=np.int64), k)
    values = pc.take(flat, pa.array(order))
    offsets = pa.array(np.arange(0, k * n + 1, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, values, type=pa.list_(t))


def evaluate(node: Node, ctx: EvalContext) -> Value:
    """Evaluate ``node`` over the batch in ``ctx``; returns an array or a scalar."""
    if isinstance(node, Literal):
        return literal_scalar(node.value)
    if isinstance(node, _Const):
        return node.value  # type: ignore[attr-defined]
    if isinstance(node, FieldRef):
        try:
            return resolve_column(ctx.columns, node.path)
        except ColumnNotFound:
            return pa.scalar(None)
    if isinstance(node, Binary):
        return _binary(ctx, node)
    if isinstance(node, Unary):
        v = evaluate(node.operand, ctx)
        if node.op == "!":
            return pc.invert(as_bool(ctx, v))
        if node.op == "-":
            return pc.negate(as_num(ctx, v))
        if node.op == "~":
            return pc.bit_wise_not(as_num(ctx, v, pa.int64()))
        raise InvalidValueError(f"unknown operator {node.op!r}")
    if isinstance(node, Call):
        spec = lookup(node.name)
        if spec is None:
            raise InvalidValueError(f"unknown function {node.name!r}")
        if spec.name == "contains_key" and node.args and isinstance(node.args[0], FieldRef):
            try:
                col = resolve_column(ctx.columns, node.args[0].path)
            except ColumnNotFound:
                return pa.scalar(False)
            return pc.is_valid(col)
        return spec.impl(ctx, [evaluate(a, ctx) for a in node.args])
    if isinstance(node, MethodCall):
        return _method(ctx, node)
    if isinstance(node, Index):
        return _index(ctx, node)
    if isinstance(node, ArrayLit):
        return _array_literal(ctx, node)
    if isinstance(node, Ternary):
        spec = lookup("iif")
        assert spec is not None
        return spec.impl(
            ctx, [evaluate(node.cond, ctx), evaluate(node.then, ctx), evaluate(node.otherwise, ctx)]
        )
    raise InvalidTypeError(f"cannot evaluate {type(node).__name__}")


def evaluate_array(node: Node, ctx: EvalContext) -> pa.Array:
    """:func:`evaluate`, broadcast to an array of the batch length."""
    return broadcast(ctx, evaluate(node, ctx))
