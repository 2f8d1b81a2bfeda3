"""``bench.report``: the #19 targets, the Dask sweep and the profile links, from a results list
shaped like the children's JSON (``bench.common.Measurement`` records)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import report
from bench.common import Measurement

ARGS: dict[str, Any] = {"rows": 1000, "flows": 100, "big_rows": 10_000, "connections": 8, "api_duration": 3}
ENV: dict[str, Any] = {
    "cores": 2,
    "cpu": "test cpu",
    "memory_gb": 4.0,
    "load": (0.1, 0.1, 0.1),
    "python": "3.11",
    "versions": {"xdmflow": "0"},
    "commit": "abc123",
}


def m(system: str, case: str, rows: int, seconds: float, **kw: Any) -> dict[str, Any]:
    return asdict(Measurement(system, case, rows, [seconds], [seconds], **kw))


def results(*, mysql: bool) -> list[dict[str, Any]]:
    out = [
        m("DuckDB", "file-csv", 1000, 1.0),
        m("xdmflow", "file-csv", 1000, 0.9),  # 1.11 × DuckDB: holds
        m("DuckDB", "file-parquet", 1000, 1.0),
        m("xdmflow", "file-parquet", 1000, 1.25),  # 0.8 ×: misses
        m("xdmflow", "postgres full", 1000, 2.0),  # 0.5 × the anchor: misses 0.6
        m("xdmflow", "file-big", 10_000, 9.5, peak_rss_mb=900.0),  # 1,053 rows/s vs 1,111: 0.95 ×
        m("xdmflow (psycopg)", "query first row of LIMIT 10", 500, 0.25),
        m("xdmflow scheduler", "idle tick, 100 flows (sqlite)", 100, 0.004),
        m("xdmflow scheduler", "firing tick, 100 flows due (sqlite)", 100, 2.5),
    ]
    for pw, inproc, dask in ((1, 2.0, 2.5), (3, 1.0, 1.5), (8, 1.2, 1.1)):
        for system, secs in (("xdmflow inprocess:2", inproc), ("xdmflow dask:2", dask)):
            extra = {"executor": system.split()[1].split(":")[0], "workers": 2, "per_worker": pw}
            out.append(
                m(system, f"dask-flow {pw} per worker", 4000, secs, extra={**extra, "partitions": 2 * pw})
            )
    if mysql:
        out.append(m("xdmflow", "mysql", 1000, 4.0))
    return out


def verdicts(res: list[dict[str, Any]]) -> dict[str, Any]:
    return {t["name"]: (t["measured"], t["ok"], t["profile"]) for t in report.targets(res, ARGS)}


def test_the_issue_19_targets_and_their_verdicts() -> None:
    v = verdicts(results(mysql=True))
    assert v["file flow rows/s ≥ 1.0 × DuckDB's on the same data (CSV, 1,000 rows)"] == (
        "1.11×",
        True,
        "file-csv",
    )
    assert v["file flow rows/s ≥ 1.0 × DuckDB's on the same data (Parquet, 1,000 rows)"][1:] == (
        False,
        "file-parquet",
    )
    assert v["PostgreSQL flow rows/s ≥ 0.6 × DuckDB's file anchor (CSV)"] == ("0.50×", False, "postgres")
    assert v["MySQL/MariaDB flow rows/s (measured, no target)"] == (
        "250 rows/s (0.25× DuckDB's CSV anchor)",
        None,
        None,
    )
    assert v["10,000-row file flow peak RSS ≤ 1 GB"] == ("900 MB", True, "file-big")
    big = v["10,000-row file flow rows/s within 10 % of the 1,000-row CSV figure (≥ 0.9 ×)"]
    assert big == ("1,053 vs 1,111 rows/s (0.95×)", True, "file-big")
    assert v["Query Service: first row of `SELECT * LIMIT 10` (500 rows) < 200 ms"] == (
        "250 ms",
        False,
        "query",
    )
    assert v["scheduler idle tick with 100 enabled flows ≤ 10 ms (sqlite)"] == (
        "4.0 ms",
        True,
        "scheduler-idle-sqlite",
    )
    assert v["scheduler tick firing 100 due flows ≤ 2 s (sqlite)"][1:] == (False, "scheduler-firing-sqlite")
    dask = v[
        "Dask (2 local workers) rows/s ≥ in-process (2 threads) on this machine "
        "(4,000 rows, the planner's partitions)"
    ]
    assert dask == ("2,667 vs 4,000 rows/s (0.67×)", False, "dask")  # the default point: 3 per worker


def test_mysql_absent_renders_a_dash() -> None:
    v = verdicts(results(mysql=False))
    assert v["MySQL/MariaDB flow rows/s (measured, no target)"] == ("—", None, None)


def test_the_document_links_profiles_of_misses_and_embeds_the_dask_figure(tmp_path: Path) -> None:
    res = results(mysql=True)
    doc, summary = report.render(
        res,
        args=ARGS,
        steps=["file", "postgres", "big", "scheduler", "query", "dask", "profile"],
        command="python -m bench --rows 1000",
        started=0.0,
        finished=60.0,
        env_before=ENV,
        env_after=ENV,
        profile_text="",
        png_name="performance.png",
        profiles={"postgres": "profiles/postgres.txt"},
    )
    assert "Produced by: `python -m bench --rows 1000`" in doc and "Commit: `abc123`" in doc
    assert (
        "| PostgreSQL flow rows/s ≥ 0.6 × DuckDB's file anchor (CSV) | 0.50× | "
        "**miss** ([profile](profiles/postgres.txt)) |" in doc
    )
    assert (
        "| MySQL/MariaDB flow rows/s (measured, no target) | "
        "250 rows/s (0.25× DuckDB's CSV anchor) | no target |" in doc
    )
    assert "## Dask executor beside in-process: partitions per worker" in doc
    assert "![rows/s vs partitions per worker, in-process and Dask](performance-dask.png)" in doc
    assert "| 8 | 16 | " in doc  # the sweep's rows: per worker, partitions, …
    assert "MISS PostgreSQL flow rows/s" in summary
    assert report.plot_dask(res, tmp_path / "dask.png") and (tmp_path / "dask.png").stat().st_size > 0
