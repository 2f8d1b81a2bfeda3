"""Lake maintenance over every dataset of the store: bounded snapshots, files and small files.

Run by the scheduler's lease holder every ``lake_maintenance_interval_seconds`` and by
``xdmflow lake maintain``; the retention is the operator's (``XDMFLOW_SNAPSHOT_RETENTION_HOURS``,
``XDMFLOW_SNAPSHOT_KEEP_LAST``), and so is compaction (``XDMFLOW_COMPACT_TARGET_BYTES``,
``XDMFLOW_COMPACT_MIN_FILES``; ``0`` files: off). See :mod:`xdmflow.lake.maintenance` for what
one table's maintenance does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select

from xdmflow.lake.lake import Lake, namespace_for
from xdmflow.lake.maintenance import MaintenanceReport, maintain_table
from xdmflow.services.document_stores import DATASETS
from xdmflow.settings import Settings
from xdmflow.store.db import Database
from xdmflow.store.tables import Document

__all__ = ["maintain_lake"]

log = logging.getLogger(__name__)


def maintain_lake(
    settings: Settings,
    db: Database,
    lake: Lake,
    *,
    dataset_id: str | None = None,
    compact: bool = True,
    on_table: Callable[[str, int, int], None] | None = None,
) -> list[MaintenanceReport]:
    """Maintain the table of every dataset (or of ``dataset_id``); a table that fails is logged
    and skipped, the others are still maintained.

    ``compact=False`` skips compaction (as does ``compact_min_files = 0``). ``on_table(dataset id,
    index, total)`` is called before each table (a progress display)."""
    q = select(Document.org_id, Document.sandbox_name, Document.id).where(Document.kind == DATASETS.kind)
    if dataset_id is not None:
        q = q.where(Document.id == dataset_id)
    with db.session() as s:
        datasets = list(s.execute(q.order_by(Document.created_at)))
    reports = []
    compacting = compact and settings.compact_min_files > 0
    for index, (org_id, sandbox, ds_id) in enumerate(datasets):
        namespace = namespace_for(org_id, sandbox)
        if on_table is not None:
            on_table(ds_id, index, len(datasets))
        try:
            if not lake.table_exists(namespace, ds_id):
                continue
            reports.append(
                maintain_table(
                    lake,
                    namespace,
                    ds_id,
                    retention_seconds=settings.snapshot_retention_hours * 3600,
                    keep_last=settings.snapshot_keep_last,
                    compact_target_bytes=settings.compact_target_bytes if compacting else None,
                    compact_min_files=settings.compact_min_files,
                )
            )
        except Exception:
            log.exception("lake maintenance of dataset %s failed", ds_id)
    return reports
