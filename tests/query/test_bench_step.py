"""``python -m bench --only query`` runs the Query Service bench step and reports it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_python_m_bench_runs_the_query_step(tmp_path: Path) -> None:
    out = tmp_path / "perf.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "query", "--query-rows", "2000", "--repeat", "1"]
        + ["--out", str(out), "--workdir", str(tmp_path / "work")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = out.read_text(encoding="utf-8")
    assert "## Query Service, 2,000 rows" in doc
    assert "| `count(*)` | " in doc and "failed" not in doc.split("## Query Service")[0].lower()
    assert "Query Service `SELECT * LIMIT 10` through the PostgreSQL port" in proc.stdout
    assert not (tmp_path / "work" / "data").exists()  # the query step needs none of the shared data
