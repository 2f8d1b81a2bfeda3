"""PostgreSQL fast path: ``COPY (SELECT …) TO STDOUT (FORMAT csv)`` parsed by ``pyarrow.csv``.

libpq hands COPY data over one row per message; :func:`_copy_out` reads them with
``PGconn.get_copy_data`` in a tight loop (psycopg's ``for row in copy`` costs a generator step
and a wait per row: about twice the client CPU), groups them ``batch_size`` at a time, and each
group is parsed in memory with the columns' Arrow types: no Python object per value, no
background thread, memory bounded by one batch. It is used only when every column has a text
form pyarrow parses exactly like the row-by-row path builds it (booleans, integers, floats,
numerics, dates, timestamps, text/varchar/enum/uuid/json); other tables (arrays, intervals,
times, bytea…) take the row path. ``tests/connectors/test_conn_sql.py`` checks both paths agree
on every mapped type; ``python -m bench.sql_read_bench`` measures this reader against psycopg's
loop and ADBC's driver (bench/notes/sql.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Generator
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
) -> Generator[tuple[pa.RecordBatch, Any]]:
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
    batches = _copy_out(raw, f"COPY ({sql}) TO STDOUT (FORMAT csv)", batch_size)
    try:
        for chunks in batches:
            batch = _parse(chunks, schema, parse_types)
            yield batch, _max(batch, delta_idx)
    finally:
        batches.close()


def _copy_out(raw: Any, sql: str, batch_size: int) -> Generator[list[bytes]]:
    """The rows of ``COPY … TO STDOUT`` in lists of up to ``batch_size``, read straight off libpq.

    psycopg's ``for row in copy`` costs a generator step and a wait loop per row; calling
    ``PGconn.get_copy_data`` (blocking) in a tight loop is about half the client CPU. Errors are
    psycopg's own exceptions, as ``cursor.copy`` raises them; a consumer that stops early cancels
    the COPY and drains it, so the connection stays usable (as ``Copy.__exit__`` does).
    """
    import psycopg
    from psycopg import pq

    pgconn = raw.pgconn
    encoding = raw.info.encoding
    pgconn.send_query(sql.encode(encoding))
    res = pgconn.get_result()
    if res is None or res.status != pq.ExecStatus.COPY_OUT:
        _drain_results(pgconn)
        _check(res, encoding)
        status = "no result" if res is None else pq.ExecStatus(res.status).name
        raise psycopg.ProgrammingError(f"COPY TO STDOUT did not start: {status}")
    get = pgconn.get_copy_data
    done = False
    try:
        chunks: list[bytes] = []
        append = chunks.append
        n = 0
        while True:
            nbytes, data = get(0)
            if nbytes <= 0:  # -1: the COPY is over (its final status follows)
                break
            append(bytes(data))  # a copy: holding libpq's buffers until the parse costs more
            n += 1
            if n >= batch_size:
                yield chunks
                chunks = []
                append = chunks.append
                n = 0
        done = True
        final = list(iter(pgconn.get_result, None))
        for r in final:
            _check(r, encoding)
        if chunks:
            yield chunks
    finally:
        if not done:
            _cancel(raw, pgconn)


def _check(res: Any, encoding: str) -> None:
    import psycopg
    from psycopg import pq

    if res is not None and res.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.COPY_OUT):
        raise psycopg.errors.error_from_result(res, encoding=encoding)


def _drain_results(pgconn: Any) -> None:
    while pgconn.get_result() is not None:
        pass


def _cancel(raw: Any, pgconn: Any) -> None:
    """Stop a COPY the consumer left (or that failed) and read it to its end."""
    import psycopg
    from psycopg import pq

    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.ACTIVE:
        return
    with contextlib.suppress(psycopg.Error):
        raw.cancel_safe()
        while pgconn.get_copy_data(0)[0] > 0:
            pass
        _drain_results(pgconn)


def _max(batch: pa.RecordBatch, idx: int | None) -> Any:
    if idx is None:
        return None
    return pc.max(batch.column(idx)).as_py()
