"""PostgreSQL fast path: ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` parsed by ``pyarrow.csv``.

libpq hands COPY data over one row per message, so rows are grouped ``batch_size`` at a
time and each group is parsed in memory with the columns' Arrow types: no Python object per
value, no background thread, memory bounded by one batch. It is used only when every column
has a text form pyarrow parses exactly like the row-by-row path builds it (booleans,
integers, floats, numerics, dates, timestamps, text/varchar/uuid/json); other tables (arrays,
intervals, times, bytea…) take the row path. Measured on 500k rows × 5 columns: about 4-5x
the row path's throughput.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

__all__ = ["copy_supported", "iter_copy"]

_TEXT_TYPES = (sa.String, sa.Text, sa.Enum, sa.Uuid, sa.JSON)
_NO_COPY = (sa.ARRAY, sa.Interval, sa.Time, sa.LargeBinary)


def copy_supported(columns: list[Any], arrow_types: list[pa.DataType]) -> bool:
    """Whether COPY's CSV text of ``columns`` parses to the same values as the row path."""
    for col, t in zip(columns, arrow_types, strict=True):
        if isinstance(col.type, _NO_COPY):
            return False
        if pa.types.is_string(t) and not isinstance(col.type, _TEXT_TYPES):
            return False
        if not (
            pa.types.is_string(t)
            or pa.types.is_boolean(t)
            or pa.types.is_integer(t)
            or pa.types.is_floating(t)
            or pa.types.is_decimal(t)
            or pa.types.is_date32(t)
            or pa.types.is_timestamp(t)
        ):
            return False
    return True


def _parse(chunks: list[bytes], schema: pa.Schema, parse_types: dict[str, pa.DataType]) -> pa.RecordBatch:
    table = pacsv.read_csv(
        pa.BufferReader(b"".join(chunks)),
        read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(len(schema))], use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=parse_types,
            true_values=["t"],
            false_values=["f"],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    )
    arrays = [table.column(i).combine_chunks().cast(f.type) for i, f in enumerate(schema)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def iter_copy(
    conn: Any, stmt: Any, columns: list[Any], schema: pa.Schema, delta_idx: int | None, batch_size: int
) -> Iterator[tuple[pa.RecordBatch, Any]]:
    """Yield ``(batch, max delta in it)``; ``schema`` describes ``columns`` (the selected ones).

    Timestamps with a time zone are selected as UTC wall time and tagged UTC again in Arrow.
    """
    exprs = []
    parse_types: dict[str, pa.DataType] = {}
    for i, (col, f) in enumerate(zip(columns, schema, strict=True)):
        tz = pa.types.is_timestamp(f.type) and f.type.tz is not None
        exprs.append(sa.func.timezone("UTC", col).label(f"c{i}") if tz else col.label(f"c{i}"))
        parse_types[f"c{i}"] = pa.timestamp("us") if tz else f.type
    compiled = stmt.with_only_columns(*exprs).compile(
        dialect=conn.dialect, compile_kwargs={"literal_binds": True}
    )
    # the psycopg dialect (pyformat) escapes every % as %%; COPY text is sent without parameters
    sql = (
        str(compiled).replace("%%", "%")
        if conn.dialect.paramstyle in ("pyformat", "format")
        else str(compiled)
    )
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        chunks: list[bytes] = []
        for row in copy:
            chunks.append(bytes(row))
            if len(chunks) >= batch_size:
                batch = _parse(chunks, schema, parse_types)
                chunks = []
                yield batch, _max(batch, delta_idx)
        if chunks:
            batch = _parse(chunks, schema, parse_types)
            yield batch, _max(batch, delta_idx)


def _max(batch: pa.RecordBatch, idx: int | None) -> Any:
    if idx is None:
        return None
    return pc.max(batch.column(idx)).as_py()
