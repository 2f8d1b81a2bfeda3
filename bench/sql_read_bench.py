"""PostgreSQL → Arrow read paths on the same table, one process (issue #19, bench/notes/sql.md).

    python -m bench.sql_read_bench --rows 500000 --repeat 3

Loads ``sqlsrc_bench.tx`` (the bench's generated rows as text columns, like
``xdmflow_bench.transactions``) and times, per path, wall and process CPU for a full read to
Arrow record batches of 65,536 rows:

* ``iter``: COPY CSV, psycopg's ``for row in copy`` (one generator step per row), pyarrow CSV parse;
* ``tight``: COPY CSV, ``pgconn.get_copy_data(0)`` in a tight loop, same parse;
* ``adbc``: ADBC's PostgreSQL driver (COPY BINARY → Arrow in C), ``fetch_record_batch``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from bench.common import PG_URL
from bench.data import COLUMNS
from bench.gen import generate

TABLE = "sqlsrc_bench.tx"
BATCH = 65_536


def load(rows: int) -> None:
    import psycopg

    t = generate(rows)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(t, sink, write_options=pacsv.WriteOptions(include_header=False))
    data = sink.getvalue().to_pybytes()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS sqlsrc_bench")
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cols = ", ".join(f'"{c}" text' for c in COLUMNS)
        conn.execute(f"CREATE TABLE {TABLE} ({cols})")
        with conn.cursor() as cur, cur.copy(f"COPY {TABLE} FROM STDIN (FORMAT csv)") as cp:
            cp.write(data)
        conn.execute(f"ANALYZE {TABLE}")


def _parse(chunks: list[Any]) -> pa.Table:
    return pacsv.read_csv(
        pa.BufferReader(b"".join(chunks)),
        read_options=pacsv.ReadOptions(column_names=COLUMNS, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(COLUMNS, pa.string()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            null_values=[""],
        ),
    )


def read_iter() -> int:
    import psycopg

    n = 0
    with psycopg.connect(PG_URL) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY (SELECT * FROM {TABLE}) TO STDOUT (FORMAT csv)") as copy:
            chunks: list[Any] = []
            for row in copy:
                chunks.append(bytes(row))
                if len(chunks) >= BATCH:
                    n += _parse(chunks).num_rows
                    chunks = []
            if chunks:
                n += _parse(chunks).num_rows
    return n


def read_tight() -> int:
    """The connector's reader (``pgcopy._copy_out``): ``get_copy_data(0)`` in a tight loop."""
    import psycopg

    from xdmflow.connectors.sql.pgcopy import _copy_out

    n = 0
    with psycopg.connect(PG_URL) as conn:
        conn.execute("SELECT 1")  # inside a transaction, as the connector's read is
        for chunks in _copy_out(conn, f"COPY (SELECT * FROM {TABLE}) TO STDOUT (FORMAT csv)", BATCH):
            n += _parse(chunks).num_rows
    return n


def read_adbc() -> int:
    import adbc_driver_postgresql.dbapi as adbc

    n = 0
    with adbc.connect(PG_URL) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(8 << 20)})
        cur.execute(f"SELECT * FROM {TABLE}")
        for batch in cur.fetch_record_batch():
            n += batch.num_rows
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-load", action="store_true")
    a = ap.parse_args()
    if not a.no_load:
        load(a.rows)
    paths = {"iter": read_iter, "tight": read_tight, "adbc": read_adbc}
    res: dict[str, list[tuple[float, float]]] = {k: [] for k in paths}
    for _ in range(a.repeat):
        for name, fn in paths.items():  # interleaved: the same load on every path
            w, c = time.perf_counter(), time.process_time()
            n = fn()
            res[name].append((time.perf_counter() - w, time.process_time() - c))
            assert n == a.rows, (name, n)
    base = statistics.median(w for w, _ in res["iter"])
    for name, ms in res.items():
        wall = statistics.median(w for w, _ in ms)
        cpu = statistics.median(c for _, c in ms)
        print(
            f"{name:6s} wall {wall:.3f} s  client CPU {cpu:.3f} s  {a.rows / wall:,.0f} rows/s"
            f"  vs iter {base / wall:.2f}x"
        )


if __name__ == "__main__":
    main()
