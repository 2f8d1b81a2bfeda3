"""Server time of each console page with 10,000 flows and 30,000 runs in the store:
``python -m bench.console_pages [--flows N] [--runs-per-flow M]``. Reports, asserts nothing
(the target is 200 ms a page). The store is filled with rows shaped like the services write them."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from xdmflow.api.app import create_app
from xdmflow.ids import new_uuid
from xdmflow.runs.queue import empty_metrics
from xdmflow.runtime import build_context
from xdmflow.settings import Settings
from xdmflow.store.tables import Document, FlowSchedule


def seed(app: object, flows: int, runs_per_flow: int) -> tuple[str, str]:
    ctx = app.state.ctx  # type: ignore[attr-defined]
    org = ctx.credentials["org_id"]
    now = int(time.time() * 1000)
    flow_rows, sched_rows, run_rows = [], [], []
    first_flow = first_run = ""
    for i in range(flows):
        fid = new_uuid()
        first_flow = first_flow or fid
        body = {
            "id": fid,
            "name": f"flow {i}",
            "state": "enabled",
            "createdAt": now + i,
            "flowSpec": {"id": "14518937-270c-4525-bdec-c2ba7cce3860", "version": "1.0"},
            "scheduleParams": {"startTime": str(now // 1000), "frequency": "hour", "interval": 1},
            "sourceConnectionIds": [],
            "targetConnectionIds": [],
            "transformations": [],
        }
        flow_rows.append(
            {
                "kind": "flow",
                "id": fid,
                "org_id": org,
                "sandbox_name": "prod",
                "name": body["name"],
                "state": "enabled",
                "etag": new_uuid(),
                "version": 1,
                "created_at": now + i,
                "updated_at": now + i,
                "body": body,
            }
        )
        sched_rows.append(
            {
                "flow_id": fid,
                "org_id": org,
                "sandbox_name": "prod",
                "enabled": True,
                "frequency": "hour",
                "interval": 1,
                "start_time": now // 1000,
                "backfill": False,
                "next_fire": now // 1000 + 3600,
            }
        )
        for j in range(runs_per_flow):
            rid = new_uuid()
            first_run = first_run or rid
            metrics = empty_metrics(now)
            metrics["durationSummary"]["completedAtUTC"] = now + 1000 + j
            metrics["recordSummary"] = {
                "inputRecordCount": 100,
                "outputRecordCount": 98,
                "failedRecordCount": 2,
            }
            run_rows.append(
                {
                    "kind": "run",
                    "id": rid,
                    "org_id": org,
                    "sandbox_name": "prod",
                    "parent_id": fid,
                    "state": "success",
                    "etag": new_uuid(),
                    "version": 1,
                    "created_at": now + i * 10 + j,
                    "updated_at": now,
                    "body": {
                        "id": rid,
                        "flowId": fid,
                        "state": "success",
                        "metrics": metrics,
                        "activities": [],
                    },
                }
            )
    with ctx.db.session() as s:
        for rows, table in ((flow_rows, Document), (sched_rows, FlowSchedule), (run_rows, Document)):
            for k in range(0, len(rows), 5000):
                s.execute(insert(table), rows[k : k + 5000])
    return first_flow, first_run


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, default=10_000)
    ap.add_argument("--runs-per-flow", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp()) / "home"
    with TestClient(create_app(Settings(home=home), context=build_context)) as client:
        t0 = time.perf_counter()
        flow_id, run_id = seed(client.app, args.flows, args.runs_per_flow)
        print(
            f"seeded {args.flows} flows and {args.flows * args.runs_per_flow} runs "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        creds = client.app.state.ctx.credentials  # type: ignore[attr-defined]
        r = client.post(
            "/signin",
            data={"client_id": creds["client_id"], "client_secret": creds["client_secret"]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        pages = [
            "/",
            "/flows",
            f"/flows?page={args.flows // 25}",
            f"/flows/{flow_id}",
            f"/runs/{run_id}",
            "/connections",
            "/datasets",
            "/schemas",
            "/sources",
        ]
        print(f"{'page':<48} {'server ms (median)':>18} {'max':>8}")
        for path in pages:
            times = []
            for _ in range(args.repeat):
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code)
                times.append(float(r.headers["server-timing"].split("dur=")[1]))
            label = path if len(path) < 46 else path[:43] + "..."
            print(f"{label:<48} {statistics.median(times):>18.1f} {max(times):>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
