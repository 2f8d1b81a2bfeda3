"""Small-file compaction: many small data files of old batches rewritten into few files of a target size.

A table that takes many small batches (a one-row flow run every minute) holds one small Parquet
file per batch; scans open every one of them. :func:`compact_table` rewrites them, in **one**
Iceberg ``overwrite`` snapshot that removes the small files and adds the compacted ones (same
rows, same content: every row is read and written once, as Arrow record batches).

Which files: only data files whose batch snapshot (the snapshot that added the file) has already
been expired by the retention (:mod:`xdmflow.lake.maintenance`). The per-batch listing of Data
Access (``Lake.batch_files``) and the batch-id lookup that makes a commit idempotent
(``Lake.batch_snapshot``) read the batch's own snapshot: for an expired batch both are gone
anyway, so moving its rows into other files changes nothing anyone can see except the file count.
Among those, only files smaller than the target, and only when there are at least ``min_files``
of them (a table with a few small files is left alone).

Concurrency: the commit is optimistic like every other commit (compare-and-swap on the catalog
row). When another writer committed first (a flow's batch, an upsert, a schema change), the table
is reloaded and the same replacement re-applied if every file it removes is still live; if one
is gone (an upsert replaced it meanwhile), compaction gives up for this pass and deletes the files
it wrote - it never removes a file it did not rewrite, so no row is lost or doubled. A commit whose
outcome is unknown is resolved by looking the compaction id up in the snapshot history.

The removed files stay on disk while older snapshots reference them (time travel, readers of the
previous snapshot); maintenance deletes them when those snapshots expire.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
from pyiceberg.exceptions import ValidationException
from pyiceberg.io.pyarrow import parquet_file_to_data_file
from pyiceberg.manifest import DataFile, DataFileContent, ManifestContent
from pyiceberg.table import Table

from xdmflow.errors import ConflictError
from xdmflow.lake.commits import find_snapshot, is_retriable
from xdmflow.lake.files import DataFileInfo, ParquetFileRoller, delete_files, read_parquet_files
from xdmflow.schema.iceberg import iceberg_to_arrow_schema

if TYPE_CHECKING:
    from xdmflow.lake.lake import Lake

__all__ = ["COMPACTION_PROPERTY", "CompactionReport", "compact_table", "compaction_candidates"]

log = logging.getLogger(__name__)

#: Snapshot-summary property of a compaction snapshot: its id (``compaction-<hex>``), also the
#: name of the directory under ``data/`` holding its files (``data/batch=compaction-<hex>/``).
COMPACTION_PROPERTY = "xdmflow.compaction-id"
#: Snapshot-summary property: how many files the compaction replaced.
COMPACTED_FILES_PROPERTY = "xdmflow.compacted-files"


@dataclass
class CompactionReport:
    """What one table's compaction did."""

    rewritten_files: int = 0
    """Small files replaced (removed from the current snapshot)."""
    added_files: int = 0
    """Files written in their place."""
    rewritten_rows: int = 0
    rewritten_bytes: int = 0
    snapshot_id: int | None = None
    """The compaction's snapshot (``None``: nothing was compacted)."""
    skipped: str | None = None
    """Why nothing was compacted though there were candidates (a concurrent change)."""


def compaction_candidates(table: Table, target_bytes: int) -> list[DataFile] | None:
    """The current snapshot's data files eligible for compaction: added by an expired snapshot
    and smaller than ``target_bytes``, oldest first. ``None`` when the table cannot be compacted
    (partitioned, or it has delete files: xdmflow writes neither)."""
    snap = table.current_snapshot()
    if snap is None:
        return []
    if not table.spec().is_unpartitioned():
        return None
    live = {s.snapshot_id for s in table.metadata.snapshots}
    out: list[tuple[int, str, DataFile]] = []
    for manifest in snap.manifests(table.io):
        if manifest.content != ManifestContent.DATA:
            return None
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            df = entry.data_file
            if df.content != DataFileContent.DATA:
                return None
            if entry.snapshot_id in live or df.file_size_in_bytes >= target_bytes:
                continue
            out.append((entry.sequence_number or 0, df.file_path, df))
    out.sort(key=lambda t: (t[0], t[1]))
    return [t[2] for t in out]


def _live_files(table: Table) -> dict[str, DataFile]:
    snap = table.current_snapshot()
    if snap is None:
        return {}
    files: dict[str, DataFile] = {}
    for manifest in snap.manifests(table.io):
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
            files[entry.data_file.file_path] = entry.data_file
    return files


def _find_compaction(table: Table, compaction_id: str) -> int | None:
    snap = find_snapshot(table, COMPACTION_PROPERTY, compaction_id)
    return None if snap is None else snap.snapshot_id


def _rows(paths: list[str], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    yield from read_parquet_files(paths, schema, None)


def compact_table(
    lake: Lake,
    namespace: str,
    dataset_id: str,
    *,
    target_bytes: int,
    min_files: int,
    max_attempts: int = 10,
) -> CompactionReport:
    """Rewrite the table's small files of expired batches into files of about ``target_bytes``.

    Nothing happens when fewer than ``min_files`` files are eligible. Returns what was done; a
    concurrent change that removed one of the files is reported in ``skipped`` (the next
    maintenance pass tries again).
    """
    report = CompactionReport()
    table = lake.load(namespace, dataset_id)
    candidates = compaction_candidates(table, target_bytes)
    if not candidates or len(candidates) < max(min_files, 2):
        return report
    compaction_id = f"compaction-{uuid.uuid4().hex}"
    schema = iceberg_to_arrow_schema(table.schema())
    roller = ParquetFileRoller(
        table.location(),
        compaction_id,
        schema,
        target_file_bytes=target_bytes,
        storage_options=lake.storage_options,
    )
    try:
        for batch in _rows([df.file_path for df in candidates], schema):
            roller.write(batch)
        written: list[DataFileInfo] = roller.close()
    except BaseException:
        roller.abort()
        raise
    paths = [f.path for f in written]
    try:
        added = [parquet_file_to_data_file(table.io, table.metadata, p) for p in paths]
        expected = sum(df.record_count for df in candidates)
        if sum(df.record_count for df in added) != expected:  # never commit a lossy rewrite
            raise ConflictError(
                f"Compaction of dataset {dataset_id} read {sum(f.record_count for f in added)} rows "
                f"from files holding {expected}; nothing was changed."
            )
        props = {COMPACTION_PROPERTY: compaction_id, COMPACTED_FILES_PROPERTY: str(len(candidates))}
        removing = {df.file_path for df in candidates}
        for attempt in range(max_attempts):
            if attempt:
                table = lake.load(namespace, dataset_id)
                landed = _find_compaction(table, compaction_id)
                if landed is not None:  # an earlier attempt's outcome was unknown: it landed
                    report.snapshot_id = landed
                    break
                live = _live_files(table)
                if not removing <= live.keys():
                    report.skipped = "a concurrent commit replaced some of the files"
                    break
                candidates = [live[p] for p in removing]
            try:
                tx = table.transaction()
                with tx.update_snapshot(snapshot_properties=props).overwrite() as overwrite:
                    for df in candidates:
                        overwrite.delete_data_file(df)
                    for df in added:
                        overwrite.append_data_file(df)
                committed = tx.commit_transaction()
            except ValidationException:
                report.skipped = "a concurrent commit replaced some of the files"
                break
            except Exception as exc:
                if is_retriable(exc):
                    lake.commit_conflicts += 1
                    lake._backoff(attempt)
                    continue
                landed = _find_compaction(lake.load(namespace, dataset_id), compaction_id)
                if landed is None:
                    raise
                report.snapshot_id = landed
                break
            report.snapshot_id = _find_compaction(committed, compaction_id)
            break
        else:
            report.skipped = "too many concurrent commits"
    except BaseException:
        if _find_compaction(lake.load(namespace, dataset_id), compaction_id) is None:
            delete_files(paths)
        raise
    if report.snapshot_id is None:
        delete_files(paths)
        log.info("compaction of dataset %s skipped: %s", dataset_id, report.skipped)
        return report
    report.rewritten_files = len(candidates)
    report.added_files = len(added)
    report.rewritten_rows = sum(df.record_count for df in added)
    report.rewritten_bytes = sum(df.file_size_in_bytes for df in candidates)
    return report
