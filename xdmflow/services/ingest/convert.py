"""Cast raw Arrow data to a dataset's Arrow shape, row by row failing only what cannot convert.

Everything is columnar: a column that casts in one go costs one ``cast``; when a cast fails,
DuckDB's ``TRY_CAST`` converts the column and the positions that became null are the bad
values (strings meant as integers must also look like integers, so ``"1.5"`` is not rounded).
Structs match children by name, lists recurse into their elements; a bad element marks its
row. Python only runs per failing position, to describe it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["CastProblem", "cast_table", "relaxed_schema"]

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.int16(): "SMALLINT",
    pa.int8(): "TINYINT",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
}
_INTEGER_TEXT = r"^\s*[-+]?\d+\s*$"
_MAX_VALUE = 200


@dataclass(frozen=True)
class CastProblem:
    """Values of column ``path`` at the flagged rows could not become ``target``."""

    mask: np.ndarray  # one bool per row of the table
    path: str
    target: str


def relaxed_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` for the JSON reader: dates as text, maps left out (it infers them as structs)."""
    return pa.schema([pa.field(f.name, _relax(f.type)) for f in schema if not pa.types.is_map(f.type)])


def _relax(t: pa.DataType) -> pa.DataType:
    if pa.types.is_date32(t):
        return pa.string()
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _relax(f.type)) for f in t if not pa.types.is_map(f.type)])
    if pa.types.is_list(t):
        return pa.list_(pa.field(t.value_field.name, _relax(t.value_type)))
    return t


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
    duck = _DUCK_TYPES.get(target)
    if duck is None:
        return pa.nulls(len(arr), target), _valid(arr)
    source = arr
    if not (
        pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or pa.types.is_primitive(arr.type)
    ):
        return pa.nulls(len(arr), target), _valid(arr)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone='UTC'")
        con.register("src", pa.table({"v": source}))
        out = (
            con.sql(f"SELECT TRY_CAST(v AS {duck}) AS v FROM src").to_arrow_table().column(0).combine_chunks()
        )
    finally:
        con.close()
    out = out.cast(target)
    bad = _valid(arr) & ~_valid(out)
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
