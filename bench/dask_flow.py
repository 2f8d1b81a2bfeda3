"""The file flow on the Dask executor (local workers) beside the in-process executor.

Runs the whole service in this process (API + scheduler + worker, metadata in SQLite, lake on
local disk), creates an ad-hoc schema, a dataset and a local-files flow over ``--files`` CSV
files of PayPal-like rows (``bench/gen.py``: typed fields, about 0.1 % rows that do not cast),
and runs the flow once per executor configuration into a fresh dataset. Each run must commit
exactly one batch whose committed record count is the number of rows that cast (checked
against the generator) and whose ids are distinct (DuckDB over the committed files).

    python -m bench.dask_flow --rows 10000000 --files 8
    python -m bench.dask_flow --rows 300000 --configs inprocess:2,dask:2
    python -m bench.dask_flow --rows 4000000 --files 16 --per-worker 1,2,3,4,8 \
        --configs inprocess:2,dask:2 --workdir /tmp/xdmflow-bench --json-out /tmp/dask.json

Reported per configuration: the run's duration (its ``durationSummary``), rows/s, the number
of partitions, and the peak RSS of this process plus its children (the Dask workers).
``--per-worker`` sets the source's ``targetPartitions`` to workers × N (N partitions per unit of
parallelism; the planner's default is ``PARTITIONS_PER_WORKER``) for each N in turn.
``--json-out`` writes the runs as ``bench.common.Measurement`` records (the ``dask`` step of
``python -m bench``): system ``xdmflow <executor>:<workers>``, case ``dask-flow N per worker``,
``extra`` = ``{"config", "executor", "workers", "per_worker", "partitions", "exact"}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.csv as pacsv

LOCAL = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"
LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CLOUD = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
FS = "/data/foundation/flowservice"
SR = "/data/foundation/schemaregistry"
CAT = "/data/foundation/catalog"

FIELDS: dict[str, dict[str, Any]] = {
    "transaction_id": {"type": "string"},
    "payer_email": {"type": "string"},
    "first_name": {"type": "string"},
    "last_name": {"type": "string"},
    "amount": {"type": "number"},
    "currency": {"type": "string"},
    "status": {"type": "string"},
    "status_code": {"type": "string"},
    "updatedAt": {"type": "string", "format": "date-time"},
    "item_count": {"type": "integer"},
    "is_refund": {"type": "boolean"},
    "note": {"type": "string"},
}


def make_data(folder: Path, rows: int, files: int) -> tuple[int, int]:
    """``files`` CSV files of ``rows`` rows in all (reused when already there); ``(rows, bad rows)``."""
    from bench.gen import generate

    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "manifest.json"
    if manifest.exists():
        meta = json.loads(manifest.read_text())
        if meta["rows"] == rows and meta["files"] == files:
            return int(meta["rows"]), int(meta["bad"])
    for old in folder.glob("*.csv"):
        old.unlink()
    bad = 0
    per = -(-rows // files)
    for i in range(files):
        n = min(per, rows - i * per)
        table = generate(n, seed=1000 + i, start=i * per)
        bad += int(
            pc.sum(
                pc.or_(
                    pc.or_(
                        pc.equal(table["amount"], "12,34 EUR"),
                        pc.equal(table["updatedAt"], "2024-13-45 99:00:00"),
                    ),
                    pc.equal(table["item_count"], "three"),
                )
            ).as_py()
            or 0
        )
        pacsv.write_csv(table, folder / f"tx-{i:03d}.csv")
    manifest.write_text(json.dumps({"rows": rows, "files": files, "bad": bad}))
    return rows, bad


class PeakRss:
    """Samples the RSS of this process and its children (Dask workers) in a thread."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total = 0
            for p in [self.proc, *self.proc.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Api:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.ctx = client.app.state.ctx
        creds = self.ctx.credentials
        self.org = creds["org_id"]
        token = client.post(
            "/ims/token/v3",
            data={
                "grant_type": "client_credentials",
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
            },
        ).json()["access_token"]
        self.headers = {
            "Authorization": f"Bearer {token}",
            "x-api-key": creds["client_id"],
            "x-gw-ims-org-id": creds["org_id"],
            "x-sandbox-name": "prod",
        }

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        r = self.client.request(method, path, headers=headers, json=body)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json() if r.content else None


def make_flow(
    api: Api, root: Path, partial_percent: float, target_partitions: int | None = None
) -> tuple[str, str]:
    cls = api.call(
        "POST",
        f"{SR}/tenant/classes",
        {
            "title": "bench tx class",
            "type": "object",
            "allOf": [
                {"$ref": "https://ns.adobe.com/xdm/data/adhoc"},
                {"properties": {"_adhoc": {"type": "object", "properties": FIELDS}}},
            ],
        },
    )
    schema = api.call(
        "POST",
        f"{SR}/tenant/schemas",
        {"title": "bench tx", "type": "object", "allOf": [{"$ref": cls["$id"]}]},
    )
    ds = api.call(
        "POST",
        f"{CAT}/dataSets",
        {
            "name": "bench tx",
            "schemaRef": {"id": schema["$id"], "contentType": "application/vnd.adobe.xed+json;version=1"},
        },
    )[0].split("/")[-1]
    base = api.call(
        "POST",
        f"{FS}/connections",
        {
            "name": "bench files",
            "auth": {"specName": "Local Folder", "params": {"rootPath": str(root)}},
            "connectionSpec": {"id": LOCAL, "version": "1.0"},
        },
    )["id"]
    src = api.call(
        "POST",
        f"{FS}/sourceConnections",
        {
            "name": "bench source",
            "baseConnectionId": base,
            "data": {"format": "delimited"},
            "params": {"path": "*.csv"}
            | ({"targetPartitions": target_partitions} if target_partitions else {}),
            "connectionSpec": {"id": LOCAL, "version": "1.0"},
        },
    )["id"]
    tgt = api.call(
        "POST",
        f"{FS}/targetConnections",
        {
            "name": "bench lake",
            "data": {"format": "parquet_xdm"},
            "params": {"dataSetId": ds},
            "connectionSpec": {"id": LAKE, "version": "1.0"},
        },
    )["id"]
    flow = api.call(
        "POST",
        f"{FS}/flows",
        {
            "name": "bench flow",
            "flowSpec": {"id": CLOUD, "version": "1.0"},
            "sourceConnectionIds": [src],
            "targetConnectionIds": [tgt],
            "scheduleParams": {"startTime": str(int(time.time())), "frequency": "once"},
            "options": {"partialIngestionPercent": partial_percent},
        },
    )
    return str(flow["id"]), str(ds)


def wait_run(api: Api, flow_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = api.call("GET", f"{FS}/runs?property=flowId=={flow_id}")["items"]
        done = [r for r in runs if r["state"] in ("success", "failed")]
        if done:
            return dict(done[0])
        time.sleep(0.5)
    raise TimeoutError(f"the run of flow {flow_id} did not finish in {timeout} s")


def distinct_ids(paths: list[str]) -> tuple[int, int]:
    """``(rows, distinct transaction ids)`` over committed Parquet files (DuckDB)."""
    import duckdb

    con = duckdb.connect()
    try:
        files = [p.removeprefix("file://") for p in paths]
        sql = (
            "SELECT count(*), count(DISTINCT _adhoc.transaction_id) FROM read_parquet(?, union_by_name=true)"
        )
        # the ad-hoc namespace field has a generated name: find it from one file's schema
        cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [files[0]]).fetchall()]
        ns = next(c for c in cols if c.startswith("_"))
        sql = sql.replace("_adhoc", f'"{ns}"')
        n, d = con.execute(sql, [files]).fetchone()  # type: ignore[misc]
        return int(n), int(d)
    finally:
        con.close()


def _partitions(api: Api, batch_id: str | None) -> int | None:
    """The partition count of the run's batch (its Catalog metrics)."""
    if not batch_id:
        return None
    body = api.call("GET", f"{CAT}/batches/{batch_id}")
    count = body.get(batch_id, {}).get("metrics", {}).get("partitionCount")
    return int(count) if count is not None else None


def run_config(
    config: str,
    data: Path,
    home: Path,
    expected: int,
    bad: int,
    timeout: float,
    check_ids: bool,
    arrow_threads: int | None = None,
    per_worker: int | None = None,
) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from xdmflow.lake.lake import namespace_for
    from xdmflow.runtime import build_app
    from xdmflow.settings import Settings

    executor, _, workers = config.partition(":")
    settings = Settings(
        home=home,
        secret_key="bench-secret-key",
        executor=executor,
        workers=int(workers or 2),
        scheduler_interval_seconds=0.5,
        local_roots=[data],  # the operator opens the generated data folder to Local Folder connections
        pg_port=0,  # no Query Service port: not measured here, and 5433 may be taken
    )
    with PeakRss() as rss, TestClient(build_app(settings, role="all")) as client:
        api = Api(client)
        executor = api.ctx.executor  # start the executor (a Dask cluster) before the clock runs
        warm_up = getattr(executor, "warm_up", None)
        if warm_up is not None:  # a long-lived cluster has its modules imported already
            warm_up()
        if arrow_threads:  # one core per worker: Arrow's own pool may not use the others
            import pyarrow as pa

            pa.set_cpu_count(arrow_threads)
            if warm_up is not None:
                executor.client.run(pa.set_cpu_count, arrow_threads)
        target = int(workers or 2) * per_worker if per_worker else None
        flow_id, ds = make_flow(api, data, partial_percent=1.0, target_partitions=target)
        t0 = time.monotonic()
        run = wait_run(api, flow_id, timeout)
        wall = time.monotonic() - t0
        lake = api.ctx.lake
        ns = namespace_for(api.org, "prod")
        snaps = lake.snapshots(ns, ds)
        batch_id = snaps[0].batch_id if snaps else None
        committed = lake.batch_snapshot(ns, ds, batch_id) if batch_id else None
        rec = run["metrics"]["recordSummary"]
        summary = run["metrics"]["durationSummary"]
        seconds = (summary["completedAtUTC"] - summary["startedAtUTC"]) / 1000
        out: dict[str, Any] = {
            "config": config + (f" (arrow threads {arrow_threads})" if arrow_threads else ""),
            "state": run["state"],
            "seconds": round(seconds, 2),
            "wall_seconds": round(wall, 2),
            "rows_per_s": int(rec["inputRecordCount"] / seconds) if seconds else None,
            "input": rec["inputRecordCount"],
            "output": rec["outputRecordCount"],
            "failed": rec["failedRecordCount"],
            "snapshots": len(snaps),
            "committed_records": committed.record_count if committed else 0,
            "data_files": len(committed.data_files) if committed else 0,
            "peak_rss_mb": 0,
            "per_worker": per_worker,
            "partitions": _partitions(api, batch_id),
        }
        if committed is not None and check_ids:
            n, d = distinct_ids(committed.data_files)
            out["distinct_ids"] = d
            assert n == d == expected - bad, (n, d, expected - bad)
        ok = (
            run["state"] == "success"
            and len(snaps) == 1
            and rec["inputRecordCount"] == expected
            and rec["failedRecordCount"] == bad
            and out["committed_records"] == rec["outputRecordCount"] == expected - bad
        )
        out["exact"] = ok
    out["peak_rss_mb"] = round(rss.peak / 2**20)
    return out


def measurements(results: list[dict[str, Any]], rows: int, bad: int) -> list[dict[str, Any]]:
    """The runs as ``bench.common.Measurement`` records, one per configuration and sweep point."""
    from dataclasses import asdict

    from bench.common import Measurement

    out: dict[tuple[str, Any], Measurement] = {}
    for r in results:
        config = r["config"].split(" ")[0]
        executor, _, workers = config.partition(":")
        pw = r.get("per_worker")
        case = f"dask-flow {pw} per worker" if pw else "dask-flow default"
        m = out.get((config, pw))
        if m is None:
            m = out[(config, pw)] = Measurement(
                f"xdmflow {config}",
                case,
                rows,
                rows_out=rows - bad,
                rejected=bad,
                extra={
                    "config": r["config"],
                    "executor": executor,
                    "workers": int(workers or 2),
                    "per_worker": pw,
                    "partitions": r.get("partitions"),
                    "exact": True,
                },
            )
        m.seconds.append(r["seconds"])
        m.wall_seconds.append(r["wall_seconds"])
        m.peak_rss_mb = max(m.peak_rss_mb, float(r["peak_rss_mb"]))
        m.extra["exact"] = m.extra["exact"] and bool(r["exact"])
    return [asdict(m) for m in out.values()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--configs", default="inprocess:1,inprocess:2,dask:2", help="executor:workers,...")
    ap.add_argument("--data", type=Path, default=None, help="folder for the generated CSV files (kept)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (median reported)")
    ap.add_argument("--no-id-check", action="store_true", help="skip the DuckDB distinct-id check")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument(
        "--arrow-threads",
        type=int,
        default=None,
        help="size of Arrow's CPU pool in every process (default: cores)",
    )
    ap.add_argument(
        "--per-worker",
        default="",
        help="comma-separated partitions per unit of parallelism to sweep (default: the planner's own)",
    )
    ap.add_argument("--workdir", type=Path, default=None, help="the bench work dir (data under it)")
    ap.add_argument("--json-out", type=Path, default=None, help="write Measurement records here")
    a = ap.parse_args()
    if a.data is None and a.workdir is not None:
        a.data = a.workdir / "data" / f"dask-{a.rows}-{a.files}"
    data = a.data or Path(tempfile.gettempdir()) / f"xdmflow-bench-dask-{a.rows}-{a.files}"
    t = time.monotonic()
    rows, bad = make_data(data, a.rows, a.files)
    size = sum(p.stat().st_size for p in data.glob("*.csv"))
    took = time.monotonic() - t
    print(f"data: {rows:,} rows ({bad:,} bad) in {a.files} CSV files, {size / 2**20:,.0f} MiB ({took:.1f} s)")
    configs = a.configs.split(",")
    sweep: list[int | None] = [int(x) for x in a.per_worker.split(",") if x.strip()] or [None]
    results: list[dict[str, Any]] = []
    for _ in range(a.repeat):  # interleaved, so that load changes hit every configuration alike
        for per_worker in sweep:
            for config in configs:
                with tempfile.TemporaryDirectory(prefix="xdmflow-bench-", dir=a.workdir) as home:
                    res = run_config(
                        config,
                        data,
                        Path(home),
                        rows,
                        bad,
                        a.timeout,
                        not a.no_id_check,
                        a.arrow_threads,
                        per_worker,
                    )
                results.append(res)
                print(json.dumps(res), flush=True)
    if a.json_out:
        a.json_out.write_text(json.dumps(measurements(results, rows, bad), indent=1), encoding="utf-8")
        if not all(r["exact"] for r in results):
            raise SystemExit("a run did not commit exactly one batch with the exact row count")
        return
    table = []
    for config in configs:
        runs = [r for r in results if r["config"].split(" ")[0] == config]
        secs = sorted(r["seconds"] for r in runs)
        table.append(
            {
                "config": runs[0]["config"],
                "median": secs[len(secs) // 2],
                "runs": secs,
                "rss": max(r["peak_rss_mb"] for r in runs),
                "exact": all(r["exact"] for r in runs),
            }
        )
    base = next((row for row in table if row["config"].startswith("inprocess")), None)
    print()
    title = base["config"] if base else "-"
    head = f"| executor | run time (median of {a.repeat}) | runs | rows/s | speed-up vs {title}"
    print(head + " | peak RSS | exact |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in table:
        speed = f"{base['median'] / row['median']:.2f}×" if base and row["median"] else "-"
        runs_text = ", ".join(f"{x:.1f}" for x in row["runs"])
        rate = int(rows / row["median"])
        print(
            f"| {row['config']} | {row['median']:.1f} s | {runs_text} | {rate:,} | {speed} | "
            f"{row['rss']:,} MB | {'yes' if row['exact'] else 'NO'} |"
        )
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))
    if not all(r["exact"] for r in results):
        raise SystemExit("a run did not commit exactly one batch with the exact row count")


if __name__ == "__main__":
    main()
