"""xdmflow: real flow runs through the service (files, PostgreSQL or MariaDB → mapping → validation →
one Iceberg batch), full and incremental. Run in its own process by ``python -m bench``.

Reported time: the run's own ``durationSummary`` (read start → commit); the wall time from
``POST /runs`` to the client seeing ``success`` (worker pick-up and bookkeeping included) is
recorded beside it.

    python -m bench.systems.xdmflow_flow --workdir /tmp/xdmflow-bench --case file-csv --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from bench.common import PG_TABLE, PG_URL, Measurement, emit
from bench.data import MYSQL_TABLE, MYSQL_URL, pg_apply_changes, write_new_rows
from bench.systems.service import CRM, FS, BenchService
from xdmflow.connectors.sql.specs import MARIADB_SPEC_ID

CASES = (
    "file-csv", "file-parquet", "file-jsonl", "file-big", "incremental-file", "rewrite-file",
    "postgres", "mysql",
)  # fmt: skip


def _home(workdir: Path, case: str) -> Path:
    home = workdir / "homes" / case
    if home.exists():
        shutil.rmtree(home)
    return home


def file_full(svc: BenchService, workdir: Path, path: str, rows: int, repeat: int, case: str) -> Measurement:
    schema_id, ns = svc.target(case)
    m = Measurement("xdmflow", case, rows)
    for i in range(repeat):
        src = svc.files_source(workdir / "data", path)
        flow_id, ds = svc.flow(src, schema_id, ns, f"{case} {i}")
        r = svc.run(flow_id)
        rec = r.records
        assert rec["inputRecordCount"] == rows, rec
        m.seconds.append(r.seconds)
        m.wall_seconds.append(r.wall)
        m.rows_out = rec["outputRecordCount"]
        m.rejected = rec["failedRecordCount"]
        print(f"    xdmflow {case} run {i + 1}: {r.seconds:.2f} s (wall {r.wall:.2f} s) {rec}", flush=True)
    return m


def incremental_file(svc: BenchService, workdir: Path, rows: int, repeat: int) -> list[Measurement]:
    """The 1 % of new rows arrive as a new file beside the old one; the second run reads only it."""
    schema_id, ns = svc.target("incremental-file")
    full = Measurement("xdmflow", "incremental-file full", rows)
    inc = Measurement("xdmflow", "incremental-file 1 %", max(rows // 100, 1))
    folder = workdir / "data" / "newfile"
    for i in range(repeat):
        for extra in folder.glob("part-001*.csv"):
            extra.unlink()
        src = svc.files_source(workdir / "data", "newfile/*.csv")
        flow_id, _ = svc.flow(src, schema_id, ns, f"incremental-file {i}")
        r1 = svc.run(flow_id)
        time.sleep(1.05)  # a new mtime strictly after the first file's
        n_new = write_new_rows(folder / "part-001.csv", rows, i)
        r2 = svc.run(flow_id)
        assert r1.records["inputRecordCount"] == rows, r1.records
        assert r2.records["inputRecordCount"] == n_new, r2.records
        full.seconds.append(r1.seconds)
        full.wall_seconds.append(r1.wall)
        inc.seconds.append(r2.seconds)
        inc.wall_seconds.append(r2.wall)
        full.rows_out, full.rejected = r1.records["outputRecordCount"], r1.records["failedRecordCount"]
        inc.rows_out, inc.rejected = r2.records["outputRecordCount"], r2.records["failedRecordCount"]
        print(
            f"    xdmflow incremental-file {i + 1}: full {r1.seconds:.2f} s, new file {r2.seconds:.3f} s",
            flush=True,
        )
    return [full, inc]


def rewrite_file(svc: BenchService, workdir: Path, rows: int, repeat: int) -> list[Measurement]:
    """One CSV rewritten in place with 1 % more rows: a file source cannot skip the old rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from bench.data import new_rows

    schema_id, ns = svc.target("rewrite-file")
    folder = workdir / "data" / "rewrite"
    full = Measurement("xdmflow", "rewrite-file full", rows)
    inc = Measurement("xdmflow", "rewrite-file +1 %", rows + max(rows // 100, 1))
    for i in range(repeat):
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copyfile(workdir / "data" / "full" / "tx.csv", folder / "tx.csv")
        src = svc.files_source(workdir / "data", "rewrite/tx.csv")
        flow_id, _ = svc.flow(src, schema_id, ns, f"rewrite-file {i}")
        r1 = svc.run(flow_id)
        time.sleep(1.05)
        # append the new rows: the file is rewritten in place (same name, new mtime)
        with (folder / "tx.csv").open("ab") as fh:
            sink = pa.BufferOutputStream()
            pacsv.write_csv(new_rows(rows, i), sink, write_options=pacsv.WriteOptions(include_header=False))
            fh.write(sink.getvalue().to_pybytes())
        os.utime(folder / "tx.csv")
        r2 = svc.run(flow_id)
        full.seconds.append(r1.seconds)
        full.wall_seconds.append(r1.wall)
        inc.seconds.append(r2.seconds)
        inc.wall_seconds.append(r2.wall)
        inc.rows = r2.records["inputRecordCount"]
        full.rows_out, inc.rows_out = r1.records["outputRecordCount"], r2.records["outputRecordCount"]
        print(
            f"    xdmflow rewrite-file {i + 1}: full {r1.seconds:.2f} s, rewritten {r2.seconds:.2f} s",
            flush=True,
        )
    inc.notes = "the whole rewritten file is read and loaded again (file sources select by mtime)"
    return [full, inc]


def postgres(svc: BenchService, rows: int, repeat: int) -> list[Measurement]:
    """Full read of the table, then 1 % changed rows (``updatedAt`` moved): the delta is pushed down."""
    schema_id, ns = svc.target("postgres")
    full = Measurement("xdmflow", "postgres full", rows)
    inc = Measurement("xdmflow", "postgres 1 %", max(rows // 100, 1))
    total = rows
    for i in range(repeat):
        src = svc.postgres_source(PG_URL, PG_TABLE)
        flow_id, _ = svc.flow(src, schema_id, ns, f"postgres {i}", delta="updatedAt", spec=CRM)
        r1 = svc.run(flow_id)
        changed, inserted = pg_apply_changes(rows, i)
        r2 = svc.run(flow_id)
        assert r1.records["inputRecordCount"] == total, (r1.records, total)
        assert r2.records["inputRecordCount"] == changed, (r2.records, changed)
        total += inserted
        full.seconds.append(r1.seconds)
        full.wall_seconds.append(r1.wall)
        inc.seconds.append(r2.seconds)
        inc.wall_seconds.append(r2.wall)
        full.rows = r1.records["inputRecordCount"]
        inc.rows = changed
        full.rows_out, full.rejected = r1.records["outputRecordCount"], r1.records["failedRecordCount"]
        inc.rows_out = r2.records["outputRecordCount"]
        print(
            f"    xdmflow postgres {i + 1}: full {r1.seconds:.2f} s, 1 % delta {r2.seconds:.3f} s", flush=True
        )
    return [full, inc]


def mysql_source(svc: BenchService, url: str, table: str) -> str:
    """A MariaDB connection and a source connection on ``table`` (as ``postgres_source``)."""
    spec = {"id": MARIADB_SPEC_ID, "version": "1.0"}
    auth = {"specName": "Connection String Based Authentication", "params": {"connectionString": url}}
    base = svc.call(
        "POST", f"{FS}/connections", json={"name": "bench mariadb", "auth": auth, "connectionSpec": spec}
    )["id"]
    body = {
        "name": "bench mariadb table",
        "baseConnectionId": base,
        "data": {"format": "tabular"},
        "params": {"tableName": table},
        "connectionSpec": spec,
    }
    return str(svc.call("POST", f"{FS}/sourceConnections", json=body)["id"])


def mysql(svc: BenchService, rows: int, repeat: int) -> list[Measurement]:
    """Full read of the MariaDB table holding the same rows (``load_mysql``), ``updatedAt`` the delta."""
    schema_id, ns = svc.target("mysql")
    full = Measurement("xdmflow", "mysql", rows)
    for i in range(repeat):
        src = mysql_source(svc, MYSQL_URL, MYSQL_TABLE)
        flow_id, _ = svc.flow(src, schema_id, ns, f"mysql {i}", delta="updatedAt", spec=CRM)
        r = svc.run(flow_id)
        assert r.records["inputRecordCount"] == rows, (r.records, rows)
        full.seconds.append(r.seconds)
        full.wall_seconds.append(r.wall)
        full.rows_out, full.rejected = r.records["outputRecordCount"], r.records["failedRecordCount"]
        print(f"    xdmflow mysql {i + 1}: full {r.seconds:.2f} s (wall {r.wall:.2f} s)", flush=True)
    full.extra["server"] = _mysql_version()
    full.notes = "MariaDB table of text columns loaded from the same CSV (load_mysql), PyMySQL"
    return [full]


def _mysql_version() -> str:
    import pymysql

    from xdmflow.connectors.sql import parse_connection_string

    url = parse_connection_string(MYSQL_URL, "mysql")
    conn = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
        return str(row[0]) if row else "?"
    finally:
        conn.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--case", choices=CASES, required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    results: list[Measurement] = []
    with BenchService(_home(a.workdir, a.case)) as svc:
        if a.case.startswith("file-"):
            fmt = a.case.split("-", 1)[1]
            path = "big/tx.csv" if fmt == "big" else f"full/tx.{fmt}"
            results.append(file_full(svc, a.workdir, path, a.rows, a.repeat, a.case))
        elif a.case == "incremental-file":
            results += incremental_file(svc, a.workdir, a.rows, a.repeat)
        elif a.case == "rewrite-file":
            results += rewrite_file(svc, a.workdir, a.rows, a.repeat)
        elif a.case == "mysql":
            results += mysql(svc, a.rows, a.repeat)
        else:
            results += postgres(svc, a.rows, a.repeat)
    emit(a.json_out, results)


if __name__ == "__main__":
    main()
