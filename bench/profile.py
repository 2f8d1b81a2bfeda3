"""Profile one xdmflow flow run with pyinstrument (the run executes in this thread).

The service runs with the API role only (no worker); the run is queued with ``POST /runs`` and
executed here by ``execute_run`` under the profiler, so the profile is the run's own work.

    python -m bench.profile --workdir /tmp/xdmflow-bench --source full/tx.csv --html /tmp/prof.html
    python -m bench.profile --workdir /tmp/xdmflow-bench --postgres

The other targets have their own small entry points (the first argument names them):

    python -m bench.profile api --workdir /tmp/xdmflow-bench --requests 500
    python -m bench.profile scheduler --workdir /tmp/xdmflow-bench --flows 10000 --tick idle --store postgres
    python -m bench.profile query --workdir /tmp/xdmflow-bench --rows 1000000 --queries 20

``api``: requests one at a time in this process through the ASGI app (``httpx.ASGITransport``;
the thread-pool hops run inline so that their work is profiled); ``scheduler``: one ``tick``
over ``--flows`` flows, all due (``firing``) or none due (``idle``, 20 ticks); ``query``:
statements through ``services.queries``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import PG_TABLE, PG_URL
from bench.systems.service import CRM, FS, BenchService


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/xdmflow-bench"))
    ap.add_argument("--source", default="full/tx.csv", help="path under WORKDIR/data")
    ap.add_argument("--postgres", action="store_true", help="profile the PostgreSQL flow instead")
    ap.add_argument("--html", help="also write pyinstrument's HTML report here")
    ap.add_argument("--interval", type=float, default=0.001)
    a = ap.parse_args()

    from pyinstrument import Profiler

    from xdmflow.runs.claim import claim_next
    from xdmflow.runs.execute import execute_run

    home = a.workdir / "homes" / "profile"
    if home.exists():
        shutil.rmtree(home)
    with BenchService(home, role="api") as svc:
        schema_id, ns = svc.target("profile")
        if a.postgres:
            src = svc.postgres_source(PG_URL, PG_TABLE)
            flow_id, _ = svc.flow(src, schema_id, ns, "profile", delta="updatedAt", spec=CRM)
        else:
            src = svc.files_source(a.workdir / "data", a.source)
            flow_id, _ = svc.flow(src, schema_id, ns, "profile")
        now = int(time.time())
        run = svc.call(
            "POST",
            f"{FS}/runs",
            json={
                "flowId": flow_id,
                "params": {"startTime": now, "windowStartTime": 0, "windowEndTime": now},
            },
        )
        run_id = run["id"] if "id" in run else run["items"][0]["id"]
        prof = Profiler(interval=a.interval)
        t0 = time.perf_counter()
        claim = claim_next(svc.ctx.db, "profile")
        assert claim is not None and claim.run_id == run_id, "the profiled run is the only queued run"
        with prof:
            execute_run(svc.ctx, claim)
        took = time.perf_counter() - t0
        got = svc.call("GET", f"{FS}/runs/{run_id}")["items"][0]
        print(f"run {run_id}: {got['state']} in {took:.2f} s, {got['metrics']['recordSummary']}")
        print(prof.output_text(unicode=True, color=False, show_all=False))
        if a.html:
            Path(a.html).write_text(prof.output_html(), encoding="utf-8")


def _print(prof: Any, head: str) -> None:
    print(head)
    print(prof.output_text(unicode=True, color=False, show_all=False))


def main_api(argv: list[str]) -> None:
    """Profile ``--requests`` GET /flows/{id} and GET /runs?property=flowId==… through the app."""
    import asyncio

    import httpx
    from pyinstrument import Profiler

    from bench.systems.populate import populate
    from bench.systems.service import FAR_FUTURE

    ap = argparse.ArgumentParser(prog="python -m bench.profile api")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/xdmflow-bench"))
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--runs-per-flow", type=int, default=3)
    ap.add_argument("--requests", type=int, default=500, help="requests per endpoint")
    ap.add_argument("--interval", type=float, default=0.001)
    a = ap.parse_args(argv)
    home = a.workdir / "homes" / "profile-api"
    if home.exists():
        shutil.rmtree(home)
    with BenchService(home, role="api") as svc:
        schedule = {"startTime": FAR_FUTURE, "frequency": "once"}
        ids = populate(svc, a.workdir / "data", a.flows, schedule=schedule, runs_per_flow=a.runs_per_flow)
        flow_id = ids[len(ids) // 2]
        paths = [f"{FS}/flows/{flow_id}", f"{FS}/runs?property=flowId=={flow_id}"]

        async def inline(func: Any, *args: Any, **_: Any) -> Any:
            return func(*args)

        # the thread-pool hops (sync endpoints and dependencies) run inline in the profiled
        # thread, so that their work shows instead of a wait; requests go one at a time anyway
        import anyio.to_thread

        anyio.to_thread.run_sync = inline  # type: ignore[assignment]

        async def load() -> float:
            transport = httpx.ASGITransport(app=svc.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", headers=svc.headers
            ) as c:
                for path in paths:  # warm-up (first-request caches)
                    (await c.get(path)).raise_for_status()
                prof = Profiler(interval=a.interval, async_mode="enabled")
                t0 = time.perf_counter()
                with prof:
                    for _ in range(a.requests):
                        for path in paths:
                            r = await c.get(path)
                            assert r.status_code == 200, r.text
                took = time.perf_counter() - t0
            _print(
                prof,
                f"api: {a.requests} × GET /flows/{{id}} + {a.requests} × GET /runs?property=flowId==… "
                f"in process in {took:.2f} s ({2 * a.requests / took:,.0f} req/s, one at a time)",
            )
            return took

        asyncio.run(load())


def main_scheduler(argv: list[str]) -> None:
    """Profile one scheduler tick over ``--flows`` flows (all due, or none due)."""
    from bench.systems.scheduler_bench import _drop, _pg_schema_url

    ap = argparse.ArgumentParser(prog="python -m bench.profile scheduler")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/xdmflow-bench"))
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--tick", choices=("firing", "idle"), default="firing")
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--interval", type=float, default=0.001)
    a = ap.parse_args(argv)
    home = a.workdir / "homes" / "profile-scheduler"
    if home.exists():
        shutil.rmtree(home)
    url, schema = _pg_schema_url() if a.store == "postgres" else (None, "")
    try:
        _profile_tick(a, home, url)
    finally:
        if schema:
            _drop(schema)


def _profile_tick(a: argparse.Namespace, home: Path, url: str | None) -> None:
    from pyinstrument import Profiler

    from bench.systems.populate import populate
    from xdmflow.scheduler.loop import tick

    with BenchService(home, database_url=url, role="api") as svc:
        start = int(time.time()) - 30
        schedule = {"startTime": start, "frequency": "minute", "interval": 15}
        populate(svc, a.workdir / "data", a.flows, schedule=schedule, log=False)
        db = svc.ctx.db
        if a.tick == "idle":
            tick(db, start + 1)  # every flow fired: the next tick finds none due
        prof = Profiler(interval=a.interval)
        t0 = time.perf_counter()
        ticks = 20 if a.tick == "idle" else 1  # an idle tick is short: 20 of them, for samples
        with prof:
            for i in range(ticks):
                made = tick(db, start + 2 + i if a.tick == "idle" else start + 1)
        took = (time.perf_counter() - t0) / ticks
        _print(
            prof,
            f"scheduler: {a.tick} tick over {a.flows:,} flows ({a.store}): {len(made):,} runs in {took:.3f} s"
            + (f" (each of {ticks} ticks)" if ticks > 1 else ""),
        )


def main_query(argv: list[str]) -> None:
    """Profile ``--queries`` statements of each bench query through ``services.queries``."""
    import tempfile

    from pyinstrument import Profiler

    from xdmflow.runtime import build_context
    from xdmflow.services import queries
    from xdmflow.settings import Settings

    ap = argparse.ArgumentParser(prog="python -m bench.profile query")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/xdmflow-bench"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=10, help="runs of each statement")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--interval", type=float, default=0.001)
    a = ap.parse_args(argv)
    a.workdir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="profile-query-", dir=a.workdir))
    settings = Settings(home=home, query_threads=a.threads, query_max_rows=a.rows + 1)
    ctx = build_context(settings)
    try:
        creds = ctx.credentials
        with ctx.db.session() as s:
            p = queries.principal_for(s, creds["org_id"], "prod", creds["client_id"])
        queries.run_statement(
            ctx,
            p,
            "CREATE TABLE bench_rows AS SELECT i AS id, CAST(i % 1000 AS DOUBLE) / 10 AS amount, "
            f"'c' || CAST(i % 20 AS VARCHAR) AS category FROM range({a.rows}) t(i)",
        )
        with ctx.db.session() as s:
            ref = queries.sandbox_catalog(s, queries.Scope(p.org_id, p.sandbox_name)).resolve("bench_rows")
        assert ref is not None
        col = ref.arrow_schema[0].name
        statements = (
            "SELECT count(*) FROM bench_rows",
            f"SELECT t.{col}.category, sum(t.{col}.amount) FROM bench_rows t "
            f"WHERE t.{col}.amount > 50 GROUP BY 1 ORDER BY 1",
            "SELECT * FROM bench_rows LIMIT 10",
        )
        for sql in statements:  # warm-up
            queries.run_statement(ctx, p, sql)
        prof = Profiler(interval=a.interval)
        t0 = time.perf_counter()
        with prof:
            for _ in range(a.queries):
                for sql in statements:
                    queries.run_statement(ctx, p, sql)
        took = time.perf_counter() - t0
        _print(
            prof,
            f"query: {a.queries} × (count(*), filtered GROUP BY, LIMIT 10) over {a.rows:,} rows "
            f"through services.queries in {took:.2f} s "
            f"({took / (3 * a.queries) * 1000:.0f} ms per statement)",
        )
    finally:
        ctx.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    import sys

    entry = {"api": main_api, "scheduler": main_scheduler, "query": main_query}
    if len(sys.argv) > 1 and sys.argv[1] in entry:
        entry[sys.argv[1]](sys.argv[2:])
    else:
        main()
