"""Concurrent batches all land; a writer killed before its commit leaves the table unchanged."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pyiceberg.table import Table

from tests.lake.lakehelp import NS, person_schema, sample_table
from tests.lake.lakeworkers import commit_in_process
from xdmflow.lake.files import write_parquet_files
from xdmflow.lake.lake import Lake

HERE = Path(__file__).parent
#: The repository root: the crash script imports its helpers as ``tests.lake.…``.
ROOT = HERE.parents[1]


@pytest.fixture
def ds(lake: Lake) -> str:
    lake.create_table(NS, "ds1", person_schema())
    return "ds1"


def _assert_all_landed(lake: Lake, ds: str, batch_ids: list[str], rows_each: int) -> None:
    snaps = lake.snapshots(NS, ds)
    assert sorted(s.batch_id for s in snaps if s.batch_id) == sorted(batch_ids)
    # linear history: every snapshot's parent is the previous one
    assert [s.parent_id for s in snaps[1:]] == [s.snapshot_id for s in snaps[:-1]]
    assert lake.scan(NS, ds).num_rows == rows_each * len(batch_ids)
    for b in batch_ids:
        assert lake.scan(NS, ds, batch_id=b).num_rows == rows_each


def test_a_conflicting_commit_is_retried(lake: Lake, ds: str, db_url: str, warehouse: str) -> None:
    other = Lake(db_url, warehouse, catalog_name=lake.catalog.name)

    class Racing(Lake):
        """Another writer commits right after this one loaded the table (real catalog, real race)."""

        raced = False

        def load(self, namespace: str, dataset_id: str) -> Table:
            table = super().load(namespace, dataset_id)
            if not self.raced:
                self.raced = True
                with other.begin_batch(NS, ds, "other") as w:
                    w.write(sample_table(4, start=100))
                    w.commit()
            return table

    racing = Racing(db_url, warehouse, catalog_name=lake.catalog.name)
    files = write_parquet_files(
        lake.table_location(NS, ds), "mine", [sample_table(6)], schema=lake.write_schema(NS, ds)
    )
    racing.commit_files(NS, ds, "mine", files)
    assert racing.commit_conflicts == 1
    assert lake.scan(NS, ds).num_rows == 10
    assert {s.batch_id for s in lake.snapshots(NS, ds)} == {"other", "mine"}
    racing.close()
    other.close()


def test_concurrent_batches_in_threads_all_land(lake: Lake, ds: str) -> None:
    n = 6
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            files = write_parquet_files(
                lake.table_location(NS, ds),
                f"t{i}",
                [sample_table(25, start=i * 100)],
                schema=lake.write_schema(NS, ds),
            )
            barrier.wait(timeout=30)
            lake.commit_files(NS, ds, f"t{i}", files)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert lake.commit_conflicts > 0  # the barrier makes them race; the retries resolved it
    _assert_all_landed(lake, ds, [f"t{i}" for i in range(n)], rows_each=25)


def test_concurrent_batches_in_processes_all_land(lake: Lake, ds: str, db_url: str, warehouse: str) -> None:
    n = 4
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=commit_in_process,
            args=(db_url, warehouse, lake.catalog.name, NS, ds, f"p{i}", i * 100, barrier, out),
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert all(isinstance(r[1], int) for r in results), results
    _assert_all_landed(lake, ds, [f"p{i}" for i in range(n)], rows_each=25)


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_writer_killed_before_commit_leaves_table_unchanged(
    lake: Lake, ds: str, db_url: str, warehouse: str, how: str
) -> None:
    with lake.begin_batch(NS, ds, "before") as w:
        w.write(sample_table(5))
        w.commit()
    snaps_before = lake.snapshots(NS, ds)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "lakeworkers.py"),
            db_url,
            warehouse,
            lake.catalog.name,
            NS,
            ds,
            "crashed",
            how,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == (-9 if how == "kill" else 3), proc.stderr
    written = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(written) == 4 and all(os.path.exists(p) for p in written)  # files were written
    # ...but nothing is visible: same snapshots, same rows
    assert lake.snapshots(NS, ds) == snaps_before
    assert lake.scan(NS, ds).num_rows == 5
    assert lake.batch_files(NS, ds, "crashed") == []
    # the orphans are recognisable by batch and cleaned up
    deleted = lake.cleanup_orphans(NS, ds, "crashed")
    assert sorted(deleted) == sorted(written)
    assert not any(os.path.exists(p) for p in written)
    # the batch can be retried and lands once
    with lake.begin_batch(NS, ds, "crashed") as w:
        w.write(sample_table(35, start=1000))
        w.commit()
    assert lake.scan(NS, ds).num_rows == 40
    assert lake.cleanup_orphans(NS, ds, "crashed") == []  # committed files are kept
    assert lake.scan(NS, ds, batch_id="crashed").num_rows == 35


def test_same_batch_committed_concurrently_lands_once(lake: Lake, ds: str) -> None:
    n = 4
    barrier = threading.Barrier(n)
    results: list[object] = []
    location, schema = lake.table_location(NS, ds), lake.write_schema(NS, ds)

    def run() -> None:
        files = write_parquet_files(location, "same", [sample_table(10)], schema=schema)
        barrier.wait(timeout=30)
        results.append(lake.commit_files(NS, ds, "same", files))

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == n
    assert len({r.snapshot_id for r in results}) == 1  # type: ignore[attr-defined]
    assert sum(not r.already_committed for r in results) == 1  # type: ignore[attr-defined]
    assert len(lake.snapshots(NS, ds)) == 1
    assert lake.scan(NS, ds).num_rows == 10
