"""A one-row flow run many times (1,000 by default) through the whole service: does a run stay as
fast on the 1,000th time as on the first?

Each run reads one new one-row CSV file of a Local Folder flow (the file increments of the flow
select it; the file of the run before is removed, so the folder's listing stays one file), maps
it and commits one Iceberg batch. The scheduler's lake maintenance runs every few
seconds with a short retention, as an operator of a busy service would set it, so snapshots
expire and small files are compacted while the runs go on.

Measured per run, from the run's own documents: its time (``durationSummary``, read start →
commit), its server-side wall time (``POST /runs`` → success), and the latency from the
``POST /runs`` to the worker marking it in progress. Reported: the medians and the 99th
percentile of the first and the last tenth of the runs, and the table's file counts at the end
(data, metadata) beside how many there would be without maintenance.

    python -m bench.systems.one_row_runs --workdir /tmp/xdmflow-bench --runs 1000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import Measurement, emit
from bench.systems.service import FS, BenchService
from xdmflow.lake.lake import namespace_for

_HEADER = (
    "transaction_id,updatedAt,amount,currency,first_name,last_name,payer_email,"
    "status,status_code,item_count,is_refund\n"
)


def _row(i: int) -> str:
    return f"t{i:07d},2026-01-01 00:00:00,{i % 100}.5,USD,Ann,Lee,ANN{i}@X.COM,COMPLETED,1,{i % 7},false\n"


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def _percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _runs_doc(svc: BenchService, flow_id: str, run_id: str, deadline: float) -> dict[str, Any]:
    while time.monotonic() < deadline:
        got: dict[str, Any] = svc.call("GET", f"{FS}/runs/{run_id}")["items"][0]
        if got["state"] in ("success", "failed"):
            if got["state"] != "success":
                raise RuntimeError(f"run {run_id} of {flow_id} failed: {str(got['metrics'])[:2000]}")
            return got
        time.sleep(0.005)
    raise RuntimeError(f"run {run_id} did not finish")


def run(workdir: Path, runs: int, maintenance_seconds: float) -> list[Measurement]:
    home = workdir / "homes" / "one-row-runs"
    if home.exists():
        shutil.rmtree(home)
    inbox = workdir / "data" / "one-row"
    if inbox.exists():
        shutil.rmtree(inbox)
    inbox.mkdir(parents=True)
    times: list[float] = []
    walls: list[float] = []
    pickups: list[float] = []
    with BenchService(
        home,
        role="all",  # the scheduler's maintenance job runs beside the worker
        pg_port=0,
        scheduler_interval_seconds=1.0,
        lake_maintenance_interval_seconds=maintenance_seconds,
        snapshot_retention_hours=0.0,
        snapshot_keep_last=10,
    ) as svc:
        schema_id, ns = svc.target("one-row")
        src = svc.files_source(inbox, "*.csv")
        flow_id, ds = svc.flow(src, schema_id, ns, "one-row runs")
        namespace = namespace_for(svc.ctx.credentials["org_id"], "prod")
        table = svc.ctx.lake.table_location(namespace, ds).removeprefix("file://")
        for i in range(runs):
            if i:  # the folder keeps one file: its listing does not grow with the runs
                (inbox / f"r{i - 1:05d}.csv").unlink()
            (inbox / f"r{i:05d}.csv").write_text(_HEADER + _row(i), encoding="utf-8")
            now = int(time.time())
            posted = svc.call(
                "POST",
                f"{FS}/runs",
                json={
                    "flowId": flow_id,
                    "params": {"startTime": now, "windowStartTime": 0, "windowEndTime": now},
                },
            )
            run_id = posted["id"] if "id" in posted else posted["items"][0]["id"]
            got = _runs_doc(svc, flow_id, run_id, time.monotonic() + 120)
            rec = got["metrics"]["recordSummary"]
            if rec["outputRecordCount"] != 1:
                raise RuntimeError(f"run {i} wrote {rec}")
            d = got["metrics"]["durationSummary"]
            times.append((d["completedAtUTC"] - d["startedAtUTC"]) / 1000)
            walls.append((got["updatedAt"] - got["createdAt"]) / 1000)
            pickups.append((d["startedAtUTC"] - got["createdAt"]) / 1000)
            if (i + 1) % max(runs // 10, 1) == 0:
                tenth = walls[-max(runs // 10, 1) :]
                print(
                    f"    one-row runs {i + 1}/{runs}: median wall of the last {len(tenth)} "
                    f"{statistics.median(tenth) * 1000:.0f} ms, data files {_count(Path(table) / 'data')}, "
                    f"metadata files {_count(Path(table) / 'metadata')}",
                    flush=True,
                )
        rows = svc.ctx.lake.scan(namespace, ds).num_rows
        data_files, metadata_files = _count(Path(table) / "data"), _count(Path(table) / "metadata")
    if rows != runs:
        raise RuntimeError(f"{runs} one-row runs left {rows} rows in the dataset")
    k = max(runs // 10, 1)
    first, last = slice(0, k), slice(runs - k, runs)
    extra = {
        "runs": runs,
        "first_tenth": {
            "median_run_ms": statistics.median(times[first]) * 1000,
            "median_wall_ms": statistics.median(walls[first]) * 1000,
            "p99_wall_ms": _percentile(walls[first], 0.99) * 1000,
            "median_pickup_ms": statistics.median(pickups[first]) * 1000,
        },
        "last_tenth": {
            "median_run_ms": statistics.median(times[last]) * 1000,
            "median_wall_ms": statistics.median(walls[last]) * 1000,
            "p99_wall_ms": _percentile(walls[last], 0.99) * 1000,
            "median_pickup_ms": statistics.median(pickups[last]) * 1000,
        },
        "data_files": data_files,
        "metadata_files": metadata_files,
        "rows_in_dataset": rows,
        "maintenance_seconds": maintenance_seconds,
    }
    m = Measurement(
        "xdmflow",
        f"one-row flow run {runs:,} times",
        1,
        seconds=walls,
        wall_seconds=walls,
        rows_out=rows,
        notes=(
            f"median wall, first {k} runs {extra['first_tenth']['median_wall_ms']:.0f} ms, "
            f"last {k} runs {extra['last_tenth']['median_wall_ms']:.0f} ms; "
            f"POST→in progress median {extra['last_tenth']['median_pickup_ms']:.0f} ms; "
            f"{data_files} data and {metadata_files} metadata files after {runs:,} runs"
        ),
        extra=extra,
    )
    return [m]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--maintenance-seconds", type=float, default=5.0)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    emit(a.json_out, run(a.workdir, a.runs, a.maintenance_seconds))


if __name__ == "__main__":
    main()
