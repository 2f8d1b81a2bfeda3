"""Bounded table growth: expire old snapshots and delete the metadata files nothing references.

Every batch is one Iceberg snapshot: a metadata JSON, a manifest list and a manifest. Without
maintenance a table that takes many small batches grows without bound (and so does the time to
load it). :func:`maintain_table`:

* keeps metadata JSON files and manifests bounded as commits happen (table properties
  ``write.metadata.delete-after-commit.enabled`` / ``previous-versions-max`` and
  ``commit.manifest.min-count-to-merge``, set on every table it sees and on new tables,
  :data:`METADATA_PROPERTIES`);
* expires snapshots older than the retention, always keeping the newest ``keep_last`` and the
  current one (data files are never deleted: tables are append-only, the current snapshot
  references every data file);
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
    snapshots: int = 0
    metadata_files: int = 0


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
) -> MaintenanceReport:
    """Expire the snapshots of one table beyond the retention and delete unreferenced metadata."""
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
        table.maintenance.expire_snapshots().by_ids(expire).commit()
        report.expired_snapshots = len(expire)
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
    return report
