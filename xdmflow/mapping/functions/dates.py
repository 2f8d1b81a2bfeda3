"""Date and time functions (platform-api.md §4.3 "Date/time"); Java patterns via ``javadate``.

Date-times are ``timestamp[us, UTC]`` arrays; ``zone_date_to_zone`` returns a timestamp
whose Arrow type carries the target zone (formatting then shows local time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import InvalidValueError
from xdmflow.mapping.casts import TS_TYPE
from xdmflow.mapping.functions._base import (
    EvalContext,
    Value,
    as_int,
    as_str,
    as_ts,
    broadcast,
    const,
    null_of,
    register,
    rowwise,
)
from xdmflow.mapping.javadate import format_timestamps, parse_timestamps

D = "Date and time"


def _scalar_call(v: Value, fn: Any) -> Value:
    if isinstance(v, pa.Scalar):
        return fn(pa.array([v.as_py()], v.type))[0]
    return fn(v)


@register(
    "now",
    D,
    [],
    "datetime",
    description="The current time (fixed for a batch).",
    example="now()",
    result='"2021-10-26T10:10:24Z"',
)
def now(ctx: EvalContext, args: list[Value]) -> Value:
    return pa.scalar(ctx.now_us, TS_TYPE)


@register(
    "timestamp",
    D,
    [],
    "number",
    description="The current time in epoch milliseconds.",
    example="timestamp()",
    result="1571850624571",
)
def timestamp(ctx: EvalContext, args: list[Value]) -> Value:
    return pa.scalar(ctx.now_us // 1000, pa.int64())


def _format(ctx: EvalContext, ts: Value, fmt: Value) -> Value:
    pattern = const(fmt)
    if isinstance(fmt, pa.Scalar):
        if pattern is None:
            return null_of()
        return _scalar_call(ts, lambda a: format_timestamps(a, str(pattern)))
    arr = broadcast(ctx, ts)
    out = pa.nulls(ctx.n, pa.string())
    for p in pc.unique(fmt).to_pylist():
        if p is not None:
            out = pc.if_else(pc.equal(fmt, p), format_timestamps(arr, p), out)
    return out


@register(
    "format",
    D,
    [("date", "datetime"), ("format", "string")],
    "string",
    description="Formats a date-time with a Java DateTimeFormatter pattern.",
    example='format(date("2019-10-23T11:24:00Z"), "yyyy-MM-dd HH:mm:ss")',
    result='"2019-10-23 11:24:00"',
)
def format_(ctx: EvalContext, args: list[Value]) -> Value:
    return _format(ctx, as_ts(ctx, args[0]), as_str(ctx, args[1]))


@register(
    "dformat",
    D,
    [("timestamp_ms", "number"), ("format", "string")],
    "string",
    description="Formats epoch milliseconds with a Java pattern.",
    example="dformat(1571829875000, \"yyyy-MM-dd'T'HH:mm:ss.SSSX\")",
    result='"2019-10-23T11:24:35.000Z"',
)
def dformat(ctx: EvalContext, args: list[Value]) -> Value:
    ms = as_int(ctx, args[0])
    ts = _scalar_call(ms, lambda a: pc.multiply(a, 1000).cast(pa.timestamp("us")).cast(TS_TYPE))
    return _format(ctx, ts, as_str(ctx, args[1]))


@register(
    "date",
    D,
    [("date", "string"), ("format", "string"), ("default_date", "datetime")],
    "datetime",
    min_args=1,
    description="Parses a date string (ISO-8601 by default, else a Java pattern); "
    "DEFAULT_DATE replaces values that do not parse.",
    example='date("2019-10-23 11:24", "yyyy-MM-dd HH:mm")',
    result='"2019-10-23T11:24:00Z"',
)
def date(ctx: EvalContext, args: list[Value]) -> Value:
    src = args[0]
    if len(args) == 1 or (isinstance(args[1], pa.Scalar) and not args[1].is_valid):
        out = as_ts(ctx, src) if len(args) == 1 else _lenient_ts(ctx, src)
    else:
        s = as_str(ctx, src)
        fmt = as_str(ctx, args[1])
        if isinstance(fmt, pa.Scalar):
            pattern = str(fmt.as_py())
            if pa.types.is_timestamp(src.type):
                out = src
            else:
                out = _scalar_call(s, lambda a: parse_timestamps(a, pattern))
                if len(args) < 3:
                    bad = pc.and_(pc.is_valid(s), pc.is_null(out))
                    if isinstance(bad, pa.Scalar):
                        if bad.as_py():
                            raise InvalidValueError(f"cannot parse {s.as_py()!r} with pattern {pattern!r}")
                    else:
                        ctx.fail(bad, f"date does not match pattern {pattern!r}")
        else:
            arr = broadcast(ctx, s)
            out = pa.nulls(ctx.n, TS_TYPE)
            for p in pc.unique(fmt).to_pylist():
                if p is not None:
                    out = pc.if_else(pc.equal(fmt, p), parse_timestamps(arr, p), out)
    if len(args) >= 3:
        default = as_ts(ctx, args[2])
        out = pc.coalesce(out, default)
    return out


def _lenient_ts(ctx: EvalContext, v: Value) -> Value:
    sub = EvalContext(ctx.n, ctx.columns, ctx.now_us)
    return as_ts(sub, v)


DATE_PARTS = {
    "year": "year",
    "yyyy": "year",
    "yy": "year",
    "quarter": "quarter",
    "qq": "quarter",
    "q": "quarter",
    "month": "month",
    "mm": "month",
    "m": "month",
    "dayofyear": "day_of_year",
    "dy": "day_of_year",
    "y": "day_of_year",
    "day": "day",
    "dd": "day",
    "d": "day",
    "week": "iso_week",
    "ww": "iso_week",
    "w": "iso_week",
    "weekday": "weekday",
    "dw": "weekday",
    "w2": "weekday",
    "hour": "hour",
    "hh": "hour",
    "hh24": "hour",
    "hh12": "hour12",
    "minute": "minute",
    "mi": "minute",
    "n": "minute",
    "second": "second",
    "ss": "second",
    "s": "second",
    "millisecond": "millisecond",
    "sss": "millisecond",
}


def _part(ts: pa.Array, comp: str) -> pa.Array:
    if comp == "weekday":  # Java DayOfWeek: Monday=1 .. Sunday=7
        return pc.add(pc.day_of_week(ts, count_from_zero=False, week_start=1), 0)
    if comp == "hour12":
        h = pc.hour(ts)
        h12 = pc.subtract(h, pc.multiply(pc.divide(h, 12), 12))
        return pc.if_else(pc.equal(h12, 0), 12, h12)
    return getattr(pc, comp)(ts)


@register(
    "date_part",
    D,
    [("component", "string"), ("date", "datetime")],
    "number",
    description="A component (year, quarter, month, dayofyear, day, week, weekday, hour, minute, second, "
    "millisecond and their abbreviations) of a date.",
    example='date_part("month", date("2020-10-01T11:00:00Z"))',
    result="10",
)
def date_part(ctx: EvalContext, args: list[Value]) -> Value:
    comp = const(args[0])
    if not isinstance(args[0], pa.Scalar) or comp is None:
        raise InvalidValueError("date_part needs a literal component name")
    key = DATE_PARTS.get(str(comp).lower()) if str(comp) != "SSS" else "millisecond"
    if key is None:
        raise InvalidValueError(f"unknown date component {comp!r}")
    ts = as_ts(ctx, args[1])
    return _scalar_call(ts, lambda a: pc.cast(_part(a, key), pa.int64()))


_SET_KEYS = {
    "year": "year",
    "month": "month",
    "day": "day",
    "hour": "hour",
    "minute": "minute",
    "second": "second",
    "millisecond": "microsecond",
}


@register(
    "set_date_part",
    D,
    [("component", "string"), ("value", "number"), ("date", "datetime")],
    "datetime",
    description="Replaces one component of a date.",
    example='set_date_part("month", 4, date("2016-11-09T11:44:44.797Z"))',
    result='"2016-04-09T11:44:44.797Z"',
)
def set_date_part(ctx: EvalContext, args: list[Value]) -> Value:
    comp = str(const(args[0]) or "").lower()
    key = DATE_PARTS.get(comp)
    key = "millisecond" if comp == "sss" else key
    if key not in _SET_KEYS:
        raise InvalidValueError(f"set_date_part cannot set {comp!r}")
    attr = _SET_KEYS[key]

    def py(v: int | None, d: datetime | None) -> datetime | None:
        if v is None or d is None:
            return None
        kw: dict[str, Any] = {attr: int(v) * (1000 if attr == "microsecond" else 1)}
        return d.replace(**kw)

    return rowwise(ctx, py, [as_int(ctx, args[1]), as_ts(ctx, args[2])], TS_TYPE, reason="invalid date part")


@register(
    "make_date_time",
    D,
    [
        ("year", "number"),
        ("month", "number"),
        ("day", "number"),
        ("hour", "number"),
        ("minute", "number"),
        ("second", "number"),
        ("nanosecond", "number"),
        ("timezone", "string"),
    ],
    "datetime",
    min_args=3,
    aliases=["make_timestamp"],
    description="Builds a date-time from components (timezone defaults to UTC).",
    example='make_date_time(2019, 10, 17, 11, 55, 12, 999, "America/Los_Angeles")',
    result='"2019-10-17T18:55:12Z"',
)
def make_date_time(ctx: EvalContext, args: list[Value]) -> Value:
    nums = [as_int(ctx, a) for a in args[:7]]
    tz = as_str(ctx, args[7]) if len(args) > 7 else pa.scalar("UTC")

    def py(*vals: Any) -> datetime | None:
        *parts, zone = vals
        if any(p is None for p in parts[:3]):
            return None
        full = [int(p) if p is not None else 0 for p in parts] + [0] * (7 - len(parts))
        y, mo, d, h, mi, s, ns = full
        return datetime(y, mo, d, h, mi, s, ns // 1000, tzinfo=ZoneInfo(zone or "UTC")).astimezone(UTC)

    return rowwise(ctx, py, [*nums, tz], TS_TYPE, reason="invalid date-time components")


@register(
    "zone_date_to_utc",
    D,
    [("date", "datetime")],
    "datetime",
    description="Converts a zoned date-time to UTC.",
    example='zone_date_to_utc(date("2019-10-17T11:55:12+02:00"))',
    result='"2019-10-17T09:55:12Z"',
)
def zone_date_to_utc(ctx: EvalContext, args: list[Value]) -> Value:
    v = args[0]
    if pa.types.is_timestamp(v.type) and v.type.tz is not None:
        return _scalar_call(v, lambda a: a.cast(TS_TYPE))
    return as_ts(ctx, v)


@register(
    "zone_date_to_zone",
    D,
    [("date", "datetime"), ("zone", "string")],
    "datetime",
    description="The same instant expressed in another time zone.",
    example='zone_date_to_zone(now(), "Europe/Paris")',
    result="",
)
def zone_date_to_zone(ctx: EvalContext, args: list[Value]) -> Value:
    ts = as_ts(ctx, args[0])
    zone = const(args[1])
    if not isinstance(args[1], pa.Scalar) or zone is None:
        raise InvalidValueError("zone_date_to_zone needs a literal zone id")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidValueError(f"unknown time zone {zone!r}") from e
    return _scalar_call(ts, lambda a: a.cast(pa.timestamp("us", tz=str(zone))))
