"""Scheduler: 10,000 enabled flows in the metadata store, one ``xdmflow.scheduler.loop.tick``.

Two ticks are timed per store (SQLite and PostgreSQL):

* **idle tick** — every flow enabled, none due (the steady state of a scheduler that runs
  every few seconds over flows firing every 15 minutes or less often);
* **firing tick** — every flow due at once (a cold start after downtime): the tick queues one
  run per flow; runs fired per second = flows / tick time.

    python -m bench.systems.scheduler_bench --workdir /tmp/xdmflow-bench --store sqlite --flows 10000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
import uuid
from pathlib import Path

from bench.common import PG_URL, Measurement, Timer, emit
from bench.systems.populate import populate
from bench.systems.service import BenchService


def _pg_schema_url() -> tuple[str, str]:
    import psycopg

    schema = "xf_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    base = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}?options=-csearch_path%3D{schema}", schema


def _drop(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _cpu() -> float:
    """This process's CPU time (user + system): the tick's own cost, whatever else the machine runs."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(workdir: Path, store: str, flows: int, repeat: int) -> list[Measurement]:
    from xdmflow.scheduler.loop import tick

    home = workdir / "homes" / f"scheduler-{store}"
    if home.exists():
        shutil.rmtree(home)
    url, schema = _pg_schema_url() if store == "postgres" else (None, "")
    idle = Measurement("xdmflow scheduler", f"idle tick, {flows:,} flows ({store})", flows)
    firing = Measurement("xdmflow scheduler", f"firing tick, {flows:,} flows due ({store})", flows)
    try:
        with BenchService(home, database_url=url, role="api") as svc:
            now = int(time.time())
            # a 15-minute schedule that started 30 s ago: the first fire (startTime) is due now
            start = now - 30
            populate(
                svc,
                workdir / "data",
                flows,
                schedule={"startTime": start, "frequency": "minute", "interval": 15},
            )
            db = svc.ctx.db
            cpu: list[float] = []
            for i in range(repeat):
                # the fire at `start + i*15min` is due when the clock reads start + i*900 + 1
                t_fire = start + i * 900 + 1
                cpu0 = _cpu()
                with Timer() as t:
                    made = tick(db, t_fire)
                cpu.append(_cpu() - cpu0)
                assert len(made) == flows, (len(made), flows)
                firing.seconds.append(t.seconds)
                with Timer() as t2:
                    again = tick(db, t_fire + 1)
                assert again == [], len(again)
                idle.seconds.append(t2.seconds)
                print(
                    f"    scheduler {store} {i + 1}: firing tick {t.seconds:.2f} s "
                    f"({flows / t.seconds:,.0f} runs/s, {cpu[-1]:.2f} s CPU in this process), "
                    f"idle tick {t2.seconds * 1000:.1f} ms",
                    flush=True,
                )
        firing.extra["runs_per_second"] = [flows / s for s in firing.seconds]
        firing.extra["cpu_seconds"] = cpu
        firing.rows_out = flows
    finally:
        if schema:
            _drop(schema)
    return [idle, firing]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    emit(a.json_out, run(a.workdir, a.store, a.flows, a.repeat))


if __name__ == "__main__":
    main()
