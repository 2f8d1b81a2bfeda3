"""Function registry and the helpers every function family uses.

A function implementation receives the evaluation context and its already evaluated
arguments (``pa.Array`` of the batch length, or ``pa.Scalar`` for constants) and returns
an array or a scalar. Implementations use ``pyarrow.compute`` kernels; a few rare functions
use :func:`rowwise`, which calls a Python function once per *distinct* argument tuple.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import InvalidValueError
from xdmflow.mapping import casts

__all__ = [
    "Value",
    "EvalContext",
    "Param",
    "FunctionSpec",
    "REGISTRY",
    "register",
    "lookup",
    "broadcast",
    "is_scalar",
    "const",
    "as_str",
    "as_num",
    "as_int",
    "as_bool",
    "as_ts",
    "rowwise",
    "null_of",
]

_ROW_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError, UnicodeError, re.error)

Value: TypeAlias = pa.Array | pa.Scalar


@dataclass
class EvalContext:
    """State of one evaluation over a batch: its length, its columns, per-row failures."""

    n: int
    columns: dict[str, pa.Array]
    now_us: int = 0
    failures: list[tuple[pa.Array, str]] = field(default_factory=list)

    def fail(self, mask: pa.Array | None, reason: str) -> None:
        """Mark the rows of ``mask`` (boolean array) as failed with ``reason``."""
        if mask is not None and mask.true_count:
            self.failures.append((mask, reason))


Impl = Callable[[EvalContext, list[Value]], Value]


@dataclass(frozen=True)
class Param:
    """A declared parameter: ``type`` in string/number/boolean/datetime/array/map/object/any."""

    name: str
    type: str
    description: str = ""


@dataclass(frozen=True)
class FunctionSpec:
    """A registered function. ``max_args`` ``None`` = variadic (the last param repeats)."""

    name: str
    category: str
    params: tuple[Param, ...]
    returns: str
    impl: Impl
    min_args: int
    max_args: int | None
    description: str = ""
    example: str = ""
    result: str = ""
    aliases: tuple[str, ...] = ()

    def param_type(self, i: int) -> str:
        if not self.params:
            return "any"
        return self.params[min(i, len(self.params) - 1)].type

    @property
    def syntax(self) -> str:
        names = [p.name for p in self.params]
        if self.max_args is None and names:
            names[-1] += "..."
        opt = [f"[{n}]" if i >= self.min_args else n for i, n in enumerate(names)]
        return f"{self.name}({', '.join(opt)})"


REGISTRY: dict[str, FunctionSpec] = {}


def register(
    name: str,
    category: str,
    params: Sequence[tuple[str, str]],
    returns: str,
    *,
    min_args: int | None = None,
    max_args: int | None | str = "params",
    description: str = "",
    example: str = "",
    result: str = "",
    aliases: Sequence[str] = (),
) -> Callable[[Impl], Impl]:
    """Decorator registering ``impl`` under ``name`` (and ``aliases``)."""

    def deco(impl: Impl) -> Impl:
        ps = tuple(Param(n, t) for n, t in params)
        spec = FunctionSpec(
            name=name,
            category=category,
            params=ps,
            returns=returns,
            impl=impl,
            min_args=len(ps) if min_args is None else min_args,
            max_args=len(ps) if max_args == "params" else (None if max_args is None else int(max_args)),
            description=description,
            example=example,
            result=result,
            aliases=tuple(aliases),
        )
        for key in (name, *aliases):
            REGISTRY[key.lower()] = spec
        return impl

    return deco


def lookup(name: str) -> FunctionSpec | None:
    """The function registered under ``name`` (case-insensitive), ``None`` when unknown."""
    return REGISTRY.get(name.lower())


# -- value helpers -------------------------------------------------------------------------


def is_scalar(v: Value) -> bool:
    return isinstance(v, pa.Scalar)


def null_of(t: pa.DataType = pa.string()) -> pa.Scalar:
    return pa.scalar(None, t)


def broadcast(ctx: EvalContext, v: Value) -> pa.Array:
    """An array of the batch length (scalars repeated)."""
    if isinstance(v, pa.ChunkedArray):
        return v.combine_chunks()
    if isinstance(v, pa.Scalar):
        if not v.is_valid:
            return pa.nulls(ctx.n, v.type)
        return pa.repeat(v, ctx.n)
    return v


def const(v: Value) -> Any:
    """The Python value of a scalar argument (``None`` for an array argument)."""
    return v.as_py() if isinstance(v, pa.Scalar) else None


def _convert(
    ctx: EvalContext, v: Value, fn: Callable[[pa.Array], casts.CastResult], what: str, record: bool = True
) -> Value:
    scalar = isinstance(v, pa.Scalar)
    arr = pa.array([v.as_py()], v.type) if scalar else v
    out, failed = fn(arr)
    if failed is not None and failed.true_count:
        if scalar:
            raise InvalidValueError(f"cannot convert {v.as_py()!r} to {what}")
        if record:
            ctx.fail(failed, f"cannot convert value to {what}")
    return out[0] if scalar else out


def as_str(ctx: EvalContext, v: Value) -> Value:
    """``v`` as strings (numbers, booleans, timestamps converted)."""
    if casts.el_type(v.type) == "string" and pa.types.is_string(v.type):
        return v
    if pa.types.is_null(v.type):
        return null_of() if isinstance(v, pa.Scalar) else pa.nulls(len(v), pa.string())
    return _convert(ctx, v, casts.to_string, "string")


def as_num(ctx: EvalContext, v: Value, target: pa.DataType | None = None) -> Value:
    """``v`` as numbers: ints stay ints, strings become ``target`` (float64 by default)."""
    t = v.type
    if casts.el_type(t) == "number" and (target is None or t == target):
        return v
    if pa.types.is_null(t):
        return null_of(target or pa.float64())
    if target is None and casts.el_type(t) == "string":
        target = pa.float64()
    return _convert(ctx, v, lambda a: casts.to_number(a, target or pa.float64()), "number")


def as_int(ctx: EvalContext, v: Value) -> Value:
    return as_num(ctx, v, pa.int64())


def as_bool(ctx: EvalContext, v: Value) -> Value:
    if pa.types.is_boolean(v.type):
        return v
    if pa.types.is_null(v.type):
        return null_of(pa.bool_())
    return _convert(ctx, v, casts.to_boolean, "boolean")


def as_ts(ctx: EvalContext, v: Value) -> Value:
    t = v.type
    if pa.types.is_timestamp(t) and t.unit == "us" and t.tz is not None:
        return v
    if pa.types.is_null(t):
        return null_of(casts.TS_TYPE)
    return _convert(ctx, v, casts.to_timestamp, "date-time")


def _hashable(x: Any) -> Any:
    if isinstance(x, list | dict | tuple):
        return json.dumps(x, sort_keys=True, default=str)
    return x


def rowwise(
    ctx: EvalContext,
    fn: Callable[..., Any],
    args: Sequence[Value],
    out_type: pa.DataType | None = None,
    reason: str = "function failed",
    as_map: bool = False,
) -> Value:
    """Apply a scalar Python ``fn`` once per distinct argument tuple (rare functions only).

    A raised exception nulls the row and records a failure.
    """
    if all(isinstance(a, pa.Scalar) for a in args):
        try:
            res = fn(*[a.as_py() for a in args])
        except _ROW_ERRORS as e:
            raise InvalidValueError(f"{reason}: {e}") from e
        if out_type is None and as_map and res is not None:
            vals = [v for _, v in res]
            vt = pa.array(vals).type if vals else pa.string()
            out_type = pa.map_(pa.string(), vt if not pa.types.is_null(vt) else pa.string())
        return pa.scalar(res, out_type) if out_type is not None else pa.scalar(res)
    cols = [broadcast(ctx, a).to_pylist() if not isinstance(a, pa.Scalar) else None for a in args]
    consts = [a.as_py() if isinstance(a, pa.Scalar) else None for a in args]
    cache: dict[Any, Any] = {}
    out: list[Any] = []
    bad: list[bool] = []
    for i in range(ctx.n):
        vals = [c[i] if c is not None else k for c, k in zip(cols, consts, strict=True)]
        key = tuple(_hashable(v) for v in vals)
        if key in cache:
            res, err = cache[key]
        else:
            try:
                res, err = fn(*vals), False
            except _ROW_ERRORS:
                res, err = None, True
            cache[key] = (res, err)
        out.append(res)
        bad.append(err)
    if any(bad):
        ctx.fail(pa.array(bad, pa.bool_()), reason)
    if out_type is None and as_map:
        vals = [v for r in out if r for _, v in r]
        vt = pa.array(vals).type if vals else pa.string()
        out_type = pa.map_(pa.string(), vt if not pa.types.is_null(vt) else pa.string())
    return pa.array(out, out_type) if out_type is not None else pa.array(out)


def null_propagating(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a scalar function so that a ``None`` first argument returns ``None``."""

    def wrapped(*a: Any) -> Any:
        if a and a[0] is None:
            return None
        return fn(*a)

    return wrapped


def any_array(args: Sequence[Value]) -> bool:
    return any(not isinstance(a, pa.Scalar) for a in args)


def scalar_or(ctx: EvalContext, v: Value, fn: Callable[[pa.Array], pa.Array]) -> Value:
    """Apply an array kernel to a scalar or an array, returning the same kind."""
    if isinstance(v, pa.Scalar):
        return fn(pa.array([v.as_py()], v.type))[0]
    return fn(v)


def valid_mask(v: Value) -> Any:
    return pc.is_valid(v)
