"""Profile one xdmflow flow run with pyinstrument (the run executes in this thread).

The service runs with the API role only (no worker); the run is queued with ``POST /runs`` and
executed here by ``execute_run`` under the profiler, so the profile is the run's own work.

    python -m bench.profile --workdir /tmp/xdmflow-bench --source full/tx.csv --html /tmp/prof.html
    python -m bench.profile --workdir /tmp/xdmflow-bench --postgres
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

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


if __name__ == "__main__":
    main()
