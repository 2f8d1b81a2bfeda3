"""DuckDB, the near-limit anchor: read the file, do the same mapping, casts and rejects in SQL
(``bench.common.duckdb_sql``), write Parquet. Timed from the statement's start to the file
written. Runs in its own process (``python -m bench``), with DuckDB's default threads.

    python -m bench.systems.duckdb_sys --workdir /tmp/xdmflow-bench --case file-csv
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import duckdb

from bench.common import Measurement, Timer, duckdb_sql, emit

CASES = ("file-csv", "file-parquet", "file-jsonl", "rewrite-file")
_NS = "_bench"


def _source(path: Path) -> str:
    p = str(path).replace("'", "''")
    if path.suffix == ".csv":
        # every column as text, like xdmflow's delimited reader (empty field = null)
        return f"read_csv('{p}', header=true, all_varchar=true)"
    if path.suffix == ".jsonl":
        return f"read_json('{p}', format='newline_delimited')"
    return f"read_parquet('{p}')"


def run_file(path: Path, out_dir: Path, rows: int, repeat: int, case: str, ns: str = _NS) -> Measurement:
    m = Measurement("DuckDB", case, rows)
    con = duckdb.connect()
    for i in range(repeat):
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        target = str(out_dir / "part-0.parquet").replace("'", "''")
        with Timer() as t:
            con.execute(
                f"COPY ({duckdb_sql(_source(path), ns)}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
            )
        kept = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()
        m.seconds.append(t.seconds)
        m.wall_seconds.append(t.seconds)
        m.rows_out = int(kept[0]) if kept else 0
        m.rejected = rows - m.rows_out
        print(f"    DuckDB {case} run {i + 1}: {t.seconds:.2f} s, kept {m.rows_out:,}", flush=True)
    return m


def rewrite(path: Path, out_dir: Path, rows: int, repeat: int) -> Measurement:
    """One CSV rewritten in place: DuckDB reads it all and keeps rows past the watermark."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from bench.data import new_rows

    work = out_dir.parent / "rewrite-src"
    work.mkdir(parents=True, exist_ok=True)
    src = work / "tx.csv"
    shutil.copyfile(path, src)
    with src.open("ab") as fh:
        sink = pa.BufferOutputStream()
        pacsv.write_csv(new_rows(rows, 0), sink, write_options=pacsv.WriteOptions(include_header=False))
        fh.write(sink.getvalue().to_pybytes())
    con = duckdb.connect()
    p = str(src).replace("'", "''")
    watermark = "2024-13-45 99:00:00"  # the largest updatedAt of the first file (a bad date sorts last)
    m = Measurement("DuckDB", "rewrite-file +1 %", rows + max(rows // 100, 1))
    for i in range(repeat):
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.mkdir(parents=True)
        target = str(out_dir / "part-0.parquet")
        source = (
            f"(SELECT * FROM read_csv('{p}', header=true, all_varchar=true) WHERE updatedAt > '{watermark}')"
        )
        with Timer() as t:
            con.execute(f"COPY ({duckdb_sql(source, _NS)}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        m.seconds.append(t.seconds)
        m.wall_seconds.append(t.seconds)
        kept = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()
        m.rows_out = int(kept[0]) if kept else 0
        print(f"    DuckDB rewrite-file run {i + 1}: {t.seconds:.2f} s, kept {m.rows_out:,}", flush=True)
    m.notes = "reads the whole rewritten file, keeps updatedAt > watermark"
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--case", choices=CASES, required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    out = a.workdir / "out" / "duckdb" / a.case
    if a.case == "rewrite-file":
        res = rewrite(a.workdir / "data" / "full" / "tx.csv", out, a.rows, a.repeat)
    else:
        fmt = a.case.split("-", 1)[1]
        res = run_file(a.workdir / "data" / "full" / f"tx.{fmt}", out, a.rows, a.repeat, a.case)
    emit(a.json_out, [res])


if __name__ == "__main__":
    main()
