"""Bounded growth (issue 13, defect 4): 200 one-row runs keep the table's metadata files bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import fsspec

from tests.pipeline.test_partitioned import NS, lake, spec  # noqa: F401 - the lake fixture
from xdmflow.connectors.files.connector import LocalFilesConnector
from xdmflow.lake.lake import Lake
from xdmflow.lake.maintenance import maintain_table
from xdmflow.pipeline.run import execute


def _metadata_count(lk: Lake) -> int:
    fs, root = fsspec.core.url_to_fs(f"{lk.table_location(NS, 'ds').rstrip('/')}/metadata")
    return len(fs.find(root))


def _one_row_run(lk: Lake, tmp_path: Path, i: int) -> None:
    """Run ``i`` of a one-row flow: a new one-row CSV, read and committed as batch ``b{i:03d}``."""
    (tmp_path / "in" / f"r{i:03d}.csv").write_text(f"id,name,amount\n{i},n{i},1.5\n")
    s = spec(f"/in/r{i:03d}.csv", batch_id=f"b{i:03d}")
    s.auth = {"rootPath": str(tmp_path)}
    assert execute(s, LocalFilesConnector(), lk, None).status == "success"


def test_two_hundred_one_row_runs_keep_metadata_bounded(lake: Lake, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "in").mkdir()
    counts = []
    for i in range(200):
        _one_row_run(lake, tmp_path, i)
        if i % 20 == 19:
            report = maintain_table(lake, NS, "ds", retention_seconds=0, keep_last=5, grace_seconds=0)
            assert report.snapshots == 5
            counts.append(_metadata_count(lake))
    # data stays complete; the metadata does not grow with the number of runs
    assert lake.scan(NS, "ds").num_rows == 200
    assert len(lake.snapshots(NS, "ds")) == 5
    assert max(counts) <= 60, counts  # without maintenance: 3 files per run, 600 and growing
    # the newest batches can still be found (idempotent commits)
    assert lake.batch_snapshot(NS, "ds", "b199") is not None


def test_maintenance_keeps_recent_snapshots_within_retention(lake: Lake, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "in").mkdir()
    for i in range(8):
        (tmp_path / "in" / f"r{i}.csv").write_text(f"id,name,amount\n{i},n,1\n")
        s = spec(f"/in/r{i}.csv", batch_id=f"b{i}")
        s.auth = {"rootPath": str(tmp_path)}
        execute(s, LocalFilesConnector(), lake, None)
    report = maintain_table(lake, NS, "ds", retention_seconds=3600, keep_last=2, grace_seconds=0)
    assert report.expired_snapshots == 0 and len(lake.snapshots(NS, "ds")) == 8


def _data_files(lk: Lake) -> int:
    fs, root = fsspec.core.url_to_fs(f"{lk.table_location(NS, 'ds').rstrip('/')}/data")
    return len(fs.find(root))


def test_three_hundred_one_row_runs_with_compaction_keep_every_file_count_bounded(
    lake: Lake,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The load case of docs/reliability.md: metadata, manifests and data files stay bounded."""
    (tmp_path / "in").mkdir()
    samples = []
    for i in range(300):
        _one_row_run(lake, tmp_path, i)
        if i % 20 == 19:
            report = maintain_table(
                lake,
                NS,
                "ds",
                retention_seconds=0,
                keep_last=5,
                grace_seconds=0,
                compact_target_bytes=128 * 1024 * 1024,
                compact_min_files=8,
            )
            table = lake.load(NS, "ds")
            snap = table.current_snapshot()
            assert snap is not None
            samples.append(
                (report.data_files, _data_files(lake), _metadata_count(lake), len(snap.manifests(table.io)))
            )
    current, on_disk, metadata, manifests = (max(c) for c in zip(*samples, strict=True))
    # 5 recent batches + 1 compacted file; on disk also the files the 5 kept snapshots still see
    assert current <= 6, samples
    assert on_disk <= 30, samples  # without maintenance: one file per run, 300 and growing
    assert metadata <= 60, samples
    assert manifests <= 16, samples
    assert len(set(samples[2:])) == 1, samples  # a steady state: flat, not growing slowly
    got = lake.scan(NS, "ds")
    assert got.num_rows == 300
    assert sorted(got.column("id").to_pylist()) == list(range(300))
    assert lake.batch_snapshot(NS, "ds", "b299") is not None


def test_maintenance_of_a_table_runs_commit_to_meanwhile_retries_instead_of_failing(
    lake: Lake,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The expiry's commit loses the race to a run's commit: maintenance loads again and retries."""
    (tmp_path / "in").mkdir()
    for i in range(12):
        _one_row_run(lake, tmp_path, i)
    done = threading.Event()
    failures: list[BaseException] = []

    def runs() -> None:
        try:
            for i in range(12, 60):
                _one_row_run(lake, tmp_path, i)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=runs)
    writer.start()
    reports = []
    while not done.is_set():
        reports.append(maintain_table(lake, NS, "ds", retention_seconds=0, keep_last=3, grace_seconds=60))
    writer.join()
    assert not failures, failures
    assert reports and all(r.snapshots >= 1 for r in reports)
    assert sorted(lake.scan(NS, "ds").column("id").to_pylist()) == list(range(60))
