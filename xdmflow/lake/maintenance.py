"""Bounded table growth: expire old snapshots, delete the files nothing references, compact small files.

Every batch is one Iceberg snapshot: a metadata JSON, a manifest list and a manifest. Without
maintenance a table that takes many small batches grows without bound (and so does the time to
load it). :func:`maintain_table`:

* keeps metadata JSON files and manifests bounded as commits happen (table properties
  ``write.metadata.delete-after-commit.enabled`` / ``previous-versions-max`` and
  ``commit.manifest.min-count-to-merge``, set on every table it sees and on new tables,
  :data:`METADATA_PROPERTIES`);
* expires snapshots older than the retention, always keeping the newest ``keep_last`` and the
  current one;
* deletes the data files that only the expired snapshots referenced: files an upsert replaced
  (``lake/upsert.py``) or a compaction rewrote. The set is computed from the manifests of the
  expired and the remaining snapshots, never from a directory listing, so the files of a commit in
  flight (written, not referenced by any snapshot yet) are never touched; their grace period is
  the retention itself (a replaced file stays while the snapshot before its replacement is kept);
* compacts small files of expired batches (:mod:`xdmflow.lake.compaction`) when asked to;
* deletes manifest lists, manifests and metadata JSON files that no remaining snapshot or the
  metadata log references — only files older than ``grace_seconds``, so the files of a commit in
  flight (written, not yet committed) are never touched.

Expiring a snapshot forgets which batch it was: the batch-id lookup that makes a commit
idempotent (``Lake.batch_snapshot``) only needs recent batches, which the retention keeps.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import fsspec
from pyiceberg.manifest import DataFileContent, ManifestFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from xdmflow.lake.commits import is_retriable
from xdmflow.lake.compaction import CompactionReport, compact_table
from xdmflow.lake.files import strip_scheme

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake

__all__ = ["METADATA_PROPERTIES", "MaintenanceReport", "maintain_table"]

log = logging.getLogger(__name__)

#: Old metadata JSON files are deleted as commits happen (this many previous versions are kept);
#: commits merge small manifests once there are this many (``Lake.commit_files`` merge-appends).
METADATA_PROPERTIES = {
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "16",
}


@dataclass
class MaintenanceReport:
    """What one table's maintenance did."""

    dataset_id: str
    expired_snapshots: int = 0
    deleted_files: int = 0
    """Metadata files (manifest lists, manifests, metadata JSON) deleted."""
    deleted_data_files: int = 0
    """Data files only expired snapshots referenced (replaced by upserts or compaction), deleted."""
    compacted_files: int = 0
    """Small data files compaction replaced in the current snapshot..."""
    compacted_into: int = 0
    """...by this many files."""
    compaction_skipped: str | None = None
    snapshots: int = 0
    metadata_files: int = 0
    data_files: int = 0
    """Data files the current snapshot references."""


def _snapshot_data_files(table: Table, snap: Snapshot, cache: dict[str, frozenset[str]]) -> set[str]:
    """Paths of the data files a snapshot references (manifests read once per ``cache``)."""
    out: set[str] = set()
    manifests: list[ManifestFile] = snap.manifests(table.io)
    for manifest in manifests:
        paths = cache.get(manifest.manifest_path)
        if paths is None:
            paths = frozenset(
                strip_scheme(e.data_file.file_path)
                for e in manifest.fetch_manifest_entry(table.io, discard_deleted=True)
                if e.data_file.content == DataFileContent.DATA
            )
            cache[manifest.manifest_path] = paths
        out |= paths
    return out


def _metadata_files(fs: fsspec.AbstractFileSystem, root: str) -> dict[str, float]:
    """Files under the table's ``metadata/`` folder with their modification times (epoch s)."""
    if not fs.exists(root):
        return {}
    out: dict[str, float] = {}
    for path, info in fs.find(root, detail=True).items():
        mtime = info.get("mtime") or info.get("LastModified") or info.get("created") or 0
        out[strip_scheme(path)] = mtime.timestamp() if hasattr(mtime, "timestamp") else float(mtime)
    return out


def maintain_table(
    lake: Lake,
    namespace: str,
    dataset_id: str,
    *,
    retention_seconds: float,
    keep_last: int,
    grace_seconds: float = 3600.0,
    compact_target_bytes: int | None = None,
    compact_min_files: int = 8,
    attempts: int = 5,
) -> MaintenanceReport:
    """Expire the snapshots of one table beyond the retention, delete the data and metadata files
    nothing references any more and, with ``compact_target_bytes``, compact small files.

    A run committing to the table meanwhile makes the expiry's commit lose the race: the table is
    loaded again and the maintenance tried again, up to ``attempts`` times (a busy table is
    maintained while runs go on, not skipped until it is idle)."""
    attempt = 1
    while True:
        try:
            return _maintain_once(
                lake,
                namespace,
                dataset_id,
                retention_seconds=retention_seconds,
                keep_last=keep_last,
                grace_seconds=grace_seconds,
                compact_target_bytes=compact_target_bytes,
                compact_min_files=compact_min_files,
            )
        except Exception as exc:
            if attempt >= attempts or not is_retriable(exc):
                raise
            log.info("maintenance of %s lost a commit race (attempt %d), trying again", dataset_id, attempt)
            time.sleep(0.05 * attempt)
            attempt += 1


def _maintain_once(
    lake: Lake,
    namespace: str,
    dataset_id: str,
    *,
    retention_seconds: float,
    keep_last: int,
    grace_seconds: float,
    compact_target_bytes: int | None,
    compact_min_files: int,
) -> MaintenanceReport:
    report = MaintenanceReport(dataset_id)
    table = lake.load(namespace, dataset_id)
    missing = {k: v for k, v in METADATA_PROPERTIES.items() if table.properties.get(k) != v}
    if missing:
        with table.transaction() as tx:
            tx.set_properties(missing)
        table = lake.load(namespace, dataset_id)

    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    current = table.metadata.current_snapshot_id
    keep = {s.snapshot_id for s in snapshots[-max(keep_last, 1) :]}
    cutoff_ms = (time.time() - retention_seconds) * 1000
    expire = [
        s.snapshot_id
        for s in snapshots
        if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep and s.snapshot_id != current
    ]
    if expire:
        cache: dict[str, frozenset[str]] = {}
        by_id = {s.snapshot_id: s for s in snapshots}
        expired_files: set[str] = set()
        for sid in expire:
            expired_files |= _snapshot_data_files(table, by_id[sid], cache)
        table.maintenance.expire_snapshots().by_ids(expire).commit()
        report.expired_snapshots = len(expire)
        table = lake.load(namespace, dataset_id)
        # a commit after this load only adds new files: it never re-adds a file it replaced
        for snap in table.metadata.snapshots:
            expired_files -= _snapshot_data_files(table, snap, cache)
        report.deleted_data_files = _delete_data_files(lake, table, sorted(expired_files))

    if compact_target_bytes is not None:
        compaction: CompactionReport = compact_table(
            lake, namespace, dataset_id, target_bytes=compact_target_bytes, min_files=compact_min_files
        )
        report.compacted_files = compaction.rewritten_files
        report.compacted_into = compaction.added_files
        report.compaction_skipped = compaction.skipped
        if compaction.snapshot_id is not None:
            table = lake.load(namespace, dataset_id)

    # every file the table still references (a commit after this load only adds newer files)
    referenced = {strip_scheme(table.metadata_location)}
    referenced |= {strip_scheme(e.metadata_file) for e in table.metadata.metadata_log}
    for snap in table.metadata.snapshots:
        referenced.add(strip_scheme(snap.manifest_list))
        referenced |= {strip_scheme(m.manifest_path) for m in snap.manifests(table.io)}
    location = table.location().rstrip("/")
    fs, root = fsspec.core.url_to_fs(f"{location}/metadata", **(getattr(lake, "storage_options", None) or {}))
    found = _metadata_files(fs, root)
    old_enough = time.time() - grace_seconds
    doomed = [p for p, mtime in found.items() if p not in referenced and mtime <= old_enough]
    for path in doomed:
        try:
            fs.rm(path)
            report.deleted_files += 1
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("could not delete unreferenced metadata file %s", path, exc_info=True)
    report.snapshots = len(table.metadata.snapshots)
    report.metadata_files = len(found) - report.deleted_files
    head = table.current_snapshot()
    report.data_files = len(_snapshot_data_files(table, head, {})) if head is not None else 0
    return report


def _delete_data_files(lake: Lake, table: Table, paths: list[str]) -> int:
    """Delete data files of the table (only paths under its ``data/`` folder); returns how many."""
    if not paths:
        return 0
    data_root = strip_scheme(f"{table.location().rstrip('/')}/data/")
    fs, _ = fsspec.core.url_to_fs(table.location(), **(getattr(lake, "storage_options", None) or {}))
    deleted = 0
    for path in paths:
        if not path.startswith(data_root):  # a file outside the table (added by hand): not ours
            log.warning("not deleting data file %s outside the table's data folder", path)
            continue
        try:
            fs.rm(path)
            deleted += 1
        except FileNotFoundError:
            pass
        except OSError:
            log.warning("could not delete unreferenced data file %s", path, exc_info=True)
    return deleted
