"""Vectorised record validation against a compiled schema (xdm.md §12).

Records arrive as Arrow data already in the compiled shape (``to_arrow_schema(schema)``).
Every rule is a ``pyarrow.compute`` mask over a whole column (array elements are
flattened with ``list_flatten`` and mapped back to rows with ``list_parent_indices``);
Python only touches the failing positions to build :class:`RowError` entries.

Rules: ``required`` applies only when the parent object is present (top level always,
per element inside arrays) and an empty string counts as missing; hard ``enum`` restricts,
``meta:enum`` does not; ``pattern`` is a search (``re.search`` semantics); string formats
``email``, ``uri``, ``uri-reference``; integer ranges of long/int/short/byte and
``minimum``/``maximum``; ``minLength``/``maxLength``; numbers must be finite; dates and
timestamps must lie in years 1..9999.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xdmflow import regexes
from xdmflow.errors import BadRequestError
from xdmflow.schema.compiled import INTEGER_RANGES, CompiledSchema, XdmField

__all__ = ["RowError", "ValidationResult", "validate", "FORMAT_PATTERNS"]

#: Regexes (RE2 syntax, searched) of the string formats that are checked.
FORMAT_PATTERNS: dict[str, str] = {
    "email": r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)*$",
    "uri": r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]*$",
    "uri-reference": r"^[^\s]*$",
}
_MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class RowError:
    """One failing field of one row: ``path`` is the compat field path (array items add
    no segment: ``productListItems.SKU``), ``value`` the offending value as text."""

    row: int
    path: str
    reason: str
    value: str | None = None


@dataclass
class ValidationResult:
    """``valid``: one boolean per row; ``errors``: one entry per failing row/field, by row."""

    valid: pa.BooleanArray
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every row is valid."""
        return not self.errors

    @property
    def invalid_rows(self) -> list[int]:
        """Indices of the failing rows, ascending."""
        return sorted({e.row for e in self.errors})


class _Collector:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, str, str, list[str | None]]] = []

    def add(
        self, mask: np.ndarray, rows: np.ndarray, path: str, reason: str, values: pa.Array | None
    ) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        texts: list[str | None] = [None] * idx.size
        if values is not None:
            taken = values.take(pa.array(idx))
            try:
                texts = [
                    None if t is None else t[:_MAX_VALUE_CHARS]
                    for t in pc.cast(taken, pa.string()).to_pylist()
                ]
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                texts = [None] * idx.size
        self.parts.append((rows[idx], path, reason, texts))

    def result(self, n: int) -> ValidationResult:
        seen: set[tuple[int, str]] = set()
        errors: list[RowError] = []
        for rows, path, reason, texts in self.parts:
            for row, text in zip(rows.tolist(), texts, strict=True):
                if (row, path) not in seen:
                    seen.add((row, path))
                    errors.append(RowError(int(row), path, reason, text))
        errors.sort(key=lambda e: (e.row, e.path))
        valid = np.ones(n, dtype=bool)
        if errors:
            valid[np.fromiter((e.row for e in errors), dtype=np.int64)] = False
        return ValidationResult(pa.array(valid, type=pa.bool_()), errors)


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _columns(data: pa.Table | pa.RecordBatch) -> dict[str, pa.Array]:
    if isinstance(data, pa.RecordBatch):
        return {name: data.column(i) for i, name in enumerate(data.schema.names)}
    out: dict[str, pa.Array] = {}
    for name, col in zip(data.schema.names, data.columns, strict=True):
        out[name] = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return out


def validate(schema: CompiledSchema, data: pa.Table | pa.RecordBatch) -> ValidationResult:
    """Validate every row of ``data`` against ``schema``; see the module docstring for the rules.

    Columns missing from ``data`` count as absent; columns not in the schema are ignored.
    Raises :class:`BadRequestError` when a column's Arrow type does not fit its field.
    """
    n = data.num_rows
    out = _Collector()
    rows = np.arange(n, dtype=np.int64)
    _check_children(schema.fields, _columns(data), n, rows, np.ones(n, dtype=bool), out)
    return out.result(n)


def _check_children(
    fields: tuple[XdmField, ...],
    cols: dict[str, pa.Array],
    length: int,
    rows: np.ndarray,
    present: np.ndarray,
    out: _Collector,
) -> None:
    for f in fields:
        arr = cols.get(f.name)
        if arr is None:
            if f.required and present.any():
                out.add(present, rows, f.path, "required field is missing", None)
            continue
        _check_field(f, arr, rows, present, out)


def _check_field(f: XdmField, arr: pa.Array, rows: np.ndarray, present: np.ndarray, out: _Collector) -> None:
    if f.required:
        missing = _np(arr.is_null())
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            missing |= _np(pc.equal(arr, ""))
        out.add(present & missing, rows, f.path, "required field is missing", None)
    if f.xdm_type == "object":
        if not pa.types.is_struct(arr.type):
            raise BadRequestError(f"column '{f.path}' is {arr.type}, expected a struct")
        children = {arr.type.field(i).name: c for i, c in enumerate(arr.flatten())}
        _check_children(f.children, children, len(arr), rows, _np(arr.is_valid()), out)
    elif f.xdm_type == "array" and f.items is not None:
        if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
            raise BadRequestError(f"column '{f.path}' is {arr.type}, expected a list")
        flat = pc.list_flatten(arr)
        parents = np.asarray(pc.list_parent_indices(arr), dtype=np.int64)
        _check_element(f.items, flat, rows[parents], out)
    elif f.xdm_type == "map" and f.values is not None:
        if not pa.types.is_map(arr.type):
            raise BadRequestError(f"column '{f.path}' is {arr.type}, expected a map")
        values, parents = _map_values(arr)
        _check_element(f.values, values, rows[parents], out)
    else:
        _check_scalar(f, arr, rows, out)


def _check_element(item: XdmField, flat: pa.Array, rows: np.ndarray, out: _Collector) -> None:
    """Validate flattened array/map elements; each element is its own parent."""
    _check_field(item, flat, rows, np.ones(len(flat), dtype=bool), out)


def _map_values(arr: pa.MapArray) -> tuple[pa.Array, np.ndarray]:
    offsets = np.asarray(arr.offsets, dtype=np.int64)
    lengths = np.diff(offsets) * _np(arr.is_valid())
    parents = np.repeat(np.arange(len(arr), dtype=np.int64), lengths)
    starts = np.repeat(offsets[:-1] - (np.cumsum(lengths) - lengths), lengths)
    positions = starts + np.arange(int(lengths.sum()), dtype=np.int64)
    return arr.items.take(pa.array(positions)), parents


def _check_scalar(f: XdmField, arr: pa.Array, rows: np.ndarray, out: _Collector) -> None:
    valid = _np(arr.is_valid())
    if not valid.any():
        return
    if f.enum is not None:
        try:
            allowed = pa.array(list(f.enum)).cast(arr.type)
            out.add(
                valid & ~_np(pc.is_in(arr, value_set=allowed)),
                rows,
                f.path,
                f"value is not one of the allowed values ({', '.join(map(str, f.enum))})",
                arr,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            out.add(valid, rows, f.path, "value is not one of the allowed values", arr)
    if f.xdm_type == "string":
        _check_string(f, arr, rows, valid, out)
    elif f.xdm_type in INTEGER_RANGES or f.xdm_type == "number":
        _check_number(f, arr, rows, valid, out)
    elif f.xdm_type in ("date", "date-time"):
        _check_temporal(f, arr, rows, out)


def _search(arr: pa.Array, pattern: str) -> np.ndarray:
    """``re.search`` semantics over a string column (Arrow's RE2; else RE2 itself on distinct values).

    Never a backtracking engine: a schema's ``pattern`` cannot stall validation. A pattern RE2
    cannot run raises :class:`xdmflow.regexes.RegexError` (a ``ValueError``)."""
    try:
        return _np(pc.match_substring_regex(arr, pattern))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        uniques = pc.unique(arr.drop_null())
        rx = regexes.compile(pattern)
        good = [v for v in uniques.to_pylist() if rx.search(v)]
        return _np(pc.is_in(arr, value_set=pa.array(good, type=arr.type)))


def _check_string(f: XdmField, arr: pa.Array, rows: np.ndarray, valid: np.ndarray, out: _Collector) -> None:
    if f.pattern is not None:
        out.add(
            valid & ~_search(arr, f.pattern), rows, f.path, f"value does not match pattern {f.pattern}", arr
        )
    if f.format in FORMAT_PATTERNS:
        bad = valid & ~_search(arr, FORMAT_PATTERNS[f.format])
        out.add(bad, rows, f.path, f"value is not a valid {f.format}", arr)
    if f.min_length is not None or f.max_length is not None:
        lengths = pc.utf8_length(arr)
        if f.min_length is not None:
            out.add(
                valid & _np(pc.less(lengths, f.min_length)),
                rows,
                f.path,
                f"value is shorter than {f.min_length} characters",
                arr,
            )
        if f.max_length is not None:
            out.add(
                valid & _np(pc.greater(lengths, f.max_length)),
                rows,
                f.path,
                f"value is longer than {f.max_length} characters",
                arr,
            )


def _check_number(f: XdmField, arr: pa.Array, rows: np.ndarray, valid: np.ndarray, out: _Collector) -> None:
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type)):
        raise BadRequestError(f"column '{f.path}' is {arr.type}, expected a number")
    bounds: tuple[float | None, float | None] = INTEGER_RANGES.get(f.xdm_type, (None, None))
    lo, hi = bounds
    if f.minimum is not None:
        lo = f.minimum if lo is None else max(lo, f.minimum)
    if f.maximum is not None:
        hi = f.maximum if hi is None else min(hi, f.maximum)
    if pa.types.is_floating(arr.type):
        out.add(valid & ~_np(pc.is_finite(arr)), rows, f.path, "value is not a finite number", arr)
        if f.xdm_type in INTEGER_RANGES:
            out.add(
                valid & _np(pc.not_equal(arr, pc.floor(arr))), rows, f.path, "value is not an integer", arr
            )
    if lo is not None:
        out.add(valid & _np(pc.less(arr, pa.scalar(lo))), rows, f.path, f"value is less than {_num(lo)}", arr)
    if hi is not None:
        out.add(
            valid & _np(pc.greater(arr, pa.scalar(hi))),
            rows,
            f.path,
            f"value is greater than {_num(hi)}",
            arr,
        )


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _check_temporal(f: XdmField, arr: pa.Array, rows: np.ndarray, out: _Collector) -> None:
    if pa.types.is_timestamp(arr.type):
        tz = dt.UTC if arr.type.tz else None
        bounds = [dt.datetime(1, 1, 1, tzinfo=tz), dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=tz)]
        lo, hi = (pa.scalar(b, type=arr.type) for b in bounds)
    elif pa.types.is_date(arr.type):
        lo, hi = (pa.scalar(d, type=arr.type) for d in (dt.date(1, 1, 1), dt.date(9999, 12, 31)))
    else:
        raise BadRequestError(
            f"column '{f.path}' is {arr.type}, expected a {f.xdm_type} (cast before validating)"
        )
    bad = _np(pc.or_(pc.less(arr, lo), pc.greater(arr, hi)))
    out.add(bad, rows, f.path, "value is outside years 1..9999", arr)
