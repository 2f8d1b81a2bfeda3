# ruff: noqa: E501  (markdown table rows and prose read better unwrapped)
"""Turn the measurements of one ``python -m bench`` run into ``docs/performance.md`` and a PNG."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import statistics
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["environment", "render", "plot", "plot_dask", "dask_section", "targets", "trim_profile"]

R = dict[str, Any]
#: What was changed, tried and left, one file per topic (README.md first, then by name).
NOTES = Path(__file__).with_name("notes")


def environment() -> dict[str, Any]:
    """Cores, memory, CPU model, load average and versions of everything measured."""
    import psutil

    env: dict[str, Any] = {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load": tuple(round(x, 2) for x in os.getloadavg()),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                env["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in (
        "xdmflow",
        "pyarrow",
        "duckdb",
        "dlt",
        "fastapi",
        "uvicorn",
        "sqlalchemy",
        "pyiceberg",
        "psycopg",
    ):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod)
        except Exception:
            versions[mod] = "?"
    import sqlite3

    versions["sqlite"] = sqlite3.sqlite_version
    try:
        import psycopg

        from bench.common import PG_URL

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            versions["postgresql"] = str(row[0]).split()[0] if row else "?"
    except Exception:
        versions["postgresql"] = "unreachable"
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
        versions["wrk"] = (out.stdout or out.stderr).split()[1] if (out.stdout or out.stderr) else "?"
    env["versions"] = versions
    env["commit"] = _commit()
    return env


def _commit() -> str:
    """``git describe``-like: the commit of the checkout, ``+dirty`` with uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + ("+dirty" if dirty else "")


# -- helpers -----------------------------------------------------------------------------------
def _find(results: list[R], system: str, case: str) -> R | None:
    for r in results:
        if r["system"] == system and r["case"] == case and r.get("seconds"):
            return r
    return None


def _med(r: R | None, key: str = "seconds") -> float | None:
    if r is None or not r.get(key):
        return None
    return float(statistics.median(r[key]))


def _rate(r: R | None) -> float | None:
    m = _med(r)
    return r["rows"] / m if r is not None and m else None


def _s(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f} s"


def _span(r: R | None, key: str = "seconds", scale: float = 1.0, unit: str = " s", digits: int = 2) -> str:
    if r is None or not r.get(key):
        return "—"
    vals = [v * scale for v in r[key]]
    return f"{min(vals):.{digits}f}–{max(vals):.{digits}f}{unit}"


def _n(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}×"


def _mb(r: R | None) -> str:
    return "—" if r is None else f"{r['peak_rss_mb']:,.0f} MB"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("**holds**" if ok else "**miss**")


API_ENDPOINTS = ("GET /flows/{id}", "GET /runs?property=flowId==…")
QUERY_CASES = ("count(*)", "filtered GROUP BY sum(amount)", "SELECT * LIMIT 10")
#: the Dask step's sweep point that the target row reads: the planner's own partitions per worker
DASK_DEFAULT_PER_WORKER = 3


def _ticks(results: list[R], flows: int) -> tuple[dict[str, R | None], dict[str, R | None]]:
    idle = {
        st: _find(results, "xdmflow scheduler", f"idle tick, {flows:,} flows ({st})")
        for st in ("sqlite", "postgres")
    }
    fire = {
        st: _find(results, "xdmflow scheduler", f"firing tick, {flows:,} flows due ({st})")
        for st in ("sqlite", "postgres")
    }
    return idle, fire


def _mysql(results: list[R], suffix: str = "full") -> R | None:
    """The MySQL/MariaDB case of the ``postgres`` step: case ``mysql`` (or ``mysql full``)."""
    for case in (f"mysql {suffix}", "mysql") if suffix == "full" else (f"mysql {suffix}",):
        r = _find(results, "xdmflow", case)
        if r is not None:
            return r
    return None


def _big(results: list[R]) -> R | None:
    return next(
        (r for r in results if r["system"] == "xdmflow" and r["case"] == "file-big" and r.get("seconds")),
        None,
    )


def dask_points(results: list[R]) -> list[tuple[int | None, R | None, R | None]]:
    """``(per worker, in-process result, Dask result)`` of the ``dask`` step, by per worker."""
    pts: dict[int | None, dict[str, R]] = {}
    for r in results:
        if r["case"].startswith("dask-flow") and r.get("seconds") and r["system"].startswith("xdmflow "):
            kind = r.get("extra", {}).get("executor") or r["system"].split()[1].split(":")[0]
            pts.setdefault(r.get("extra", {}).get("per_worker"), {})[kind] = r
    return [(k, v.get("inprocess"), v.get("dask")) for k, v in sorted(pts.items(), key=lambda kv: kv[0] or 0)]


def targets(results: list[R], args: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the report: ``name``, ``measured``, ``ok`` (``None``: not measured or no
    target), ``profile`` (the ``bench.profile`` case that explains a miss, or ``None``)."""
    rows = int(args["rows"])
    flows = int(args["flows"])
    out: list[dict[str, Any]] = []

    def target(name: str, measured: str, ok: bool | None, profile: str | None = None, **kw: Any) -> None:
        out.append({"name": name, "measured": measured, "ok": ok, "profile": profile, **kw})

    duck = {f: _find(results, "DuckDB", f"file-{f}") for f in ("csv", "parquet", "jsonl")}
    ours = {f: _find(results, "xdmflow", f"file-{f}") for f in ("csv", "parquet", "jsonl")}
    anchor = _rate(duck["csv"])
    for fmt, label in (("csv", "CSV"), ("parquet", "Parquet"), ("jsonl", "JSON lines")):
        r_fmt = _ratio(_rate(ours[fmt]), _rate(duck[fmt]))
        target(
            f"file flow rows/s ≥ 1.0 × DuckDB's on the same data ({label}, {rows:,} rows)",
            _x(r_fmt),
            None if r_fmt is None else r_fmt >= 1.0,
            f"file-{fmt}",
        )
    r_dlta = _ratio(_rate(ours["csv"]), _rate(_find(results, "dlt (Arrow)", "file-csv")))
    target(
        "file flow rows/s ≥ 1.5 × dlt from Arrow (CSV)",
        _x(r_dlta),
        None if r_dlta is None else r_dlta >= 1.5,
        "file-csv",
    )
    r_dltd = _ratio(_rate(ours["csv"]), _rate(_find(results, "dlt (dicts)", "file-csv")))
    target(
        "file flow rows/s ≥ 20 × dlt from Python dicts (CSV)",
        _x(r_dltd),
        None if r_dltd is None else r_dltd >= 20,
        "file-csv",
    )
    st_ours = _find(results, "xdmflow", "stripe charges (HTTP)")
    st_dlt = _find(results, "dlt (REST API source)", "stripe charges (HTTP)")
    if st_ours is not None or st_dlt is not None:
        r_st = _ratio(_rate(st_ours), _rate(st_dlt))
        rates = " vs ".join(f"{x:,.0f} rows/s" if x else "—" for x in (_rate(st_ours), _rate(st_dlt)))
        target(
            f"Stripe charges through the emulator over HTTP ({(st_ours or st_dlt or {}).get('rows', 0):,}): "
            "xdmflow ≥ dlt's REST API source",
            f"{rates} ({_x(r_st)})",
            None if r_st is None else r_st >= 1.0,
        )
    for q_case in QUERY_CASES:
        q_o = _find(results, "xdmflow (psycopg)", f"query {q_case}")
        if q_o is None:
            continue
        q_r = _ratio(_med(_find(results, "DuckDB (read_parquet)", f"query {q_case}")), _med(q_o))
        target(
            f"Query Service `{q_case}` through the PostgreSQL port ({q_o['rows']:,} rows) "
            "≥ 0.8 × DuckDB on the same Parquet files",
            _x(q_r),
            None if q_r is None else q_r >= 0.8,
            "query",
        )
    q_first = _find(results, "xdmflow (psycopg)", "query first row of LIMIT 10")
    if q_first is not None:
        first_s = _med(q_first)
        target(
            f"Query Service: first row of `SELECT * LIMIT 10` ({q_first['rows']:,} rows) < 200 ms",
            "—" if first_s is None else f"{first_s * 1000:.0f} ms",
            None if first_s is None else first_s < 0.2,
            "query",
        )
    pg_full = _find(results, "xdmflow", "postgres full")
    r_pg = _ratio(_rate(pg_full), anchor)
    target(
        "PostgreSQL flow rows/s ≥ 0.6 × DuckDB's file anchor (CSV)",
        _x(r_pg),
        None if r_pg is None else r_pg >= 0.6,
        "postgres",
    )
    my_full = _mysql(results)
    r_my = _ratio(_rate(my_full), anchor)
    target(
        "MySQL/MariaDB flow rows/s (measured, no target)",
        "—" if my_full is None else f"{_n(_rate(my_full))} rows/s ({_x(r_my)} DuckDB's CSV anchor)",
        None,
        verdict="no target",
    )
    i_sql = _ratio(_med(_find(results, "xdmflow", "postgres 1 %")), _med(pg_full))
    target(
        "incremental, SQL source (1 % rows changed) ≤ 10 % of a full run",
        "—" if i_sql is None else f"{i_sql:.1%}",
        None if i_sql is None else i_sql <= 0.10,
        "postgres",
    )
    i_file = _ratio(
        _med(_find(results, "xdmflow", "incremental-file 1 %")),
        _med(_find(results, "xdmflow", "incremental-file full")),
    )
    target(
        "incremental, file source (1 % new rows in a new file) ≤ 10 % of a full run",
        "—" if i_file is None else f"{i_file:.1%}",
        None if i_file is None else i_file <= 0.10,
    )
    i_rw = _ratio(
        _med(_find(results, "xdmflow", "rewrite-file +1 %")),
        _med(_find(results, "xdmflow", "rewrite-file full")),
    )
    i_rw_duck = _ratio(_med(_find(results, "DuckDB", "rewrite-file +1 %")), _med(duck["csv"]))
    target(
        "(no target) one CSV rewritten in place with 1 % more rows",
        f"{'—' if i_rw is None else f'{i_rw:.0%}'} of a full run (DuckDB, filtering on the watermark: "
        f"{'—' if i_rw_duck is None else f'{i_rw_duck:.0%}'})",
        None,
        verdict="cannot skip data",
    )
    big = _big(results)
    big_rows = int(args["big_rows"])
    big_rss = big["peak_rss_mb"] if big else None
    target(
        f"{big_rows:,}-row file flow peak RSS ≤ 1 GB",
        "—" if big_rss is None else f"{big_rss:,.0f} MB",
        None if big_rss is None else big_rss <= 1024,
        "file-big",
    )
    r_big = _ratio(_rate(big), _rate(ours["csv"]))
    target(
        f"{big_rows:,}-row file flow rows/s within 10 % of the {rows:,}-row CSV figure (≥ 0.9 ×)",
        "—" if r_big is None else f"{_n(_rate(big))} vs {_n(_rate(ours['csv']))} rows/s ({_x(r_big)})",
        None if r_big is None else r_big >= 0.9,
        "file-big",
    )
    one = next((r for r in results if r["case"].startswith("one-row flow run") and r.get("extra")), None)
    if one is not None:
        e = one["extra"]
        first, last = e["first_tenth"], e["last_tenth"]
        grow = _ratio(last["median_wall_ms"], first["median_wall_ms"])
        target(
            f"a one-row flow run {e['runs']:,} times keeps its run time flat "
            "(median of the last tenth ≤ 1.25 × the first tenth's)",
            f"{first['median_wall_ms']:.0f} ms → {last['median_wall_ms']:.0f} ms ({_x(grow)}); "
            f"{e['data_files']} data, {e['metadata_files']} metadata files at the end",
            None if grow is None else grow <= 1.25,
            "one-row",
        )
        target(
            "a one-row run ≤ 300 ms, POST /runs → executing ≤ 50 ms (medians of the last tenth)",
            f"{last['median_wall_ms']:.0f} ms, {last['median_pickup_ms']:.0f} ms (p99 {last['p99_wall_ms']:.0f} ms)",
            last["median_wall_ms"] <= 300 and last["median_pickup_ms"] <= 50,
            "one-row",
        )
    for name in API_ENDPOINTS:
        a_ours = _find(results, "xdmflow API", name)
        a_min = _find(results, "minimal FastAPI", name)
        rps_o = statistics.median(a_ours["extra"]["rps"]) if a_ours else None
        rps_m = statistics.median(a_min["extra"]["rps"]) if a_min else None
        rr = _ratio(rps_o, rps_m)
        target(
            f"API {name}: ≥ 0.5 × the minimal endpoint's requests/s",
            _x(rr),
            None if rr is None else rr >= 0.5,
            "api",
        )
        p99 = statistics.median(a_ours["extra"]["p99_ms"]) if a_ours else None
        target(
            f"API {name}: p99 ≤ 50 ms at that load",
            "—" if p99 is None else f"{p99:.1f} ms",
            None if p99 is None else p99 <= 50,
            "api",
        )
    idle, fire = _ticks(results, flows)
    for st in ("sqlite", "postgres"):
        idle_s = _med(idle[st])
        target(
            f"scheduler idle tick with {flows:,} enabled flows ≤ 10 ms ({st})",
            "—" if idle_s is None else f"{idle_s * 1000:.1f} ms",
            None if idle_s is None else idle_s <= 0.010,
            f"scheduler-idle-{st}",
        )
    for st in ("sqlite", "postgres"):
        fire_s = _med(fire[st])
        target(
            f"scheduler tick firing {flows:,} due flows ≤ 2 s ({st})",
            "—" if fire_s is None else f"{fire_s:.2f} s, {flows / fire_s:,.0f} runs/s",
            None if fire_s is None else fire_s <= 2.0,
            f"scheduler-firing-{st}",
        )
    pts = {pw: (i, d) for pw, i, d in dask_points(results)}
    i_r, d_r = pts.get(DASK_DEFAULT_PER_WORKER) or pts.get(None) or (None, None)
    if i_r is not None or d_r is not None:
        r_dask = _ratio(_rate(d_r), _rate(i_r))
        workers = (d_r or i_r or {}).get("extra", {}).get("workers", 2)
        target(
            f"Dask ({workers} local workers) rows/s ≥ in-process ({workers} threads) on this machine "
            f"({(d_r or i_r or {}).get('rows', 0):,} rows, the planner's partitions)",
            f"{_n(_rate(d_r))} vs {_n(_rate(i_r))} rows/s ({_x(r_dask)})",
            None if r_dask is None else r_dask >= 1.0,
            "dask",
        )
    return out


# -- the document -------------------------------------------------------------------------------
def render(
    results: list[R],
    *,
    args: dict[str, Any],
    steps: list[str],
    command: str,
    started: float,
    finished: float,
    env_before: dict[str, Any],
    env_after: dict[str, Any],
    profile_text: str,
    png_name: str,
    dask_section: str = "",
    profiles: dict[str, str] | None = None,
) -> tuple[str, str]:
    """``(markdown, console summary)``. ``profiles``: profile case (a target's ``profile``) → the
    link of its text next to the document, linked from the target's row when it misses.
    ``dask_section``: the Dask section of the previous document, kept when this run has no
    ``dask`` step."""
    profiles = profiles or {}
    rows = int(args["rows"])
    day = dt.datetime.fromtimestamp(started, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    v = env_before["versions"]
    out: list[str] = []
    add = out.append
    add("# Performance\n")
    add(
        "Measured side by side on the same machine in the same run, each system in its own child "
        "process (so peak RSS is its own); ratios are what count, absolute numbers depend on the machine "
        "and on what else ran on it.\n"
    )
    add(
        f"Produced by: `{command}` (from the repository root; {(finished - started) / 60:.0f} minutes here). "
        f"Commit: `{env_before.get('commit', '?')}`. Date: {day}.\n"
    )
    add(
        f"Run: {day}, {(finished - started) / 60:.0f} min. Machine: {env_before['cores']} cores ({env_before['cpu']}), "
        f"{env_before['memory_gb']} GB RAM; load average {env_before['load'][0]} before, {env_after['load'][0]} "
        "after (the machine was shared with other work during the run: CPU contention inflates every "
        "absolute time, and a system measured during a busier moment looks slower)."
        if env_before["load"][0] > 0.5 or env_after["load"][0] > 0.5
        else f"Run: {day}. Machine: {env_before['cores']} cores ({env_before['cpu']}), {env_before['memory_gb']} GB RAM."
    )
    add("")
    add(
        "Versions: Python "
        + env_before["python"]
        + ", "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + ".\n"
    )
    failed = [r for r in results if r["system"] == "FAILED"]
    if failed:
        add(
            "**Steps that failed in this run:** "
            + "; ".join(f"{r['case']} ({r['notes']})" for r in failed)
            + "\n"
        )
    if set(steps) - {"stripe", "query", "runs", "dask"} != {
        "file",
        "postgres",
        "incremental",
        "big",
        "api",
        "scheduler",
        "profile",
    }:
        add(f"Steps run: {', '.join(steps)} (a partial run).\n")

    # ---- figures
    duck = {f: _find(results, "DuckDB", f"file-{f}") for f in ("csv", "parquet", "jsonl")}
    ours = {f: _find(results, "xdmflow", f"file-{f}") for f in ("csv", "parquet", "jsonl")}
    dlt_a = _find(results, "dlt (Arrow)", "file-csv")
    dlt_d = _find(results, "dlt (dicts)", "file-csv")
    pg_full = _find(results, "xdmflow", "postgres full")
    pg_inc = _find(results, "xdmflow", "postgres 1 %")
    nf_full = _find(results, "xdmflow", "incremental-file full")
    nf_inc = _find(results, "xdmflow", "incremental-file 1 %")
    rw_full = _find(results, "xdmflow", "rewrite-file full")
    rw_inc = _find(results, "xdmflow", "rewrite-file +1 %")
    rw_duck = _find(results, "DuckDB", "rewrite-file +1 %")
    big = _big(results)
    my_full, my_inc = _mysql(results), _mysql(results, "1 %")
    anchor = _rate(duck["csv"])

    # ---- targets
    add("## Targets\n")
    add("| target | measured | verdict |")
    add("| --- | --- | --- |")
    t_summary: list[str] = []
    for t in targets(results, args):
        verdict = t["verdict"] if "verdict" in t else _verdict(t["ok"])
        link = profiles.get(t["profile"] or "") if t["ok"] is False else None
        add(f"| {t['name']} | {t['measured']} | {verdict}{f' ([profile]({link}))' if link else ''} |")
        ok = t["ok"]
        t_summary.append(
            f"  {'OK  ' if ok else 'MISS' if ok is not None else '—   '} {t['name']}: {t['measured']}"
        )
    add("")
    r_duck = _ratio(_rate(ours["csv"]), anchor)
    r_dlta = _ratio(_rate(ours["csv"]), _rate(dlt_a))
    r_dltd = _ratio(_rate(ours["csv"]), _rate(dlt_d))
    r_pg = _ratio(_rate(pg_full), anchor)

    # ---- file flow
    add(f"## File flow, {rows:,} rows\n")
    add(
        "xdmflow: a real flow through the service (local-files connector → mapping set of 12 fields "
        "with 3 expressions → validation against the target schema → one Iceberg batch committed), "
        "started with `POST /runs`; time = the run's own `durationSummary` (read start → commit). "
        "*wall* = the run's `createdAt` (the POST) → its last update (success), i.e. with the worker's "
        "pick-up (polls every 0.5 s) and the run bookkeeping. DuckDB: the same mapping, casts and "
        "rejects in one `COPY (SELECT …) TO 'x.parquet'` (zstd, like the lake), all CSV columns read as "
        "text like xdmflow's reader. dlt: `pipeline.run(…, loader_file_format='parquet')` to the "
        "filesystem destination, from a `pyarrow.csv.read_csv` table (types inferred) and from "
        "`csv.DictReader` dicts — no mapping, no rejects, so the lighter job. Row counts are checked: "
        "xdmflow and DuckDB keep the same rows.\n"
    )
    add(
        "| system | input | median | min–max | rows/s | vs DuckDB (same input) | wall (median) | peak RSS | kept / rejected |"
    )
    add("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for fmt, label in (("csv", "CSV"), ("parquet", "Parquet"), ("jsonl", "JSON lines")):
        for r in (duck[fmt], ours[fmt]):
            if r is None:
                continue
            add(
                f"| {r['system']} | {label} | {_s(_med(r))} | {_span(r)} | {_n(_rate(r))} | "
                f"{_x(_ratio(_rate(r), _rate(duck[fmt])))} | {_s(_med(r, 'wall_seconds'))} | {_mb(r)} | "
                f"{r['rows_out']:,} / {r['rejected']:,} |"
            )
        if fmt == "csv":
            for r in (dlt_a, dlt_d):
                if r is not None:
                    add(
                        f"| {r['system']} | CSV | {_s(_med(r))} | {_span(r)} | {_n(_rate(r))} | "
                        f"{_x(_ratio(_rate(r), anchor))} | {_s(_med(r, 'wall_seconds'))} | {_mb(r)} | {r['rows_out']:,} / — |"
                    )
    if ours["csv"] and duck["csv"]:
        same = ours["csv"]["rows_out"] == duck["csv"]["rows_out"]
        add(
            f"\nRows kept: xdmflow {ours['csv']['rows_out']:,}, DuckDB {duck['csv']['rows_out']:,} "
            f"({'the same' if same else 'DIFFERENT'}). Ratios: xdmflow / DuckDB {_x(r_duck)}, "
            f"xdmflow / dlt Arrow {_x(r_dlta)}, xdmflow / dlt dicts {_x(r_dltd)}.\n"
        )

    # ---- postgres + incremental
    add("## PostgreSQL flow and incremental runs\n")
    add(
        f"PostgreSQL: the same {rows:,} rows in a table of text columns (`xdmflow_bench.transactions`, index on "
        "`updatedAt`), read by the PostgreSQL connector (COPY fast path) with `updatedAt` as the flow's delta "
        "column; then 1 % of the rows change (half updated — `updatedAt` moves —, half inserted) and the "
        "flow runs again: the connector pushes `updatedAt > watermark` down. New file: the first run reads "
        "`part-000.csv`; then `part-001.csv` (1 % new rows) appears beside it and the second run reads only "
        "the new file (files are selected by modification time). Rewritten in place: one CSV gets 1 % more "
        "rows appended and a new mtime; a file source cannot tell old rows from new ones, so xdmflow reads "
        "(and loads) the whole file again; DuckDB's row is reading the whole file and keeping only rows "
        "past the watermark.\n"
    )
    add(
        "| case | full run (median, min–max) | rows/s | incremental run (median, min–max) | rows in the increment | incremental / full | peak RSS |"
    )
    add("| --- | --- | --- | --- | --- | --- | --- |")
    for label, f, i in (
        ("xdmflow, PostgreSQL (delta pushed down)", pg_full, pg_inc),
        ("xdmflow, MySQL/MariaDB (delta pushed down)", my_full, my_inc),
        ("xdmflow, new file beside the old one", nf_full, nf_inc),
        ("xdmflow, one CSV rewritten in place", rw_full, rw_inc),
        ("DuckDB, one CSV rewritten in place (vs its full CSV run)", duck["csv"], rw_duck),
    ):
        if f is None and i is None:
            continue
        ratio = _ratio(_med(i), _med(f))
        add(
            f"| {label} | {_s(_med(f))} ({_span(f)}) | {_n(_rate(f))} | {_s(_med(i), 3)} ({_span(i, digits=3)}) | "
            f"{'—' if i is None else format(i['rows'], ',')} | {'—' if ratio is None else f'{ratio:.1%}'} | {_mb(i or f)} |"
        )
    if pg_full or my_full:
        add(
            f"\nPostgreSQL flow rows/s / DuckDB's CSV rows/s: {_x(r_pg)}; MySQL/MariaDB: "
            f"{_x(_ratio(_rate(my_full), anchor))}.\n"
        )

    # ---- scale
    if big is not None:
        add(f"## Scale: {big['rows']:,} rows through the file flow\n")
        add(
            "| rows | runs | median | min–max | rows/s | vs the "
            f"{rows:,}-row CSV rows/s | wall (median) | peak RSS of the service process |"
        )
        add("| --- | --- | --- | --- | --- | --- | --- | --- |")
        add(
            f"| {big['rows']:,} | {len(big['seconds'])} | {_s(_med(big))} | {_span(big)} | {_n(_rate(big))} | "
            f"{_x(_ratio(_rate(big), _rate(ours['csv'])))} | {_s(_med(big, 'wall_seconds'))} | {_mb(big)} |"
        )
        add(
            "\nThe service (API, worker, the run) is one process; peak RSS is that process's maximum "
            "resident set over the whole child (service start, flow set-up, the run). Memory follows the "
            "batch size (64 Ki rows per record batch, Parquet files rolled as they grow), not the data size.\n"
        )

    # ---- API
    api_rows = [
        (name, _find(results, "xdmflow API", name), _find(results, "minimal FastAPI", name))
        for name in API_ENDPOINTS
    ]
    if any(o or mr for _, o, mr in api_rows):
        add("## API\n")
        first = next((o or mr for _, o, mr in api_rows if o or mr), None)
        if first:
            add(
                f"`xdmflow serve --role api` (uvicorn, one process, SQLite store with "
                f"{first['extra'].get('flows_in_store', 0):,} flows and {first['extra'].get('runs_in_store', 0):,} runs) "
                f"vs a minimal FastAPI app returning the same JSON bodies (`bench/systems/minimal_app.py`, uvicorn, "
                f"one process), both loaded by `wrk -t1 -c{args['connections']}` on loopback for "
                f"{args['api_duration']} s per run after a 2 s warm-up ({first['notes']}). *wrk CPU* is the load "
                "generator's own CPU time over the run: far below one core, so wrk is not the bottleneck.\n"
            )
        add("| endpoint | system | req/s (median) | min–max | p50 | p99 | vs minimal | wrk CPU |")
        add("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, ours_r, min_r in api_rows:
            base = statistics.median(min_r["extra"]["rps"]) if min_r else None
            for api_r in (min_r, ours_r):
                if api_r is None:
                    continue
                e = api_r["extra"]
                rps = statistics.median(e["rps"])
                add(
                    f"| `{name}` | {api_r['system']} | {rps:,.0f} | {min(e['rps']):,.0f}–{max(e['rps']):,.0f} | "
                    f"{statistics.median(e['p50_ms']):.1f} ms | {statistics.median(e['p99_ms']):.1f} ms | "
                    f"{_x(_ratio(rps, base))} | {statistics.median(e['wrk_cpu_share']):.0%} |"
                )
        add("")

    # ---- scheduler
    sched, fire = _ticks(results, int(args["flows"]))
    if any(sched.values()) or any(fire.values()):
        add("## Scheduler\n")
        add(
            f"{int(args['flows']):,} enabled flows (15-minute schedules) created through the services layer "
            "(`create_flow`, the same validation and rows as `POST /flows`; 20 of them through the API), then "
            "`xdmflow.scheduler.loop.tick` timed directly: the *firing* tick when every flow is due at once "
            "(one run queued per flow: runs fired per second), and the *idle* tick right after, when none is "
            "due (what the scheduler pays every interval).\n"
        )
        add("| store | idle tick (median, min–max) | firing tick (median, min–max) | runs fired / s |")
        add("| --- | --- | --- | --- |")
        for st in ("sqlite", "postgres"):
            idle_r, fire_r = sched[st], fire[st]
            if idle_r is None and fire_r is None:
                continue
            fire_med, idle_med = _med(fire_r), _med(idle_r)
            rate = f"{int(args['flows']) / fire_med:,.0f}" if fire_med else "—"
            idle_txt = "—" if idle_med is None else f"{idle_med * 1000:.1f} ms"
            idle_span = _span(idle_r, scale=1000, unit=" ms", digits=1)
            add(
                f"| {'SQLite' if st == 'sqlite' else 'PostgreSQL'} | {idle_txt} ({idle_span}) | "
                f"{_s(fire_med)} ({_span(fire_r)}) | {rate} |"
            )
        add("")

    # ---- query service
    query_cases = ("count(*)", "filtered GROUP BY sum(amount)", "SELECT * LIMIT 10")
    q_ours = {c: _find(results, "xdmflow (psycopg)", f"query {c}") for c in query_cases}
    q_duck = {c: _find(results, "DuckDB (read_parquet)", f"query {c}") for c in query_cases}
    if any(q_ours.values()):
        q_rows = next(r["rows"] for r in q_ours.values() if r is not None)
        add(f"## Query Service, {q_rows:,} rows\n")
        add(
            "`python -m bench.query_bench` (the `query` step): a dataset made by `CREATE TABLE … AS SELECT` "
            "through the Query Service, then each statement through psycopg on one open connection to our "
            "PostgreSQL port (plan the Iceberg scan, run, receive every row) against DuckDB on one open "
            "connection reading the same Parquet files directly (`read_parquet`) in the same run. "
            "Target: DuckDB time / psycopg time ≥ 0.8.\n"
        )
        add("| statement | psycopg (median, min–max) | DuckDB (median, min–max) | DuckDB / psycopg | ≥ 0.8 |")
        add("| --- | --- | --- | --- | --- |")
        for c in query_cases:
            o, d = q_ours[c], q_duck[c]
            ratio = _ratio(_med(d), _med(o))
            add(
                f"| `{c}` | {_s(_med(o), 3)} ({_span(o, digits=3)}) | {_s(_med(d), 3)} ({_span(d, digits=3)}) | "
                f"{_x(ratio)} | {_verdict(None if ratio is None else ratio >= 0.8)} |"
            )
        q_first = _find(results, "xdmflow (psycopg)", "query first row of LIMIT 10")
        if q_first is not None:
            add(
                f"\nFirst row of `SELECT * … LIMIT 10` through psycopg (`Cursor.stream`, rows as they arrive): "
                f"{_s(_med(q_first), 3)} median ({_span(q_first, digits=3)}); target < 200 ms.\n"
            )
        add("")

    # ---- plot, dask, profiles, notes
    add(f"![rows/s per system]({png_name})\n")
    pts = dask_points(results)
    if pts:
        add(dask_render(pts, dask_png_name(png_name)))
    missed = [t for t in targets(results, args) if t["ok"] is False]
    if missed:
        add("## Profiles of the targets that miss\n")
        add(
            "Each missed target's case under pyinstrument (`python -m bench.profile …`, written by the "
            "`profile` step next to this file; wall-clock seconds per call, trimmed to 45 lines):\n"
        )
        for t in missed:
            link = profiles.get(t["profile"] or "")
            where = (
                f"[{link}]({link})"
                if link
                else (
                    "no profile entry point (see the Dask section)"
                    if t["profile"] == "dask"
                    else "not profiled in this run"
                )
            )
            add(f"- {t['name']}: {where}")
        add("")
    if profile_text:
        add("## Profile of one file-flow run\n")
        add(
            "`python -m bench.profile --source full/tx.csv` (pyinstrument, the run executed in the profiled "
            "thread by `execute_run`; wall-clock seconds per call, the mapping's worker threads appear as "
            "waits):\n"
        )
        add("```")
        add(trim_profile(profile_text))
        add("```\n")
    notes = sorted(NOTES.glob("*.md"), key=lambda p: (p.name != "README.md", p.name))
    for note in notes:
        add(note.read_text(encoding="utf-8").strip() + "\n")
    if not pts and dask_section:  # no dask step in this run: keep the previous document's section
        add(dask_section.strip() + "\n")
    elif not pts:
        add("## Dask executor\n")
        add("Not measured in this run (the `dask` step of `python -m bench`).\n")
    summary = "Targets:\n" + "\n".join(t_summary)
    return "\n".join(out), summary


def dask_section(existing: str) -> str:
    """The Dask executor's section of an existing performance.md (its heading to the next one)."""
    lines = existing.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("## ") and "Dask executor" in line:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("## ")), len(lines))
            body = "".join(lines[i:end])
            return "" if "Not measured in this run (the `dask` step" in body else body
    return ""


def dask_png_name(png_name: str) -> str:
    """The Dask figure beside the main one: ``performance.png`` → ``performance-dask.png``."""
    stem, _, ext = png_name.rpartition(".")
    return f"{stem}-dask.{ext}" if stem else f"{png_name}-dask"


def dask_render(pts: list[tuple[int | None, R | None, R | None]], png: str) -> str:
    """The ``dask`` step's section: the sweep of partitions per worker, its figure, what it shows."""
    first = next(r for _, i, d in pts for r in (i, d) if r is not None)
    rows = first["rows"]
    workers = first.get("extra", {}).get("workers", 2)
    out = [
        "## Dask executor beside in-process: partitions per worker\n",
        f"`python -m bench.dask_flow` (the `dask` step): the whole service in one process (SQLite "
        f"metadata, local lake), a local-files flow over {rows:,} `bench/gen.py` rows in CSV files "
        f"(typed fields, about 0.1 % rows that do not cast), run once per configuration into a fresh "
        f"dataset. *in-process* = `XDMFLOW_EXECUTOR=inprocess`, {workers} threads; *Dask* = the "
        f"`LocalCluster` the executor starts ({workers} worker processes, 1 thread each, Arrow's pool "
        f"split between them), started and warmed up before the clock runs. *partitions per worker* sets "
        f"the source's `targetPartitions` to {workers} × N (the planner's own default is "
        f"{DASK_DEFAULT_PER_WORKER}); files are grouped, never split (the generator quotes its strings), "
        "so the real count is capped by the number of files. Every run is checked: one snapshot, "
        "committed rows = input − rejected, distinct ids. Time = the run's `durationSummary`.\n",
        "| partitions per worker | partitions | in-process (median, min–max) | Dask (median, min–max) "
        "| in-process rows/s | Dask rows/s | Dask / in-process | peak RSS in-process / Dask (+ workers) | exact |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pw, i, d in pts:
        parts = sorted(
            {str(r["extra"].get("partitions")) for r in (i, d) if r is not None and r.get("extra")}
        )
        exact = all(r["extra"].get("exact", True) for r in (i, d) if r is not None)
        out.append(
            f"| {pw if pw is not None else f'default ({DASK_DEFAULT_PER_WORKER})'} | {' / '.join(parts)} | "
            f"{_s(_med(i))} ({_span(i)}) | {_s(_med(d))} ({_span(d)}) | {_n(_rate(i))} | {_n(_rate(d))} | "
            f"{_x(_ratio(_rate(d), _rate(i)))} | {_mb(i)} / {_mb(d)} | {'yes' if exact else '**NO**'} |"
        )
    out.append(f"\n![rows/s vs partitions per worker, in-process and Dask]({png})\n")
    rate_i = {pw: _rate(i) for pw, i, _ in pts if _rate(i)}
    rate_d = {pw: _rate(d) for pw, _, d in pts if _rate(d)}
    if rate_i and rate_d:
        best_i = max(rate_i, key=lambda k: rate_i[k] or 0)
        best_d = max(rate_d, key=lambda k: rate_d[k] or 0)
        lo, hi = min(rate_d, key=lambda k: k or 0), max(rate_d, key=lambda k: k or 0)
        ratios = [r for pw in rate_d if pw in rate_i if (r := _ratio(rate_d[pw], rate_i[pw])) is not None]
        faster = sum(1 for r in ratios if r >= 1.0)
        out.append(
            "What the figure shows: each partition is one task that reads its files, maps, validates and "
            "writes its own Parquet files, and the run commits them all at once; more partitions even out "
            "the work between the workers (the last partition finishes sooner), while each one adds a fixed "
            "cost (a scheduler round-trip, the spec and connector shipped to a worker process, its own "
            f"Parquet writer and files to commit). Here Dask goes from {_n(rate_d[lo])} rows/s at {lo} "
            f"per worker to {_n(rate_d[hi])} at {hi} (best at {best_d}), in-process from "
            f"{_n(rate_i.get(lo))} to {_n(rate_i.get(hi))} (best at {best_i}). "
            f"Dask is at least as fast as in-process at {faster} of {len(ratios)} points "
            f"(Dask / in-process {min(ratios):.2f}–{max(ratios):.2f}×). "
            "On this 2-core machine one in-process partition already keeps both cores busy through "
            "Arrow's own thread pool (CSV conversion, compute kernels, zstd), so worker processes can only "
            "win back what the GIL holds up in the Python parts of a partition; and since whole files are "
            "grouped greedily, partitions are unequal, and the tail — one worker finishing the longest "
            "partition — decides the run time (more partitions per worker shorten the tail until the "
            "files run out; see the Dask notes for where the time goes). On a cluster with a core per "
            "task the same partitioning is what lets the workers scale.\n"
        )
    return "\n".join(out)


def trim_profile(text: str, lines: int = 45) -> str:
    body = text.splitlines()
    heads = ("run ", "api:", "scheduler:", "query:")
    start = next((i for i, line in enumerate(body) if line.startswith(heads)), 0)
    keep = [
        line
        for line in body[start:]
        if line.strip() and "frames hidden" not in line and not line.lstrip().startswith(("_", "/"))
    ]
    return "\n".join(keep[:lines])


def plot_dask(results: list[R], path: Path) -> bool:
    """rows/s vs partitions per worker, in-process and Dask (the ``dask`` step); False: no data."""
    pts = [(pw, i, d) for pw, i, d in dask_points(results) if pw is not None]
    if not pts:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    series: dict[int, list[tuple[int, float]]] = {1: [], 2: []}
    for pw, i_r, d_r in pts:
        for idx, r in ((1, i_r), (2, d_r)):
            rate = _rate(r)
            if pw is not None and rate:
                series[idx].append((pw, rate / 1e6))
    for idx, label, color in (
        (1, "in-process (threads)", "#2b6cb0"),
        (2, "Dask (local worker processes)", "#dd6b20"),
    ):
        xs = [x for x, _ in series[idx]]
        ys = [y for _, y in series[idx]]
        if xs:
            ax.plot(xs, ys, marker="o", label=label, color=color)
            for x, y in zip(xs, ys, strict=True):
                ax.annotate(
                    f"{y:.2f}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8
                )
    ax.set_xscale("log", base=2)
    ax.set_xticks([pt[0] for pt in pts])
    ax.set_xticklabels([str(pt[0]) for pt in pts])
    ax.set_xlabel("partitions per worker (targetPartitions = workers × N)")
    ax.set_ylabel("million rows / s (median)")
    ax.set_ylim(bottom=0)
    ax.set_title("File flow rows/s vs partitions per worker, same run")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def plot(results: list[R], path: Path) -> None:
    """A bar chart of rows/s per system and case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars: list[tuple[str, float]] = []
    for system, case, label in (
        ("DuckDB", "file-csv", "DuckDB\nCSV"),
        ("xdmflow", "file-csv", "xdmflow\nCSV"),
        ("DuckDB", "file-parquet", "DuckDB\nParquet"),
        ("xdmflow", "file-parquet", "xdmflow\nParquet"),
        ("DuckDB", "file-jsonl", "DuckDB\nJSONL"),
        ("xdmflow", "file-jsonl", "xdmflow\nJSONL"),
        ("dlt (Arrow)", "file-csv", "dlt Arrow\nCSV"),
        ("dlt (dicts)", "file-csv", "dlt dicts\nCSV"),
        ("xdmflow", "postgres full", "xdmflow\nPostgreSQL"),
    ):
        rate = _rate(_find(results, system, case))
        if rate:
            bars.append((label, rate))
    big = next(
        (r for r in results if r["system"] == "xdmflow" and r["case"] == "file-big" and r.get("seconds")),
        None,
    )
    if big:
        bars.append((f"xdmflow\nCSV {big['rows'] / 1e6:g}M rows", _rate(big) or 0))
    if not bars:
        return
    fig, ax = plt.subplots(figsize=(11, 4.8), dpi=110)
    colors = ["#2b6cb0" if "xdmflow" in b[0] else "#dd6b20" if "DuckDB" in b[0] else "#718096" for b in bars]
    ax.bar([b[0] for b in bars], [b[1] / 1e6 for b in bars], color=colors)
    for i, (_, val) in enumerate(bars):
        ax.text(i, val / 1e6, f"{val / 1e6:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("million rows / s (median)")
    ax.set_title("Rows per second, same machine, same run (higher is better)")
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
