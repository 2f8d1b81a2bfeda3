"""Vectorised, per-row-safe casts between Arrow types (Data Prep's implicit conversions).

Every cast returns ``(result, failed)`` where ``failed`` is a boolean array marking rows whose
non-null input could not be converted (``None`` when nothing failed). Failed rows are null in
``result``. Strings are validated with RE2 regexes (``pyarrow.compute``) before the real cast;
a rare value that passes the regex but still fails (``2024-02-30``) is isolated by bisection,
so an unexpected value never costs more than a few extra kernel calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TS_TYPE",
    "CastResult",
    "cast_to",
    "to_string",
    "to_number",
    "to_boolean",
    "to_timestamp",
    "el_type",
    "CastProblem",
    "cast_table",
    "describe",
]

TS_TYPE = pa.timestamp("us", tz="UTC")
CastResult = tuple[pa.Array, pa.Array | None]

_INT_RE = r"^\s*[+-]?\d+\s*$"
_FLOAT_RE = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$|^\s*[+-]?(NaN|Infinity)\s*$"
_TRUE = ["true", "1", "yes", "y", "t"]
_FALSE = ["false", "0", "no", "n", "f"]
_TRUE_SET = pa.array(sorted({v for w in _TRUE for v in (w, w.upper(), w.capitalize())}))
_FALSE_SET = pa.array(sorted({v for w in _FALSE for v in (w, w.upper(), w.capitalize())}))
_ISO_RE = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?)?(Z|z|[+-]\d{2}(:?\d{2})?)?$"
)
_TIME_ZONE_RE = r"\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}(:?\d{2})?)$"
_DATE_ONLY_RE = r"^\d{4}-\d{2}-\d{2}$"
_EPOCH_RE = r"^\s*-?\d{1,16}\s*$"


def el_type(t: pa.DataType) -> str:
    """The expression-language type of an Arrow type."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return "array"
    if pa.types.is_map(t):
        return "map"
    if pa.types.is_struct(t):
        return "object"
    if pa.types.is_null(t):
        return "null"
    return "any"


def _or(a: pa.Array | None, b: pa.Array | None) -> pa.Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return pc.or_(a, b)


def _failed(src: pa.Array, out: pa.Array) -> pa.Array | None:
    """Rows non-null in ``src`` but null in ``out``."""
    if out.null_count == src.null_count:
        return None
    return pc.and_(src.is_valid(), out.is_null())


def _bisect(arr: pa.Array, fn: Callable[[pa.Array], pa.Array], target: pa.DataType) -> pa.Array:
    """``fn`` applied to ``arr``; values on which it raises become null (chunked bisection)."""
    try:
        return fn(arr)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError):
        pass
    if len(arr) <= 16:
        out = []
        for i in range(len(arr)):
            try:
                out.append(fn(arr.slice(i, 1)))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError):
                out.append(pa.nulls(1, target))
        return pa.concat_arrays(out)
    mid = len(arr) // 2
    return pa.concat_arrays([_bisect(arr.slice(0, mid), fn, target), _bisect(arr.slice(mid), fn, target)])


def _strings(arr: pa.Array) -> pa.Array:
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        return arr.cast(pa.string())
    return arr


def _rem(a: pa.Array, b: int) -> pa.Array:
    """``a % b`` (sign of ``a``) for integer arrays."""
    return pc.subtract(a, pc.multiply(pc.divide(a, b), b))


def _where(mask: pa.Array, arr: pa.Array) -> pa.Array:
    """``arr`` where ``mask`` is true, null elsewhere."""
    return pc.if_else(mask, arr, pa.scalar(None, arr.type))


def to_string(arr: pa.Array) -> CastResult:
    """Any scalar type -> string (booleans ``true``/``false``, timestamps ISO-8601 ``Z``)."""
    t = arr.type
    if el_type(t) == "string":
        return _strings(arr), None
    if pa.types.is_timestamp(t):
        ts = arr.cast(TS_TYPE) if t.tz is None or t.unit != "us" else arr
        micros = ts.cast(pa.int64())
        has_us = pc.not_equal(_rem(micros, 1000), 0)
        has_ms = pc.not_equal(_rem(micros, 1_000_000), 0)
        whole = pc.strftime(ts.cast(pa.timestamp("s", tz=ts.type.tz), safe=False), "%Y-%m-%dT%H:%M:%SZ")
        frac_ms = pc.strftime(ts.cast(pa.timestamp("ms", tz=ts.type.tz), safe=False), "%Y-%m-%dT%H:%M:%SZ")
        full = pc.strftime(ts, "%Y-%m-%dT%H:%M:%SZ")
        return pc.if_else(has_us, full, pc.if_else(has_ms, frac_ms, whole)), None
    if pa.types.is_date(t):
        return pc.strftime(arr, "%Y-%m-%d"), None
    if pa.types.is_floating(t):
        # integral doubles print without ".0" like Java's BigDecimal-friendly output would not; keep Arrow's
        return arr.cast(pa.string()), None
    if el_type(t) in ("number", "boolean", "null"):
        return arr.cast(pa.string()), None
    if el_type(t) in ("array", "map", "object"):
        vals = arr.to_pylist()
        return pa.array([None if v is None else json.dumps(v, default=str) for v in vals], pa.string()), None
    return arr.cast(pa.string()), None


def _lenient_number(s: pa.Array, target: pa.DataType) -> pa.Array:
    """Slow path for the few values the strict check refused (signs, blanks, ``1e3``, ``12.0``)."""
    trimmed = pc.replace_substring_regex(pc.utf8_trim_whitespace(s), r"^\+", "")
    if pa.types.is_integer(target):
        ok = pc.match_substring_regex(trimmed, _INT_RE)
        okf = pc.match_substring_regex(trimmed, r"^[+-]?\d+\.0*$")
        cleaned = pc.if_else(okf, pc.replace_substring_regex(trimmed, r"\.0*$", ""), trimmed)
        valid = pc.or_(ok, okf)
        return _bisect(_where(valid, cleaned), lambda a: a.cast(target), target)
    valid = pc.match_substring_regex(trimmed, _FLOAT_RE)
    return _bisect(_where(valid, trimmed), lambda a: a.cast(target), target)


def _str_to_number(arr: pa.Array, target: pa.DataType) -> CastResult:
    s = _strings(arr)
    try:
        return s.cast(target), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # strict, regex-free check for the common shapes ("123", "123.45"); the rest takes the slow path
    if pa.types.is_integer(target):
        strict = pc.fill_null(pc.utf8_is_digit(s), False)
    else:
        strict = pc.fill_null(pc.utf8_is_digit(pc.replace_substring(s, ".", "", max_replacements=1)), False)
    out = _bisect(_where(strict, s), lambda a: a.cast(target), target)
    rest = pc.and_(s.is_valid(), pc.invert(strict))
    if rest.true_count:
        sub = _lenient_number(pc.filter(s, rest), target)
        out = pc.replace_with_mask(out, rest, sub)
    return out, _failed(arr, out)


def to_number(arr: pa.Array, target: pa.DataType = pa.float64()) -> CastResult:
    """Strings/numbers/booleans -> a numeric Arrow type, range-checked (overflow = failure)."""
    t = arr.type
    if el_type(t) == "string":
        return _str_to_number(arr, target)
    if pa.types.is_boolean(t):
        return arr.cast(target), None
    if pa.types.is_timestamp(t):
        ms = arr.cast(pa.timestamp("ms", tz=t.tz), safe=False).cast(pa.int64())
        return to_number(ms, target)
    if el_type(t) == "number" or pa.types.is_null(t):
        if t == target:
            return arr, None
        try:
            return arr.cast(target), None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out = _bisect(arr, lambda a: a.cast(target), target)
            return out, _failed(arr, out)
    return pa.nulls(len(arr), target), _failed(arr, pa.nulls(len(arr), target))


def to_boolean(arr: pa.Array) -> CastResult:
    """``true/false/1/0/yes/no`` (case-insensitive) and numbers (0 = false) -> boolean."""
    t = arr.type
    if pa.types.is_boolean(t):
        return arr, None
    if el_type(t) == "number":
        return pc.not_equal(arr, pa.scalar(0, t)), None
    if el_type(t) == "string":
        st = _strings(arr)
        is_true = pc.is_in(st, _TRUE_SET)
        is_false = pc.is_in(st, _FALSE_SET)
        out = pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
        rest = pc.and_(st.is_valid(), pc.invert(pc.or_(is_true, is_false)))
        if rest.true_count:  # odd casing or blanks: normalise only those values
            low = pc.utf8_lower(pc.utf8_trim_whitespace(pc.filter(st, rest)))
            sub = pc.if_else(
                pc.is_in(low, pa.array(_TRUE)),
                True,
                pc.if_else(pc.is_in(low, pa.array(_FALSE)), False, pa.scalar(None, pa.bool_())),
            )
            out = pc.replace_with_mask(out, rest, sub)
        return out, _failed(arr, out)
    if pa.types.is_null(t):
        return pa.nulls(len(arr), pa.bool_()), None
    out = pa.nulls(len(arr), pa.bool_())
    return out, _failed(arr, out)


def _iso_to_ts(s: pa.Array) -> pa.Array:
    """ISO-8601 strings (with ``T`` or space, optional offset; none = UTC) -> timestamp[us, UTC]."""
    ok = pc.match_substring_regex(s, _ISO_RE)
    zoned = pc.and_(ok, pc.match_substring_regex(s, _TIME_ZONE_RE))
    n_ok, n_zoned = ok.true_count, zoned.true_count
    all_ok = n_ok == len(s) - s.null_count

    def naive(x: pa.Array) -> pa.Array:
        return x.cast(pa.timestamp("us")).cast(TS_TYPE)

    def aware(x: pa.Array) -> pa.Array:
        return x.cast(TS_TYPE)

    if n_zoned == 0:
        return _bisect(s if all_ok else _where(ok, s), naive, TS_TYPE)
    if n_zoned == n_ok:
        return _bisect(s if all_ok else _where(ok, s), aware, TS_TYPE)
    a = _bisect(_where(zoned, s), aware, TS_TYPE)
    b = _bisect(_where(pc.and_(ok, pc.invert(zoned)), s), naive, TS_TYPE)
    return pc.coalesce(a, b)


def to_timestamp(arr: pa.Array) -> CastResult:
    """Strings (ISO-8601, ``yyyy-MM-dd HH:mm:ss`` as UTC, digits = epoch ms), numbers (epoch ms),
    dates and timestamps -> ``timestamp[us, UTC]``."""
    t = arr.type
    if pa.types.is_timestamp(t):
        if t.tz is None:
            return arr.cast(pa.timestamp("us")).cast(TS_TYPE), None
        return arr.cast(TS_TYPE), None
    if pa.types.is_date(t):
        return arr.cast(pa.timestamp("us")).cast(TS_TYPE), None
    if el_type(t) == "number":
        ms, failed = to_number(arr, pa.int64())
        out = pc.multiply_checked(ms, 1000).cast(pa.timestamp("us")).cast(TS_TYPE)
        return out, failed
    if el_type(t) == "string":
        s = _strings(arr)
        digits = pc.match_substring_regex(s, _EPOCH_RE)
        if digits.true_count:
            epoch, _ = to_number(_where(digits, s), pa.int64())
            from_epoch = pc.multiply(epoch, 1000).cast(pa.timestamp("us")).cast(TS_TYPE)
            iso = _iso_to_ts(_where(pc.invert(digits), s))
            out = pc.coalesce(from_epoch, iso)
        else:
            out = _iso_to_ts(s)
        return out, _failed(arr, out)
    if pa.types.is_null(t):
        return pa.nulls(len(arr), TS_TYPE), None
    out = pa.nulls(len(arr), TS_TYPE)
    return out, _failed(arr, out)


def cast_to(arr: pa.Array, target: pa.DataType) -> CastResult:
    """Cast ``arr`` to an XDM Arrow type (see ``xdmflow.schema.arrow``), marking failed rows."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type == target:
        return arr, None
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target), None
    if pa.types.is_string(target):
        return to_string(arr)
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        return to_number(arr, target)
    if pa.types.is_boolean(target):
        return to_boolean(arr)
    if pa.types.is_timestamp(target):
        out, failed = to_timestamp(arr)
        return (out if out.type == target else out.cast(target)), failed
    if pa.types.is_date32(target):
        if el_type(arr.type) == "string":
            s = _strings(arr)
            ok = pc.match_substring_regex(s, _DATE_ONLY_RE)
            d = _bisect(_where(ok, s), lambda x: x.cast(pa.date32()), pa.date32())
            rest, _ = to_timestamp(_where(pc.invert(ok), s))
            out = pc.coalesce(d, rest.cast(pa.timestamp("us")).cast(pa.date32()))
            return out, _failed(arr, out)
        ts, failed = to_timestamp(arr)
        return ts.cast(pa.timestamp("us")).cast(pa.date32()), failed
    try:
        return arr.cast(target), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        out = _bisect(arr, lambda a: a.cast(target), target)
        return out, _failed(arr, out)


# -- whole tables onto a dataset's shape (Batch Ingestion of XDM JSON, Parquet and CSV) ---------
#
# Raw Arrow data reshaped to a dataset's Arrow schema, failing only the rows whose values cannot
# convert. A column that casts in one go costs one ``cast``; when a cast fails, :func:`cast_to`
# (Data Prep's implicit conversions) converts the column and the positions that became null are
# the bad values. Two rules are stricter than Data Prep's: strings meant as integers must look like
# integers (``"1.5"``, ``"12.0"`` are not rounded) and date/date-time text must not be bare digits
# (not read as epoch ms). Structs match children by name, lists recurse into their elements; a bad
# element marks its row. Python only runs per failing position, to describe it.

#: The primitive Arrow types of XDM fields a column is cast to (anything else cannot convert).
_TABLE_TARGETS = frozenset(
    {
        pa.string(),
        pa.float64(),
        pa.int64(),
        pa.int32(),
        pa.int16(),
        pa.int8(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us", tz="UTC"),
    }
)
_INTEGER_TEXT = r"^\s*[-+]?\d+\s*$"
_MAX_VALUE = 200


@dataclass(frozen=True)
class CastProblem:
    """Values of column ``path`` at the flagged rows could not become ``target``."""

    mask: np.ndarray  # one bool per row of the table
    path: str
    target: str


def _struct_to_map(
    arr: pa.StructArray, target: pa.MapType, path: str, problems: list[CastProblem]
) -> pa.Array:
    """A JSON object read as a struct becomes a map: one entry per non-null field."""
    n = len(arr)
    valid = _valid(arr)
    names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
    if not names:
        return pa.MapArray.from_arrays(
            pa.array(np.zeros(n + 1, dtype=np.int32)),
            pa.array([], pa.string()),
            pa.array([], target.item_type),
            type=target,
            mask=pa.array(~valid) if not valid.all() else None,
        )
    children = []
    for i, key in enumerate(names):
        sub: list[CastProblem] = []
        children.append(_convert(arr.field(i), target.item_type, f"{path}.{key}", sub))
        problems.extend(CastProblem(p.mask & valid, p.path, p.target) for p in sub)
    present = np.stack([_valid(c) & valid for c in children], axis=1)
    rows, fields = np.nonzero(present)
    values = pa.concat_arrays(children).take(pa.array(fields.astype(np.int64) * n + rows))
    keys = pa.array(np.asarray(names, dtype=object)[fields].tolist(), pa.string())
    offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    mask = pa.array(~valid) if not valid.all() else None
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values, type=target, mask=mask)


def _valid(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)


def _try_cast(arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """(converted, bad mask) for a primitive column."""
    try:
        return arr.cast(target), np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    if target not in _TABLE_TARGETS or not (
        pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_primitive(arr.type)
    ):
        return pa.nulls(len(arr), target), _valid(arr)
    out, _ = cast_to(arr, target)  # the implicit conversions of Data Prep, the one cast layer
    bad = _valid(arr) & ~_valid(out)
    if (pa.types.is_timestamp(target) or pa.types.is_date32(target)) and pa.types.is_string(arr.type):
        # a dataset's date and date-time fields take ISO-8601 text; digits are not read as epoch ms
        epoch = pc.fill_null(pc.match_substring_regex(arr, _EPOCH_RE), False)
        bad |= np.asarray(epoch.to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(target) and (pa.types.is_string(arr.type) or pa.types.is_floating(arr.type)):
        if pa.types.is_string(arr.type):
            looks = pc.match_substring_regex(arr, _INTEGER_TEXT)
        else:
            looks = pc.equal(pc.floor(arr), arr)
        bad |= _valid(arr) & ~np.asarray(
            pc.fill_null(looks, False).to_numpy(zero_copy_only=False), dtype=bool
        )
    if bad.any():
        out = pc.if_else(pa.array(bad), pa.nulls(len(out), target), out)
    return out, bad


def _convert(arr: pa.Array, target: pa.DataType, path: str, problems: list[CastProblem]) -> pa.Array:
    """``arr`` reshaped to ``target``; problems get masks over ``arr``'s positions."""
    if arr.type.equals(target):
        return arr
    n = len(arr)
    valid = _valid(arr)
    if pa.types.is_null(arr.type):
        return pa.nulls(n, target)
    if pa.types.is_struct(target):
        if not pa.types.is_struct(arr.type):
            problems.append(CastProblem(valid, path, "object"))
            return pa.nulls(n, target)
        names = {arr.type.field(i).name: i for i in range(arr.type.num_fields)}
        children = []
        for f in target:
            if f.name in names:
                sub: list[CastProblem] = []
                child = _convert(
                    arr.field(names[f.name]), f.type, f"{path}.{f.name}" if path else f.name, sub
                )
                problems.extend(CastProblem(p.mask & valid, p.path, p.target) for p in sub)
                children.append(child)
            else:
                children.append(pa.nulls(n, f.type))
        mask = pa.array(~valid) if not valid.all() else None
        return pa.StructArray.from_arrays(children, fields=list(target), mask=mask)
    if pa.types.is_map(target) and pa.types.is_struct(arr.type):
        return _struct_to_map(arr, target, path, problems)
    if pa.types.is_list(target) or pa.types.is_map(target):
        kind = "list" if pa.types.is_list(target) else "map"
        ok = (
            pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)
            if kind == "list"
            else pa.types.is_map(arr.type)
        )
        if not ok:
            problems.append(CastProblem(valid, path, "array" if kind == "list" else "map"))
            return pa.nulls(n, target)
        offsets = pc.subtract(arr.offsets, arr.offsets[0]).cast(pa.int32())
        start, end = arr.offsets[0].as_py(), arr.offsets[len(arr)].as_py()
        parents = np.asarray(
            pc.list_parent_indices(arr) if kind == "list" else _map_parents(arr), dtype=np.int64
        )
        sub = []
        mask = pa.array(~valid) if not valid.all() else None
        if kind == "list":
            values = _convert(arr.values.slice(start, end - start), target.value_type, path, sub)
            out: pa.Array = pa.ListArray.from_arrays(offsets, values, type=target, mask=mask)
        else:
            entries = arr.values.slice(start, end - start)
            keys = _convert(entries.field(0), target.key_type, path, sub)
            items = _convert(entries.field(1), target.item_type, path, sub)
            out = pa.MapArray.from_arrays(offsets, keys, items, type=target, mask=mask)
        for p in sub:
            rows = np.zeros(n, dtype=bool)
            rows[parents[p.mask[: len(parents)]]] = True
            problems.append(CastProblem(rows, p.path, p.target))
        return out
    converted, bad = _try_cast(arr, target)
    if bad.any():
        problems.append(CastProblem(bad, path, str(target)))
    return converted


def _map_parents(arr: pa.MapArray) -> np.ndarray:
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    return np.repeat(np.arange(len(arr), dtype=np.int64), np.diff(offsets))


def cast_table(table: pa.Table, target: pa.Schema) -> tuple[pa.Table, list[CastProblem]]:
    """``table`` in the ``target`` shape (columns by name; missing ones null) and what failed.

    Columns not in ``target`` are the caller's concern (they are dropped here).
    """
    columns = []
    problems: list[CastProblem] = []
    for f in target:
        idx = table.schema.get_field_index(f.name)
        if idx < 0:
            columns.append(pa.nulls(table.num_rows, f.type))
            continue
        col = table.column(idx).combine_chunks()
        columns.append(_convert(col, f.type, f.name, problems))
    return pa.Table.from_arrays(columns, schema=target), problems


def describe(problem: CastProblem, raw: pa.Table, row: int) -> str:
    """A reason for one failing row (the raw value included when it is a scalar)."""
    value = _raw_value(raw, problem.path, row)
    shown = f" {value[:_MAX_VALUE]!r}" if value is not None else ""
    return f"cannot convert value{shown} of '{problem.path}' to {_human(problem.target)}"


def _raw_value(raw: pa.Table, path: str, row: int) -> str | None:
    parts = path.split(".")
    if raw.schema.get_field_index(parts[0]) < 0:
        return None
    node = raw.column(parts[0])[row].as_py()
    for part in parts[1:]:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    if isinstance(node, dict | list):
        return None
    return None if node is None else str(node)


def _human(target: str) -> str:
    return {
        "string": "string",
        "double": "number",
        "int64": "long",
        "int32": "int",
        "int16": "short",
        "int8": "byte",
        "bool": "boolean",
        "date32[day]": "date",
        "timestamp[us, tz=UTC]": "date-time",
    }.get(target, target)
