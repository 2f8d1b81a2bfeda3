"""dlt, the peer a user would pick: load the same CSV to Parquet on dlt's filesystem destination.

Two feeds: an Arrow table (``pyarrow.csv.read_csv``, types inferred — dlt's fast path) and
Python dicts (``csv.DictReader`` rows, the way a REST source feeds dlt; dlt normalises and
infers the types itself). Timed from reading the file to ``pipeline.run`` returning (extract,
normalise, load). dlt does no mapping and no rejects here: it is the cheaper job.

    python -m bench.systems.dlt_sys --workdir /tmp/xdmflow-bench --case arrow
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import Measurement, Timer, emit

CASES = ("arrow", "dicts")


def _pipeline(work: Path, name: str) -> Any:
    import dlt

    out = work / "out" / "dlt" / name
    pipes = work / "dlt-pipelines"
    for d in (out, pipes / name):
        if d.exists():
            shutil.rmtree(d)
    out.mkdir(parents=True)
    return dlt.pipeline(
        pipeline_name=name,
        pipelines_dir=str(pipes),
        destination=dlt.destinations.filesystem(bucket_url=out.as_uri()),
        dataset_name="bench",
    )


def _dict_rows(path: Path, chunk: int = 10_000) -> Iterator[list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        buf: list[dict[str, Any]] = []
        for row in csv.DictReader(fh):
            buf.append(row)
            if len(buf) >= chunk:
                yield buf
                buf = []
        if buf:
            yield buf


def run(work: Path, case: str, rows: int, repeat: int) -> Measurement:
    import pyarrow.csv as pacsv

    path = work / "data" / "full" / "tx.csv"
    m = Measurement(f"dlt ({'Arrow' if case == 'arrow' else 'dicts'})", "file-csv", rows)
    for i in range(repeat):
        pipe = _pipeline(work, f"bench_{case}_{i}")
        with Timer() as t:
            if case == "arrow":
                data: Any = pacsv.read_csv(path)
            else:
                data = _dict_rows(path)
            info = pipe.run(data, table_name="transactions", loader_file_format="parquet")
        info.raise_on_failed_jobs()
        counts = pipe.last_trace.last_normalize_info.row_counts
        m.rows_out = int(counts.get("transactions", 0))
        m.seconds.append(t.seconds)
        m.wall_seconds.append(t.seconds)
        print(f"    dlt {case} run {i + 1}: {t.seconds:.2f} s, {m.rows_out:,} rows", flush=True)
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--case", choices=CASES, required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out")
    a = ap.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    emit(a.json_out, [run(a.workdir, a.case, a.rows, a.repeat)])


if __name__ == "__main__":
    main()
