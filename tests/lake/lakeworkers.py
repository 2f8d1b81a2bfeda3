"""Code run in other processes by the lake tests (multiprocessing targets and a crash script)."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from tests.lake.lakehelp import sample_table
from xdmflow.lake.lake import Lake


def commit_in_process(
    db_url: str,
    warehouse: str,
    catalog: str,
    ns: str,
    ds: str,
    batch_id: str,
    start: int,
    barrier: Any,
    out: Any,
) -> None:
    """Write a batch's files, wait for the other processes, then commit (maximal contention)."""
    lake = Lake(db_url, warehouse, catalog_name=catalog)
    try:
        from xdmflow.lake.files import write_parquet_files

        files = write_parquet_files(
            lake.table_location(ns, ds),
            batch_id,
            [sample_table(25, start=start)],
            schema=lake.write_schema(ns, ds),
        )
        barrier.wait(timeout=30)
        result = lake.commit_files(ns, ds, batch_id, files)
        out.put((batch_id, result.snapshot_id, lake.commit_conflicts))
    except BaseException as exc:  # report, the parent asserts
        out.put((batch_id, repr(exc), -1))
    finally:
        lake.close()


def crash_before_commit(
    db_url: str, warehouse: str, catalog: str, ns: str, ds: str, batch_id: str, how: str
) -> None:
    """Write files of a batch then die before committing (``exit``: os._exit, ``kill``: SIGKILL)."""
    lake = Lake(db_url, warehouse, catalog_name=catalog)
    writer = lake.begin_batch(ns, ds, batch_id, max_rows_per_file=10, row_group_rows=10)
    writer.write(sample_table(35))
    writer._roller.close()  # every file complete on storage, the commit is next
    print(json.dumps(writer._roller.written_paths), flush=True)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(3)


if __name__ == "__main__":
    crash_before_commit(*sys.argv[1:8])
