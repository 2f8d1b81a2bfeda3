"""Query Service: the same SQL through our PostgreSQL port and through DuckDB reading the same
Parquet files directly, in one run, timed the same way.

    python -m bench.query_bench --rows 10000000        # the issue's scale
    python -m bench.query_bench --rows 1000000 --repeat 5

The dataset is created with the Query Service itself (``CREATE TABLE … AS SELECT`` over ``range``:
id, amount, category), then for ``count(*)``, a filtered ``GROUP BY`` with ``sum(amount)`` and
``SELECT * … LIMIT 10`` it reports the best wall time of

* **psycopg** on one open connection to our port (sign-in done once, as a BI tool or pandas keeps
  its connection): send the statement, plan the Iceberg scan, run, receive every row;
* **DuckDB** on one open connection reading the table's data files (``read_parquet``) — the
  like-for-like pair, whose ratio is the target;
* **psql**, a new process per statement (connect, sign in, run, print): what a shell user waits;
* the **first row** of ``LIMIT 10`` through psycopg (``Cursor.stream``: rows as they arrive).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import duckdb
import psycopg

from bench.common import Measurement
from xdmflow.cli.demo import free_port
from xdmflow.pgserver.server import PgServer
from xdmflow.query.tables import snapshot_files
from xdmflow.runtime import build_context
from xdmflow.services import identity, queries
from xdmflow.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (both sides)")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json-out", type=Path, default=None)
    a = ap.parse_args()

    # a fresh home each run (the CTAS below needs its table name free)
    workdir = Path(tempfile.mkdtemp(prefix="query-bench-", dir=a.workdir)) if a.workdir else None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="xdmflow-query-bench-"))
    settings = Settings(
        home=workdir / "home", query_threads=a.threads, query_max_rows=a.rows + 1, query_memory_limit="4GB"
    )
    ctx = build_context(settings)
    creds = ctx.credentials
    with ctx.db.session() as s:
        p = queries.principal_for(s, creds["org_id"], "prod", creds["client_id"])
        token = identity.issue_token(s, ctx.keys, settings, creds["client_id"], creds["client_secret"])[
            "access_token"
        ]
    started = time.perf_counter()
    queries.run_statement(
        ctx,
        p,
        "CREATE TABLE bench_rows AS SELECT i AS id, CAST(i % 1000 AS DOUBLE) / 10 AS amount, "
        f"'c' || CAST(i % 20 AS VARCHAR) AS category FROM range({a.rows}) t(i)",
    )
    print(f"created bench_rows ({a.rows:,} rows) in {time.perf_counter() - started:.1f} s", flush=True)
    with ctx.db.session() as s:
        catalog = queries.sandbox_catalog(s, queries.Scope(p.org_id, p.sandbox_name))
    ref = catalog.resolve("bench_rows")
    assert ref is not None
    files, _ = snapshot_files(ctx.lake, ref)
    col = ref.arrow_schema[0].name
    server = PgServer(ctx, "127.0.0.1", free_port())
    port = server.start()
    env = {**os.environ, "PGPASSWORD": token}
    dsn = f"host=127.0.0.1 port={port} user={p.org_id} dbname=prod:all sslmode=disable"
    cases = {
        "count(*)": "SELECT count(*) FROM {t}",
        "filtered GROUP BY sum(amount)": f"SELECT t.{col}.category, sum(t.{col}.amount) FROM {{t}} t "
        f"WHERE t.{col}.amount > 50 GROUP BY 1 ORDER BY 1",
        "SELECT * LIMIT 10": "SELECT * FROM {t} LIMIT 10",
    }
    duck = duckdb.connect(config={"threads": a.threads})
    file_list = "[" + ", ".join("'" + f.removeprefix("file://") + "'" for f in files) + "]"
    pg = psycopg.connect(f"{dsn} password={token}", autocommit=True)
    results: list[Measurement] = []
    print(f"{'case':34} {'psycopg s':>10} {'DuckDB s':>9} {'ratio':>6} {'psql s':>8}")
    for case, sql in cases.items():
        ours: list[float] = []
        theirs: list[float] = []
        shell: list[float] = []
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            pg.execute(sql.format(t="bench_rows")).fetchall()
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            duck.sql(sql.format(t=f"read_parquet({file_list})")).fetchall()
            theirs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            r = subprocess.run(
                ["psql", dsn, "-X", "-A", "-t", "-c", sql.format(t="bench_rows")],
                env=env,
                capture_output=True,
                text=True,
            )
            shell.append(time.perf_counter() - t0)
            assert r.returncode == 0, r.stderr
        best_ours, best_theirs = min(ours), min(theirs)
        print(
            f"{case:34} {best_ours:10.3f} {best_theirs:9.3f} {best_theirs / best_ours:6.2f} "
            f"{min(shell):8.3f}",
            flush=True,
        )
        results.append(Measurement("xdmflow (psycopg)", f"query {case}", a.rows, ours, wall_seconds=ours))
        results.append(Measurement("DuckDB (read_parquet)", f"query {case}", a.rows, theirs))
        results.append(Measurement("xdmflow (psql process)", f"query {case}", a.rows, shell))
    first: list[float] = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        rows = pg.cursor().stream("SELECT * FROM bench_rows LIMIT 10")  # single-row mode
        assert next(rows) is not None
        first.append(time.perf_counter() - t0)
        assert len(list(rows)) == 9
    print(f"first row of SELECT * LIMIT 10 (psycopg): {min(first) * 1000:.1f} ms", flush=True)
    results.append(Measurement("xdmflow (psycopg)", "query first row of LIMIT 10", a.rows, first))
    pg.close()
    server.stop()
    ctx.close()
    shutil.rmtree(workdir, ignore_errors=True)
    if a.json_out:
        a.json_out.write_text(json.dumps([asdict(m) for m in results], indent=2))


if __name__ == "__main__":
    main()
