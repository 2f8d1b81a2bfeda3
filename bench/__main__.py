"""``python -m bench``: regenerate the data, run every A/B pair (each system in its own child
process), write ``docs/performance.md`` and ``docs/performance.png``, print a summary.

    python -m bench                                  # everything, defaults below
    python -m bench --rows 200000 --big-rows 0 --only file,postgres --out /tmp/perf.md

Steps (``--only`` takes a comma-separated subset): ``file`` (1M-row file flow: xdmflow, DuckDB,
dlt Arrow, dlt dicts; CSV, plus Parquet and JSON lines for xdmflow and DuckDB), ``postgres``
(full + 1 % delta), ``incremental`` (new file beside the old one; one CSV rewritten in place),
``big`` (``--big-rows`` through the file flow, peak RSS), ``api`` (wrk vs a minimal FastAPI
app), ``scheduler`` (10,000 flows, SQLite and PostgreSQL), ``runs`` (a one-row flow run
``--one-row-runs`` times through the service with lake maintenance on: is the last run as fast
as the first? ``bench/systems/one_row_runs.py``), ``profile`` (pyinstrument of one
file-flow run, embedded in the report), ``stripe`` (``--stripe-rows`` charges through the Stripe
emulator over HTTP: xdmflow's pipeline vs dlt's REST API source), ``query`` (``--query-rows``
through the Query Service's PostgreSQL port with psql vs DuckDB on the same Parquet files:
``bench/query_bench.py``), ``dask`` (``--dask-rows`` through the file flow on the in-process
and the Dask executor, ``--dask-per-worker`` partitions per worker: ``bench/dask_flow.py``; its
figure is ``docs/performance-dask.png``). ``profile`` also profiles every target that misses
(``bench/profile.py``), written to ``docs/profiles/<case>.txt`` and linked from the target's row.

    python -m bench --only query --query-rows 100000 --repeat 1 --out /tmp/perf.md   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.common import Measurement

STEPS = (
    "file",
    "postgres",
    "incremental",
    "big",
    "api",
    "scheduler",
    "runs",
    "profile",
    "stripe",
    "query",
    "dask",
)
#: The steps that read the generated bench data (``bench.data.prepare``); ``query`` makes its own.
DATA_STEPS = {"file", "postgres", "incremental", "big", "profile"}


def _child(module: str, args: list[str], workdir: Path, tag: str) -> list[dict[str, Any]]:
    out = workdir / "results" / f"{tag}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    cmd = [sys.executable, "-m", module, "--workdir", str(workdir), *args, "--json-out", str(out)]
    print(f"  $ {' '.join(cmd[2:])}", flush=True)
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0 or not out.exists():
        print(f"  !! {tag} failed (exit {proc.returncode})", flush=True)
        return [
            asdict(
                Measurement(
                    "FAILED", tag, 0, notes=f"`python -m {module} {' '.join(args)}` exited {proc.returncode}"
                )
            )
        ]
    data: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))
    for d in data:
        d["step_tag"] = tag
    return data


def run_steps(a: argparse.Namespace, steps: list[str]) -> tuple[list[dict[str, Any]], str]:
    w = a.workdir
    r, rep = str(a.rows), str(a.repeat)
    res: list[dict[str, Any]] = []
    profile_text = ""
    if "file" in steps:
        for fmt in ("csv", "parquet", "jsonl"):
            res += _child(
                "bench.systems.duckdb_sys",
                ["--case", f"file-{fmt}", "--rows", r, "--repeat", rep],
                w,
                f"duckdb-{fmt}",
            )
            res += _child(
                "bench.systems.xdmflow_flow",
                ["--case", f"file-{fmt}", "--rows", r, "--repeat", rep],
                w,
                f"xdmflow-{fmt}",
            )
        res += _child(
            "bench.systems.dlt_sys", ["--case", "arrow", "--rows", r, "--repeat", rep], w, "dlt-arrow"
        )
        res += _child(
            "bench.systems.dlt_sys", ["--case", "dicts", "--rows", r, "--repeat", rep], w, "dlt-dicts"
        )
    if "postgres" in steps:
        from bench.data import load_mysql, load_postgres

        load_postgres(w / "data" / "full" / "tx.csv")  # a fresh table: the deltas of a previous run are gone
        res += _child(
            "bench.systems.xdmflow_flow",
            ["--case", "postgres", "--rows", r, "--repeat", rep],
            w,
            "xdmflow-postgres",
        )
        load_mysql(w / "data" / "full" / "tx.csv")  # the same rows in MariaDB, read beside PostgreSQL
        res += _child(
            "bench.systems.xdmflow_flow",
            ["--case", "mysql", "--rows", r, "--repeat", rep],
            w,
            "xdmflow-mysql",
        )
    if "incremental" in steps:
        res += _child(
            "bench.systems.xdmflow_flow",
            ["--case", "incremental-file", "--rows", r, "--repeat", rep],
            w,
            "xdmflow-incremental",
        )
        res += _child(
            "bench.systems.xdmflow_flow",
            ["--case", "rewrite-file", "--rows", r, "--repeat", rep],
            w,
            "xdmflow-rewrite",
        )
        res += _child(
            "bench.systems.duckdb_sys",
            ["--case", "rewrite-file", "--rows", r, "--repeat", rep],
            w,
            "duckdb-rewrite",
        )
    if "big" in steps and a.big_rows:
        br, brep = str(a.big_rows), str(a.big_repeat)
        res += _child(
            "bench.systems.xdmflow_flow",
            ["--case", "file-big", "--rows", br, "--repeat", brep],
            w,
            "xdmflow-big",
        )
    if "api" in steps:
        res += _child(
            "bench.systems.api_bench",
            [
                "--flows",
                str(a.flows),
                "--duration",
                str(a.api_duration),
                "--repeat",
                rep,
                "--connections",
                str(a.connections),
            ],
            w,
            "api",
        )
    if "scheduler" in steps:
        for store in ("sqlite", "postgres"):
            res += _child(
                "bench.systems.scheduler_bench",
                ["--store", store, "--flows", str(a.flows), "--repeat", rep],
                w,
                f"scheduler-{store}",
            )
    if "runs" in steps and a.one_row_runs:
        res += _child("bench.systems.one_row_runs", ["--runs", str(a.one_row_runs)], w, "one-row-runs")
    if "stripe" in steps and a.stripe_rows:
        for system in ("xdmflow", "dlt"):
            res += _child(
                "bench.systems.stripe_bench",
                ["--system", system, "--rows", str(a.stripe_rows), "--repeat", "1"],
                w,
                f"stripe-{system}",
            )
    if "query" in steps and a.query_rows:
        res += _child(
            "bench.query_bench",
            ["--rows", str(a.query_rows), "--repeat", rep, "--threads", str(a.query_threads)],
            w,
            "query",
        )
    if "dask" in steps and a.dask_rows:
        res += _child(
            "bench.dask_flow",
            [
                "--rows",
                str(a.dask_rows),
                "--files",
                str(a.dask_files),
                "--per-worker",
                a.dask_per_worker,
                "--configs",
                f"inprocess:{a.dask_workers},dask:{a.dask_workers}",
                "--repeat",
                rep,
            ],
            w,
            "dask",
        )
    if "profile" in steps:
        profile_text = _profile(w, ["--source", "full/tx.csv"], "file-csv")
    return res, profile_text


def _profile(w: Path, args: list[str], name: str) -> str:
    """``python -m bench.profile ARGS``: its output (or why it failed), kept in results/."""
    sub = args[:1] if args and not args[0].startswith("--") else []  # api, scheduler, query
    cmd = [sys.executable, "-m", "bench.profile", *sub, "--workdir", str(w), *args[len(sub) :]]
    print(f"  $ {' '.join(cmd[2:])}", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    text = proc.stdout if proc.returncode == 0 else f"profile failed: {proc.stderr[-2000:]}"
    (w / "results").mkdir(parents=True, exist_ok=True)
    (w / "results" / f"profile-{name}.txt").write_text(text, encoding="utf-8")
    return text


def profile_args(case: str, a: argparse.Namespace) -> list[str] | None:
    """The ``bench.profile`` arguments of a target's profile case (``report.targets``), or None."""
    w: Path = a.workdir
    flows = str(a.flows)
    if case.startswith("file-") and case != "file-big":
        return ["--source", f"full/tx.{case.removeprefix('file-')}"]
    if case == "file-big":
        return ["--source", "big/tx.csv"] if (w / "data" / "big" / "tx.csv").exists() else None
    if case == "postgres":
        return ["--postgres"]
    if case == "one-row":  # the first row of the bench data, as a file of its own
        src, dst = w / "data" / "full" / "tx.csv", w / "data" / "one-row" / "tx.csv"
        if not src.exists():
            return None
        dst.parent.mkdir(parents=True, exist_ok=True)
        with src.open(encoding="utf-8") as f:
            dst.write_text(f.readline() + f.readline(), encoding="utf-8")
        return ["--source", "one-row/tx.csv"]
    if case == "api":
        return ["api", "--flows", flows, "--requests", "300"]
    if case.startswith("scheduler-"):
        _, tick, store = case.split("-")
        return ["scheduler", "--flows", flows, "--tick", tick, "--store", store]
    if case == "query":
        return ["query", "--rows", str(min(a.query_rows or 1_000_000, 10_000_000)), "--queries", "5"]
    return None  # dask: explained in its section, no profile entry point


def profile_misses(a: argparse.Namespace, results: list[dict[str, Any]], file_csv: str) -> dict[str, str]:
    """Profile every target of ``results`` that misses: profile case → its text."""
    from bench import report

    args = {"rows": a.rows, "flows": a.flows, "big_rows": a.big_rows}
    cases = dict.fromkeys(t["profile"] for t in report.targets(results, args) if t["ok"] is False)
    out: dict[str, str] = {}
    for case in cases:
        if case is None:
            continue
        if case == "file-csv" and file_csv:
            out[case] = file_csv
            continue
        pargs = profile_args(case, a)
        if pargs is not None:
            out[case] = _profile(a.workdir, pargs, case)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per case (the table shows the median)")
    ap.add_argument("--big-rows", type=int, default=10_000_000, help="rows of the scale case (0 skips it)")
    ap.add_argument("--big-repeat", type=int, default=1, help="timed runs of the scale case")
    ap.add_argument("--flows", type=int, default=10_000, help="flows in the store (API and scheduler)")
    ap.add_argument("--api-duration", type=int, default=10, help="seconds of load per API measurement")
    ap.add_argument("--connections", type=int, default=8, help="concurrent keep-alive connections of wrk")
    ap.add_argument(
        "--one-row-runs", type=int, default=1000, help="runs of the one-row flow (runs step; 0 skips)"
    )
    ap.add_argument(
        "--stripe-rows",
        type=int,
        default=1_000_000,
        help="charges read through the Stripe emulator (0 skips)",
    )
    ap.add_argument(
        "--query-rows", type=int, default=10_000_000, help="rows of the Query Service step (0 skips)"
    )
    ap.add_argument("--query-threads", type=int, default=2, help="DuckDB threads of the query step")
    ap.add_argument("--dask-rows", type=int, default=4_000_000, help="rows of the dask step (0 skips it)")
    ap.add_argument("--dask-files", type=int, default=16, help="CSV files of the dask step")
    ap.add_argument("--dask-workers", type=int, default=2, help="Dask workers and in-process threads")
    ap.add_argument(
        "--dask-per-worker", default="1,2,3,4,8", help="partitions per worker the dask step sweeps"
    )
    ap.add_argument("--only", default="", help=f"comma-separated steps of {', '.join(STEPS)}")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/xdmflow-bench"))
    ap.add_argument("--out", type=Path, default=Path("docs/performance.md"))
    ap.add_argument(
        "--skip-data", action="store_true", help="reuse the data of the previous run in --workdir"
    )
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: write --out again from the last run saved in --workdir (results/run.json)",
    )
    a = ap.parse_args()
    steps = [s.strip() for s in a.only.split(",") if s.strip()] or list(STEPS)
    unknown = set(steps) - set(STEPS)
    if unknown:
        ap.error(f"unknown step(s) {', '.join(sorted(unknown))}; choose from {', '.join(STEPS)}")

    from bench import report

    a.workdir.mkdir(parents=True, exist_ok=True)
    saved = a.workdir / "results" / "run.json"
    if a.render_only:
        run = json.loads(saved.read_text(encoding="utf-8"))
    else:
        started = time.time()
        env_before = report.environment()
        print(
            f"xdmflow benchmark: steps {', '.join(steps)}, {a.rows:,} rows, {a.repeat} runs each, "
            f"work dir {a.workdir}",
            flush=True,
        )
        if not a.skip_data and DATA_STEPS & set(steps):
            from bench.data import prepare

            t0 = time.perf_counter()
            prepare(a.workdir, a.rows, a.big_rows if "big" in steps else 0, postgres=False)
            print(f"  data ready in {time.perf_counter() - t0:.0f} s", flush=True)
        results, profile_text = run_steps(a, steps)
        profiles = profile_misses(a, results, profile_text) if "profile" in steps else {}
        run = {
            "results": results,
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()},
            "steps": steps,
            "command": ("python -m bench " + " ".join(sys.argv[1:])).strip(),
            "started": started,
            "finished": time.time(),
            "env_before": env_before,
            "env_after": report.environment(),
            "profile_text": profile_text,
            "profiles": profiles,
        }
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(run, indent=1), encoding="utf-8")
    prof_dir = a.out.parent / "profiles"
    links: dict[str, str] = {}
    for case, text in run.get("profiles", {}).items():
        prof_dir.mkdir(parents=True, exist_ok=True)
        (prof_dir / f"{case}.txt").write_text(report.trim_profile(text) + "\n", encoding="utf-8")
        links[case] = f"profiles/{case}.txt"
    doc, summary = report.render(
        run["results"],
        args=run["args"],
        steps=run["steps"],
        command=run["command"],
        started=run["started"],
        finished=run["finished"],
        env_before=run["env_before"],
        env_after=run["env_after"],
        profile_text=run["profile_text"],
        png_name=a.out.with_suffix(".png").name,
        dask_section=report.dask_section(a.out.read_text(encoding="utf-8")) if a.out.exists() else "",
        profiles=links,
    )
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(doc, encoding="utf-8")
    report.plot(run["results"], a.out.with_suffix(".png"))
    dask_png = a.out.with_name(report.dask_png_name(a.out.with_suffix(".png").name))
    wrote = [str(a.out), str(a.out.with_suffix(".png"))]
    if report.plot_dask(run["results"], dask_png):
        wrote.append(str(dask_png))
    if links:
        wrote.append(f"{prof_dir}/ ({len(links)} profiles)")
    print(summary)
    print(f"wrote {', '.join(wrote)} ({(run['finished'] - run['started']) / 60:.0f} min of measuring)")


if __name__ == "__main__":
    main()
